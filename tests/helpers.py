"""Small real inputs for tests, cut from the example image that ships in the repo."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from conftest import EXAMPLE_IMAGE
from inrzip.signal import Signal


@lru_cache(maxsize=None)
def example_array() -> np.ndarray:
    return np.array(Image.open(EXAMPLE_IMAGE))


def small_image(h: int = 32, w: int = 40) -> Signal:
    """A real photo patch (from kodim03), small enough to fit in a second."""
    return Signal(example_array()[100:100 + h, 60:60 + w].copy(), "image", 8)


def small_audio(n: int = 4000, channels: int = 1, rate: int = 8000) -> Signal:
    """Audio made from the photo's rows (real, non-periodic content; no external file)."""
    rows = example_array()[:, :, 0].astype(np.int32).reshape(-1)[: n * channels]
    data = ((rows - 128) * 200).astype(np.int16).reshape(n, channels)
    return Signal(data, "audio", 16, sample_rate=rate)

"""Small real inputs for tests, cut from the example image that ships in the repo."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

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


@contextmanager
def memory_cap(extra_bytes: int = 2 << 30) -> Iterator[None]:
    """Cap this process's address space at its current size + `extra_bytes` (Linux), so an
    allocation a hostile file should never cause fails with MemoryError instead of swapping."""
    import resource
    try:
        status = Path("/proc/self/status").read_text()
        vm_size = int(next(l for l in status.splitlines() if l.startswith("VmSize:")).split()[1]) * 1024
    except (OSError, StopIteration):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = vm_size + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))

"""The one in-memory type every backend encodes from and decodes to."""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np

Modality = Literal["image", "audio", "video"]
MODALITIES: tuple[Modality, ...] = ("image", "audio", "video")


@dataclass(frozen=True)
class Signal:
    """Integer samples plus the metadata needed to write them back out.

    Layouts (always integer, never normalised, so lossless paths stay exact):
      image: (H, W, C) uint8 or uint16, C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA)
      audio: (N, C) int16 (16-bit) or int32 holding 24-bit values, C in {1, 2}
      video: (T, H, W, C) uint8, C = 3
    """

    data: np.ndarray
    modality: Modality
    bit_depth: int
    sample_rate: int = 0            # audio: samples per second
    fps: Fraction | None = None     # video: frames per second
    meta: dict = field(default_factory=dict, compare=False)  # e.g. source format; never coded

    def __post_init__(self) -> None:
        expected_ndim = {"image": 3, "audio": 2, "video": 4}[self.modality]
        if self.data.ndim != expected_ndim:
            raise ValueError(f"{self.modality} data must have {expected_ndim} dims, got {self.data.shape}")
        if not np.issubdtype(self.data.dtype, np.integer):
            raise ValueError(f"signal samples must be integers, got {self.data.dtype}")

    @property
    def channels(self) -> int:
        return int(self.data.shape[-1])

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """Sample grid without channels: (H, W), (N,) or (T, H, W)."""
        return tuple(int(s) for s in self.data.shape[:-1])

    @property
    def num_points(self) -> int:
        """Pixels (image), samples per channel (audio) or voxels (video): the unit of bpp/rate."""
        return int(np.prod(self.spatial_shape))

    @property
    def max_value(self) -> int:
        return (1 << self.bit_depth) - 1

    @property
    def duration_s(self) -> float:
        if self.modality == "audio":
            return self.spatial_shape[0] / self.sample_rate
        if self.modality == "video" and self.fps:
            return self.spatial_shape[0] / float(self.fps)
        return 0.0

    def to_unit(self) -> np.ndarray:
        """Samples as float32 in [-1, 1], the range INRs are fitted in."""
        if self.modality == "audio":
            return (self.data.astype(np.float32) / float(1 << (self.bit_depth - 1))).clip(-1, 1)
        return self.data.astype(np.float32) * (2.0 / self.max_value) - 1.0


def from_unit(values: np.ndarray, modality: Modality, bit_depth: int) -> np.ndarray:
    """Inverse of :meth:`Signal.to_unit`: round and clip float predictions to integer samples."""
    if modality == "audio":
        scale = float(1 << (bit_depth - 1))
        lo, hi = -scale, scale - 1
        out = np.clip(np.rint(values * scale), lo, hi)
        return out.astype(np.int16 if bit_depth <= 16 else np.int32)
    max_value = (1 << bit_depth) - 1
    out = np.clip(np.rint((values + 1.0) * (max_value / 2.0)), 0, max_value)
    return out.astype(np.uint8 if bit_depth <= 8 else np.uint16)

"""The one coordinate convention (formats/inrz.md, "Coordinates") and crop/scale regions.

Sample i of an axis with N samples sits at -1 + 2i/(N-1) (0 when N == 1). Decoding at
`scale` places M = round(N*scale) samples over the same [-1, 1] span, so the INR is simply
evaluated on a finer or coarser grid. A crop [a, b) is given in source samples and maps to
output samples [round(a*scale), round(b*scale)).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Span = tuple[int, int]


def axis_positions(n_out: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Positions of output samples lo..hi-1 (default: all) of an axis with n_out samples,
    float64 in [-1, 1]. Only the requested samples are computed: a small crop of a huge
    scaled axis costs its own size."""
    hi = n_out if hi is None else hi
    if n_out == 1:
        return np.zeros(hi - lo)
    return -1.0 + 2.0 * np.arange(lo, hi, dtype=np.float64) / (n_out - 1)


@dataclass(frozen=True)
class Region:
    """A box of source samples per spatial axis plus an output scale."""

    spans: tuple[Span, ...]
    scale: float = 1.0

    @classmethod
    def full(cls, shape: tuple[int, ...], scale: float = 1.0) -> "Region":
        return cls(tuple((0, n) for n in shape), scale)

    def output_spans(self, shape: tuple[int, ...]) -> tuple[Span, ...]:
        """Spans in the output (scaled) grid."""
        if self.scale == 1.0:
            return self.spans
        out = []
        for (a, b), n in zip(self.spans, shape):
            m = max(1, round(n * self.scale))
            lo = min(m - 1, round(a * self.scale))
            out.append((lo, max(lo + 1, min(m, round(b * self.scale)))))
        return tuple(out)

    def output_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(b - a for a, b in self.output_spans(shape))

    def axis_coords(self, shape: tuple[int, ...]) -> list[np.ndarray]:
        """Float32 coordinates of the region's output samples, one array per axis."""
        coords = []
        for (a, b), n in zip(self.output_spans(shape), shape):
            m = max(1, round(n * self.scale))
            coords.append(axis_positions(m, a, b).astype(np.float32))
        return coords



def mesh(axes: list[np.ndarray]) -> np.ndarray:
    """Row-major grid of points, shape (prod(len(a)), ndim), the last axis fastest."""
    grids = np.meshgrid(*axes, indexing="ij")
    return np.stack([g.reshape(-1) for g in grids], axis=1)

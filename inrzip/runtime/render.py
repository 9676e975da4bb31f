"""Turn a coordinate->value function into integer samples on a crop/scale region."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..container import Header
from ..signal import from_unit
from .coords import Region

BLOCK = 1 << 16   # points per block: memory stays bounded whatever the output size


def render(field: Callable[[np.ndarray], np.ndarray], header: Header, region: Region) -> np.ndarray:
    """Evaluate `field` (points (P, d) -> values (P, C) in [-1, 1]) on the region's grid.

    Points go in row-major order (last axis fastest), a block at a time, straight into the
    integer output; returns samples in the Signal layout, e.g. (h, w, C).
    """
    axes = region.axis_coords(header.shape)
    out_shape = tuple(len(a) for a in axes)
    total = math.prod(out_shape)
    dtype = from_unit(np.zeros((1, 1), np.float32), header.modality, header.bit_depth).dtype
    out = np.empty((total, header.channels), dtype=dtype)
    for start in range(0, total, BLOCK):
        flat = np.arange(start, min(total, start + BLOCK))
        coords = np.stack([a[i] for a, i in zip(axes, np.unravel_index(flat, out_shape))], axis=1)
        out[start:start + len(flat)] = from_unit(field(coords), header.modality, header.bit_depth)
    return out.reshape(out_shape + (header.channels,))

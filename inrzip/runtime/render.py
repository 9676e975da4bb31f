"""Turn a coordinate->value function into integer samples on a crop/scale region."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..container import Header
from ..signal import from_unit
from .coords import Region, mesh


def render(field: Callable[[np.ndarray], np.ndarray], header: Header, region: Region) -> np.ndarray:
    """Evaluate `field` (points (P, d) -> values (P, C) in [-1, 1]) on the region's grid.

    Returns integer samples shaped like the region in the Signal layout, e.g. (h, w, C).
    """
    axes = region.axis_coords(header.shape)
    values = field(mesh(axes).astype(np.float32))
    out_shape = tuple(len(a) for a in axes) + (header.channels,)
    return from_unit(values, header.modality, header.bit_depth).reshape(out_shape)

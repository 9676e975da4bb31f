"""Seeded Gaussian dictionaries (SINR): unit-norm atoms regenerated on demand, never stored."""
from __future__ import annotations

import numpy as np

from . import rng


def atoms(seed: int, stream: int, length: int, columns: np.ndarray) -> np.ndarray:
    """Atoms `columns` of the (length x K) dictionary as a (len(columns), length) float32 array.

    Atom j holds normal(seed, stream, j*length + r) for r < length, scaled to unit L2 norm
    (computed in float64, then rounded to float32). Only the requested atoms are generated.
    """
    cols = np.asarray(columns, dtype=np.uint64).reshape(-1, 1)
    index = cols * np.uint64(length) + np.arange(length, dtype=np.uint64)[None, :]
    values = rng.normal(seed, stream, index)
    values /= np.linalg.norm(values, axis=1, keepdims=True)
    return values.astype(np.float32)


def full(seed: int, stream: int, length: int, size: int, block: int = 8192) -> np.ndarray:
    """The whole dictionary as (size, length) float32, generated in blocks (encoder side)."""
    out = np.empty((size, length), dtype=np.float32)
    for start in range(0, size, block):
        stop = min(size, start + block)
        out[start:stop] = atoms(seed, stream, length, np.arange(start, stop))
    return out

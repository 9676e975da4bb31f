"""Numpy forward of a Local-Global SIREN, one partition at a time (float32).

A partition's output depends only on the global weights (chain + Agg), its own LC slices and
its points, and it is always evaluated on the same array shapes, so a cropped decode gives
bit-identical samples to the same region of a full decode. Matches inrzip.fit.local_global.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class GlobalNet:
    """Global chain (W^T, b) per level and the shared Agg split into its local/global blocks,
    all with the sine frequency folded in: sin(w0 (x W^T + b)) = sin(x (w0 W^T) + w0 b)."""

    chain: list[tuple[np.ndarray, np.ndarray]]
    agg_local: np.ndarray     # (l, l)
    agg_global: np.ndarray    # (g, l)
    agg_bias: np.ndarray      # (l,)

    @classmethod
    def fold(cls, tensors: list[np.ndarray], w0: float, w0_first: float) -> "GlobalNet":
        """From tensors in code order: W (out, in), b per global layer, then Agg W (l, g+l), b."""
        *layers, agg_w, agg_b = tensors
        chain = []
        for k in range(len(layers) // 2):
            w = w0_first if k == 0 else w0
            chain.append((np.ascontiguousarray((layers[2 * k].T * w).astype(np.float32)),
                          (layers[2 * k + 1] * w).astype(np.float32)))
        l = agg_w.shape[0]
        return cls(chain, np.ascontiguousarray((agg_w[:, :l].T * w0).astype(np.float32)),
                   np.ascontiguousarray((agg_w[:, l:].T * w0).astype(np.float32)),
                   (agg_b * w0).astype(np.float32))


@dataclass
class LocalNet:
    """One partition's LC layers as (W (in, out), b), frequency folded (the last layer linear)."""

    layers: list[tuple[np.ndarray, np.ndarray]]

    @classmethod
    def fold(cls, tensors: list[np.ndarray], w0: float, w0_first: float) -> "LocalNet":
        n = len(tensors) // 2
        layers = []
        for k in range(n):
            w = 1.0 if k == n - 1 else (w0_first if k == 0 else w0)
            layers.append(((tensors[2 * k] * w).astype(np.float32), (tensors[2 * k + 1] * w).astype(np.float32)))
        return cls(layers)


def forward(glob: GlobalNet, local: LocalNet, coords: np.ndarray) -> np.ndarray:
    """(P, d) float32 global coordinates of one partition -> (P, C) float32 values."""
    g = coords
    h = coords
    for (gw, gb), (lw, lb) in zip(glob.chain, local.layers[:-1]):
        g = np.sin(g @ gw + gb)
        loc = np.sin(h @ lw + lb)
        pre = loc @ glob.agg_local
        pre += g @ glob.agg_global
        pre += glob.agg_bias
        h = np.sin(pre)
    w, b = local.layers[-1]
    return h @ w + b

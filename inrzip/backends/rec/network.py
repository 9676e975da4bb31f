"""Numpy forward of the RECOMBINER patch network (the decoder's half; torch lives in fit/).

Weights are rebuilt from latents as w = h . A per layer; the positional-encoding latents of a
block of patches are stitched into one grid and upsampled jointly (x4, conv 5x5, leaky ReLU,
x2, conv 3x3, leaky ReLU, x2, conv 3x3), zero-padded at the grid's border, exactly as the
torch model does.
"""
from __future__ import annotations

import numpy as np

from .arch import RecArch

LEAK = 0.01


def layer_weights(h: np.ndarray, A: list[np.ndarray], arch: RecArch) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (n, in, out), b (n, out)) per layer for n patches from their latents h (n, inr_size)."""
    out, start = [], 0
    for a, (i, o), size in zip(A, arch.layer_shapes, arch.layer_sizes):
        w = h[:, start:start + size] @ a
        start += size
        out.append((w[:, o:].reshape(-1, i, o), w[:, :o]))
    return out


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """'Same' convolution (cross-correlation, zero padding) of x (H, W, Cin) -> (H, W, Cout)."""
    k = weight.shape[-1]
    p = k // 2
    h, w, _ = x.shape
    xp = np.pad(x, ((p, p), (p, p), (0, 0)))
    out = np.broadcast_to(bias.astype(np.float32), (h, w, weight.shape[0])).copy()
    for dy in range(k):
        for dx in range(k):
            out += xp[dy:dy + h, dx:dx + w, :] @ weight[:, :, dy, dx].T
    return out


def upsample(x: np.ndarray, factor: int) -> np.ndarray:
    return np.repeat(np.repeat(x, factor, axis=0), factor, axis=1)


def positional_features(grid: np.ndarray, upsampler: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """(h, w, C) latent grid -> (16h, 16w, lpe_out) features."""
    x = grid.astype(np.float32)
    for i, ((wt, b), factor) in enumerate(zip(upsampler, (4, 2, 2))):
        x = conv2d(upsample(x, factor), wt, b)
        if i < 2:
            x = np.where(x > 0, x, LEAK * x)
    return x


def patch_forward(features: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]], arch: RecArch) -> np.ndarray:
    """features (n, P*P, in) -> outputs (n, P*P, channels); sine(w0 .) after all but the last layer."""
    x = features
    last = len(weights) - 1
    for li, (w, b) in enumerate(weights):
        x = np.matmul(x, w) + b[:, None, :]
        if li < last:
            x = np.sin(arch.w0 * x)
    return x

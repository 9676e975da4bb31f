"""Numpy forward of the RECOMBINER patch network (the decoder's half; torch lives in fit/).

Weights are rebuilt from latents as w = h . A per layer; the positional-encoding latents of a
block of patches are stitched into one grid and upsampled jointly (x4, conv 5x5, leaky ReLU,
x2, conv 3x3, leaky ReLU, x2, conv 3x3; 1-D kernels for audio, 3-D for video, whose first
step is x(frames/4, 4, 4)), zero-padded at the grid's border, exactly as the torch model does.
"""
from __future__ import annotations

import itertools

import numpy as np

from .arch import RecArch

LEAK = 0.01


def layer_weights(h: np.ndarray, A: list[np.ndarray], arch: RecArch) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W (n, in, out), b (n, out)) float32 per layer for n patches from their latents h (n, inr_size).

    The products run in float64: BLAS sums in an order that depends on how many rows it is
    given, and float64 keeps those last-bit differences from reaching the float32 result, so
    a crop decodes exactly the samples of a full decode.
    """
    out, start = [], 0
    h = h.astype(np.float64)
    for a, (i, o), size in zip(A, arch.layer_shapes, arch.layer_sizes):
        w = (h[:, start:start + size] @ a.astype(np.float64)).astype(np.float32)
        start += size
        out.append((w[:, o:].reshape(-1, i, o), w[:, :o]))
    return out


def phase_taps(factor: int, k: int) -> list[list[tuple[int, list[int]]]]:
    """Per output phase of a nearest x`factor` upsampling followed by a 'same' k-tap conv: the
    low-res source offsets it reads and the kernel taps that land on each."""
    pad = k // 2
    phases = []
    for ph in range(factor):
        taps: dict[int, list[int]] = {}
        for d in range(k):
            taps.setdefault((ph + d - pad) // factor, []).append(d)
        phases.append(sorted(taps.items()))
    return phases


def upsample_conv(x: np.ndarray, factors: tuple[int, ...], weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """conv_same(nearest-upsample(x, factors)) over the n axes before the channel axis, computed
    polyphase on the low-res grid: each output phase is a conv of at most 2 taps per axis whose
    kernel is the sum of the taps that read the same source sample, so 2^n products per output
    sample instead of 3^n (3-tap after x2) or 5^n (5-tap after x4). Zero padding of the
    upsampled grid is zero padding of the low-res one.

    weight (Cout, Cin, k x n); x (..., S1..Sn, Cin) -> (..., f1 S1..fn Sn, Cout), float32. The sums
    run in float64: BLAS rounds in an order that depends on how many rows it is given, and float64
    keeps that from reaching the float32 result, so a crop decodes exactly what a full decode does.
    """
    n = weight.ndim - 2
    k = weight.shape[-1]
    lead = x.ndim - 1 - n
    spatial = x.shape[lead:-1]
    phases = [phase_taps(f, k) for f in factors]
    reach = max(abs(o) for axis in phases for taps in axis for o, _ in taps)
    xp = np.pad(x.astype(np.float64), [(0, 0)] * lead + [(reach, reach)] * n + [(0, 0)])
    w64 = weight.astype(np.float64)
    cout = weight.shape[0]
    out = np.empty(x.shape[:lead] + sum(((s, f) for s, f in zip(spatial, factors)), ()) + (cout,), dtype=np.float32)
    for phase in itertools.product(*(range(f) for f in factors)):
        acc = np.broadcast_to(bias.astype(np.float64), x.shape[:-1] + (cout,)).copy()
        for combo in itertools.product(*(axis[ph] for axis, ph in zip(phases, phase))):
            kernel = sum(w64[(slice(None), slice(None)) + ds] for ds in itertools.product(*(d for _, d in combo)))
            window = (slice(None),) * lead + tuple(slice(reach + o, reach + o + s) for (o, _), s in zip(combo, spatial))
            acc += xp[window] @ kernel.T
        slots = (slice(None),) * lead + sum(((slice(None), ph) for ph in phase), ()) + (slice(None),)
        out[slots] = acc
    return out.reshape(x.shape[:lead] + tuple(s * f for s, f in zip(spatial, factors)) + (cout,))


def positional_features(grid: np.ndarray, upsampler: list[tuple[np.ndarray, np.ndarray]],
                        factors: list[tuple[int, ...]]) -> np.ndarray:
    """Latent grid (..., S1..Sn, C) -> features (..., 16 S1.., lpe_out) (x frames in video time).

    Images: (h, w, C); audio: (rows, n, C), each row on its own; video: (t, h, w, C)."""
    x = grid.astype(np.float32)
    for i, ((wt, b), f) in enumerate(zip(upsampler, factors)):
        x = upsample_conv(x, f, wt, b)
        if i < 2:
            x = np.where(x > 0, x, LEAK * x)
    return x


def patch_forward(features: np.ndarray, weights: list[tuple[np.ndarray, np.ndarray]], arch: RecArch) -> np.ndarray:
    """features (n, points, in) -> outputs (n, points, channels); sine(w0 .) after all but the last layer."""
    x = features
    last = len(weights) - 1
    for li, (w, b) in enumerate(weights):
        x = np.matmul(x, w) + b[:, None, :]
        if li < last:
            x = np.sin(arch.w0 * x)
    return x

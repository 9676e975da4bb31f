"""Numpy SIREN forward pass shared by decoders (float32, chunked so memory stays bounded).

Chunks are a fixed size and each is computed the same way whichever thread runs it, so the
output does not depend on the number of threads.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

CHUNK = 32768
# Default 1: BLAS already uses every core, and on 2 cores a pool measured slower (2.5 s vs
# 2.1 s for a Kodak-size file). INRZIP_THREADS=N runs chunks on N threads (same output).
THREADS = max(1, min(8, int(os.environ.get("INRZIP_THREADS", "1"))))


@dataclass
class SirenWeights:
    """Linear layers (W: (out, in), b: (out,)); sine after every layer but the last.

    Matches the torch SIREN in ``inrzip.fit.siren``: y = sin(w0 * (W x + b)).
    """

    weights: list[np.ndarray]
    biases: list[np.ndarray]
    w0: float
    w0_first: float | None = None   # first-layer frequency (audio needs far more than images)

    def folded(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W^T, b) per layer with w0 folded into the sine layers, ready for x @ W^T + b."""
        out = []
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            scale = 1.0 if i == last else self.w0
            if i == 0 and i != last and self.w0_first is not None:
                scale = self.w0_first
            out.append((np.ascontiguousarray((w.T * scale).astype(np.float32)),
                        (b * scale).astype(np.float32)))
        return out


def forward(net: SirenWeights, coords: np.ndarray, chunk: int = CHUNK, threads: int | None = None) -> np.ndarray:
    """Evaluate the SIREN on (P, d) float32 coordinates, returning (P, out) float32."""
    threads = THREADS if threads is None else threads
    layers = net.folded()
    n_points = coords.shape[0]
    out = np.empty((n_points, layers[-1][0].shape[1]), dtype=np.float32)
    last = len(layers) - 1

    def run(start: int) -> None:
        h = coords[start:start + chunk]
        for i, (wt, b) in enumerate(layers):
            h = h @ wt
            h += b
            if i != last:
                np.sin(h, out=h)
        out[start:start + chunk] = h

    starts = range(0, n_points, chunk)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, starts))
    else:
        for start in starts:
            run(start)
    return out

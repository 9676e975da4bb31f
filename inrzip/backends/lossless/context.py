"""What the network sees for each bit: integer features, identical in encoder and decoder.

Samples live on a grid `u` of shape (C, rows, cols): images as they are, audio as one row
(offset binary, so sample + 2^(B-1)). Bits are coded per tile, channel by channel, plane by
plane from the MSB, and each plane in two phases (a checkerboard for images, even/odd samples
for audio), so a bit can lean on

* every higher plane of the sample and of all its neighbours (already decoded), the same plane
  of neighbours from the earlier phase, and every earlier channel in full;
* its position, through fixed Fourier features (the INR part), the plane index and the level.

The feature function *masks* each neighbour to the bits the decoder knows at that step, so the
encoder can pass the original samples and get exactly what the decoder will compute.

"paper" mode is the paper's formulation: (row, column, bit) coordinates in [-1, 1] only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...runtime.fixedpoint import FRAC, SINE_BITS, sine_table

ONE = 1 << FRAC
DIFF_CLIP = 4 * ONE                      # neighbour offsets are clipped to +-4 intervals
INPUT_BOUND = DIFF_CLIP                  # largest |feature| of either mode
MAX_CHANNEL_FEATURES = 4                 # channel one-hot width
CROSS_CHANNELS = 2                       # earlier channels a bit may look at

# Neighbour offsets (drow, dcol), same channel; then the offsets used for earlier channels.
NEIGHBOURS = {
    "image": ((0, -1), (0, 1), (-1, 0), (1, 0), (-1, -1), (-1, 1), (1, -1), (1, 1),
              (0, -2), (0, 2), (-2, 0), (2, 0)),
    "audio": ((0, -1), (0, 1), (0, -2), (0, 2), (0, -3), (0, 3), (0, -4), (0, 4)),
}
CROSS_NEIGHBOURS = {
    "image": ((0, -1), (0, 1), (-1, 0), (1, 0)),
    "audio": ((0, -1), (0, 1)),
}


@dataclass(frozen=True)
class Grid:
    """Where the samples in `u` sit: a block of whole tiles of the full signal."""

    modality: str                 # "image" or "audio"
    full_shape: tuple[int, int]   # rows, cols of the whole signal
    origin: tuple[int, int]       # full-grid position of u[:, 0, 0]
    tile: tuple[int, int]         # tile rows, cols
    bit_depth: int
    channels: int

    def phase(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        return ((rows + cols) & 1) if self.modality == "image" else (cols & 1)

    def clamp_to_tile(self, rows: np.ndarray, cols: np.ndarray, dr: int, dc: int) -> tuple[np.ndarray, np.ndarray]:
        """Neighbour positions, clamped into the sample's own tile (tiles are coded independently)."""
        th, tw = self.tile
        r0, c0 = (rows // th) * th, (cols // tw) * tw
        r = np.clip(rows + dr, r0, np.minimum(r0 + th, self.full_shape[0]) - 1)
        c = np.clip(cols + dc, c0, np.minimum(c0 + tw, self.full_shape[1]) - 1)
        return r - self.origin[0], c - self.origin[1]


def positional_features(grid: Grid, rows: np.ndarray, cols: np.ndarray, levels: int) -> np.ndarray:
    """sin/cos(2*pi*2^j*pos/N) per axis and level j, from the integer sine table."""
    axes = [(rows, grid.full_shape[0]), (cols, grid.full_shape[1])] if grid.modality == "image" \
        else [(cols, grid.full_shape[1])]
    table, mask, quarter = sine_table(), (1 << SINE_BITS) - 1, 1 << (SINE_BITS - 2)
    out = []
    for pos, n in axes:
        for j in range(levels):
            turn = (pos.astype(np.int64) << (SINE_BITS + j)) // n
            out.append(table[turn & mask])
            out.append(table[(turn + quarter) & mask])
    return np.stack(out, axis=1).astype(np.float64) if out else np.zeros((len(rows), 0))


def positional_dim(modality: str, levels: int) -> int:
    return (2 if modality == "image" else 1) * 2 * levels


def context_dim(modality: str) -> int:
    """Width of the step-dependent part of a context-mode feature vector."""
    return 3 + MAX_CHANNEL_FEATURES + len(NEIGHBOURS[modality]) \
        + CROSS_CHANNELS * (1 + len(CROSS_NEIGHBOURS[modality]))


@dataclass(frozen=True)
class Neighbourhood:
    """Where each sample's neighbours are in `u` (flat index per spatial plane) and whether each
    neighbour is coded in the same or a later phase (then its current bit is not yet known).

    Step independent, so the decoder builds it once per phase and reuses it for every plane."""

    own: np.ndarray           # (n,) flat index of the sample itself
    same: np.ndarray          # (n, len(NEIGHBOURS)) flat indices
    same_later: np.ndarray    # (n, len(NEIGHBOURS)) 1 where that neighbour's current bit is unknown
    cross: np.ndarray         # (n, len(CROSS_NEIGHBOURS))
    cross_later: np.ndarray
    phase: np.ndarray

    @classmethod
    def of(cls, grid: Grid, u_shape: tuple[int, int], rows: np.ndarray, cols: np.ndarray) -> Neighbourhood:
        phase = grid.phase(rows, cols)
        width = u_shape[1]

        def at(offsets: tuple[tuple[int, int], ...]) -> tuple[np.ndarray, np.ndarray]:
            index, later = [], []
            for dr, dc in offsets:
                nr, nc = grid.clamp_to_tile(rows, cols, dr, dc)
                later.append(grid.phase(nr + grid.origin[0], nc + grid.origin[1]) >= phase)
                index.append(nr * width + nc)
            return np.stack(index, axis=1), np.stack(later, axis=1).astype(np.int8)

        own = (rows - grid.origin[0]) * width + (cols - grid.origin[1])
        return cls(own, *at(NEIGHBOURS[grid.modality]), *at(CROSS_NEIGHBOURS[grid.modality]), phase)


def sample_dtype(bit_depth: int) -> type:
    """int32 holds every intermediate of <= 16-bit samples (half the memory traffic of int64)."""
    return np.int32 if bit_depth <= 16 else np.int64


def _scaled(diff2: np.ndarray, k: np.ndarray | int) -> np.ndarray:
    """(twice a value difference) / (twice the current interval), in units 2^-FRAC, clipped."""
    return np.clip((diff2 << FRAC) >> (k + 2), -DIFF_CLIP, DIFF_CLIP)


def _mid2(values: np.ndarray, k: np.ndarray | int, later: np.ndarray) -> np.ndarray:
    """Twice the midpoint of what is known of a neighbour: bits >= k, or >= k+1 if coded later."""
    known = k + later
    return ((values >> known) << (known + 1)) + (1 << known)


def context_features(grid: Grid, u: np.ndarray, nb: Neighbourhood,
                     channel: np.ndarray | int, plane: np.ndarray | int) -> np.ndarray:
    """Step-dependent features (float64 holding integers, units 2^-FRAC) of bit `plane` of
    `channel` at the neighbourhood's samples. `channel` and `plane` are scalars (decoding a
    step) or per-sample arrays (a training batch).

    `u` may hold more bits than the decoder knows at this step (the encoder passes the
    originals); everything is masked to what the decoder knows, so both sides agree.
    """
    flat = u.reshape(u.shape[0], -1)
    dt = flat.dtype.type
    per_sample = np.ndim(channel) > 0
    c = np.asarray(channel)
    k = np.asarray(plane, dtype=dt)
    kc = k[:, None] if per_sample else k          # broadcasts over neighbour columns
    cc = c[:, None] if per_sample else c
    bits = grid.bit_depth
    out = np.zeros((len(nb.own), context_dim(grid.modality)), dtype=np.float64)
    two_t = ((flat[c, nb.own] >> (k + 1)) << (k + 2)) + (dt(1) << (k + 1))   # 2 * split point
    two_tc = two_t[:, None]
    out[:, 0] = ((2 * k.astype(np.int64) - (bits - 1)) << FRAC) // max(bits - 1, 1)   # plane, [-1, 1]
    out[:, 1] = nb.phase << FRAC
    out[:, 2] = ((two_t.astype(np.int64) - (1 << bits)) << FRAC) >> bits                # level, [-1, 1]
    for i in range(MAX_CHANNEL_FEATURES):
        out[:, 3 + i] = np.where(c == i, ONE, 0)
    j = 3 + MAX_CHANNEL_FEATURES
    n_same = nb.same.shape[1]
    out[:, j:j + n_same] = _scaled(_mid2(flat[cc, nb.same], kc, nb.same_later) - two_tc, kc)
    j += n_same
    n_cross = nb.cross.shape[1]
    mid2_cross = _mid2(flat[cc, nb.cross], kc, nb.cross_later)
    for back in range(1, CROSS_CHANNELS + 1):
        valid = c >= back
        if not valid.any():
            j += 1 + n_cross
            continue
        prev = np.maximum(c - back, 0)
        ref = flat[prev, nb.own]
        block = np.empty((len(ref), 1 + n_cross), dtype=np.float64)
        block[:, 0] = _scaled(2 * ref + 1 - two_t, k)
        # neighbour in this channel + the earlier channel's gradient from neighbour to sample
        est2 = mid2_cross + 2 * (ref[:, None] - flat[prev[:, None] if per_sample else prev, nb.cross])
        block[:, 1:] = _scaled(est2 - two_tc, kc)
        out[:, j:j + 1 + n_cross] = block if not per_sample else np.where(valid[:, None], block, 0.0)
        j += 1 + n_cross
    return out


def paper_features(grid: Grid, rows: np.ndarray, cols: np.ndarray, plane: np.ndarray | int) -> np.ndarray:
    """(row, column, bit) in [-1, 1] (audio: column, bit), LSB at -1, as in the paper."""
    n = len(rows)
    k = np.broadcast_to(np.asarray(plane, dtype=np.int64), (n,))

    def unit(i: np.ndarray, size: int) -> np.ndarray:
        return ((2 * i.astype(np.int64)) << FRAC) // max(size - 1, 1) - ONE if size > 1 else np.zeros(n, np.int64)

    out = [unit(cols, grid.full_shape[1]), unit(k, grid.bit_depth)]
    if grid.modality == "image":
        out.insert(0, unit(rows, grid.full_shape[0]))
    return np.stack(out, axis=1).astype(np.float64)


def paper_dim(modality: str) -> int:
    return 3 if modality == "image" else 2

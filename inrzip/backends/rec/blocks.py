"""How variables become REC blocks; shared by encoder and decoder so both derive the same layout.

Per level, the pack's average KL per variable (bits) fixes the blocks: the variables are put in
a seeded pseudo-random order and cut into `n_groups` runs of equal KL mass (the reference packs
greedily to 16 bits; cutting into a count the header names lets one pack serve a range of
rates). Every instance ("row") of a level uses the same groups. Before coding, each variable's
column is permuted across rows (the paper's cross-patch mixing), so one coded block holds that
group's variables from many patches. Candidates for a block of d variables are
eps[i, k] = normal(seed, CANDIDATE_STREAM + level, i * MAX_BLOCK + k), k < d, shared by every
block of the level: the decoder regenerates only the chosen i.
"""
from __future__ import annotations

import numpy as np

from ...errors import FormatError
from ...runtime import rng

ORDER_STREAM = 0x52454301        # "REC\x01" + level: variable order inside a level
ROW_STREAM = 0x52454311          # + level: per-variable permutation of rows
CANDIDATE_STREAM = 0x52454321    # + level: candidate noise
MAX_BLOCK = 4096                 # most variables in one block (bounds candidate indices)


def variable_order(level: int, size: int) -> np.ndarray:
    """The seeded order in which a level's variables are cut into groups."""
    bits = rng.random_bits(0, ORDER_STREAM + level, np.arange(size, dtype=np.uint64))
    return np.argsort(bits, kind="stable")


def group_of_variables(kl_bits: np.ndarray, level: int, n_groups: int) -> np.ndarray:
    """Group id (0..n_groups-1) of every variable: equal-KL-mass runs of the seeded order.

    Float64 cumulative sums in a fixed order make this identical on every machine.
    """
    size = kl_bits.size
    if not 1 <= n_groups <= size:
        raise FormatError(f"rec: level {level} asks for {n_groups} blocks of {size} variables")
    order = variable_order(level, size)
    mass = np.maximum(kl_bits.astype(np.float64)[order], 1e-6)
    cum = np.cumsum(mass)
    cuts = np.searchsorted(cum, cum[-1] * np.arange(1, n_groups) / n_groups, side="left") + 1
    # every group non-empty: cuts strictly increasing inside (0, size)
    cuts = np.maximum(cuts, np.arange(1, n_groups))
    cuts = np.minimum(cuts, size - n_groups + np.arange(1, n_groups))
    for i in range(1, cuts.size):
        cuts[i] = max(cuts[i], cuts[i - 1] + 1)
    gid_in_order = np.zeros(size, dtype=np.int64)
    if cuts.size:
        gid_in_order[cuts] = 1
    gid_in_order = np.cumsum(gid_in_order)
    gid = np.empty(size, dtype=np.int64)
    gid[order] = gid_in_order
    counts = np.bincount(gid, minlength=n_groups)
    if counts.max() > MAX_BLOCK:
        raise FormatError(f"rec: level {level} has a block of {counts.max()} variables (max {MAX_BLOCK})")
    return gid


def group_members(gid: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """Variable indices of each group, each in increasing order."""
    order = np.argsort(gid, kind="stable")
    bounds = np.searchsorted(gid[order], np.arange(n_groups + 1))
    return [order[bounds[g]:bounds[g + 1]] for g in range(n_groups)]


def row_permutation(level: int, rows: int, size: int) -> np.ndarray:
    """(rows, size): coded row r of variable j holds instance perm[r, j] (identity for one row)."""
    if rows == 1:
        return np.zeros((1, size), dtype=np.int64)
    idx = np.arange(size, dtype=np.uint64)[None, :] * np.uint64(rows) + np.arange(rows, dtype=np.uint64)[:, None]
    bits = rng.random_bits(0, ROW_STREAM + level, idx)
    return np.argsort(bits, axis=0, kind="stable")


def candidate_noise(seed: int, level: int, index: np.ndarray, d: int) -> np.ndarray:
    """(len(index), d) float64 standard normals of candidates `index` for a block of d variables."""
    idx = np.asarray(index, dtype=np.uint64)[:, None] * np.uint64(MAX_BLOCK) + np.arange(d, dtype=np.uint64)[None, :]
    return rng.normal(seed, CANDIDATE_STREAM + level, idx)


def chosen_noise(seed: int, level: int, indices: np.ndarray, gid: np.ndarray) -> np.ndarray:
    """(rows, size) noise of the chosen candidates: variable j of row r is component k of candidate
    indices[r, gid[j]], k = j's rank among its block's members (increasing variable order).

    One vectorised draw for a whole level; equal, value for value, to candidate_noise per block.
    """
    order = np.argsort(gid, kind="stable")
    starts = np.searchsorted(gid[order], gid[order], side="left")
    rank = np.empty(gid.size, dtype=np.uint64)
    rank[order] = np.arange(gid.size) - starts
    idx = np.asarray(indices, dtype=np.uint64)[:, gid] * np.uint64(MAX_BLOCK) + rank[None, :]
    return rng.normal(seed, CANDIDATE_STREAM + level, idx)


def pack_indices(indices: np.ndarray, bits: int) -> bytes:
    """Fixed-width big-endian bit packing of non-negative indices < 2**bits."""
    idx = np.asarray(indices, dtype=np.uint64)
    shifts = np.arange(bits - 1, -1, -1, dtype=np.uint64)
    planes = ((idx[:, None] >> shifts[None, :]) & np.uint64(1)).astype(np.uint8)
    return np.packbits(planes.reshape(-1)).tobytes()


def unpack_indices(data: bytes, count: int, bits: int) -> np.ndarray:
    need = -(-count * bits // 8)
    if len(data) != need:
        raise FormatError(f"rec index chunk: {len(data)} bytes, expected {need}")
    planes = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    weights = (np.uint64(1) << np.arange(bits - 1, -1, -1, dtype=np.uint64))
    return (planes.astype(np.uint64) * weights[None, :]).sum(axis=1).astype(np.int64)

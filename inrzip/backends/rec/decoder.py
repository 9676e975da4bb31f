"""rec decoder (numpy only): indices -> one candidate per block -> latents -> weights -> pixels.

For each block the decoder regenerates only the chosen candidate (d normals from the
project's counter RNG), undoes the cross-patch permutation, sums the three levels, maps latents
to weights through the pack's A, upsamples the positional encodings of the patches it needs
(plus a one-patch margin so the convolutions see the same neighbours as a full decode) and
runs the patch SIRENs only there.
"""
from __future__ import annotations

import numpy as np

from ...container import Header, Reader
from ...errors import FormatError, UsageError
from ...runtime.coords import Region
from ...signal import from_unit
from . import blocks
from . import format as fmt
from . import pack as packs
from .arch import (
    LEVEL_GROUP,
    LEVEL_IMAGE,
    LEVEL_PATCH,
    RecArch,
    fourier_features,
    group_count,
    patch_groups,
    signal_grid,
)
from .network import layer_weights, patch_forward, positional_features

CHUNK_NAMES = {fmt.INDEX_CHUNK: "indices"}
MAX_VARIABLES = 1 << 28     # latents rebuilt (level sizes x instances)
PATCH_BATCH = 8             # patches per SIREN forward (bounds memory; output is per patch)


def describe(header: Header) -> dict:
    p = fmt.RecParams.from_bytes(header.params)
    return {"pack": p.pack_id.hex(), "index_bits": p.index_bits, "seed": p.seed,
            "blocks_per_patch": p.groups[0], "blocks_per_group": p.groups[1], "blocks_per_image": p.groups[2]}


def level_rows(header: Header, arch: RecArch) -> dict[int, int]:
    rows, cols = signal_grid(header.shape, header.channels, arch)
    return {LEVEL_PATCH: rows * cols, LEVEL_GROUP: group_count(rows, cols, arch), LEVEL_IMAGE: 1}


def block_count(params: fmt.RecParams, rows: dict[int, int]) -> int:
    g1, g2, g3 = params.groups
    return g3 * rows[LEVEL_IMAGE] + g2 * rows[LEVEL_GROUP] + g1 * rows[LEVEL_PATCH]


def split_indices(indices: np.ndarray, params: fmt.RecParams, rows: dict[int, int]) -> dict[int, np.ndarray]:
    """(rows, groups) index arrays per level; the stream holds level 3, then 2, then 1, row-major."""
    out, start = {}, 0
    for level, n in ((LEVEL_IMAGE, params.groups[2]), (LEVEL_GROUP, params.groups[1]), (LEVEL_PATCH, params.groups[0])):
        count = rows[level] * n
        out[level] = indices[start:start + count].reshape(rows[level], n)
        start += count
    return out


def level_values(pack: packs.Pack, level: int, n_groups: int, seed: int, indices: np.ndarray) -> np.ndarray:
    """(instances, size) float32 latents of one level rebuilt from its (rows, groups) indices."""
    mean, std = pack.prior_mean[level].astype(np.float64), pack.prior_std[level].astype(np.float64)
    gid = blocks.group_of_variables(pack.kl_bits[level], level, n_groups)
    coded = mean + std * blocks.chosen_noise(seed, level, indices, gid)
    perm = blocks.row_permutation(level, indices.shape[0], mean.size)
    values = np.empty_like(coded)
    np.put_along_axis(values, perm, coded, axis=0)
    return values.astype(np.float32)


def latents(header: Header, params: fmt.RecParams, pack: packs.Pack, payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """(h (patches, inr_size), lpe (patches, lpe_size)) of every patch."""
    arch = pack.arch
    rows = level_rows(header, arch)
    total = block_count(params, rows)
    indices = blocks.unpack_indices(payload, total, params.index_bits)
    per_level = split_indices(indices, params, rows)
    z = {lv: level_values(pack, lv, n, params.seed, per_level[lv])
         for lv, n in ((LEVEL_PATCH, params.groups[0]), (LEVEL_GROUP, params.groups[1]), (LEVEL_IMAGE, params.groups[2]))}
    prow, pcol = signal_grid(header.shape, header.channels, arch)
    inr = arch.inr_size
    h = z[LEVEL_PATCH][:, :inr] + z[LEVEL_GROUP][patch_groups(prow, pcol, arch)] + z[LEVEL_IMAGE][0]
    return h, z[LEVEL_PATCH][:, inr:]


def patch_features(lpe: np.ndarray, pack: packs.Pack, grid: tuple[int, int],
                   box: tuple[int, int, int, int]) -> np.ndarray:
    """Upsampled positional features (patches in box, row-major; points, lpe_out).

    A one-patch margin (clipped to the grid) gives the convolutions the same inputs as a full
    decode. Audio rows are channels: the 1-D upsampler runs along each row on its own.
    """
    arch = pack.arch
    rows, cols = grid
    r0, r1, c0, c1 = box
    m0, m1 = (max(0, r0 - 1), min(rows, r1 + 1)) if arch.dims == 2 else (r0, r1)
    n0, n1 = max(0, c0 - 1), min(cols, c1 + 1)
    cells = arch.patch // arch.lpe_stride
    p = arch.patch
    if arch.dims == 2:
        lat = lpe.reshape(rows, cols, cells, cells, arch.lpe_channels)[m0:m1, n0:n1]
        lat = lat.transpose(0, 2, 1, 3, 4).reshape((m1 - m0) * cells, (n1 - n0) * cells, arch.lpe_channels)
        feat = positional_features(lat, pack.upsampler)
        return np.stack([feat[(r - m0) * p:(r - m0 + 1) * p, (c - n0) * p:(c - n0 + 1) * p].reshape(p * p, -1)
                         for r in range(r0, r1) for c in range(c0, c1)])
    lat = lpe.reshape(rows, cols, cells, arch.lpe_channels)[m0:m1, n0:n1]
    feat = positional_features(lat.reshape(m1 - m0, (n1 - n0) * cells, arch.lpe_channels), pack.upsampler)
    return np.stack([feat[r - m0, (c - n0) * p:(c - n0 + 1) * p] for r in range(r0, r1) for c in range(c0, c1)])


def render(h: np.ndarray, lpe: np.ndarray, pack: packs.Pack, grid: tuple[int, int],
           box: tuple[int, int, int, int]) -> np.ndarray:
    """Unit-range outputs of the patch box (r0, r1, c0, c1) of a rows x cols patch grid:
    (rows px, cols px, channels) for images, (samples, rows = channels) for audio."""
    arch = pack.arch
    cols = grid[1]
    r0, r1, c0, c1 = box
    feat = patch_features(lpe, pack, grid, box)
    fourier = fourier_features(arch)
    ids = np.array([r * cols + c for r in range(r0, r1) for c in range(c0, c1)])
    weights_all = layer_weights(h[ids], pack.A, arch)    # one large product per layer, not one per batch
    y = np.empty((ids.size, arch.patch_points, arch.channels), dtype=np.float32)
    for start in range(0, ids.size, PATCH_BATCH):
        stop = min(start + PATCH_BATCH, ids.size)
        x = np.concatenate([np.broadcast_to(fourier, (stop - start,) + fourier.shape), feat[start:stop]], axis=2)
        y[start:stop] = patch_forward(x, [(w[start:stop], b[start:stop]) for w, b in weights_all], arch)
    p = arch.patch
    if arch.dims == 1:   # (rows, cols, P, 1) -> (samples, channels)
        return y.reshape(r1 - r0, (c1 - c0) * p).T
    y = y.reshape(r1 - r0, c1 - c0, p, p, arch.channels).transpose(0, 2, 1, 3, 4)
    return y.reshape((r1 - r0) * p, (c1 - c0) * p, arch.channels)


def load(header: Header) -> tuple[fmt.RecParams, packs.Pack]:
    if header.modality not in ("image", "audio"):
        raise FormatError(f"rec: {header.modality} is not supported yet (images and audio only)")
    params = fmt.RecParams.from_bytes(header.params)
    pack = packs.find(params.pack_id)
    arch = pack.arch
    if arch.modality != header.modality:
        raise FormatError(f"rec: pack {params.pack_id.hex()} codes {arch.modality}, the file is {header.modality}")
    if arch.dims == 2 and arch.channels != header.channels:
        raise FormatError(f"rec: pack {params.pack_id.hex()} codes {arch.channels} channels, file has {header.channels}")
    rows = level_rows(header, arch)
    variables = sum(rows[lv] * arch.level_size(lv) for lv in rows)
    if variables > MAX_VARIABLES:
        raise FormatError(f"rec: {variables} latents exceed the decoder's limit")
    if block_count(params, rows) * params.index_bits > 8 * (1 << 31):
        raise FormatError("rec: index stream too large")
    for lv, n in zip((LEVEL_PATCH, LEVEL_GROUP, LEVEL_IMAGE), params.groups):
        if n > arch.level_size(lv):
            raise FormatError(f"rec: level {lv} asks for {n} blocks of {arch.level_size(lv)} variables")
    return params, pack


def decode(reader: Reader, region: Region) -> np.ndarray:
    header = reader.header
    if region.scale != 1.0:
        raise UsageError("rec files decode at --scale 1 only (patch positional encodings are per pixel)")
    reader.check_required_tags(set(CHUNK_NAMES))
    params, pack = load(header)
    index = [i for i, e in enumerate(reader.chunks) if e.tag == fmt.INDEX_CHUNK]
    if len(index) != 1:
        raise FormatError(f"rec: expected one index chunk, found {len(index)}")
    payload = reader.read_chunk(index[0], "rec indices")
    h, lpe = latents(header, params, pack, payload)
    arch = pack.arch
    grid = signal_grid(header.shape, header.channels, arch)
    p = arch.patch
    if arch.dims == 1:
        (s0, s1), = region.spans
        box = (0, grid[0], s0 // p, -(-s1 // p))
        samples = render(h, lpe, pack, grid, box)
        return from_unit(samples[s0 - box[2] * p:s1 - box[2] * p], "audio", header.bit_depth)
    (y0, y1), (x0, x1) = region.spans
    box = (y0 // p, -(-y1 // p), x0 // p, -(-x1 // p))
    pixels = render(h, lpe, pack, grid, box)
    oy, ox = box[0] * p, box[2] * p
    pixels = pixels[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    return from_unit(pixels, "image", header.bit_depth)

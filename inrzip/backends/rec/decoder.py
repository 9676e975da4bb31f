"""rec decoder (numpy only): indices -> one candidate per block -> latents -> weights -> pixels.

For each block the decoder regenerates only the chosen candidate (d normals from the
project's counter RNG), undoes the cross-patch permutation, sums the three levels, maps latents
to weights through the pack's A, upsamples the positional encodings of the patches it needs
(plus a one-patch margin so the convolutions see the same neighbours as a full decode) and
runs the patch SIRENs only there.
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from ...container import Header, Reader
from ...errors import FormatError, UsageError
from ...runtime.coords import Region
from ...signal import from_unit
from . import blocks
from . import format as fmt
from . import index_code
from . import pack as packs
from .arch import (
    CODING_ORDER,
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
            "index_coding": fmt.INDEX_CODING_NAMES[p.index_coding],
            "blocks_per_patch": p.groups[0], "blocks_per_group": p.groups[1], "blocks_per_image": p.groups[2]}


def level_rows(header: Header, arch: RecArch) -> dict[int, int]:
    grid = signal_grid(header.shape, header.channels, arch)
    return {LEVEL_PATCH: math.prod(grid), LEVEL_GROUP: group_count(grid, arch), LEVEL_IMAGE: 1}


def block_count(params: fmt.RecParams, rows: dict[int, int]) -> int:
    return sum(n * rows[lv] for lv, n in zip(packs.LEVELS, params.groups))


def split_indices(indices: np.ndarray, params: fmt.RecParams, rows: dict[int, int]) -> dict[int, np.ndarray]:
    """(rows, groups) index arrays per level; the stream holds them in CODING_ORDER (image, group, patch), row-major."""
    out, start, groups = {}, 0, dict(zip(packs.LEVELS, params.groups))
    for level in CODING_ORDER:
        n = groups[level]
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
    indices = index_code.read(payload, total, params)
    per_level = split_indices(indices, params, rows)
    z = {lv: level_values(pack, lv, n, params.seed, per_level[lv])
         for lv, n in zip(packs.LEVELS, params.groups)}
    grid = signal_grid(header.shape, header.channels, arch)
    inr = arch.inr_size
    h = z[LEVEL_PATCH][:, :inr] + z[LEVEL_GROUP][patch_groups(grid, arch)] + z[LEVEL_IMAGE][0]
    return h, z[LEVEL_PATCH][:, inr:]


Box = tuple[tuple[int, int], ...]      # (start, stop) patches along each grid axis


def patch_features(lpe: np.ndarray, pack: packs.Pack, grid: tuple[int, ...], box: Box) -> np.ndarray:
    """Upsampled positional features (patches in box, row-major; points, lpe_out).

    A one-patch margin along the conv axes (clipped to the grid) gives the convolutions the same
    inputs as a full decode. Audio's leading grid axis is its channels: the 1-D upsampler runs
    along each of them on its own, with no margin across them.
    """
    arch = pack.arch
    lead = len(grid) - arch.dims
    span = [(a, b) if i < lead else (max(0, a - 1), min(n, b + 1)) for i, ((a, b), n) in enumerate(zip(box, grid))]
    lat = lpe.reshape(grid + arch.cell_shape + (arch.lpe_channels,))
    lat = lat[tuple(slice(a, b) for a, b in span)]
    sizes = [b - a for a, b in span]
    conv = list(range(lead, len(grid)))
    order = list(range(lead)) + [ax for i in conv for ax in (i, len(grid) + i - lead)] + [lat.ndim - 1]
    lat = lat.transpose(order).reshape(sizes[:lead] + [sizes[i] * c for i, c in zip(conv, arch.cell_shape)]
                                       + [arch.lpe_channels])
    feat = positional_features(lat, pack.upsampler, arch.upsample_factors)
    # (lead..., S_i * P_i ..., out) -> (lead..., S_i, P_i ..., out), cut the margins, patches first
    feat = feat.reshape(sizes[:lead] + [x for i, p in zip(conv, arch.patch_shape) for x in (sizes[i], p)] + [-1])
    keep = [slice(None)] * lead
    for i in conv:
        keep += [slice(box[i][0] - span[i][0], box[i][1] - span[i][0]), slice(None)]
    feat = feat[tuple(keep)]
    order = list(range(lead)) + [lead + 2 * j for j in range(arch.dims)] + [lead + 2 * j + 1 for j in range(arch.dims)]
    feat = feat.transpose(order + [feat.ndim - 1])
    return feat.reshape(-1, arch.patch_points, feat.shape[-1])


def render(h: np.ndarray, lpe: np.ndarray, pack: packs.Pack, grid: tuple[int, ...], box: Box) -> np.ndarray:
    """Unit-range outputs of the patches in `box`: (rows px, cols px, channels) for images,
    (frames, rows px, cols px, channels) for video, (samples, rows = channels) for audio."""
    arch = pack.arch
    feat = patch_features(lpe, pack, grid, box)
    fourier = fourier_features(arch)
    ids = np.ravel_multi_index(np.meshgrid(*(np.arange(a, b) for a, b in box), indexing="ij"), grid).reshape(-1)
    weights_all = layer_weights(h[ids], pack.A, arch)    # one large product per layer, not one per batch
    y = np.empty((ids.size, arch.patch_points, arch.channels), dtype=np.float32)
    for start in range(0, ids.size, PATCH_BATCH):
        stop = min(start + PATCH_BATCH, ids.size)
        x = np.concatenate([np.broadcast_to(fourier, (stop - start,) + fourier.shape), feat[start:stop]], axis=2)
        y[start:stop] = patch_forward(x, [(w[start:stop], b[start:stop]) for w, b in weights_all], arch)
    counts = [b - a for a, b in box]
    if arch.dims == 1:   # (rows, cols, P, 1) -> (samples, channels)
        return y.reshape(counts[0], counts[1] * arch.patch).T
    y = y.reshape(counts + list(arch.patch_shape) + [arch.channels])
    n = arch.dims
    y = y.transpose([ax for i in range(n) for ax in (i, n + i)] + [2 * n])
    return y.reshape([c * p for c, p in zip(counts, arch.patch_shape)] + [arch.channels])


def load(header: Header) -> tuple[fmt.RecParams, packs.Pack]:
    params = fmt.RecParams.from_bytes(header.params)
    pack = packs.find(params.pack_id)
    arch = pack.arch
    if arch.modality != header.modality:
        raise FormatError(f"rec: pack {params.pack_id.hex()} codes {arch.modality}, the file is {header.modality}")
    if arch.dims != 1 and arch.channels != header.channels:
        raise FormatError(f"rec: pack {params.pack_id.hex()} codes {arch.channels} channels, file has {header.channels}")
    rows = level_rows(header, arch)
    variables = sum(rows[lv] * arch.level_size(lv) for lv in rows)
    if variables > MAX_VARIABLES:
        raise FormatError(f"rec: {variables} latents exceed the decoder's limit")
    if block_count(params, rows) * params.index_bits > 8 * (1 << 31):
        raise FormatError("rec: index stream too large")
    for lv, n in zip(packs.LEVELS, params.groups):
        if n > arch.level_size(lv):
            raise FormatError(f"rec: level {lv} asks for {n} blocks of {arch.level_size(lv)} variables")
    return params, pack


VIDEO_TILE = 8     # video decodes one frame slab at a time, in tiles of up to 8 x 8 patches (bounded memory)


def render_region(h: np.ndarray, lpe: np.ndarray, pack: packs.Pack, grid: tuple[int, ...],
                  spans: tuple[tuple[int, int], ...]) -> np.ndarray:
    """Unit-range samples of a region (sample spans per axis of the signal)."""
    arch = pack.arch
    if arch.dims == 1:
        (s0, s1), = spans
        p = arch.patch
        box = ((0, grid[0]), (s0 // p, -(-s1 // p)))
        return render(h, lpe, pack, grid, box)[s0 - box[1][0] * p:s1 - box[1][0] * p]
    box = tuple((a // p, -(-b // p)) for (a, b), p in zip(spans, arch.patch_shape))
    origin = [b0 * p for (b0, _), p in zip(box, arch.patch_shape)]
    if arch.dims == 2:
        out = render(h, lpe, pack, grid, box)
    else:
        shape = [(b - a) * p for (a, b), p in zip(box, arch.patch_shape)]
        out = np.empty(shape + [arch.channels], dtype=np.float32)
        for tile in itertools.product(*(range(a, b, step) for (a, b), step in zip(box, (1, VIDEO_TILE, VIDEO_TILE)))):
            sub = tuple((t, min(t + step, b)) for t, (_, b), step in zip(tile, box, (1, VIDEO_TILE, VIDEO_TILE)))
            where = tuple(slice((a - b0) * p, (b - b0) * p) for (a, b), (b0, _), p in zip(sub, box, arch.patch_shape))
            out[where] = render(h, lpe, pack, grid, sub)
    return out[tuple(slice(a - o, b - o) for (a, b), o in zip(spans, origin))]


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
    grid = signal_grid(header.shape, header.channels, pack.arch)
    samples = render_region(h, lpe, pack, grid, tuple(region.spans))
    return from_unit(samples, header.modality, header.bit_depth)

"""Lossless decoder: numpy and integers only; decodes just the tiles a crop touches."""
from __future__ import annotations

import math

import constriction
import numpy as np

from ...container import Header, Reader
from ...errors import FormatError, UsageError
from ...runtime.coords import Region
from ...runtime.fixedpoint import MAX_ABS_ACC, IntMLP
from . import coding
from . import context as ctx
from . import format as fmt

CHUNK_NAMES = {fmt.MODEL_CHUNK: "model", fmt.TILE_CHUNK: "tile"}
MODALITIES = ("image", "audio")
BIT_DEPTHS = {"image": (8, 16), "audio": (16, 24)}
MAX_CHANNELS = {"image": 4, "audio": 2}
MAX_WORK = 1 << 44          # coded bits x network weights: bounds the time a hostile file costs


def params_of(header: Header) -> fmt.LosslessParams:
    if header.modality not in MODALITIES:
        raise FormatError(f"lossless: unsupported modality {header.modality}")
    if header.bit_depth not in BIT_DEPTHS[header.modality]:
        raise FormatError(f"lossless: unsupported bit depth {header.bit_depth} for {header.modality}")
    if header.channels > MAX_CHANNELS[header.modality]:
        raise FormatError(f"lossless: {header.channels} {header.modality} channels (at most "
                          f"{MAX_CHANNELS[header.modality]})")
    p = fmt.LosslessParams.from_bytes(header.params, header.channels, header.bit_depth)
    if header.modality == "audio" and p.tile_log2[0] != 0:
        raise FormatError("lossless parameters: audio tiles must be one row high")
    expected = expected_in_dim(p.mode, header.modality, p.pe_levels)
    if p.in_dim != expected:
        raise FormatError(f"lossless parameters: input width {p.in_dim}, expected {expected}")
    if p.mode == fmt.MODE_PAPER and p.layers[-1].out_dim != header.channels or \
            p.mode == fmt.MODE_CONTEXT and p.layers[-1].out_dim != 1:
        raise FormatError("lossless parameters: wrong number of outputs")
    return p


def expected_in_dim(mode: int, modality: str, pe_levels: int) -> int:
    if mode == fmt.MODE_PAPER:
        return ctx.paper_dim(modality)
    return ctx.positional_dim(modality, pe_levels) + ctx.context_dim(modality)


def grid_shape(header: Header) -> tuple[int, int]:
    return (header.shape[0], header.shape[1]) if header.modality == "image" else (1, header.shape[0])


def tile_counts(header: Header, p: fmt.LosslessParams) -> tuple[int, int]:
    (rows, cols), (th, tw) = grid_shape(header), p.tile_shape
    return -(-rows // th), -(-cols // tw)


def describe(header: Header) -> dict:
    p = params_of(header)
    ty, tx = tile_counts(header, p)
    return {"mode": fmt.MODES[p.mode], "tile": list(p.tile_shape), "tiles": ty * tx,
            "pe_levels": p.pe_levels, "layers": [f"{s.out_dim} {s.activation}" for s in p.layers],
            "constant_bits": [f"{m:#x}" for m in p.const_mask]}


def check_net(net: IntMLP) -> None:
    if net.accumulator_bound(ctx.INPUT_BOUND) >= MAX_ABS_ACC:
        raise FormatError("lossless model: weights too large for exact integer inference")


def _tile_block(header: Header, p: fmt.LosslessParams, region: Region) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tile ranges (rows, cols) covering the region."""
    (th, tw) = p.tile_shape
    spans = region.spans if header.modality == "image" else ((0, 1),) + tuple(region.spans)
    (r0, r1), (c0, c1) = spans
    return (r0 // th, -(-r1 // th)), (c0 // tw, -(-c1 // tw))


def decode(reader: Reader, region: Region) -> np.ndarray:
    header = reader.header
    reader.check_required_tags(set(CHUNK_NAMES))
    if region.scale != 1.0:
        raise UsageError("lossless files decode at --scale 1 only (they hold samples, not a field)")
    p = params_of(header)
    ty, tx = tile_counts(header, p)
    model_idx = [i for i, c in enumerate(reader.chunks) if c.tag == fmt.MODEL_CHUNK]
    tile_idx = [i for i, c in enumerate(reader.chunks) if c.tag == fmt.TILE_CHUNK]
    if len(model_idx) != 1 or len(tile_idx) != ty * tx:
        raise FormatError(f"{reader.name}: lossless file needs 1 model chunk and {ty * tx} tile chunks, "
                          f"has {len(model_idx)} and {len(tile_idx)}")
    weights = sum(o * i for o, i in p.layer_shapes())
    coded_bits = math.prod(grid_shape(header)) * sum(len(p.coded_planes(c, header.bit_depth))
                                                      for c in range(header.channels))
    if weights * coded_bits > MAX_WORK:
        raise FormatError(f"lossless: {coded_bits} bits through {weights} weights exceeds the decoder's limits")
    if fmt.payload_size(p) > 1 << 26:
        raise FormatError("lossless model: too large")
    net = fmt.unpack_model(reader.read_chunk(model_idx[0], "model chunk"), p)
    check_net(net)

    (br0, br1), (bc0, bc1) = _tile_block(header, p, region)
    (th, tw), (rows, cols) = p.tile_shape, grid_shape(header)
    origin = (br0 * th, bc0 * tw)
    block = (min(br1 * th, rows) - origin[0], min(bc1 * tw, cols) - origin[1])
    grid = ctx.Grid(header.modality, (rows, cols), origin, (th, tw), header.bit_depth, header.channels)
    hashes, decoders = [], []
    for r in range(br0, br1):
        for c in range(bc0, bc1):
            data = reader.read_chunk(tile_idx[r * tx + c], f"tile {r * tx + c}")
            if len(data) < fmt.HASH_BYTES or (len(data) - fmt.HASH_BYTES) % 4:
                raise FormatError(f"{reader.name}: tile {r * tx + c} is truncated")
            hashes.append(data[:fmt.HASH_BYTES])
            words = np.frombuffer(data[fmt.HASH_BYTES:], dtype="<u4").astype(np.uint32)
            decoders.append(constriction.stream.queue.RangeDecoder(words))

    u = np.zeros((header.channels,) + block, dtype=ctx.sample_dtype(header.bit_depth))
    u |= np.asarray(p.const_value, dtype=u.dtype)[:, None, None]
    model = coding.bernoulli()

    def visit(c: int, k: int, ph: int, order: coding.PhaseOrder, p_int: np.ndarray) -> np.ndarray:
        bits = np.empty(len(order.rows), dtype=np.int64)
        probs = coding.as_probability(p_int)
        for dec, sl in zip(decoders, order.tile_slices):
            if sl.stop > sl.start:
                try:
                    bits[sl] = dec.decode(model, probs[sl])
                except Exception as e:    # constriction reports a damaged stream as a ValueError-like
                    raise FormatError(f"{reader.name}: damaged tile stream ({e})") from None
        return bits

    coding.run(p, net, grid, u, visit)
    _verify(u, grid, p, hashes, reader.name)
    return _to_signal_layout(u, header, region, origin)


def _verify(u: np.ndarray, grid: ctx.Grid, p: fmt.LosslessParams, hashes: list[bytes], name: str) -> None:
    th, tw = p.tile_shape
    i = 0
    for r in range(0, u.shape[1], th):
        for c in range(0, u.shape[2], tw):
            if fmt.samples_hash(u[:, r:r + th, c:c + tw]) != hashes[i]:
                raise FormatError(f"{name}: decoded samples do not match the stored hash "
                                  f"(tile {i} of the decoded block); the file is damaged")
            i += 1


def _to_signal_layout(u: np.ndarray, header: Header, region: Region, origin: tuple[int, int]) -> np.ndarray:
    if header.modality == "image":
        (r0, r1), (c0, c1) = region.spans
        out = u[:, r0 - origin[0]:r1 - origin[0], c0 - origin[1]:c1 - origin[1]].transpose(1, 2, 0)
        return out.astype(np.uint8 if header.bit_depth <= 8 else np.uint16)
    ((a, b),) = region.spans
    out = u[:, 0, a - origin[1]:b - origin[1]].T - (1 << (header.bit_depth - 1))
    return out.astype(np.int16 if header.bit_depth <= 16 else np.int32)


def from_signal_layout(data: np.ndarray, modality: str, bit_depth: int) -> np.ndarray:
    """Signal samples -> the (C, rows, cols) unsigned grid the coder works on."""
    if modality == "image":
        return np.ascontiguousarray(data.transpose(2, 0, 1), dtype=ctx.sample_dtype(bit_depth))
    return np.ascontiguousarray(data.T[:, None, :].astype(ctx.sample_dtype(bit_depth)) + (1 << (bit_depth - 1)))

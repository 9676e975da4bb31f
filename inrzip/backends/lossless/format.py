"""Lossless payload layout (formats/lossless.md), shared by the encoder and the numpy decoder.

Header params (varints unless noted):
    version u8 (1) | mode u8 (0 paper, 1 context) | tile_h_log2 u8 | tile_w_log2 u8 |
    pe_levels u8 | in_dim | n_layers u8 | per layer: out_dim, activation u8, shift u8 |
    per channel: constant-bit mask, constant-bit values

Chunk 0x81 "model": Brotli of the weights (zigzag, 2 byte planes, high first; layer by layer,
row-major) then the biases (zigzag, 4 byte planes, high first).
Chunk 0x82 "tile", once per tile in row-major tile order: 8 bytes of SHA-256 of the tile's
original samples, then the tile's range-coded bits (constriction queue coder, uint32 words LE).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import brotli
import numpy as np

from ...container import ByteReader, ByteWriter
from ...errors import FormatError
from ...runtime.compress import brotli_exact
from ...runtime.fixedpoint import ACTIVATION_IDS, ACTIVATIONS, IntLayer, IntMLP

MODEL_CHUNK = 0x81
TILE_CHUNK = 0x82
FORMAT_VERSION = 1
MODE_PAPER, MODE_CONTEXT = 0, 1
MODES = {MODE_PAPER: "paper", MODE_CONTEXT: "context"}
HASH_BYTES = 8
MAX_WIDTH = 1024
MAX_LAYERS = 16
MAX_SHIFT = 30
MAX_PE_LEVELS = 16
MAX_TILE_LOG2 = 24


@dataclass(frozen=True)
class LayerSpec:
    out_dim: int
    activation: str
    shift: int


@dataclass(frozen=True)
class LosslessParams:
    mode: int
    tile_log2: tuple[int, int]          # (rows, columns) of a tile, as powers of two
    pe_levels: int
    in_dim: int
    layers: tuple[LayerSpec, ...]
    const_mask: tuple[int, ...]         # per channel: bits that are the same in every sample
    const_value: tuple[int, ...]        # ... and their value

    @property
    def tile_shape(self) -> tuple[int, int]:
        return 1 << self.tile_log2[0], 1 << self.tile_log2[1]

    def layer_shapes(self) -> list[tuple[int, int]]:
        shapes, fan_in = [], self.in_dim
        for spec in self.layers:
            shapes.append((spec.out_dim, fan_in))
            fan_in = spec.out_dim
        return shapes

    def coded_planes(self, channel: int, bit_depth: int) -> list[int]:
        """Bit planes of a channel that are coded, MSB first (constant planes are skipped)."""
        return [k for k in range(bit_depth - 1, -1, -1) if not (self.const_mask[channel] >> k) & 1]

    def to_bytes(self) -> bytes:
        w = ByteWriter().u8(FORMAT_VERSION).u8(self.mode).u8(self.tile_log2[0]).u8(self.tile_log2[1])
        w.u8(self.pe_levels).varint(self.in_dim).u8(len(self.layers))
        for spec in self.layers:
            w.varint(spec.out_dim).u8(ACTIVATION_IDS[spec.activation]).u8(spec.shift)
        for mask, value in zip(self.const_mask, self.const_value):
            w.varint(mask).varint(value)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, channels: int, bit_depth: int) -> "LosslessParams":
        r = ByteReader(data, "lossless parameters")
        version = r.u8()
        if version != FORMAT_VERSION:
            raise FormatError(f"lossless parameters: version {version} is newer than this inrzip "
                              f"supports ({FORMAT_VERSION}); upgrade inrzip")
        mode = r.u8()
        if mode not in MODES:
            raise FormatError(f"lossless parameters: unknown mode {mode}")
        tile_log2 = (r.u8(), r.u8())
        pe_levels = r.u8()
        in_dim = r.varint(MAX_WIDTH)
        n_layers = r.u8()
        if max(tile_log2) > MAX_TILE_LOG2 or pe_levels > MAX_PE_LEVELS or not 1 <= n_layers <= MAX_LAYERS \
                or in_dim < 1:
            raise FormatError("lossless parameters: out of range")
        layers = []
        for _ in range(n_layers):
            out_dim, act, shift = r.varint(MAX_WIDTH), r.u8(), r.u8()
            if out_dim < 1 or act not in ACTIVATIONS or shift > MAX_SHIFT:
                raise FormatError("lossless parameters: bad layer")
            layers.append(LayerSpec(out_dim, ACTIVATIONS[act], shift))
        limit = (1 << bit_depth) - 1
        mask, value = [], []
        for _ in range(channels):
            m, v = r.varint(limit), r.varint(limit)
            if v & ~m:
                raise FormatError("lossless parameters: constant bits outside their mask")
            mask.append(m)
            value.append(v)
        if r.remaining:
            raise FormatError("lossless parameters: trailing bytes")
        return cls(mode, tile_log2, pe_levels, in_dim, tuple(layers), tuple(mask), tuple(value))


# ------------------------------------------------------------ model payload
def _zigzag(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _unzigzag(c: np.ndarray) -> np.ndarray:
    c = c.astype(np.int64)
    return (c >> 1) ^ -(c & 1)


def _planes(codes: np.ndarray, nbytes: int) -> bytes:
    return b"".join(((codes >> np.uint64(8 * b)) & np.uint64(0xFF)).astype(np.uint8).tobytes()
                    for b in reversed(range(nbytes)))


def _unplanes(r: ByteReader, count: int, nbytes: int) -> np.ndarray:
    out = np.zeros(count, dtype=np.uint64)
    for _ in range(nbytes):
        out = (out << np.uint64(8)) | np.frombuffer(r.take(count), dtype=np.uint8).astype(np.uint64)
    return out


WEIGHT_LIMIT = (1 << 15) - 1
BIAS_LIMIT = (1 << 31) - 1


def payload_size(params: LosslessParams) -> int:
    shapes = params.layer_shapes()
    return 2 * sum(o * i for o, i in shapes) + 4 * sum(o for o, _ in shapes)


def pack_model(net: IntMLP) -> bytes:
    weights = np.concatenate([layer.weight.reshape(-1) for layer in net.layers])
    biases = np.concatenate([layer.bias.reshape(-1) for layer in net.layers])
    if np.abs(weights).max(initial=0) > WEIGHT_LIMIT or np.abs(biases).max(initial=0) > BIAS_LIMIT:
        raise ValueError("quantized model exceeds the storable range")
    raw = _planes(_zigzag(weights), 2) + _planes(_zigzag(biases), 4)
    return brotli.compress(raw, quality=11)


def unpack_model(data: bytes, params: LosslessParams) -> IntMLP:
    raw = brotli_exact(data, payload_size(params), "lossless model chunk")
    shapes = params.layer_shapes()
    r = ByteReader(raw, "lossless model")
    weights = _unzigzag(_unplanes(r, sum(o * i for o, i in shapes), 2))
    biases = _unzigzag(_unplanes(r, sum(o for o, _ in shapes), 4))
    layers, wi, bi = [], 0, 0
    for (o, i), spec in zip(shapes, params.layers):
        layers.append(IntLayer(weights[wi:wi + o * i].reshape(o, i), biases[bi:bi + o], spec.shift, spec.activation))
        wi += o * i
        bi += o
    return IntMLP(tuple(layers))


def samples_hash(samples: np.ndarray) -> bytes:
    """First 8 bytes of SHA-256 over samples (channel, row, column order) as little-endian uint32."""
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<u4").tobytes()).digest()[:HASH_BYTES]

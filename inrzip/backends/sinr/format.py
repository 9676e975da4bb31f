"""SINR payload layout (formats/sinr.md), shared by the encoder and the numpy decoder.

Header params (varints unless noted):
    mode u8 (0 plain, 1 sparse) | hidden_layers | width | w0 | w0_first | seed | log2_dict u8 |
    value_bits u8 | bias_bits u8 | s per layer (sparse mode only, hidden_layers + 2 values)

Chunk 0x81 "net": Brotli of
    float32 value step per layer | float32 bias step per layer |
    sparse: index deltas (uint16, byte planes) | value codes (zigzag uint16, byte planes)
    plain:  weight codes (zigzag uint16, byte planes, W row-major layer by layer)
    bias codes (zigzag uint16, byte planes)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...container import ByteReader, ByteWriter
from ...errors import FormatError

NET_CHUNK = 0x81
MODE_PLAIN, MODE_SPARSE = 0, 1
DICT_STREAM = 0          # rng stream of the dictionary; seed comes from the header
MAX_WIDTH = 4096
MAX_HIDDEN_LAYERS = 64


@dataclass(frozen=True)
class SinrParams:
    mode: int
    hidden_layers: int
    width: int
    w0: int
    w0_first: int
    seed: int
    log2_dict: int
    value_bits: int
    bias_bits: int
    sparsity: tuple[int, ...] = ()   # atoms per vector, one per layer (sparse mode)

    def layer_shapes(self, in_dim: int, out_dim: int) -> list[tuple[int, int]]:
        """(out, in) of every linear layer."""
        k = self.width
        return [(k, in_dim)] + [(k, k)] * self.hidden_layers + [(out_dim, k)]

    def to_bytes(self) -> bytes:
        w = ByteWriter().u8(self.mode).varint(self.hidden_layers).varint(self.width)
        w.varint(self.w0).varint(self.w0_first).varint(self.seed).u8(self.log2_dict).u8(self.value_bits).u8(self.bias_bits)
        if self.mode == MODE_SPARSE:
            for s in self.sparsity:
                w.varint(s)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "SinrParams":
        r = ByteReader(data, "sinr parameters")
        mode = r.u8()
        if mode not in (MODE_PLAIN, MODE_SPARSE):
            raise FormatError(f"sinr parameters: unknown mode {mode}")
        hidden = r.varint(MAX_HIDDEN_LAYERS)
        width = r.varint(MAX_WIDTH)
        w0 = r.varint(1 << 20)
        w0_first = r.varint(1 << 20)
        seed = r.varint((1 << 64) - 1)
        log2_dict, vbits, bbits = r.u8(), r.u8(), r.u8()
        if width < 1 or not 1 <= log2_dict <= 16 or not 2 <= vbits <= 16 or not 2 <= bbits <= 16:
            raise FormatError("sinr parameters: out of range")
        sparsity: tuple[int, ...] = ()
        if mode == MODE_SPARSE:
            sparsity = tuple(r.varint(width) for _ in range(hidden + 2))
            if min(sparsity) < 1:
                raise FormatError("sinr parameters: sparsity must be at least 1")
        return cls(mode, hidden, width, w0, w0_first, seed, log2_dict, vbits, bbits, sparsity)


# ------------------------------------------------------------ integer packing
def zigzag(values: np.ndarray) -> np.ndarray:
    v = values.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint16)


def unzigzag(codes: np.ndarray) -> np.ndarray:
    c = codes.astype(np.int64)
    return (c >> 1) ^ -(c & 1)


def planes(codes: np.ndarray) -> bytes:
    """uint16 array as its high-byte plane then low-byte plane (compresses better)."""
    c = codes.astype(np.uint16).reshape(-1)
    return (c >> 8).astype(np.uint8).tobytes() + (c & 0xFF).astype(np.uint8).tobytes()


def unplanes(reader: ByteReader, count: int) -> np.ndarray:
    hi = np.frombuffer(reader.take(count), dtype=np.uint8).astype(np.uint16)
    lo = np.frombuffer(reader.take(count), dtype=np.uint8).astype(np.uint16)
    return (hi << 8) | lo


def quantize(values: np.ndarray, bits: int) -> tuple[np.ndarray, float]:
    """Symmetric mid-tread uniform quantiser: integer codes and the step."""
    levels = (1 << (bits - 1)) - 1
    peak = float(np.max(np.abs(values))) if values.size else 0.0
    step = np.float32(peak / levels if peak > 0 else 1.0)
    codes = np.clip(np.rint(values / step), -levels, levels).astype(np.int64)
    return codes, float(step)


def vectors_of(layer: int, n_layers: int, shape: tuple[int, int]) -> int:
    """Number of length-`width` vectors a layer is cut into: columns, except rows of the last."""
    out_dim, in_dim = shape
    return out_dim if layer == n_layers - 1 else in_dim


def to_vectors(w: np.ndarray, is_last: bool) -> np.ndarray:
    """(V, width) vectors of a weight matrix: its rows for the last layer, else its columns."""
    return w if is_last else w.T


def from_vectors(v: np.ndarray, is_last: bool) -> np.ndarray:
    return v if is_last else v.T

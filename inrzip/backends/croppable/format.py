"""Croppable payload layout (formats/croppable.md), shared by the encoder and the numpy decoder.

Header params (varints):
    flags u8 (0) | hidden_layers | local_width | global_width | w0 | w0_first |
    per axis: partition size | per axis: fitted (full) size | per axis: origin |
    per axis: first kept partition | per axis: kept partition count

Chunk 0x81 "global" (exactly one): float32 quantiser steps, the shared code histogram, then the
range-coded codes of the global chain and the shared Agg layer.
Chunk 0x82 "partition" (one per kept partition, row-major over the kept box): the range-coded
codes of that partition's LC weight and bias slices. Nothing else in the file depends on it, so
dropping it from the file (crop) or from the decode (--crop) is exact.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import brotli
import constriction
import numpy as np

from ...container import ByteReader, ByteWriter, Header
from ...errors import FormatError
from ...runtime.compress import brotli_exact

GLOBAL_CHUNK = 0x81
PART_CHUNK = 0x82
NDIM = {"image": 2, "audio": 1, "video": 3}
MAX_WIDTH = 1024
MAX_HIDDEN_LAYERS = 16
MAX_SYMBOLS = 1 << 16          # histogram size (codes are within +-2^15)
MAX_CODE = (1 << 15) - 1
MAX_HISTOGRAM_BYTES = 1 << 20


@dataclass(frozen=True)
class CroppableParams:
    hidden_layers: int
    local_width: int
    global_width: int
    w0: int
    w0_first: int
    part: tuple[int, ...]          # partition size per axis, in samples
    full_shape: tuple[int, ...]    # the geometry the network was fitted on (coordinates come from it)
    origin: tuple[int, ...]        # where this file's samples start inside full_shape
    box_lo: tuple[int, ...]        # first partition kept in this file, per axis
    box_n: tuple[int, ...]         # partitions kept, per axis

    # ------------------------------------------------------------ geometry
    @property
    def counts(self) -> tuple[int, ...]:
        """Partitions per axis of the fitted grid (the last one may be padded)."""
        return tuple(-(-n // s) for n, s in zip(self.full_shape, self.part))

    @property
    def box_hi(self) -> tuple[int, ...]:
        return tuple(a + n for a, n in zip(self.box_lo, self.box_n))

    @property
    def kept(self) -> int:
        return math.prod(self.box_n)

    @property
    def cropped(self) -> bool:
        return self.box_n != self.counts

    def kept_partitions(self) -> list[tuple[int, ...]]:
        """Kept partition indices in chunk order (row-major over the kept box)."""
        return list(itertools.product(*(range(a, b) for a, b in zip(self.box_lo, self.box_hi))))

    def chunk_of(self, part: tuple[int, ...]) -> int:
        """Position of a kept partition among the partition chunks."""
        pos = 0
        for p, a, n in zip(part, self.box_lo, self.box_n):
            pos = pos * n + (p - a)
        return pos

    # ------------------------------------------------------------ network sizes
    def lc_dims(self, in_dim: int, out_dim: int) -> list[tuple[int, int]]:
        l = self.local_width
        return [(in_dim, l)] + [(l, l)] * self.hidden_layers + [(l, out_dim)]

    def global_dims(self, in_dim: int) -> list[tuple[int, int]]:
        g = self.global_width
        return [(in_dim, g)] + [(g, g)] * self.hidden_layers

    def local_count(self, in_dim: int, out_dim: int) -> int:
        """Weights + biases of ONE partition."""
        return sum(i * o + o for i, o in self.lc_dims(in_dim, out_dim))

    def global_count(self, in_dim: int) -> int:
        """Global chain + shared Agg (everything in the global chunk)."""
        g, l = self.global_width, self.local_width
        return sum(i * o + o for i, o in self.global_dims(in_dim)) + (g + l) * l + l

    def global_tensors(self, in_dim: int) -> list[tuple[int, ...]]:
        """Shapes in code order: W (out, in) then b of each global layer, then Agg W (l, g+l), b."""
        out: list[tuple[int, ...]] = []
        for i, o in self.global_dims(in_dim):
            out += [(o, i), (o,)]
        g, l = self.global_width, self.local_width
        return out + [(l, g + l), (l,)]

    def local_tensors(self, in_dim: int, out_dim: int) -> list[tuple[int, ...]]:
        """Shapes in code order for one partition: W (in, out) then b of each LC layer."""
        out: list[tuple[int, ...]] = []
        for i, o in self.lc_dims(in_dim, out_dim):
            out += [(i, o), (o,)]
        return out

    # ------------------------------------------------------------ bytes
    def to_bytes(self) -> bytes:
        w = ByteWriter().u8(0).varint(self.hidden_layers).varint(self.local_width)
        w.varint(self.global_width).varint(self.w0).varint(self.w0_first)
        for seq in (self.part, self.full_shape, self.origin, self.box_lo, self.box_n):
            for v in seq:
                w.varint(v)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, ndim: int) -> CroppableParams:
        r = ByteReader(data, "croppable parameters")
        if r.u8() != 0:
            raise FormatError("croppable parameters: unknown flags (needs a newer inrzip)")
        hidden = r.varint(MAX_HIDDEN_LAYERS)
        lw, gw = r.varint(MAX_WIDTH), r.varint(MAX_WIDTH)
        w0, w0_first = r.varint(1 << 20), r.varint(1 << 20)
        seqs = [tuple(r.varint(1 << 24) for _ in range(ndim)) for _ in range(5)]
        if r.remaining:
            raise FormatError("croppable parameters: trailing bytes")
        if lw < 1 or gw < 1 or w0 < 1 or w0_first < 1:
            raise FormatError("croppable parameters: widths and frequencies must be positive")
        return cls(hidden, lw, gw, w0, w0_first, *seqs)

    def check(self, header: Header) -> None:
        """The kept box must cover this file's region inside the fitted grid (FormatError if not)."""
        if any(s < 1 for s in self.part) or any(n < 1 for n in self.full_shape):
            raise FormatError("croppable parameters: empty partition or geometry")
        for i, (n, o, s, lo, k, c) in enumerate(zip(header.shape, self.origin, self.part, self.box_lo,
                                                   self.box_n, self.counts)):
            if k < 1 or lo + k > c or o + n > self.full_shape[i]:
                raise FormatError("croppable parameters: kept partitions outside the fitted grid")
            if lo * s > o or o + n > (lo + k) * s:
                raise FormatError("croppable parameters: kept partitions do not cover the file's region")


def params_of(header: Header) -> CroppableParams:
    if header.modality not in NDIM:
        raise FormatError(f"croppable: unsupported modality {header.modality}")
    p = CroppableParams.from_bytes(header.params, NDIM[header.modality])
    p.check(header)
    return p


# ------------------------------------------------------------------ axis positions
def axis_position(idx: np.ndarray, n: int) -> np.ndarray:
    """Coordinate of source sample idx on an axis of n samples (formats/inrz.md), float32.

    Padding samples (idx >= n) continue the same line past +1."""
    if n == 1:
        return np.zeros(idx.shape, dtype=np.float32)
    return (-1.0 + 2.0 * idx.astype(np.float64) / (n - 1)).astype(np.float32)


def axis_partition(j: np.ndarray, n: int, m: int, size: int, count: int) -> np.ndarray:
    """Partition of output sample j on an axis of n source samples decoded as m samples:
    the partition of the nearest source sample (ties upward); exactly j // size when m == n."""
    j = j.astype(np.int64)
    if m == 1:
        src = np.full(j.shape, (n - 1) // 2, dtype=np.int64)
    else:
        src = (2 * j * (n - 1) + (m - 1)) // (2 * (m - 1))
    return np.minimum(src // size, count - 1)


# ------------------------------------------------------------------ entropy coding
@dataclass(frozen=True)
class CodeModel:
    """Shared histogram of quantised codes: symbol s stands for code lo + s."""

    lo: int
    counts: np.ndarray   # int64, one per symbol

    @classmethod
    def of(cls, codes: np.ndarray) -> CodeModel:
        lo, hi = int(codes.min()), int(codes.max())
        return cls(lo, np.bincount(codes - lo, minlength=hi - lo + 1).astype(np.int64))

    def categorical(self) -> constriction.stream.model.Categorical:
        probs = self.counts.astype(np.float64) / float(self.counts.sum())
        return constriction.stream.model.Categorical(probs, perfect=False)

    def to_bytes(self) -> bytes:
        """zigzag(lo) varint | K varint | Brotli length varint | Brotli(K x u32 counts)."""
        packed = brotli.compress(self.counts.astype("<u4").tobytes(), quality=11)
        return ByteWriter().varint(zigzag(self.lo)).varint(len(self.counts)).bytes_(packed).getvalue()

    @classmethod
    def read(cls, r: ByteReader) -> CodeModel:
        lo = unzigzag(r.varint(1 << 17))
        k = r.varint(MAX_SYMBOLS)
        packed = r.take(r.varint(MAX_HISTOGRAM_BYTES))
        if k < 1:
            raise FormatError(f"{r.what}: empty histogram")
        counts = np.frombuffer(brotli_exact(packed, 4 * k, f"{r.what} histogram"), dtype="<u4").astype(np.int64)
        if counts.sum() <= 0 or lo < -MAX_CODE or lo + k - 1 > MAX_CODE:
            raise FormatError(f"{r.what}: invalid histogram")
        return cls(lo, counts)


def zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(u: int) -> int:
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


def encode_codes(codes: np.ndarray, model: CodeModel, categorical) -> bytes:
    """Range-code integer codes (constriction queue coder) as little-endian uint32 words."""
    enc = constriction.stream.queue.RangeEncoder()
    if codes.size:
        enc.encode((codes - model.lo).astype(np.int32), categorical)
    return enc.get_compressed().astype("<u4").tobytes()


def decode_codes(data: bytes, count: int, model: CodeModel, categorical, what: str) -> np.ndarray:
    if len(data) % 4:
        raise FormatError(f"{what}: truncated range-coded stream")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    try:
        symbols = constriction.stream.queue.RangeDecoder(words).decode(categorical, count)
    except Exception as e:   # constriction reports a damaged stream as its own error
        raise FormatError(f"{what}: damaged range-coded stream ({e})") from None
    return symbols.astype(np.int64) + model.lo


def steps_bytes(steps: np.ndarray) -> bytes:
    return np.asarray(steps, dtype="<f4").tobytes()


def read_steps(r: ByteReader, n: int) -> np.ndarray:
    steps = np.frombuffer(r.take(4 * n), dtype="<f4").astype(np.float32)
    if not np.all(np.isfinite(steps)) or np.any(steps <= 0) or np.any(steps > 1e6):
        raise FormatError(f"{r.what}: invalid quantiser step")
    return steps

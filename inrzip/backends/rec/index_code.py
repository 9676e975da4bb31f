"""Range coding of REC block indices with a fixed table (formats/rec.md, "Range-coded").

Ordered random coding does not pick its 2^K candidates uniformly: the sorted Gumbel sequence
favours early candidates, and a block whose KL sits under K bits is often matched early. On
training-image encodes about a quarter of the indices fall in the first 1/16 of the range, so
a fixed-width index wastes ~0.6 bit per 16-bit block. Here an index n < 2^16 is split into a
bucket (0; then each octave [2^b, 2^(b+1)) cut into up to 4 equal parts: 60 buckets) coded with
a fixed categorical table, and its offset in the bucket, coded uniformly. The table is fitted by
`benchmarks/rec_index_model.py` on training images (never Kodak); only K = 16 has one.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import constriction
import numpy as np

from ...errors import FormatError
from . import blocks
from . import format as fmt
from .format import RANGED_INDEX_BITS as CODED_BITS

PARTS_PER_OCTAVE = 4

# Bucket counts (sum 2^16) from benchmarks/rec_index_model.py on training-image encodes
# (results/rec-index-model/table.json); bucket s covers [bucket_edges(16)[s], bucket_edges(16)[s + 1]).
TABLE_16 = (
    185, 131, 135, 141, 101, 81, 48, 71, 154, 117, 86, 140,
    169, 152, 86, 118, 218, 144, 124, 112, 340, 233, 289, 193,
    370, 341, 313, 344, 693, 475, 441, 403, 790, 788, 667, 586,
    1062, 1189, 1007, 868, 1570, 1454, 1411, 1215, 2358, 1917, 1830, 1673,
    2881, 2625, 2197, 2215, 3769, 3066, 2844, 2700, 4837, 4005, 3773, 3291,
)


def bucket_edges(bits: int) -> np.ndarray:
    """Lower edges of the buckets of a `bits`-bit index, then 2^bits: 0, then every octave
    [2^b, 2^(b+1)) in min(4, 2^b) equal parts (widths are powers of two)."""
    edges = [0]
    for b in range(bits):
        parts = min(PARTS_PER_OCTAVE, 1 << b)
        edges += [(1 << b) + k * ((1 << b) // parts) for k in range(parts)]
    return np.array(edges + [1 << bits], dtype=np.int64)


def code_lengths(counts: np.ndarray | tuple[int, ...]) -> np.ndarray:
    """Bits an index in each bucket costs under a table of bucket counts: the bucket's code
    length plus the uniform offset's."""
    p = np.asarray(counts, dtype=np.float64)
    return np.log2(np.diff(bucket_edges(CODED_BITS))) - np.log2(p / p.sum())


@lru_cache(maxsize=None)
def _model() -> tuple[np.ndarray, np.ndarray, np.ndarray, "constriction.stream.model.Categorical"]:
    """Bucket edges, widths, code lengths and the categorical model of the shipped table."""
    edges = bucket_edges(CODED_BITS)
    counts = np.asarray(TABLE_16, dtype=np.float64)
    if counts.size != edges.size - 1:
        raise AssertionError("rec index table does not match its buckets")
    model = constriction.stream.model.Categorical(counts / counts.sum(), perfect=False)
    return edges, np.diff(edges), code_lengths(counts), model


def bucket_of(indices: np.ndarray) -> np.ndarray:
    """Bucket number of each index."""
    return np.searchsorted(_model()[0], indices, side="right") - 1


# Mean cost of one range-coded index under TABLE_16 in fast-preset encodes of training data
# (never the benchmarks' images or clips), by modality and bits per point (bpp; audio: bits per
# sample), from benchmarks/rec_index_model.py (results/rec-index-model/table.json,
# "index_bits_by_rate"). The encoder budgets blocks with it; the decoder never reads it.
INDEX_BITS_BY_RATE = {
    "audio": ((0.35625, 14.83), (0.66875, 14.897), (1.38125, 15.089)),
    "image": ((0.1, 15.15), (0.3, 15.363), (1.0, 15.599)),
}


def budgeted_bits(modality: str, bits_per_point: float) -> float:
    """What a range-coded index is expected to cost in an encode at this rate: the cost measured
    on training encodes, interpolated in log rate and held flat past the ends (it rises with the
    rate). Modalities never measured use the image's."""
    rates, bits = zip(*INDEX_BITS_BY_RATE.get(modality, INDEX_BITS_BY_RATE["image"]))
    return float(np.interp(np.log(max(bits_per_point, 1e-12)), np.log(rates), bits))


def expected_bits(counts: np.ndarray | tuple[int, ...] = TABLE_16) -> float:
    """Mean coded bits of an index drawn from a table itself (its entropy plus the mean offset bits)."""
    p = np.asarray(counts, dtype=np.float64)
    return float(np.sum(p / p.sum() * code_lengths(p)))


def encode_ranged(indices: np.ndarray) -> bytes:
    """Indices < 2^16 -> range-coded bytes (uint32 words, little-endian): all buckets, then the
    offsets inside the buckets wider than one."""
    edges, widths, _, model = _model()
    idx = np.asarray(indices, dtype=np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= 1 << CODED_BITS):
        raise ValueError("rec index out of range for the coded table")
    bucket = bucket_of(idx)
    wide = widths[bucket] > 1
    coder = constriction.stream.queue.RangeEncoder()
    coder.encode(bucket.astype(np.int32), model)
    if wide.any():
        coder.encode((idx - edges[bucket])[wide].astype(np.int32), constriction.stream.model.Uniform(),
                     widths[bucket][wide].astype(np.int32))
    return coder.get_compressed().astype("<u4").tobytes()


def decode_ranged(data: bytes, count: int) -> np.ndarray:
    """Inverse of `encode_ranged` for `count` indices; a damaged stream is a FormatError."""
    edges, widths, bits, model = _model()
    if len(data) % 4:
        raise FormatError("rec index chunk: range-coded stream is not whole 32-bit words")
    if 8 * len(data) + 64 < count * bits.min():     # refuse before decoding a huge count
        raise FormatError(f"rec index chunk: {len(data)} bytes cannot hold {count} indices")
    coder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").astype(np.uint32))
    try:
        bucket = np.asarray(coder.decode(model, count), dtype=np.int64) if count else np.zeros(0, np.int64)
        out = edges[bucket]
        wide = widths[bucket] > 1
        if wide.any():
            out[wide] += np.asarray(coder.decode(constriction.stream.model.Uniform(),
                                                 widths[bucket][wide].astype(np.int32)), dtype=np.int64)
    except Exception as e:      # constriction reports a damaged stream as a ValueError-like
        raise FormatError(f"rec index chunk: damaged range-coded stream ({e})") from None
    # A range decoder reads past a cut stream without complaint; the encoder is deterministic,
    # so a stream is intact exactly when coding its indices again gives the same bytes.
    if encode_ranged(out) != data:
        raise FormatError("rec index chunk: range-coded stream is truncated or damaged")
    return out


def write(indices: np.ndarray, params: fmt.RecParams) -> tuple[fmt.RecParams, bytes]:
    """The index chunk of a file with these params, and the params to write: range-coded
    indices fall back to fixed width in the rare case that is smaller (indices spread more
    evenly than the table expects cost up to ~16.4 bits each)."""
    if params.index_coding == fmt.INDEX_RANGED:
        ranged = encode_ranged(indices)
        if len(ranged) <= -(-len(indices) * params.index_bits // 8):     # the fixed-width chunk's size
            return params, ranged
    return replace(params, index_coding=fmt.INDEX_FIXED), blocks.pack_indices(indices, params.index_bits)


def read(payload: bytes, count: int, params: fmt.RecParams) -> np.ndarray:
    """`count` indices back from an index chunk written with these params."""
    if params.index_coding == fmt.INDEX_RANGED:
        return decode_ranged(payload, count)
    return blocks.unpack_indices(payload, count, params.index_bits)

"""Croppable decoder (numpy only): read the global chunk and only the partition chunks a region
touches, rebuild those partitions and evaluate each on all of its own samples.

Also `crop()`: cut a file down to the partitions a region needs, copying chunk bytes verbatim.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

import numpy as np

from ...container import ByteReader, Header, Reader
from ...errors import FormatError, UsageError
from ...runtime.coords import Region, Span, mesh
from ...runtime.local_global import GlobalNet, LocalNet, forward
from ...signal import from_unit
from . import format as fmt

CHUNK_NAMES = {fmt.GLOBAL_CHUNK: "global", fmt.PART_CHUNK: "partition"}
MAX_WEIGHTS = 1 << 24     # weights of the global part or of one partition
MAX_WORK = 1 << 42        # decoded points x weights per point: bounds decode time on a hostile header
# OpenBLAS runs a GEMM single-threaded when M*N*K <= 262144; multi-threaded small GEMMs thrash
# on a busy machine (measured 10x slower). Points per forward call are chosen from the widths so
# the g x g layers stay under that bound; the split depends only on the params, so a partition's
# output never depends on the region asked for.
BLAS_SINGLE_THREAD_MNK = 262144


def block_points(p: fmt.CroppableParams) -> int:
    widest = max(p.global_width, p.local_width)
    return max(16, min(16384, BLAS_SINGLE_THREAD_MNK // (widest * widest)))


def describe(header: Header) -> dict:
    p = fmt.params_of(header)
    d, c = fmt.NDIM[header.modality], header.channels
    info = {"hidden_layers": p.hidden_layers, "local_width": p.local_width, "global_width": p.global_width,
            "w0": p.w0, "w0_first": p.w0_first, "partition_size": list(p.part),
            "partitions": list(p.counts), "kept_partitions": p.kept,
            "global_params": p.global_count(d), "local_params_per_partition": p.local_count(d, c)}
    if p.cropped or p.full_shape != header.shape:
        info["cropped_from"] = list(p.full_shape)
        info["region"] = ",".join(f"{o}:{o + n}" for o, n in zip(p.origin, header.shape))
        info["kept_box"] = ",".join(f"{a}:{b}" for a, b in zip(p.box_lo, p.box_hi))
    return info


# ------------------------------------------------------------------ chunks
def chunk_indices(reader: Reader, p: fmt.CroppableParams) -> tuple[int, list[int]]:
    """Index of the global chunk and of each kept partition's chunk (in kept-box order)."""
    reader.check_required_tags(set(CHUNK_NAMES))
    glob = [i for i, c in enumerate(reader.chunks) if c.tag == fmt.GLOBAL_CHUNK]
    parts = [i for i, c in enumerate(reader.chunks) if c.tag == fmt.PART_CHUNK]
    if len(glob) != 1:
        raise FormatError(f"{reader.name}: croppable file needs exactly one global chunk, has {len(glob)}")
    if len(parts) != p.kept:
        raise FormatError(f"{reader.name}: croppable file has {len(parts)} partition chunks, "
                          f"its header says {p.kept}")
    return glob[0], parts


@dataclass
class GlobalPart:
    net: GlobalNet
    local_steps: np.ndarray
    model: fmt.CodeModel
    categorical: object


def check_sizes(p: fmt.CroppableParams, d: int, c: int) -> None:
    if p.global_count(d) > MAX_WEIGHTS or p.local_count(d, c) > MAX_WEIGHTS:
        raise FormatError("croppable: network exceeds the decoder's limits")


def load_global(header: Header, p: fmt.CroppableParams, data: bytes) -> GlobalPart:
    d = fmt.NDIM[header.modality]
    shapes, lshapes = p.global_tensors(d), p.local_tensors(d, header.channels)
    r = ByteReader(data, "croppable global chunk")
    steps = fmt.read_steps(r, len(shapes) + len(lshapes))
    model = fmt.CodeModel.read(r)
    cat = model.categorical()
    codes = fmt.decode_codes(r.take(r.remaining), p.global_count(d), model, cat, "croppable global chunk")
    tensors = split(codes, shapes, steps[:len(shapes)])
    return GlobalPart(GlobalNet.fold(tensors, p.w0, p.w0_first), steps[len(shapes):], model, cat)


def load_local(header: Header, p: fmt.CroppableParams, gp: GlobalPart, data: bytes, what: str) -> LocalNet:
    d = fmt.NDIM[header.modality]
    codes = fmt.decode_codes(data, p.local_count(d, header.channels), gp.model, gp.categorical, what)
    return LocalNet.fold(split(codes, p.local_tensors(d, header.channels), gp.local_steps), p.w0, p.w0_first)


def split(codes: np.ndarray, shapes: list[tuple[int, ...]], steps: np.ndarray) -> list[np.ndarray]:
    out, pos = [], 0
    for shape, step in zip(shapes, steps):
        n = math.prod(shape)
        out.append(codes[pos:pos + n].reshape(shape).astype(np.float32) * np.float32(step))
        pos += n
    return out


# ------------------------------------------------------------------ geometry of a decode
@dataclass
class AxisPlan:
    m: int                                 # output samples of the whole fitted axis
    span: Span                             # requested output samples
    parts: list[tuple[int, int, int]]      # (partition, first, end) output samples each computes


def _first_sample(t: int, n: int, m: int) -> int:
    """Smallest output sample whose nearest source sample is >= t (inverse of axis_partition)."""
    if t <= 0:
        return 0
    if m == 1 or n == 1:
        return m
    return max(0, -(-((2 * t - 1) * (m - 1)) // (2 * (n - 1))))


def plan_axis(n: int, size: int, count: int, lo_box: int, hi_box: int, span: Span, scale: float) -> AxisPlan:
    m = n if scale == 1.0 else max(1, round(n * scale))
    a, b = span
    ends = fmt.axis_partition(np.array([a, b - 1]), n, m, size, count)
    first, last = (int(min(max(e, lo_box), hi_box - 1)) for e in ends)
    parts = []
    for q in range(first, last + 1):
        start = _first_sample(q * size, n, m) if q > 0 else 0
        end = _first_sample((q + 1) * size, n, m) if q < count - 1 else m
        if q == lo_box:          # samples left of the kept box (scaled decodes of a cropped file)
            start = min(start, a)
        if q == hi_box - 1:
            end = max(end, b)
        parts.append((q, start, min(end, m)))
    return AxisPlan(m, span, parts)


def plan(header: Header, p: fmt.CroppableParams, region: Region) -> list[AxisPlan]:
    spans = tuple((a + o, b + o) for (a, b), o in zip(region.spans, p.origin))
    out_spans = Region(spans, region.scale).output_spans(p.full_shape)
    return [plan_axis(n, s, c, lo, hi, sp, region.scale)
            for n, s, c, lo, hi, sp in zip(p.full_shape, p.part, p.counts, p.box_lo, p.box_hi, out_spans)]


# ------------------------------------------------------------------ decode
def touched_blocks(ranges: list[tuple[int, int]], span: tuple[tuple[int, int], ...], block_n: int,
                   max_segments: int = 1 << 16) -> list[tuple[int, int]]:
    """Blocks of `block_n` points (row-major over the partition's `ranges`) that hold at least
    one point of `span`, as merged [first, end) block ranges.

    A partition is always split into the same blocks (they depend on the partition and the
    params, never on the region), so skipping the blocks a crop does not touch changes no
    sample of the others; the cost of a decode follows the region asked for, not the partition
    size a (hostile) header claims."""
    dims = [e - s for s, e in ranges]
    lo = [max(a, s) - s for (s, _), (a, _) in zip(ranges, span)]
    hi = [min(b, e) - s for (s, e), (_, b) in zip(ranges, span)]
    if any(h <= l for l, h in zip(lo, hi)):
        return []
    d = len(dims)
    k = d - 1                       # axes after k are fully covered: each segment is contiguous
    while k > 0 and lo[k] == 0 and hi[k] == dims[k]:
        k -= 1
    stride = [math.prod(dims[j + 1:]) for j in range(d)]
    segments = math.prod(h - l for l, h in zip(lo[:k], hi[:k]))
    if segments > max_segments:     # one range from the first needed point to the last
        first = sum(l * st for l, st in zip(lo, stride))
        last = sum((h - 1) * st for h, st in zip(hi, stride))
        return [(first // block_n, last // block_n + 1)]
    bases = np.zeros(1, dtype=np.int64)
    for j in range(k):
        bases = (bases[:, None] + np.arange(lo[j], hi[j], dtype=np.int64)[None, :] * stride[j]).reshape(-1)
    starts = bases + lo[k] * stride[k]
    ends = bases + hi[k] * stride[k]           # exclusive
    first, last = starts // block_n, (ends - 1) // block_n + 1
    merged: list[tuple[int, int]] = []
    for f, l in zip(first.tolist(), last.tolist()):
        if merged and f <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], l))
        else:
            merged.append((f, l))
    return merged


def decode(reader: Reader, region: Region) -> np.ndarray:
    header = reader.header
    p = fmt.params_of(header)
    d, c = fmt.NDIM[header.modality], header.channels
    check_sizes(p, d, c)
    gi, part_chunks = chunk_indices(reader, p)
    axes = plan(header, p, region)
    block_n = block_points(p)
    span = tuple(ax.span for ax in axes)
    jobs, work = [], 0
    for combo in _product([ax.parts for ax in axes]):
        ranges = [(s, e) for _, s, e in combo]
        blocks = touched_blocks(ranges, span, block_n)
        if not blocks:
            continue     # no output sample in this partition (strong downscale, crop edge)
        work += sum(b - a for a, b in blocks) * block_n
        if work * (p.global_count(d) + p.local_count(d, c)) > MAX_WORK:
            raise FormatError("croppable: this decode exceeds the decoder's work limit")
        jobs.append((tuple(q for q, _, _ in combo), ranges, blocks))
    gp = load_global(header, p, reader.read_chunk(gi, "global chunk"))
    dtype = from_unit(np.zeros((1, 1), np.float32), header.modality, header.bit_depth).dtype
    out = np.empty(tuple(b - a for a, b in span) + (c,), dtype=dtype)
    positions = [ax.m for ax in axes]
    for part, ranges, blocks in jobs:
        k = p.chunk_of(part)
        local = load_local(header, p, gp, reader.read_chunk(part_chunks[k], f"partition chunk {k}"),
                           f"croppable partition {k}")
        evaluate = lambda pts: from_unit(forward(gp.net, local, pts), header.modality, header.bit_depth)  # noqa: E731
        if math.prod(e - s for s, e in ranges) <= SMALL_PARTITION:
            _decode_small(evaluate, ranges, blocks, block_n, positions, span, out)
        else:
            _decode_large(evaluate, ranges, blocks, block_n, positions, span, out)
    return out


SMALL_PARTITION = 1 << 20   # points: a partition this small is evaluated into one buffer


def _decode_small(evaluate, ranges, blocks, block_n, positions, span, out) -> None:
    """The touched blocks into a partition-sized buffer, then one slice copy into `out`."""
    dims = tuple(e - s for s, e in ranges)
    pts = mesh([fmt.axis_position(np.arange(s, e), m) for (s, e), m in zip(ranges, positions)])
    buf = np.empty((len(pts), out.shape[-1]), dtype=out.dtype)
    for first, end in blocks:
        for b in range(first, end):
            buf[b * block_n:(b + 1) * block_n] = evaluate(pts[b * block_n:(b + 1) * block_n])
    src, dst = [], []
    for (s, e), (a, b) in zip(ranges, span):
        lo, hi = max(s, a), min(e, b)
        src.append(slice(lo - s, hi - s))
        dst.append(slice(lo - a, hi - a))
    out[tuple(dst)] = buf.reshape(dims + (out.shape[-1],))[tuple(src)]


def _decode_large(evaluate, ranges, blocks, block_n, positions, span, out) -> None:
    """Block by block, coordinates made per block: memory stays O(block) whatever the size."""
    dims = tuple(e - s for s, e in ranges)
    total = math.prod(dims)
    for first, end in blocks:
        for b in range(first, end):
            flat = np.arange(b * block_n, min(total, (b + 1) * block_n), dtype=np.int64)
            absolute = [i + s for i, (s, _) in zip(np.unravel_index(flat, dims), ranges)]
            vals = evaluate(np.stack([fmt.axis_position(a, m) for a, m in zip(absolute, positions)], axis=1))
            keep = np.ones(len(flat), dtype=bool)
            for a, (lo, hi) in zip(absolute, span):
                keep &= (a >= lo) & (a < hi)
            out[tuple(a[keep] - lo for a, (lo, _) in zip(absolute, span))] = vals[keep]


def _product(lists: list[list]) -> list[tuple]:
    return list(itertools.product(*lists))


# ------------------------------------------------------------------ crop the file
def crop(reader: Reader, spans: tuple[Span, ...]) -> tuple[Header, list[tuple[int, bytes]]]:
    """Header and chunks of a file holding only the partitions `spans` (in this file's samples)
    touches, aligned outward; the exact spans become the new file's region. Copies bytes only."""
    header = reader.header
    p = fmt.params_of(header)
    gi, part_chunks = chunk_indices(reader, p)
    for (a, b), n in zip(spans, header.shape):
        if not 0 <= a < b <= n:
            raise UsageError(f"region {a}:{b} is empty or outside 0:{n}")
    origin = tuple(a + o for (a, _), o in zip(spans, p.origin))
    end = tuple(b + o for (_, b), o in zip(spans, p.origin))
    lo = tuple(o // s for o, s in zip(origin, p.part))
    hi = tuple(-(-e // s) for e, s in zip(end, p.part))
    new = replace(p, origin=origin, box_lo=lo, box_n=tuple(h - l for l, h in zip(lo, hi)))
    chunks = [(fmt.GLOBAL_CHUNK, reader.read_chunk(gi, "global chunk"))]
    for part in new.kept_partitions():
        k = p.chunk_of(part)
        chunks.append((fmt.PART_CHUNK, reader.read_chunk(part_chunks[k], f"partition chunk {k}")))
    shape = tuple(e - o for o, e in zip(origin, end))
    out = replace(header, shape=shape, params=new.to_bytes())
    new.check(out)
    return out, chunks

"""Hostile croppable files with valid checksums: garbage params, chunks or chunk lists give the
project's own errors (never a traceback, never a huge allocation)."""
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from inrzip import api, container
from inrzip.backends.croppable import format as fmt
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

VECTOR = "formats/vectors/croppable-image.inrz"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def decode_bytes(data: bytes, region: Region | None = None) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, region or Region.full(reader.header.shape))


@pytest.fixture(scope="module")
def original():
    reader = container.Reader.open(VECTOR)
    chunks = [(c.tag, reader.read_chunk(i)) for i, c in enumerate(reader.chunks)]
    return reader.header, chunks


@settings(max_examples=150, **SETTINGS)
@given(st.binary(max_size=64))
def test_garbage_params(original, params):
    header, chunks = original
    try:
        decode_bytes(container.build(replace(header, params=params), chunks))
    except InrzipError:
        pass


@settings(max_examples=100, **SETTINGS)
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=7),
       st.integers(min_value=0, max_value=1000))
def test_flipped_chunk_bytes(original, position, bit, which):
    """A damaged chunk behind a recomputed CRC: histogram, steps or range-coded words."""
    header, chunks = original
    i = which % len(chunks)
    body = bytearray(chunks[i][1])
    if body:
        body[position % len(body)] ^= 1 << bit
    damaged = chunks[:i] + [(chunks[i][0], bytes(body))] + chunks[i + 1:]
    try:
        decode_bytes(container.build(header, damaged))
    except InrzipError:
        pass


@settings(max_examples=60, **SETTINGS)
@given(st.binary(max_size=300))
def test_garbage_global_chunk(original, data):
    header, chunks = original
    try:
        decode_bytes(container.build(header, [(fmt.GLOBAL_CHUNK, data)] + chunks[1:]))
    except InrzipError:
        pass


def test_missing_or_extra_chunks_are_named(original):
    header, chunks = original
    with pytest.raises(InrzipError, match="partition chunks"):
        decode_bytes(container.build(header, chunks[:-1]))
    with pytest.raises(InrzipError, match="global chunk"):
        decode_bytes(container.build(header, chunks[1:] + [(fmt.PART_CHUNK, b"")]))
    with pytest.raises(InrzipError, match="global chunk"):
        decode_bytes(container.build(header, [chunks[0]] + chunks))


def test_kept_box_must_cover_the_region(original):
    header, chunks = original
    p = fmt.params_of(header)
    moved = replace(p, origin=(p.part[0],) + p.origin[1:])           # region now leaves the grid
    with pytest.raises(InrzipError, match="croppable parameters"):
        decode_bytes(container.build(replace(header, params=moved.to_bytes()), chunks))
    small = replace(p, box_n=(1,) + p.box_n[1:])                       # box smaller than the region
    with pytest.raises(InrzipError, match="croppable parameters"):
        decode_bytes(container.build(replace(header, params=small.to_bytes()), chunks))


def test_huge_network_is_refused_before_allocation(original):
    header, chunks = original
    p = fmt.params_of(header)
    big = replace(p, global_width=1024, local_width=1024, hidden_layers=16)
    with pytest.raises(InrzipError, match="limits"):
        decode_bytes(container.build(replace(header, params=big.to_bytes()), chunks))


def test_work_limit_is_checked_before_decoding(original, monkeypatch):
    header, chunks = original
    data = container.build(header, chunks)
    decode_bytes(data, Region(Region.full(header.shape).spans, 0.25))   # a small downscale is fine
    from inrzip.backends.croppable import decoder
    monkeypatch.setattr(decoder, "MAX_WORK", 1000)
    with pytest.raises(InrzipError, match="work limit"):
        decode_bytes(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 7), st.integers(0, 7), st.integers(0, 7)),
                min_size=1, max_size=3),
       st.integers(1, 9))
def test_touched_blocks_are_exactly_the_blocks_holding_requested_samples(axes, block_n):
    """Against brute force: every block with a requested point, and only those; the one-range
    fallback (many segments) may add blocks, never drop one."""
    import numpy as np
    from inrzip.backends.croppable.decoder import touched_blocks
    ranges = [(s, s + n) for s, n, _, _ in axes]
    span = tuple((min(a, b), max(a, b) + 1) for _, _, a, b in axes)
    dims = [n for _, n, _, _ in axes]
    idx = np.indices(dims).reshape(len(dims), -1)
    inside = np.ones(idx.shape[1], dtype=bool)
    for i, ((s, _), (a, b)) in enumerate(zip(ranges, span)):
        inside &= (idx[i] + s >= a) & (idx[i] + s < b)
    want = set((np.flatnonzero(inside) // block_n).tolist())

    def blocks(**kw):
        return {b for f, e in touched_blocks(ranges, span, block_n, **kw) for b in range(f, e)}
    assert blocks() == want
    assert blocks(max_segments=0) >= want


def test_huge_partition_region_costs_the_region(monkeypatch):
    """A cropped file claiming a 2^24-wide partition: a small region evaluates only the blocks
    holding its samples, in bounded memory (was a MemoryError/timeout found by
    benchmarks/fuzz.py)."""
    from helpers import memory_cap
    from inrzip.backends.croppable import decoder
    reader = container.Reader.open(VECTOR)
    header = reader.header
    chunks = [(c.tag, reader.read_chunk(i)) for i, c in enumerate(reader.chunks)]
    p = fmt.params_of(header)
    big = replace(p, part=(8, 1 << 24), full_shape=(24, 1 << 24), origin=(3, 5_000_000),
                  box_lo=(0, 0), box_n=(1, 1))
    data = container.build(replace(header, shape=(2, 3), params=big.to_bytes()), chunks[:2])
    evaluated = []
    real = decoder.forward
    monkeypatch.setattr(decoder, "forward", lambda g, l, pts: evaluated.append(len(pts)) or real(g, l, pts))
    with memory_cap():
        decode_bytes(data)
        decode_bytes(data, Region(((0, 1), (1, 3)), 3.0))
    assert sum(evaluated) <= 6 * decoder.block_points(big)   # 2 rows (+ 1 at scale 3) x <= 2 blocks

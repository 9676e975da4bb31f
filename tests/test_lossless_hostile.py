"""Hostile lossless files with valid checksums: garbage params, models or streams give the
project's own errors only (never a crash, never a wrong decode passed off as right)."""
from dataclasses import replace

import brotli
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from inrzip import api, container
from inrzip.backends.lossless import format as fmt
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

VECTOR = "formats/vectors/lossless-image-rgb8.inrz"
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def decode_bytes(data: bytes) -> np.ndarray:
    reader = container.Reader.from_bytes(data)
    return api._decode_reader(reader, Region.full(reader.header.shape))


@pytest.fixture(scope="module")
def original():
    reader = container.Reader.open(VECTOR)
    chunks = [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]
    return reader.header, chunks, decode_bytes(container.build(reader.header, chunks))


@SETTINGS
@given(st.binary(max_size=96))
def test_garbage_params(original, params):
    header, chunks, _ = original
    try:
        decode_bytes(container.build(replace(header, params=params), chunks))
    except InrzipError:
        pass


@SETTINGS
@given(st.integers(min_value=0, max_value=100_000), st.integers(min_value=0, max_value=7))
def test_flipped_model_byte(original, position, bit):
    """A damaged model behind a recomputed CRC: any decode that passes must still be exact."""
    header, chunks, clean = original
    body = bytearray(brotli.decompress(chunks[0][1]))
    body[position % len(body)] ^= 1 << bit
    try:
        out = decode_bytes(container.build(header, [(fmt.MODEL_CHUNK, brotli.compress(bytes(body)))] + chunks[1:]))
    except InrzipError:
        return
    assert np.array_equal(out, clean)     # the hashes let nothing else through


@SETTINGS
@given(st.integers(min_value=1, max_value=10_000), st.integers(min_value=0, max_value=7),
       st.integers(min_value=0, max_value=100))
def test_flipped_or_cut_tile(original, position, bit, cut):
    header, chunks, clean = original
    tiles = [bytearray(p) for _, p in chunks[1:]]
    victim = tiles[position % len(tiles)]
    victim[position % len(victim)] ^= 1 << bit
    if cut % 3 == 0:
        del victim[len(victim) * cut // 100:]
    rebuilt = [chunks[0]] + [(fmt.TILE_CHUNK, bytes(t)) for t in tiles]
    try:
        out = decode_bytes(container.build(header, rebuilt))
    except InrzipError:
        return
    assert np.array_equal(out, clean)


def test_huge_layers_refused_before_allocating(original):
    header, chunks, _ = original
    p = fmt.LosslessParams.from_bytes(header.params, header.channels, header.bit_depth)
    huge = replace(p, layers=(fmt.LayerSpec(1024, "relu", 0),) * 15 + (fmt.LayerSpec(1, "linear", 0),))
    with pytest.raises(InrzipError):
        decode_bytes(container.build(replace(header, params=huge.to_bytes()), chunks))

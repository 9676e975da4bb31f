"""Hostile sinr files with valid checksums: garbage params or payloads give FormatError only."""
from dataclasses import replace

import brotli
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from inrzip import api, container
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

VECTOR = "formats/vectors/sinr-image-sparse.inrz"


def decode_bytes(data: bytes) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, Region.full(reader.header.shape))


@pytest.fixture(scope="module")
def original():
    reader = container.Reader.open(VECTOR)
    return reader.header, reader.read_chunk(0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=64))
def test_garbage_params(original, params):
    header, chunk = original
    try:
        decode_bytes(container.build(replace(header, params=params), [(0x81, chunk)]))
    except InrzipError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=2048), st.booleans())
def test_garbage_payload(original, payload, compress):
    header, _ = original
    data = brotli.compress(payload) if compress else payload
    try:
        decode_bytes(container.build(header, [(0x81, data)]))
    except InrzipError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=7))
def test_flipped_decompressed_payload(original, position, bit):
    """A damaged payload behind a recomputed CRC: indices may leave the dictionary, etc."""
    header, chunk = original
    body = bytearray(brotli.decompress(chunk))
    body[position % len(body)] ^= 1 << bit
    try:
        decode_bytes(container.build(header, [(0x81, brotli.compress(bytes(body)))]))
    except InrzipError:
        pass


def test_missing_net_chunk_is_named(original):
    header, _ = original
    with pytest.raises(InrzipError, match="no net chunk"):
        decode_bytes(container.build(header, []))


def test_huge_width_in_params_is_refused_before_allocation(original):
    header, chunk = original
    from inrzip.backends.sinr import format as fmt
    p = fmt.SinrParams.from_bytes(header.params)
    big = replace(p, width=4000, hidden_layers=60, sparsity=(2000,) * 62)
    with pytest.raises(InrzipError):
        decode_bytes(container.build(replace(header, params=big.to_bytes()), [(0x81, chunk)]))


def test_wide_deep_net_with_tiny_payload_is_refused(original):  # noqa: D103
    """Few atoms per vector keep the payload small, but the rebuilt net would be gigabytes."""
    header, chunk = original
    from inrzip.backends.sinr import format as fmt
    p = fmt.SinrParams.from_bytes(header.params)
    big = replace(p, width=4096, hidden_layers=64, sparsity=(1,) * 66)
    with pytest.raises(InrzipError, match="exceeds the decoder's limits"):
        decode_bytes(container.build(replace(header, params=big.to_bytes()), [(0x81, chunk)]))


def test_nan_quantiser_step_is_refused(original):
    import numpy as np
    header, chunk = original
    body = bytearray(brotli.decompress(chunk))
    body[0:4] = np.array([np.nan], "<f4").tobytes()
    with pytest.raises(InrzipError, match="quantiser step"):
        decode_bytes(container.build(header, [(0x81, brotli.compress(bytes(body)))]))


def test_file_of_a_backend_this_version_lacks_says_upgrade(original, monkeypatch):
    """An assigned backend id whose decoder this build lacks (every id is implemented now, so
    one is taken out of the registry)."""
    from inrzip import backends
    header, chunk = original
    monkeypatch.delitem(backends.REGISTRY, "croppable")
    with pytest.raises(InrzipError, match="upgrade inrzip"):
        decode_bytes(container.build(replace(header, backend="croppable"), [(0x81, chunk)]))


def test_small_crop_of_a_huge_scaled_axis_costs_the_crop():
    """A 2^24-sample clip decoded at scale 64: a 10-sample crop must not build the positions of
    all 2^30 output samples (8 GB) first."""
    from helpers import memory_cap
    reader = container.Reader.open("formats/vectors/sinr-audio-sparse.inrz")
    data = container.build(replace(reader.header, shape=(1 << 24,)), [(0x81, reader.read_chunk(0))])
    with memory_cap():
        out = api.decode(data, crop="0:10", scale=64.0).signal.data
    assert out.shape == (640, 1)

"""rec index coding: the range-coded 16-bit table, the fixed-width path, and params versions."""
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inrzip.backends.rec import blocks, index_code
from inrzip.backends.rec import format as fmt
from inrzip.backends.rec.encoder import RecOptions, bits_per_block, index_coding
from inrzip.errors import FormatError, UsageError

PACK_ID = bytes(range(8))


def table_draws(n: int, seed: int = 0) -> np.ndarray:
    """Indices distributed as the table says (bucket from the table, offset uniform)."""
    rng = np.random.default_rng(seed)
    edges = index_code.bucket_edges(16)
    p = np.asarray(index_code.TABLE_16, dtype=np.float64)
    b = rng.choice(p.size, size=n, p=p / p.sum())
    return edges[b] + (rng.random(n) * np.diff(edges)[b]).astype(np.int64)


def test_buckets_cover_every_index_once_with_power_of_two_widths():
    for bits in (1, 4, 16):
        edges = index_code.bucket_edges(bits)
        widths = np.diff(edges)
        assert edges[0] == 0 and edges[-1] == 1 << bits and (widths > 0).all()
        assert all(w & (w - 1) == 0 for w in widths.tolist())
    assert index_code.bucket_edges(16).size - 1 == len(index_code.TABLE_16) == 60


def test_table_is_skewed_to_early_candidates_and_costs_under_16_bits():
    p = np.asarray(index_code.TABLE_16, dtype=np.float64)
    assert p.sum() == 1 << 16 and p.min() >= 1
    edges = index_code.bucket_edges(16)
    early = p[edges[:-1] < 4096].sum() / p.sum()         # the first 1/16 of the range
    assert early > 2 / 16
    assert 14.5 < index_code.expected_bits() < 15.9


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, (1 << 16) - 1), max_size=300))
def test_ranged_indices_round_trip(values):
    idx = np.array(values, dtype=np.int64)
    data = index_code.encode_ranged(idx)
    assert len(data) % 4 == 0
    assert np.array_equal(index_code.decode_ranged(data, idx.size), idx)


def test_indices_drawn_from_the_table_cost_what_it_expects():
    idx = table_draws(20000)
    data = index_code.encode_ranged(idx)
    assert abs(8 * len(data) / idx.size - index_code.expected_bits()) < 0.05
    uniform = np.random.default_rng(1).integers(0, 1 << 16, 20000)
    assert 8 * len(index_code.encode_ranged(uniform)) / 20000 > 16     # what a skewed table costs on flat data


def test_damaged_ranged_streams_are_format_errors():
    idx = table_draws(500, seed=3)
    data = index_code.encode_ranged(idx)
    for bad in (data[:-4], data[:-1], data + b"\0\0\0\0", data[:8]):
        with pytest.raises(FormatError):
            index_code.decode_ranged(bad, idx.size)
    with pytest.raises(FormatError):
        index_code.decode_ranged(data, idx.size + 7)
    with pytest.raises(FormatError, match="cannot hold"):          # refused before decoding
        index_code.decode_ranged(b"\0" * 8, 10 ** 9)
    with pytest.raises(ValueError):
        index_code.encode_ranged(np.array([1 << 16]))


def test_write_and_read_follow_the_params():
    idx = table_draws(999, seed=5)
    ranged = fmt.RecParams(PACK_ID, 16, 0, (3, 2, 1), fmt.INDEX_RANGED)
    fixed = fmt.RecParams(PACK_ID, 16, 0, (3, 2, 1), fmt.INDEX_FIXED)
    assert index_code.write(idx, fixed) == (fixed, blocks.pack_indices(idx, 16))
    used, data = index_code.write(idx, ranged)
    assert used == ranged and len(data) < 2 * idx.size
    assert np.array_equal(index_code.read(data, idx.size, used), idx)


def test_indices_the_table_would_inflate_are_written_fixed_width():
    late = np.random.default_rng(2).integers(1 << 15, 1 << 16, 999)    # all in the second half
    params = fmt.RecParams(PACK_ID, 16, 0, (3, 2, 1), fmt.INDEX_RANGED)
    used, data = index_code.write(late, params)
    assert used.index_coding == fmt.INDEX_FIXED and data == blocks.pack_indices(late, 16)
    assert np.array_equal(index_code.read(data, late.size, used), late)


def test_params_versions():
    p = fmt.RecParams(PACK_ID, 16, 9, (5, 4, 3), fmt.INDEX_RANGED)
    assert fmt.RecParams.from_bytes(p.to_bytes()) == p
    v1 = b"\x01\x08" + PACK_ID + b"\x10\x09\x05\x04\x03"        # what inrzip wrote before version 2
    assert fmt.RecParams.from_bytes(v1) == fmt.RecParams(PACK_ID, 16, 9, (5, 4, 3), fmt.INDEX_FIXED)
    with pytest.raises(FormatError, match="upgrade inrzip"):
        fmt.RecParams.from_bytes(p.to_bytes()[:-1] + b"\x02")     # an index coding from the future
    with pytest.raises(FormatError, match="upgrade inrzip"):
        fmt.RecParams.from_bytes(b"\x03" + p.to_bytes()[1:])
    with pytest.raises(FormatError, match="16 bits"):
        fmt.RecParams.from_bytes(fmt.RecParams(PACK_ID, 10, 9, (5, 4, 3), fmt.INDEX_RANGED).to_bytes())


def test_encoder_options_choose_the_coding():
    assert index_coding(RecOptions()) == fmt.INDEX_RANGED
    assert index_coding(RecOptions(index_bits=10)) == fmt.INDEX_FIXED
    assert index_coding(RecOptions(index_coding="fixed")) == fmt.INDEX_FIXED
    for bad in (RecOptions(index_coding="range", index_bits=10), RecOptions(index_coding="zip")):
        with pytest.raises(UsageError):
            bad.validate()
    ranged = fmt.RecParams(PACK_ID, 16, 0, (1, 1, 1), fmt.INDEX_RANGED)
    assert bits_per_block(ranged, "image", 0.3) == index_code.budgeted_bits("image", 0.3)
    assert bits_per_block(fmt.RecParams(PACK_ID, 12, 0, (1, 1, 1)), "image", 0.3) == 12.0


def test_budget_per_index_follows_the_measured_cost_per_rate():
    for modality, curve in index_code.INDEX_BITS_BY_RATE.items():
        for rate, bits in curve:
            assert index_code.budgeted_bits(modality, rate) == pytest.approx(bits)
        (lo, lo_bits), (hi, hi_bits) = curve[0], curve[-1]
        assert index_code.budgeted_bits(modality, lo / 10) == pytest.approx(lo_bits)    # flat past the ends
        assert index_code.budgeted_bits(modality, hi * 10) == pytest.approx(hi_bits)
        mid = (lo * hi) ** 0.5
        assert min(lo_bits, hi_bits) <= index_code.budgeted_bits(modality, mid) <= max(lo_bits, hi_bits)
        assert all(14 < b < 16 for _, b in curve)
    image = index_code.INDEX_BITS_BY_RATE["image"]
    assert [b for _, b in image] == sorted(b for _, b in image)      # dearer at higher rates
    assert index_code.budgeted_bits("video", 0.3) == index_code.budgeted_bits("image", 0.3)


def test_shipped_table_and_rate_costs_are_the_fitters_output():
    fitted = json.loads((Path(__file__).parents[1] / "benchmarks/results/rec-index-model/table.json").read_text())
    assert tuple(fitted["table"]) == index_code.TABLE_16
    assert {m: tuple(map(tuple, c)) for m, c in fitted["index_bits_by_rate"].items()} == index_code.INDEX_BITS_BY_RATE

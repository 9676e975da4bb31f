"""Replay every saved fuzz crasher (benchmarks/fuzz.py): it must now decode or fail with inrzip's
own error, on every path the fuzzer tried (a `.json` sidecar names the crop, scale and file cut)."""
import json
from pathlib import Path

import pytest
from helpers import memory_cap

from inrzip import api, container
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

CRASHERS = sorted((Path(__file__).parent / "fuzz_crashers").glob("*.inrz"))
# A full decode of a header this large is legitimately long (seconds per 2^22 samples, bounded
# by the header); such crashers failed on their crop/cut paths, which are replayed below.
FULL_DECODE_MAX_SAMPLES = 1 << 22


def full_decode(data: bytes) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, Region.full(reader.header.shape))


def own_errors_only(fn, *args) -> None:
    """Run under a 2 GB address-space allowance: the crashers once asked for up to 21 GiB."""
    with memory_cap():
        try:
            fn(*args)
        except InrzipError:
            pass


def crop_decode(data: bytes, spans, scale: float) -> None:
    api._decode_reader(container.Reader.from_bytes(data), Region(spans, scale))


def cut_and_decode(data: bytes, spans) -> None:
    from inrzip.backends.croppable import decoder
    header, chunks = decoder.crop(container.Reader.from_bytes(data), spans)
    full_decode(container.build(header, chunks))


@pytest.mark.parametrize("path", CRASHERS, ids=[p.name for p in CRASHERS])
def test_crasher_is_handled(path):
    data = path.read_bytes()
    try:
        header = container.Reader.from_bytes(data).header
        small = header.num_points * header.channels <= FULL_DECODE_MAX_SAMPLES
    except InrzipError:
        small = True
    if small:
        own_errors_only(full_decode, data)
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        plan = json.loads(sidecar.read_text())
        own_errors_only(crop_decode, data, tuple(map(tuple, plan["crop"])), plan["scale"])
        if "cut" in plan:
            own_errors_only(cut_and_decode, data, tuple(map(tuple, plan["cut"])))

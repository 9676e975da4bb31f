"""Replay every saved fuzz crasher (benchmarks/fuzz.py): it must now decode or fail with inrzip's
own error, on every path the fuzzer tried (a `.json` sidecar names the crop, scale and file cut)."""
import json
from pathlib import Path

import pytest

from inrzip import api, container
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

CRASHERS = sorted((Path(__file__).parent / "fuzz_crashers").glob("*.inrz"))


def full_decode(data: bytes) -> None:
    reader = container.Reader.from_bytes(data)
    api._decode_reader(reader, Region.full(reader.header.shape))


def own_errors_only(fn, *args) -> None:
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
    own_errors_only(full_decode, data)
    sidecar = path.with_suffix(".json")
    if sidecar.exists():
        plan = json.loads(sidecar.read_text())
        own_errors_only(crop_decode, data, tuple(map(tuple, plan["crop"])), plan["scale"])
        if "cut" in plan:
            own_errors_only(cut_and_decode, data, tuple(map(tuple, plan["cut"])))

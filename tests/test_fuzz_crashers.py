"""Replay every saved fuzz crasher: it must now decode or fail with inrzip's own error."""
from pathlib import Path

import pytest

from inrzip import api, container
from inrzip.errors import InrzipError
from inrzip.runtime.coords import Region

CRASHERS = sorted((Path(__file__).parent / "fuzz_crashers").glob("*.inrz"))


@pytest.mark.parametrize("path", CRASHERS, ids=[p.name for p in CRASHERS])
def test_crasher_is_handled(path):
    try:
        reader = container.Reader.from_bytes(path.read_bytes())
        api._decode_reader(reader, Region.full(reader.header.shape))
    except InrzipError:
        pass

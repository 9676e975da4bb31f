"""Golden vectors: files written by earlier versions must decode identically forever."""
import json
import sys
from pathlib import Path

import pytest

from inrzip import api

VECTORS = Path(__file__).resolve().parents[1] / "formats" / "vectors"
sys.path.insert(0, str(VECTORS))
from make_vectors import samples_sha256  # noqa: E402

MANIFEST = json.loads((VECTORS / "vectors.json").read_text())


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_vector_decodes_identically(name):
    expected = MANIFEST[name]
    out = api.decode(VECTORS / name).signal.data
    assert list(out.shape) == expected["shape"] and str(out.dtype) == expected["dtype"]
    assert samples_sha256(out) == expected["sha256"], (
        f"{name}: decoded output changed (max sample difference vs the first decode is unknown;"
        " if only float rounding changed on a new platform, see formats/inrz.md 'Golden vectors')")


def test_vectors_are_small():
    assert all(v["bytes"] < 4096 for v in MANIFEST.values())


def _with_extra_chunk(name: str, tag: int) -> bytes:
    from inrzip import container
    reader = container.Reader.open(VECTORS / name)
    chunks = [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]
    return container.build(reader.header, chunks + [(tag, b"from a future inrzip")])


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_newer_files_are_refused_saying_upgrade(name):
    """Every backend: a newer major version, or a required chunk this version does not know
    (tag bit 0x80), is refused with 'upgrade inrzip'; an unknown optional chunk is skipped."""
    from inrzip.errors import FormatError
    data = bytearray((VECTORS / name).read_bytes())
    data[8] = 2
    with pytest.raises(FormatError, match="version 2.0 .*upgrade inrzip"):
        api.decode(bytes(data))
    with pytest.raises(FormatError, match="required tag 0x9f .*upgrade inrzip"):
        api.decode(_with_extra_chunk(name, 0x9F))
    out = api.decode(_with_extra_chunk(name, 0x1F)).signal.data
    assert samples_sha256(out) == MANIFEST[name]["sha256"]

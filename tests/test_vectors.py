"""Golden vectors: files written by earlier versions must decode identically forever."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from inrzip import api

VECTORS = Path(__file__).resolve().parents[1] / "formats" / "vectors"
sys.path.insert(0, str(VECTORS))
from make_vectors import REFERENCES, is_lossless, samples_sha256  # noqa: E402

MANIFEST = json.loads((VECTORS / "vectors.json").read_text())
# Cross-platform float rounding allowed for lossy vectors (formats/inrz.md, "Golden vectors").
PLATFORM_LEVELS = {"uint8": 1, "int16": 32, "uint16": 32}


def assert_first_decode(name: str, out: np.ndarray) -> None:
    """The first decode's samples exactly; or, for a lossy (floating-point) vector on a machine
    whose BLAS rounds differently, within PLATFORM_LEVELS of that decode's stored samples."""
    expected = MANIFEST[name]
    assert list(out.shape) == expected["shape"] and str(out.dtype) == expected["dtype"]
    if samples_sha256(out) == expected["sha256"]:
        return
    assert not is_lossless(VECTORS / name), f"{name}: a lossless decode changed; it must match everywhere"
    with np.load(REFERENCES, allow_pickle=False) as refs:
        first = refs[name]
    assert samples_sha256(first) == expected["sha256"], f"{name}: stored reference samples are not the first decode"
    diff = int(np.abs(out.astype(np.int64) - first.astype(np.int64)).max())
    assert diff <= PLATFORM_LEVELS[str(out.dtype)], (
        f"{name}: decoded output changed by up to {diff} levels from the first decode "
        f"(float rounding on another platform allows {PLATFORM_LEVELS[str(out.dtype)]})")


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_vector_decodes_identically(name):
    assert_first_decode(name, api.decode(VECTORS / name).signal.data)


def test_every_lossy_vector_has_reference_samples():
    with np.load(REFERENCES, allow_pickle=False) as refs:
        stored = set(refs.files)
    assert stored == {n for n in MANIFEST if not is_lossless(VECTORS / n)}


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
    assert_first_decode(name, api.decode(_with_extra_chunk(name, 0x1F)).signal.data)

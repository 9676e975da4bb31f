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

"""Shared fixtures. Tests that need ../shared/data skip cleanly, saying why, when it is absent."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("INRZIP_SHARED_DATA", REPO.parent / "shared" / "data"))
EXAMPLE_IMAGE = REPO / "examples" / "kodim03_crop.png"
# the rec golden vector's model pack lives beside the vectors (formats/vectors/make_vectors.py)
os.environ.setdefault("INRZIP_PACK_PATH", str(REPO / "formats" / "vectors"))


@pytest.fixture
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when a fresh clone does not have it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared benchmark data at {SHARED_DATA} (absent in a fresh clone)")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny nets: one torch thread is much faster than two fighting a busy machine."""
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)

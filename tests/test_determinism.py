"""Determinism: decoding is identical with 1 and 2 threads and across processes for every
backend; CPU encodes with a fixed seed are byte-identical across processes; lossless is exact
on the bundled images (the 16-bit fixture is in test_lossless.py)."""
import json
import os
import subprocess
import sys

import numpy as np
from conftest import EXAMPLE_IMAGE, REPO

import inrzip
from inrzip.media import read_signal

VECTORS = REPO / "formats" / "vectors"
MANIFEST = json.loads((VECTORS / "vectors.json").read_text())

DECODE_ALL = """
import json, sys
sys.path.insert(0, sys.argv[1])
from make_vectors import samples_sha256
import inrzip
names = json.loads(sys.argv[2])
print(json.dumps({n: samples_sha256(inrzip.decode(sys.argv[1] + "/" + n).signal.data) for n in names}))
"""

ENCODE_ALL = """
import hashlib, json, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, sys.argv[1])
from helpers import small_audio, small_image
import inrzip
img, clip = small_image(16, 16), small_audio(1000)
runs = {
    "sinr": (img, None, {"steps": 30, "width": 10}),
    "sinr-audio": (clip, None, {"steps": 30, "width": 10}),
    "lossless": (small_image(12, 12), None, {"steps": 30, "width": 8}),
    "croppable": (img, "8bpp", {"steps": 30, "partition": "8"}),
}
out = {}
for name, (sig, rate, opts) in runs.items():
    backend = name.split("-")[0]
    data = inrzip.encode(sig, rate=rate, backend=backend,
                         options={**opts, "device": "cpu", "seed": 7}).data
    out[name] = hashlib.sha256(data).hexdigest()
print(json.dumps(out))
"""


def _env(threads: str) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads, "INRZIP_THREADS": threads}


def _run(script: str, *args: str, threads: str = "1") -> dict:
    res = subprocess.run([sys.executable, "-c", script, *args], env=_env(threads),
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_every_vector_decodes_identically_with_one_and_two_threads():
    """Fresh processes with 1 and 2 BLAS/OpenMP/inrzip threads decode every vector to the same
    samples, and to the pinned hashes: everywhere for lossless; for the floating-point backends
    where this CPU's BLAS kernels round as the reference machine's did (elsewhere
    test_vectors.py bounds the difference)."""
    names = json.dumps(sorted(MANIFEST))
    one = _run(DECODE_ALL, str(VECTORS), names, threads="1")
    two = _run(DECODE_ALL, str(VECTORS), names, threads="2")
    want = {n: MANIFEST[n]["sha256"] for n in MANIFEST}
    assert one == two
    off = {n for n in want if one[n] != want[n]}
    assert not any(n.startswith("lossless") for n in off), off
    assert {n.split("-")[0] for n in want} >= {"sinr", "lossless", "croppable"}


def test_cpu_encode_with_a_fixed_seed_is_byte_identical_across_processes():
    tests = str(REPO / "tests")
    first, second = _run(ENCODE_ALL, tests), _run(ENCODE_ALL, tests)
    assert first == second and len(first) == 4


def test_lossless_exact_on_the_bundled_example_image():
    """The whole bundled 256x256 photo: the encoder's own check decodes the real file bytes
    with the numpy decoder and compares every sample (psnr inf = exact)."""
    sig = read_signal(EXAMPLE_IMAGE)
    assert sig.bit_depth == 8 and sig.data.shape == (256, 256, 3)
    report = inrzip.encode(sig, backend="lossless", options={"steps": 20, "width": 8, "device": "cpu"})
    assert report.as_dict()["exact"]
    assert np.array_equal(inrzip.decode(report.data).signal.data, sig.data)

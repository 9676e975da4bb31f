"""lossless backend: exact round trips, crops, determinism, the integer runtime, error paths."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO
from helpers import small_audio, small_image

import inrzip
from inrzip import container
from inrzip.backends.lossless import format as fmt
from inrzip.cli import main
from inrzip.errors import FormatError, UsageError
from inrzip.media import read_signal
from inrzip.runtime import fixedpoint as fx
from inrzip.signal import Signal

FIXTURE16 = REPO / "tests" / "fixtures" / "rgb16_nikon_d300_64px.png"
QUICK = {"steps": 60, "width": 12, "device": "cpu"}


def roundtrip(signal: Signal, **opts) -> tuple[inrzip.api.EncodeReport, np.ndarray]:
    report = inrzip.encode(signal, backend="lossless", options={**QUICK, **opts})
    return report, inrzip.decode(report.data).signal.data


# ------------------------------------------------------------------ integer runtime
def test_tables_are_pinned():
    """The sine and sigmoid tables are part of the format (formats/lossless.md)."""
    sha = lambda a: hashlib.sha256(a.astype("<i8").tobytes()).hexdigest()  # noqa: E731
    assert sha(fx.sine_table()) == "492d5467109b3351b1a7a067c615d99440c5b181131eca4c5aceef6eea98ae7e"
    assert sha(fx.sigmoid_table()) == "f3c1c8012046c0524d54bfe9e7f4cf0c5847a6e216c1a1b8a4bbd70ebabd5211"
    assert fx.sine_table()[1024] == 4096 and fx.sine_table()[3072] == -4096
    assert fx.probabilities(np.array([0, -10**9, 10**9])).tolist() == [32896, 1, 65535]


def test_integer_forward_matches_exact_python_ints():
    rng = np.random.default_rng(1)
    layers = []
    for i, (o, n) in enumerate([(7, 5), (6, 7), (1, 6)]):
        act = ("sine", "relu", "linear")[i]
        layers.append(fx.IntLayer(rng.integers(-2047, 2048, (o, n)), rng.integers(-10**7, 10**7, o), 11, act))
    net = fx.IntMLP(tuple(layers))
    x = rng.integers(-(1 << 14), 1 << 14, (50, 5))
    got = fx.forward(net, x)
    sin, mask = fx.sine_table(), (1 << fx.SINE_BITS) - 1
    for row, out in zip(x.tolist(), got.tolist()):
        a = row
        for layer in layers:
            z = [(sum(int(w) * v for w, v in zip(wr, a)) + int(b)) >> layer.shift
                 for wr, b in zip(layer.weight.tolist(), layer.bias.tolist())]
            if layer.activation == "sine":
                a = [int(sin[v & mask]) for v in z]
            elif layer.activation == "relu":
                a = [min(max(v, 0), fx.RELU_MAX - 1) for v in z]
            else:
                a = z
        assert a == out


# ------------------------------------------------------------------ round trips
@pytest.mark.parametrize("mode", ["context", "paper"])
def test_rgb8_roundtrip_exact(mode):
    sig = small_image(32, 40)
    report, out = roundtrip(sig, mode=mode)
    assert np.array_equal(out, sig.data) and out.dtype == np.uint8
    assert report.psnr == float("inf") and report.as_dict()["exact"] is True
    assert report.as_dict()["psnr"] is None


def test_gray_and_rgba_roundtrip_exact():
    base = small_image(24, 28).data
    gray = Signal(base[:, :, :1].copy(), "image", 8)
    rgba = Signal(np.concatenate([base, np.full(base.shape[:2] + (1,), 255, np.uint8)], axis=2), "image", 8)
    for sig in (gray, rgba):
        _, out = roundtrip(sig)
        assert np.array_equal(out, sig.data)


def test_rgb16_roundtrip_exact_and_constant_planes_skipped():
    sig = read_signal(FIXTURE16)
    assert sig.bit_depth == 16 and sig.data.dtype == np.uint16
    report, out = roundtrip(sig)
    assert np.array_equal(out, sig.data) and out.dtype == np.uint16
    info = inrzip.info(report.data)
    assert info["params"]["mode"] == "context"


def test_constant_bits_are_not_coded():
    """A 12-bit signal in a 16-bit container: the 4 always-zero planes cost nothing."""
    sig = read_signal(FIXTURE16)
    low12 = Signal((sig.data >> 4).astype(np.uint16), "image", 16)
    params = fmt.LosslessParams.from_bytes(inrzip.api.container.Reader.from_bytes(
        roundtrip(low12)[0].data).header.params, 3, 16)
    assert all(m & 0xF000 == 0xF000 for m in params.const_mask)


@pytest.mark.parametrize("channels,bits", [(1, 16), (2, 16), (1, 24)])
def test_audio_roundtrip_exact(channels, bits):
    sig = small_audio(3000, channels)
    if bits == 24:
        sig = Signal(sig.data.astype(np.int32) * 256 + 77, "audio", 24, sample_rate=sig.sample_rate)
    _, out = roundtrip(sig)
    assert np.array_equal(out, sig.data) and out.dtype == sig.data.dtype


def test_extreme_values_roundtrip():
    """All-black, all-white and full-swing samples (probabilities pinned at the table ends)."""
    data = np.zeros((20, 20, 3), np.uint8)
    data[::2, ::3] = 255
    data[5:9] = 0
    _, out = roundtrip(Signal(data, "image", 8))
    assert np.array_equal(out, data)


# ------------------------------------------------------------------ crops
def test_crop_decodes_only_needed_tiles():
    sig = small_image(48, 64)
    report = inrzip.encode(sig, backend="lossless", options={**QUICK, "tile": 4})
    full = inrzip.decode(report.data)
    part = inrzip.decode(report.data, crop="17:30,5:21")
    assert np.array_equal(part.signal.data, sig.data[17:30, 5:21])
    assert part.bytes_read < full.bytes_read / 2


def test_audio_crop_by_time():
    sig = small_audio(6000, 1, rate=8000)
    report = inrzip.encode(sig, backend="lossless", options={**QUICK, "tile": 10})
    part = inrzip.decode(report.data, crop="0.25s:0.5s")
    assert np.array_equal(part.signal.data, sig.data[2000:4000])


# ------------------------------------------------------------------ determinism
DECODE_SCRIPT = (
    "import sys, hashlib, inrzip; d = inrzip.decode(sys.argv[1]).signal.data; "
    "print(hashlib.sha256(d.tobytes()).hexdigest())")


def test_decode_identical_across_threads_and_processes(tmp_path):
    sig = small_image(32, 40)
    path = tmp_path / "x.inrz"
    inrzip.encode(sig, path, backend="lossless", options=QUICK)
    want = hashlib.sha256(sig.data.tobytes()).hexdigest()
    for threads in ("1", "2"):
        env = {**os.environ, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "MKL_NUM_THREADS": threads, "INRZIP_THREADS": threads}
        out = subprocess.run([sys.executable, "-c", DECODE_SCRIPT, str(path)], env=env,
                             capture_output=True, text=True, check=True).stdout.strip()
        assert out == want


def test_encode_is_deterministic_on_cpu():
    sig = small_image(24, 24)
    a = inrzip.encode(sig, backend="lossless", options=QUICK).data
    b = inrzip.encode(sig, backend="lossless", options=QUICK).data
    assert a == b


# ------------------------------------------------------------------ damage and errors
def _rebuild(data: bytes, tag: int, mutate) -> bytes:
    """Change one chunk and rewrite the container with valid CRCs: only the hash can notice."""
    reader = container.Reader.from_bytes(data)
    chunks = []
    for i, entry in enumerate(reader.chunks):
        payload = reader.read_chunk(i)
        if entry.tag == tag and not chunks or entry.tag == tag and chunks[-1][0] != tag:
            payload = mutate(payload)
        chunks.append((entry.tag, payload))
    return container.build(reader.header, chunks)


def test_stored_hash_catches_a_wrong_decode():
    sig = small_image(24, 24)
    data = inrzip.encode(sig, backend="lossless", options=QUICK).data
    bad = _rebuild(data, fmt.TILE_CHUNK, lambda p: bytes([p[0] ^ 1]) + p[1:])   # flip a hash bit
    with pytest.raises(FormatError, match="hash"):
        inrzip.decode(bad)
    words = _rebuild(data, fmt.TILE_CHUNK, lambda p: p[:8] + bytes(b ^ 0x5A for b in p[8:]))
    with pytest.raises(FormatError):
        inrzip.decode(words)


def test_truncated_tile_and_wrong_tile_count_are_refused():
    sig = small_image(24, 24)
    data = inrzip.encode(sig, backend="lossless", options=QUICK).data
    with pytest.raises(FormatError):
        inrzip.decode(_rebuild(data, fmt.TILE_CHUNK, lambda p: p[:5]))
    reader = container.Reader.from_bytes(data)
    chunks = [(e.tag, reader.read_chunk(i)) for i, e in enumerate(reader.chunks)]
    with pytest.raises(FormatError, match="tile chunks"):
        inrzip.decode(container.build(reader.header, chunks + [chunks[-1]]))


def test_usage_errors():
    sig = small_image(16, 16)
    with pytest.raises(UsageError, match="no rate"):
        inrzip.encode(sig, rate="2bpp", backend="lossless", options=QUICK)
    with pytest.raises(UsageError, match="mode"):
        inrzip.encode(sig, backend="lossless", options={"mode": "magic"})
    data = inrzip.encode(sig, backend="lossless", options=QUICK).data
    with pytest.raises(UsageError, match="scale"):
        inrzip.decode(data, scale=2.0)


def test_cli_lossless_roundtrip(tmp_path, capsys):
    src = tmp_path / "in.png"
    from PIL import Image
    Image.fromarray(small_image(20, 24).data).save(src)
    out = tmp_path / "in.inrz"
    assert main(["encode", str(src), "--lossless", "-o", str(out), "-O", "steps=40", "-O", "width=8", "-q"]) == 0
    assert main(["decode", str(out), "-o", str(tmp_path / "back.png"), "-q"]) == 0
    assert np.array_equal(np.array(Image.open(tmp_path / "back.png")), np.array(Image.open(src)))
    assert main(["encode", str(src), "--lossless", "-b", "1bpp", "-o", str(tmp_path / "x.inrz")]) == 1
    assert main(["encode", str(src), "--lossless", "--backend", "sinr", "-o", str(tmp_path / "y.inrz")]) == 1
    assert "conflicts" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["hbd/rawpixls_64px_DJI-FC6310-16bit_709_v4_krita.png",
                                  "hbd/wesaturate_64px_Nikon-D3-14bit_2020_g1.png"])
def test_shared_hbd_exact(shared_data: Path, name: str):
    """Real 16-bit camera images from ../shared/data, round-tripped bit-exactly (the full
    Kodak / hbd / audio sets run in benchmarks/lossless.py)."""
    sig = read_signal(shared_data / name)
    _, out = roundtrip(sig)
    assert np.array_equal(out, sig.data)


def test_max_effort_keeps_the_smallest_of_several_widths():
    sig = small_image(16, 16)
    report = inrzip.encode(sig, backend="lossless", options={"effort": "max", "steps": 20, "device": "cpu"})
    tried = report.stats["widths_tried"]
    assert len(tried) >= 2 and report.stats["model_bytes"] > 0
    best = min(t["payload_bytes"] for t in tried)
    assert report.bytes - best < 200          # header + index only on top of the kept payload
    assert np.array_equal(inrzip.decode(report.data).signal.data, sig.data)


def test_lossless_decode_never_imports_torch(tmp_path):
    vector = REPO / "formats" / "vectors" / "lossless-image-rgb16.inrz"
    code = (f"import sys, inrzip.cli; rc = inrzip.cli.main(['decode', {str(vector)!r}, '-o', "
            f"{str(tmp_path / 'x.png')!r}, '-q']); assert rc == 0, rc; "
            "assert 'torch' not in sys.modules, 'decode imported torch'")
    subprocess.run([sys.executable, "-c", code], check=True)

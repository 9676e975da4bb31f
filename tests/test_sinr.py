"""sinr backend end to end on small real inputs (seconds, CPU)."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from helpers import small_audio, small_image
from inrzip import api, container
from inrzip.backends.sinr import decoder, format as fmt

FAST = {"steps": 150, "device": "cpu"}


@pytest.fixture(scope="module")
def sparse_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sinr") / "small.inrz"
    report = api.encode(small_image(), path, rate="6bpp", options=FAST)
    return path, report


def test_sparse_round_trip_quality_and_rate(sparse_file):
    path, report = sparse_file
    assert report.bytes == path.stat().st_size
    assert report.rate == pytest.approx(8 * report.bytes / (32 * 40), rel=1e-4)
    out = api.decode(path).signal
    assert out.data.shape == (32, 40, 3) and out.data.dtype == np.uint8
    measured = api.psnr(small_image().data, out.data, 8)
    assert measured == pytest.approx(report.psnr, abs=1e-3)
    assert measured > 20            # a broken coder lands near 10 dB
    # The encoder's own estimate went through the same weight rebuild as the decoder.
    assert report.stats["psnr_estimate"] == pytest.approx(measured, abs=0.05)


def test_rate_control_lands_within_five_percent(sparse_file):
    _, report = sparse_file
    assert report.stats["rate_met"], report.stats
    assert abs(report.bytes / (6 * 32 * 40 / 8) - 1) <= 0.05


def test_file_uses_sparse_mode_with_16_bit_indices(sparse_file):
    path, _ = sparse_file
    params = fmt.SinrParams.from_bytes(container.Reader.open(path).header.params)
    assert params.mode == fmt.MODE_SPARSE and params.log2_dict == 16
    assert 1 <= params.sparsity[1] <= params.width // 2


def test_crop_equals_region_of_full_decode(sparse_file):
    path, _ = sparse_file
    full = api.decode(path).signal.data
    part = api.decode(path, crop="5:20,10:33").signal.data
    assert part.shape == (15, 23, 3)
    assert np.abs(part.astype(int) - full[5:20, 10:33].astype(int)).max() <= 1


def test_scale_decodes_larger_grid_matching_at_shared_points(sparse_file):
    path, _ = sparse_file
    full = api.decode(path).signal.data
    up = api.decode(path, scale=2.0).signal.data
    assert up.shape == (64, 80, 3)
    # Grids of 32 and 64 samples over [-1, 1] share their end points.
    assert np.abs(up[0, 0].astype(int) - full[0, 0].astype(int)).max() <= 1
    assert np.abs(up[-1, -1].astype(int) - full[-1, -1].astype(int)).max() <= 1


def test_plain_mode_is_the_16_bit_baseline(tmp_path):
    path = tmp_path / "plain.inrz"
    report = api.encode(small_image(), path, options={**FAST, "mode": "plain", "value_bits": 16, "width": 12})
    params = fmt.SinrParams.from_bytes(container.Reader.open(path).header.params)
    assert params.mode == fmt.MODE_PLAIN and params.value_bits == 16 and params.width == 12
    assert report.psnr == pytest.approx(report.stats["fit_psnr"], abs=0.05)   # 16 bits is near lossless


def test_audio_round_trip(tmp_path):
    sig = small_audio()
    path = tmp_path / "a.inrz"
    report = api.encode(sig, path, rate="64kbps", options=FAST)
    out = api.decode(path).signal
    assert out.data.shape == sig.data.shape and out.data.dtype == np.int16
    assert out.sample_rate == 8000
    assert report.rate_unit == "kbps" and report.rate <= 64 * 1.05
    part = api.decode(path, crop="0.1s:0.2s").signal
    assert part.data.shape == (800, 1)


def test_same_seed_same_bytes():
    opts = {**FAST, "steps": 30, "width": 10}
    a = api.encode(small_image(16, 16), rate=None, options=opts).data
    b = api.encode(small_image(16, 16), rate=None, options=opts).data
    assert a == b


def test_payload_bomb_is_refused(sparse_file):
    path, _ = sparse_file
    header = container.Reader.open(path).header
    import brotli
    bomb = brotli.compress(b"\0" * (decoder.expected_payload_size(header) + 1000))
    with pytest.raises(Exception, match="wrong size"):
        decoder.decompress(bomb, decoder.expected_payload_size(header))


def test_decoding_never_imports_torch(sparse_file, tmp_path):
    path, _ = sparse_file
    code = textwrap.dedent(f"""
        import sys
        import inrzip.cli
        rc = inrzip.cli.main(["decode", {str(path)!r}, "-o", {str(tmp_path / 'x.png')!r}, "-q"])
        assert rc == 0, rc
        assert "torch" not in sys.modules, "decode imported torch"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_decode_identical_with_one_and_two_threads(monkeypatch):
    """More than one chunk of points, so the thread pool really splits the work."""
    from helpers import example_array
    from inrzip.runtime import siren
    from inrzip.signal import Signal
    sig = Signal(example_array()[:200, :200].copy(), "image", 8)
    data = api.encode(sig, options={"steps": 5, "width": 8, "device": "cpu"}).data
    outs = []
    calls = []
    real_forward = siren.forward
    for threads in (1, 2):
        monkeypatch.setattr(siren, "THREADS", threads)
        outs.append(api.decode(data).signal.data)
        calls.append(siren.THREADS)
    assert calls == [1, 2] and real_forward is siren.forward
    assert np.array_equal(outs[0], outs[1])

"""Unit tests for the benchmark helpers in benchmarks/common.py (the benchmarks themselves never run in tests)."""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
_spec = importlib.util.spec_from_file_location("bench_common", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_common"] = bench
_spec.loader.exec_module(bench)


def _image(h: int = 192, w: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def test_psnr_identical_is_inf():
    a = _image()
    assert bench.psnr(a, a.copy()) == math.inf


def test_psnr_known_mse():
    a = np.full((8, 8, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 3                                        # error 3 on one channel of three -> MSE 3
    assert bench.psnr(a, b) == pytest.approx(10 * math.log10(255**2 / 3), abs=1e-12)
    assert bench.psnr(a, a + 1) == pytest.approx(20 * math.log10(255), abs=1e-12)   # MSE 1
    assert bench.psnr(a, a + 1, max_value=1) == pytest.approx(0.0, abs=1e-12)


def test_psnr_shape_mismatch():
    with pytest.raises(ValueError):
        bench.psnr(np.zeros((4, 4, 3)), np.zeros((4, 5, 3)))


def test_ms_ssim_identical_and_noisy():
    a = _image()
    assert bench.ms_ssim(a, a) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(1)
    noisy = np.clip(a + rng.normal(0, 8, a.shape), 0, 255).astype(np.uint8)
    very = np.clip(a + rng.normal(0, 30, a.shape), 0, 255).astype(np.uint8)
    m1, m2 = bench.ms_ssim(a, noisy), bench.ms_ssim(a, very)
    assert 0.0 < m2 < m1 < 1.0


def test_ms_ssim_too_small_raises():
    assert bench.ms_ssim_min_size() == 176
    a = _image(175, 300)
    with pytest.raises(ValueError, match="176"):
        bench.ms_ssim(a, a)


def test_center_crop_offsets():
    a = np.arange(7 * 10 * 3, dtype=np.int64).reshape(7, 10, 3)
    c = bench.center_crop(a, 4)
    assert c.shape == (4, 4, 3)
    assert np.array_equal(c, a[1:5, 3:7])                 # y0=(7-4)//2=1, x0=(10-4)//2=3


def test_bpp():
    assert bench.bpp(3 * 512 * 768, (512, 768, 3)) == pytest.approx(24.0)


def test_psnr_at_bpp_log_interpolation():
    av = [{"bpp": 0.25, "psnr": 30.0}, {"bpp": 1.0, "psnr": 36.0}]
    assert bench.psnr_at_bpp(av, 0.5) == pytest.approx(33.0)       # midpoint in log(bpp)
    assert bench.psnr_at_bpp(av, 2.0) is None


def test_result_writer_averages_and_json(tmp_path):
    w = bench.ResultWriter("toy", "toyset", "toy codec", crop=256, threads=1,
                           command="python toy.py", results_root=tmp_path, versions={"toy": "1"})
    w.add("a.png", 10, bpp=0.5, psnr=30.0, ms_ssim=0.90, encode_s=1.0, decode_s=0.1, bytes=10)
    w.add("b.png", 10, bpp=1.5, psnr=34.0, ms_ssim=0.96, encode_s=3.0, decode_s=0.3, bytes=30)
    w.add("a.png", 20, bpp=2.0, psnr=math.inf, ms_ssim=1.0, encode_s=2.0, decode_s=0.2, exact=True)
    av = w.averages()
    assert [a["param"] for a in av] == [10, 20]
    assert av[0] == pytest.approx({"param": 10, "bpp": 1.0, "psnr": 32.0, "ms_ssim": 0.93,
                                   "encode_s": 2.0, "decode_s": 0.2, "n": 2})
    assert av[1]["n"] == 1 and av[1]["psnr"] == math.inf and av[1]["exact"] is True

    path = w.write()
    assert path == tmp_path / "toyset" / "toy.json"
    doc = json.loads(path.read_text())                     # strict JSON: inf is written as null
    for key in ("name", "description", "command", "dataset", "crop", "device", "date", "versions",
                "rows", "averages"):
        assert key in doc
    assert doc["name"] == "toy" and doc["crop"] == 256 and doc["command"] == "python toy.py"
    assert doc["device"].startswith("cpu: ") and doc["device"].endswith(", 1 threads")
    assert doc["versions"]["toy"] == "1" and "numpy" in doc["versions"]
    assert len(doc["rows"]) == 3 and doc["rows"][0]["image"] == "a.png"
    assert doc["averages"][0]["psnr"] == pytest.approx(32.0)
    assert doc["averages"][1]["psnr"] is None
    assert bench.read_results(tmp_path / "toyset")[0]["name"] == "toy"


def test_measure_roundtrip():
    a = _image()
    m = bench.measure(a, lambda x: x.tobytes(), lambda d: np.frombuffer(d, np.uint8).reshape(a.shape))
    assert m["exact"] and m["psnr"] == math.inf and m["ms_ssim"] == 1.0
    assert m["bpp"] == pytest.approx(24.0)


def test_merge_results_joins_parts_and_refuses_unlike_ones(tmp_path):
    def part(name: str, images: list[str], psnr: float, device: str = "cpu: x, 1 threads") -> dict:
        w = bench.ResultWriter(name, "toyset", "toy", threads=1, command=f"run {name}", results_root=tmp_path)
        for im in images:
            w.add(im, "0.3bpp", bpp=0.3, psnr=psnr, ms_ssim=0.9, encode_s=1.0, decode_s=0.1)
        doc = w.to_dict()
        doc["device"] = device
        return doc

    a, b = part("t-a", ["1.png", "2.png"], 30.0), part("t-b", ["3.png"], 24.0)
    merged = bench.merge_results("t", [a, b])
    assert merged["name"] == "t" and merged["command"] == "run t-a ; run t-b"
    assert [r["image"] for r in merged["rows"]] == ["1.png", "2.png", "3.png"]
    assert merged["averages"][0]["n"] == 3 and merged["averages"][0]["psnr"] == pytest.approx(28.0)
    with pytest.raises(ValueError, match="device"):
        bench.merge_results("t", [a, part("t-c", ["4.png"], 24.0, device="cuda")])
    with pytest.raises(ValueError, match="more than one part"):
        bench.merge_results("t", [a, part("t-d", ["2.png"], 24.0)])


def test_rec_rate_table_compares_each_image_at_its_own_rate_and_counts_the_ones_a_codec_misses(tmp_path):
    spec = importlib.util.spec_from_file_location("rec_rate_table", _PATH.with_name("rec_rate_table.py"))
    table = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table)
    (tmp_path / "jpeg.json").write_text(json.dumps({"rows": [
        {"image": "a.png", "bpp": 0.1, "psnr": 20.0}, {"image": "a.png", "bpp": 0.4, "psnr": 30.0},
        {"image": "b.png", "bpp": 0.3, "psnr": 25.0}, {"image": "b.png", "bpp": 0.9, "psnr": 31.0}]}))
    curves = table.classical_curves(tmp_path)
    assert list(curves) == ["jpeg"]
    rec = {"name": "r", "rows": [{"image": "a.png", "param": "0.2bpp", "bpp": 0.2, "psnr": 26.0, "encode_s": 10.0},
                                 {"image": "b.png", "param": "0.2bpp", "bpp": 0.2, "psnr": 24.0, "encode_s": 30.0}]}
    row = table.rate_row(rec, curves)
    assert row["vs_jpeg_images"] == 1                       # b's JPEG ladder starts above 0.2 bpp
    assert row["vs_jpeg_db"] == pytest.approx(26.0 - 25.0)  # a: halfway in log-bpp from 0.1 to 0.4
    assert row["psnr"] == 25.0 and row["bpp"] == 0.2 and row["encode_s"] == 20.0
    assert row["gap_db"] == pytest.approx(25.0 - table.paper_psnr(0.2))
    assert "| 0.2bpp | 2 | 0.2000 | 25.00 |" in table.markdown([row], ["jpeg"]) and "+1.00 (1)" in table.markdown([row], ["jpeg"])

"""Shared helpers for the rate-distortion benchmarks (classical baselines and inrzip sweeps).

Not part of the ``inrzip`` package and never run by the tests (only these helpers are unit
tested, in ``tests/test_bench_common.py``). Depends on numpy and Pillow; matplotlib is imported
only by :func:`plot_rd`.

Conventions (DESIGN.md section 6):
  * quality is measured on 8-bit RGB: PSNR over all three channels, MS-SSIM averaged over channels;
  * bpp = encoded byte count * 8 / (H * W), i.e. the whole file/bitstream over the pixel count;
  * results go to ``benchmarks/results/<dataset>/<codec>.json`` (schema in benchmarks/README.md).
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_ROOT = BENCH_DIR / "results"
REPO = BENCH_DIR.parent
ANCHORS_JSON = Path(
    os.environ.get("INRZIP_ANCHORS", REPO.parent / "shared" / "reference" / "kodak_rd_anchors.json")
)

IMAGE_SUFFIXES = (".png", ".ppm", ".pnm", ".bmp", ".tif", ".tiff")

# Published Kodak curves drawn on the full-size "kodak" plot (names as in kodak_rd_anchors.json).
# They are averages over all 24 Kodak images; our "kodak" folder holds kodim01..12 only.
DEFAULT_ANCHORS: tuple[tuple[str, str], ...] = (
    ("VVC VTM (intra)", "VTM intra"),
    ("Cool-chic v5.0 (Orange)", "Cool-chic 5.0"),
    ("RECOMBINER (He et al. ICLR 2024), 8-point table", "RECOMBINER"),
    ("COIN (Dupont 2021)", "COIN"),
    ("COIN++ (Dupont 2022)", "COIN++"),
)


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------

def load_images(folder: str | os.PathLike, crop: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Load every raster image in ``folder`` as ``(file name, uint8 HxWx3 array)``, sorted by name.

    ``crop=N`` takes the centre NxN crop with offsets ``y0=(H-N)//2, x0=(W-N)//2``.
    Grey/palette images are converted to RGB; alpha and >8-bit images are rejected.
    """
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    out = []
    for path in files:
        with Image.open(path) as im:
            if im.mode not in ("RGB", "L", "P"):
                raise ValueError(f"{path.name}: mode {im.mode} is not 8-bit RGB/grey/palette")
            arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        if crop is not None:
            arr = center_crop(arr, crop)
        out.append((path.name, np.ascontiguousarray(arr)))
    return out


def center_crop(arr: np.ndarray, size: int) -> np.ndarray:
    """Centre ``size`` x ``size`` crop (integer-division offsets)."""
    h, w = arr.shape[:2]
    if h < size or w < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}x{size} crop")
    y0, x0 = (h - size) // 2, (w - size) // 2
    return arr[y0:y0 + size, x0:x0 + size]


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

def bpp(n_bytes: int, shape: Sequence[int]) -> float:
    """Bits per pixel of an encoded image: ``n_bytes * 8 / (H * W)``."""
    return n_bytes * 8.0 / (int(shape[0]) * int(shape[1]))


def psnr(a: np.ndarray, b: np.ndarray, max_value: float = 255) -> float:
    """PSNR in dB over all samples (all channels pooled). ``inf`` for identical inputs."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(max_value * max_value / mse)


MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_WIN = 11
_SIGMA = 1.5


def _gauss_1d(size: int = _WIN, sigma: float = _SIGMA) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' (no padding) filtering of the first two axes of ``x`` with ``g``."""
    k = g.size
    h, w = x.shape[0] - k + 1, x.shape[1] - k + 1
    tmp = g[0] * x[0:h]
    for i in range(1, k):
        tmp += g[i] * x[i:i + h]
    out = g[0] * tmp[:, 0:w]
    for i in range(1, k):
        out += g[i] * tmp[:, i:i + w]
    return out


def _ssim_cs(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean SSIM and mean contrast-structure term per channel for HxWxC float arrays."""
    g = _gauss_1d()
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2
    mu_x = _filter_valid(x, g)
    mu_y = _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x * mu_x
    syy = _filter_valid(y * y, g) - mu_y * mu_y
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    cs_map = (2.0 * sxy + c2) / (sxx + syy + c2)
    ssim_map = (2.0 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1) * cs_map
    return ssim_map.mean(axis=(0, 1)), cs_map.mean(axis=(0, 1))


def _avg_pool2(x: np.ndarray) -> np.ndarray:
    h, w = (x.shape[0] // 2) * 2, (x.shape[1] // 2) * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim_min_size(scales: int = len(MS_SSIM_WEIGHTS), win: int = _WIN) -> int:
    """Smallest image side for which the coarsest scale still fits one ``win`` window: 176 for 5 scales."""
    return win * 2 ** (scales - 1)


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0,
            weights: Sequence[float] = MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM (Wang, Simoncelli & Bovik 2003), numpy only.

    Standard 5-scale form as in pytorch_msssim / tf.image.ssim_multiscale: an 11-tap Gaussian
    window (sigma 1.5) applied without padding, K1=0.01, K2=0.03, 2x2 average pooling between
    scales (an odd last row/column is dropped). Per channel,
    ``prod_{j<M} relu(cs_j)^w_j * relu(ssim_M)^w_M``; the result is the mean over channels.
    HxW (grey) inputs are treated as one channel.

    Images whose smaller side is below :func:`ms_ssim_min_size` (176 px for 5 scales) are too
    small for the coarsest scale to hold one window: a ``ValueError`` is raised rather than
    silently using fewer scales, so numbers stay comparable. 256x256 crops are fine.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch {a.shape} vs {b.shape}")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    scales = len(weights)
    min_side = ms_ssim_min_size(scales)
    if min(a.shape[:2]) < min_side:
        raise ValueError(
            f"MS-SSIM with {scales} scales needs both sides >= {min_side} px, got {a.shape[1]}x{a.shape[0]}"
        )
    w = np.asarray(weights, dtype=np.float64)
    vals = []
    for j in range(scales):
        ssim_j, cs_j = _ssim_cs(a, b, data_range)
        vals.append(ssim_j if j == scales - 1 else cs_j)
        if j < scales - 1:
            a, b = _avg_pool2(a), _avg_pool2(b)
    stack = np.maximum(np.stack(vals), 0.0)            # (scales, C)
    per_channel = np.prod(stack ** w[:, None], axis=0)
    return float(per_channel.mean())


def psnr_at_bpp(averages: Iterable[dict], target: float) -> float | None:
    """PSNR at ``target`` bpp by linear interpolation in log(bpp) on an average curve.

    Same convention as shared/reference/anchors.md. ``None`` outside the curve's bpp range.
    """
    pts = sorted((r["bpp"], r["psnr"]) for r in averages if r.get("psnr") is not None and r["bpp"] > 0)
    if not pts or target < pts[0][0] or target > pts[-1][0]:
        return None
    xs = np.log([p[0] for p in pts])
    ys = np.array([p[1] for p in pts])
    return float(np.interp(math.log(target), xs, ys))


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------

def measure(arr: np.ndarray, encode: Callable[[np.ndarray], bytes],
            decode: Callable[[bytes], np.ndarray], with_ms_ssim: bool = True) -> dict:
    """Encode ``arr`` to bytes in memory, decode, and return one row's measurements.

    Returns ``bpp, psnr, ms_ssim, encode_s, decode_s, bytes, exact``. Times are wall-clock
    ``time.perf_counter`` around the single encode / decode call.
    """
    t0 = time.perf_counter()
    data = encode(arr)
    t1 = time.perf_counter()
    rec = decode(data)
    t2 = time.perf_counter()
    rec = np.asarray(rec)
    if rec.shape != arr.shape or rec.dtype != arr.dtype:
        raise ValueError(f"decoder returned {rec.shape} {rec.dtype}, expected {arr.shape} {arr.dtype}")
    exact = bool(np.array_equal(rec, arr))
    return {
        "bpp": bpp(len(data), arr.shape),
        "psnr": math.inf if exact else psnr(arr, rec),
        "ms_ssim": (1.0 if exact else ms_ssim(arr, rec)) if with_ms_ssim else None,
        "encode_s": t1 - t0,
        "decode_s": t2 - t1,
        "bytes": len(data),
        "exact": exact,
    }


def add_rec_arguments(ap: Any) -> None:
    """The rec encoder settings every rec benchmark takes: --effort, --opts, --name."""
    ap.add_argument("--effort", default="fast")
    ap.add_argument("--opts", default="", help="extra encoder options key=value,... (e.g. pack=FILE)")
    ap.add_argument("--name", default=None, help="results file name (default: inrzip-rec-EFFORT)")


def rec_options(args: Any) -> dict:
    """Encoder options from the arguments of :func:`add_rec_arguments`."""
    options = {"effort": args.effort, "device": "auto"}
    for pair in filter(None, args.opts.split(",")):
        key, _, value = pair.partition("=")
        options[key] = value
    return options


def rec_round_trip(signal: Any, rate: str, options: dict) -> tuple[int, np.ndarray, float, float, dict]:
    """Encode a Signal with the rec backend to a real file and decode it back with the numpy
    decoder: (file bytes, decoded samples, encode s, decode s, encoder stats)."""
    import tempfile

    from inrzip import api

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "signal.inrz"
        rep = api.encode(signal, path, rate=rate, backend="rec", options=options)
        t0 = time.perf_counter()
        out = api.decode(path).signal.data
        return path.stat().st_size, out, rep.encode_s, time.perf_counter() - t0, rep.stats


def step_cost_arguments(doc: str, out: Path, extra: Callable[[Any], None] | None = None) -> tuple[Any, Path]:
    """The command line the step-time benchmarks share (kodim12's folder, steps per timing, repeats,
    output file; `extra` adds a script's own) and kodim12's path; exits with a skip line without it."""
    import argparse

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", required=True, help="folder with kodim12.png")
    ap.add_argument("--steps", type=int, default=10, help="steps per timing")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(out))
    if extra is not None:
        extra(ap)
    args = ap.parse_args()
    image = Path(args.kodak) / "kodim12.png"
    if not image.is_file():
        sys.exit(f"skip: {image} not found (it lives in ../shared/data/kodak)")
    return args, image


def write_step_times(name: str, doc: str, key: str, times: dict[Any, list[float]], out: str | os.PathLike,
                     threads: int, **extra: Any) -> Path:
    """A step-time results document: one row per setting (`key`: its value) with the median, every
    timing, and the median relative to the first setting's; printed, then written to `out`."""
    base = statistics.median(next(iter(times.values())))
    rows = [{key: setting, "step_ms_median": round(statistics.median(t), 2), "step_ms": [round(x, 2) for x in t],
             "relative": round(statistics.median(t) / base, 3)} for setting, t in times.items()]
    for r in rows:
        print(r)
    result = {"name": name, "description": doc.strip().splitlines()[0], "command": command_string(),
              "date": time.strftime("%Y-%m-%d"), "device": device_string(threads), **extra, "rows": rows}
    return write_doc(result, out)


def kodak_step_encoder(image: str | os.PathLike) -> Any:
    """A `rec` encoder, fast preset, on one full-size Kodak image at 0.3 bpp (96 patches), ready to step:
    what the step-time benchmarks time."""
    from inrzip.backends.rec import encoder
    from inrzip.signal import Signal

    arr = np.asarray(Image.open(image).convert("RGB"))
    opts = encoder.parse_options({"effort": "fast", "device": "cpu"})
    return encoder.prepare(Signal(arr, "image", 8), 0.3 * arr.shape[0] * arr.shape[1], opts).enc


def rec_step_ms(enc: Any, steps: int, warmup: int, phase_share: float = 1.0) -> float:
    """Milliseconds per fast-preset step of `enc`, after `warmup` untimed steps."""
    from inrzip.backends.rec.encoder import EFFORT

    preset = EFFORT["fast"]
    for _ in range(warmup):
        enc.step(preset.beta_factor, preset.pixel_fraction, phase_share)
    t0 = time.perf_counter()
    for _ in range(steps):
        enc.step(preset.beta_factor, preset.pixel_fraction, phase_share)
    return (time.perf_counter() - t0) / steps * 1e3


REC_ROW_STATS = ("pack", "rate_met", "blocks", "blocks_per_level", "index_coding", "index_bits_mean", "finetune", "lr_end",
                 "finetune_tilt", "finetune_floor", "phase_share")


def rec_row_stats(stats: dict) -> dict:
    """The encoder stats every rec results row keeps (which pack, how many blocks, what an index cost)."""
    return {k: stats.get(k) for k in REC_ROW_STATS}


# --------------------------------------------------------------------------------------------
# Provenance
# --------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def device_string(threads: int | None = None) -> str:
    """``"cpu: <model>, <n> threads"``; ``threads`` defaults to $OMP_NUM_THREADS, else the CPUs this
    process may use."""
    if threads is None and os.environ.get("OMP_NUM_THREADS", "").isdigit():
        threads = int(os.environ["OMP_NUM_THREADS"])
    if threads is None:
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return f"cpu: {cpu_model()}, {threads} threads"


def command_string(argv: Sequence[str] | None = None) -> str:
    """The shell command that ran this script: ``python`` + ``sys.argv`` (shell-quoted), after the
    variables that change timings when they are set (the thread count, which also changes torch
    results by rounding, and the allocator opt-out of inrzip/allocator.py)."""
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OMP_NUM_THREADS", "INRZIP_MALLOC_TUNING") if k in os.environ)
    return (env + " " if env else "") + "python " + shlex.join(list(sys.argv if argv is None else argv))


def base_versions() -> dict[str, str]:
    import PIL

    return {"python": platform.python_version(), "numpy": np.__version__, "pillow": PIL.__version__}


# --------------------------------------------------------------------------------------------
# Results JSON
# --------------------------------------------------------------------------------------------

_ROUND = {"bpp": 6, "psnr": 4, "ms_ssim": 6, "encode_s": 5, "decode_s": 5}
_METRICS = ("bpp", "psnr", "ms_ssim", "encode_s", "decode_s")


def _clean(v: Any, ndigits: int | None = None) -> Any:
    """JSON-safe value: numpy scalars to Python, non-finite floats to ``None`` (strict JSON)."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float):
        if not math.isfinite(v):
            return None
        return round(v, ndigits) if ndigits is not None else v
    return v


def _clean_row(row: dict) -> dict:
    """A row or average as it is written: JSON-safe, metrics rounded (see ``_ROUND``)."""
    return {k: _clean(v, _ROUND.get(k)) for k, v in row.items()}


def write_doc(doc: dict, path: str | os.PathLike) -> Path:
    """Write a results document as strict JSON, through a temporary file renamed into place,
    so an interrupted run never leaves a truncated results file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def _mean(values: list) -> float | None:
    if any(v is None for v in values):
        return None
    return float(np.mean(values)) if values else None


def compute_averages(rows: Iterable[dict]) -> list[dict]:
    """Group rows by ``param`` (first-appearance order) and average every metric.

    A ``psnr`` of ``inf`` (bit-exact) averages to ``inf``; a missing/``None`` metric averages to
    ``None``. ``n`` is the number of rows in the group.
    """
    groups: dict[Any, list[dict]] = {}
    for r in rows:
        key = json.dumps(r["param"], sort_keys=True)  # hashable even for lists/dicts
        groups.setdefault(key, []).append(r)
    out = []
    for grp in groups.values():
        avg: dict[str, Any] = {"param": grp[0]["param"]}
        for m in _METRICS:
            avg[m] = _mean([r.get(m) for r in grp])
        if any("exact" in r for r in grp):
            avg["exact"] = all(bool(r.get("exact")) for r in grp)
        avg["n"] = len(grp)
        out.append(avg)
    return out


class ResultWriter:
    """Collect per-image rows for one codec on one dataset and write the results JSON.

    >>> w = ResultWriter("jpeg", "kodak", "Pillow JPEG q ladder", threads=1)
    >>> w.add("kodim01.png", 50, bpp=1.0, psnr=30.0, ms_ssim=0.97, encode_s=0.01, decode_s=0.005)
    >>> path = w.write()          # benchmarks/results/kodak/jpeg.json
    """

    def __init__(self, name: str, dataset: str, description: str, *, crop: int | None = None,
                 versions: dict[str, str] | None = None, threads: int | None = None,
                 device: str | None = None, command: str | None = None,
                 results_root: str | os.PathLike | None = None, extra: dict | None = None) -> None:
        self.name = name
        self.dataset = dataset
        self.description = description
        self.crop = crop
        self.versions = {**base_versions(), **(versions or {})}
        self.device = device or device_string(threads)
        self.command = command or command_string()
        self.results_root = Path(results_root) if results_root is not None else RESULTS_ROOT
        self.extra = dict(extra or {})
        self.date = _dt.date.today().isoformat()
        self.rows: list[dict] = []

    def add(self, image: str, param: Any, *, bpp: float, psnr: float, ms_ssim: float | None,
            encode_s: float, decode_s: float, **extra: Any) -> dict:
        """Append one row; extra keyword fields (e.g. ``bytes``, ``exact``) are kept in the row."""
        row = {"image": image, "param": param, "bpp": bpp, "psnr": psnr, "ms_ssim": ms_ssim,
               "encode_s": encode_s, "decode_s": decode_s, **extra}
        self.rows.append(row)
        return row

    def add_measurement(self, image: str, param: Any, m: dict) -> dict:
        """Append a row from a :func:`measure` result."""
        return self.add(image, param, **m)

    def averages(self) -> list[dict]:
        return compute_averages(self.rows)

    def to_dict(self) -> dict:
        doc = {
            "name": self.name,
            "description": self.description,
            "command": self.command,
            "dataset": self.dataset,
            "crop": self.crop,
            "device": self.device,
            "date": self.date,
            "versions": self.versions,
            **self.extra,
            "rows": [_clean_row(r) for r in self.rows],
            "averages": [_clean_row(a) for a in self.averages()],
        }
        return doc

    @property
    def path(self) -> Path:
        return self.results_root / self.dataset / f"{self.name}.json"

    def write(self, path: str | os.PathLike | None = None) -> Path:
        return write_doc(self.to_dict(), path if path is not None else self.path)


def read_results(dataset_dir: str | os.PathLike) -> list[dict]:
    """Every ``*.json`` results document in ``dataset_dir``, sorted by file name."""
    docs = []
    for p in sorted(Path(dataset_dir).glob("*.json")):
        doc = json.loads(p.read_text())
        if isinstance(doc, dict) and "averages" in doc:
            docs.append(doc)
    return docs


def merge_results(name: str, parts: Sequence[dict]) -> dict:
    """One results document from parts run in parallel (e.g. kodim01-06 and kodim07-12 on one
    thread each, to use both cores): rows concatenated in order, averages recomputed, the
    commands joined with ``;``. Parts must share dataset, crop and device, or the averages
    would mix unlike runs; an image coded in two parts at the same param is refused."""
    if not parts:
        raise ValueError("nothing to merge")
    first = parts[0]
    for doc in parts[1:]:
        for key in ("dataset", "crop", "device"):
            if doc.get(key) != first.get(key):
                raise ValueError(f"parts differ in {key}: {first.get(key)!r} vs {doc.get(key)!r}")
    rows = [r for doc in parts for r in doc["rows"]]
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = (r["image"], json.dumps(r["param"], sort_keys=True))
        if key in seen:
            raise ValueError(f"{r['image']} at {r['param']} is in more than one part")
        seen.add(key)
    return {**first, "name": name, "command": " ; ".join(doc["command"] for doc in parts),
            "rows": rows, "averages": [_clean_row(a) for a in compute_averages(rows)]}


# --------------------------------------------------------------------------------------------
# Plotting
# --------------------------------------------------------------------------------------------

def load_anchor_curves(names: Sequence[tuple[str, str]] = DEFAULT_ANCHORS,
                       path: str | os.PathLike = ANCHORS_JSON) -> list[tuple[str, list[float], list[float]]]:
    """``(label, bpp, psnr)`` for the named entries of kodak_rd_anchors.json; [] if the file is absent."""
    path = Path(path)
    if not path.is_file():
        print(f"[plot] anchors file {path} not found; plotting without anchors")
        return []
    anchors = {a["name"]: a for a in json.loads(path.read_text())["anchors"]}
    out = []
    for name, label in names:
        a = anchors.get(name)
        if a is None:
            print(f"[plot] anchor {name!r} not in {path.name}; skipped")
            continue
        out.append((label, list(a["bpp"]), list(a["psnr"])))
    return out


_ANCHOR_STYLES = ("--s", "-.D", ":^", "--v", ":x", "-.+")
_ANCHOR_GREYS = ("0.0", "0.3", "0.45", "0.6", "0.3", "0.5")


def plot_rd(dataset_dir: str | os.PathLike, anchors: bool | None = None, max_bpp: float = 4.0) -> Path:
    """Plot every codec's average curve in ``dataset_dir`` and save ``rd.png`` there.

    Lossy datasets: PSNR vs bpp over ``[0, max_bpp]`` (left) and a 0-1 bpp zoom (right), plus
    ``rd_msssim.png`` (MS-SSIM in dB, ``-10 log10(1 - ms_ssim)``). Published anchor curves from
    kodak_rd_anchors.json (24-image Kodak averages) are added for the full-size ``kodak``
    dataset only (``anchors=None``), dashed. Lossless datasets (every average bit-exact) get a
    bar chart of bpp instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset_dir = Path(dataset_dir)
    dataset = dataset_dir.name
    docs = read_results(dataset_dir)
    if not docs:
        raise FileNotFoundError(f"no results JSON in {dataset_dir}")
    out = dataset_dir / "rd.png"

    lossless = all(a.get("exact") for d in docs for a in d["averages"])
    if lossless:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        items = sorted(((d["name"], d["averages"][0]["bpp"]) for d in docs), key=lambda t: t[1])
        ax.barh([n for n, _ in items], [b for _, b in items], color="tab:blue")
        for i, (_, b) in enumerate(items):
            ax.text(b, i, f" {b:.3f}", va="center")
        ax.set_xlabel("bpp (lossless, bit-exact)")
        ax.set_xlim(0, max(b for _, b in items) * 1.2)
        ax.set_title(f"{dataset}: lossless bpp ({docs[0]['averages'][0]['n']} images)")
        fig.tight_layout()
        fig.savefig(out, dpi=120)
        plt.close(fig)
        return out

    if anchors is None:
        anchors = dataset == "kodak"
    anchor_curves = load_anchor_curves() if anchors else []

    def curves(metric: str):
        for d in docs:
            pts = sorted((a["bpp"], a[metric]) for a in d["averages"] if a.get(metric) is not None)
            if metric == "ms_ssim":
                pts = [(x, -10 * math.log10(max(1 - y, 1e-10))) for x, y in pts]
            # Sweeps over several knobs (width x rate) are not one curve: draw their RD envelope.
            envelope, best = [], -math.inf
            for x, y in pts:
                if y > best:
                    envelope.append((x, y))
                    best = y
            pts = envelope
            n = d["averages"][0]["n"] if d["averages"] else 0
            yield d["name"], pts, n

    n_imgs = max((a["n"] for d in docs for a in d["averages"]), default=0)
    crop = docs[0].get("crop")
    subtitle = f"{dataset} ({n_imgs} images{f', {crop}x{crop} centre crops' if crop else ''})"

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, xmax in zip(axes, (max_bpp, 1.0)):
        for name, pts, _ in curves("psnr"):
            lw = 2.4 if name.startswith("inrzip") else 1.5     # our own codec stands out
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, lw=lw, label=name)
        for k, (label, xb, yp) in enumerate(anchor_curves):
            # anchors in greys with their own dash/marker so they never share a codec's colour
            ax.plot(xb, yp, _ANCHOR_STYLES[k % len(_ANCHOR_STYLES)], color=_ANCHOR_GREYS[k % len(_ANCHOR_GREYS)],
                    lw=1.1, ms=4, label=f"{label} (Kodak-24, published)")
        ax.set_xlim(0, xmax)
        ys = [p[1] for _, pts, _ in curves("psnr") for p in pts if p[0] <= xmax]
        ys += [y for _, xb, yp in anchor_curves for x, y in zip(xb, yp) if x <= xmax]
        if ys:
            ax.set_ylim(max(20.0, math.floor(min(ys)) - 1), math.ceil(max(ys)) + 1)
        ax.set_xlabel("bpp")
        ax.set_ylabel("PSNR (dB, RGB)")
        ax.grid(True, alpha=0.3)
    axes[0].set_title(f"{subtitle}: PSNR vs bpp")
    axes[1].set_title("zoom 0-1 bpp")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 5))
    for name, pts, _ in curves("ms_ssim"):
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", ms=4, label=name)
    ax.set_xlim(0, max_bpp)
    ax.set_xlabel("bpp")
    ax.set_ylabel("MS-SSIM (dB) = -10 log10(1 - MS-SSIM)")
    ax.set_title(f"{subtitle}: MS-SSIM vs bpp")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(dataset_dir / "rd_msssim.png", dpi=120)
    plt.close(fig)
    return out


def summary_table(dataset_dir: str | os.PathLike, targets: Sequence[float] = (0.25, 0.5, 1.0, 2.0)) -> str:
    """Markdown table of PSNR at ``targets`` bpp (log-bpp interpolation) per codec, or lossless bpp."""
    docs = read_results(dataset_dir)
    lines = []
    if docs and all(a.get("exact") for d in docs for a in d["averages"]):
        lines.append("| codec | bpp | exact | enc s | dec s |")
        lines.append("|---|---|---|---|---|")
        for d in sorted(docs, key=lambda d: d["averages"][0]["bpp"]):
            a = d["averages"][0]
            lines.append(f"| {d['name']} | {a['bpp']:.3f} | {a['exact']} | {a['encode_s']:.3f} | {a['decode_s']:.3f} |")
        return "\n".join(lines)
    lines.append("| codec | " + " | ".join(f"{t:g} bpp" for t in targets) + " | bpp range | enc s | dec s |")
    lines.append("|---|" + "---|" * (len(targets) + 3))
    for d in docs:
        av = d["averages"]
        cells = []
        for t in targets:
            v = psnr_at_bpp(av, t)
            cells.append("–" if v is None else f"{v:.2f}")
        lo, hi = min(a["bpp"] for a in av), max(a["bpp"] for a in av)
        enc = np.mean([a["encode_s"] for a in av])
        dec = np.mean([a["decode_s"] for a in av])
        lines.append(f"| {d['name']} | " + " | ".join(cells) + f" | {lo:.3f}–{hi:.2f} | {enc:.3f} | {dec:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python benchmarks/common.py plot|table <dataset_dir>
    import argparse

    ap = argparse.ArgumentParser(description="Re-plot or tabulate a results folder.")
    ap.add_argument("action", choices=("plot", "table"))
    ap.add_argument("dataset_dir", nargs="+")
    ns = ap.parse_args()
    for dd in ns.dataset_dir:
        if ns.action == "plot":
            print(plot_rd(dd))
        else:
            print(f"## {Path(dd).name}\n{summary_table(dd)}\n")

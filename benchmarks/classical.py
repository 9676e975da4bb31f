"""Classical-codec rate-distortion baselines on an image folder (JPEG, WebP, AVIF, JPEG 2000, JPEG XL).

Usage (from the repository root):

    python benchmarks/classical.py --data ../shared/data/kodak --dataset kodak
    python benchmarks/classical.py --data ../shared/data/kodak --dataset kodak-crop256 --crop 256
    python benchmarks/classical.py --data ../shared/data/kodak --dataset kodak --lossless   # -> kodak-lossless/

Each codec encodes to bytes in memory, decodes, and is measured with benchmarks/common.py
(bpp from the byte count, RGB PSNR, MS-SSIM, encode/decode wall time). One JSON per codec goes
to benchmarks/results/<dataset>/<codec>.json, then rd.png is redrawn. How each codec is driven
follows shared/reference/anchors.md section C. Codecs default to one thread (``--threads``).
"""
from __future__ import annotations

import argparse
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image, features

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (benchmarks/ is not a package)


@dataclass
class Codec:
    name: str
    description: str
    params: list
    encode: Callable[[np.ndarray, Any], bytes]
    decode: Callable[[bytes], np.ndarray]
    available: Callable[[], str | None]          # None when usable, else the reason it is not
    versions: Callable[[], dict[str, str]] = field(default=lambda: {})


# ---------------------------------------------------------------------------- helpers

def _pil_save(arr: np.ndarray, fmt: str, **opts: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, fmt, **opts)
    return buf.getvalue()


def _pil_decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode != "RGB":
            im = im.convert("RGB")
        return np.asarray(im)


def _pil_feature(feature: str, label: str) -> Callable[[], str | None]:
    def check() -> str | None:
        return None if features.check(feature) else f"Pillow built without {label}"
    return check


def _pil_version(feature: str, key: str) -> Callable[[], dict[str, str]]:
    def v() -> dict[str, str]:
        return {key: str(features.version(feature))}
    return v


def _avif_versions() -> dict[str, str]:
    v = {"libavif": str(features.version("avif"))}
    try:
        from PIL import _avif
        v["avif_codecs"] = _avif.codec_versions()       # e.g. "dav1d [dec]:1.5.3, aom [enc]:3.14.1"
    except (ImportError, AttributeError):
        pass
    return v


def _imagecodecs_jxl_available() -> str | None:
    try:
        import imagecodecs
    except ImportError:
        return "imagecodecs is not installed (pip install imagecodecs)"
    if not getattr(imagecodecs, "JPEGXL", None) or not imagecodecs.JPEGXL.available:
        return "imagecodecs was built without JPEG XL"
    return None


def _jxl_versions() -> dict[str, str]:
    import imagecodecs

    return {"imagecodecs": imagecodecs.__version__, "libjxl": imagecodecs.jpegxl_version()}


# ---------------------------------------------------------------------------- codecs

def lossy_codecs(threads: int) -> dict[str, Codec]:
    def jxl_enc(arr: np.ndarray, d: float) -> bytes:
        import imagecodecs
        return bytes(imagecodecs.jpegxl_encode(arr, effort=7, distance=float(d), numthreads=threads))

    def jxl_dec(data: bytes) -> np.ndarray:
        import imagecodecs
        return imagecodecs.jpegxl_decode(data, numthreads=threads)

    return {
        "jpeg": Codec(
            "jpeg",
            "JPEG, Pillow (libjpeg-turbo), baseline, optimize=True, 4:2:0 chroma subsampling; param = quality",
            [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95],
            lambda a, q: _pil_save(a, "JPEG", quality=q, optimize=True, subsampling="4:2:0"),
            _pil_decode, _pil_feature("jpg", "JPEG"), _pil_version("libjpeg_turbo", "libjpeg-turbo"),
        ),
        "webp": Codec(
            "webp",
            "WebP lossy, Pillow (libwebp), method=6; param = quality",
            [0, 5, 10, 20, 30, 50, 70, 80, 90, 95, 100],
            lambda a, q: _pil_save(a, "WEBP", quality=q, method=6),
            _pil_decode, _pil_feature("webp", "WebP"), _pil_version("webp", "libwebp"),
        ),
        "avif": Codec(
            "avif",
            f"AVIF, Pillow built-in (libavif, aom encoder, dav1d decoder), speed=6, 4:4:4, "
            f"max_threads={threads}; param = quality",
            [10, 20, 30, 40, 50, 60, 70, 80, 88, 95],
            lambda a, q: _pil_save(a, "AVIF", quality=q, speed=6, subsampling="4:4:4", max_threads=threads),
            _pil_decode, _pil_feature("avif", "AVIF"), _avif_versions,
        ),
        "jpeg2000": Codec(
            "jpeg2000",
            "JPEG 2000, Pillow (OpenJPEG), irreversible 9/7, mct=1, raw codestream (no_jp2), "
            "native rate control quality_mode='rates', quality_layers=[24/param]; param = target bpp",
            [0.1, 0.15, 0.25, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0],
            lambda a, b: _pil_save(a, "JPEG2000", quality_mode="rates", quality_layers=[24.0 / b],
                                   irreversible=True, mct=1, no_jp2=True),
            _pil_decode, _pil_feature("jpg_2000", "JPEG 2000"), _pil_version("jpg_2000", "openjpeg"),
        ),
        "jpegxl": Codec(
            "jpegxl",
            f"JPEG XL, imagecodecs.jpegxl_encode (libjxl), effort=7, numthreads={threads}; "
            f"param = Butteraugli distance",
            [15.0, 12.0, 8.0, 6.0, 4.0, 3.0, 2.0, 1.5, 1.0, 0.6, 0.3],
            jxl_enc, jxl_dec, _imagecodecs_jxl_available, _jxl_versions,
        ),
    }


def lossless_codecs(threads: int) -> dict[str, Codec]:
    def jxl_enc(arr: np.ndarray, _: Any) -> bytes:
        import imagecodecs
        return bytes(imagecodecs.jpegxl_encode(arr, effort=7, lossless=True, numthreads=threads))

    def jxl_dec(data: bytes) -> np.ndarray:
        import imagecodecs
        return imagecodecs.jpegxl_decode(data, numthreads=threads)

    return {
        "png": Codec(
            "png", "PNG, Pillow (zlib), optimize=True (compress_level 9)", ["lossless"],
            lambda a, _: _pil_save(a, "PNG", optimize=True),
            _pil_decode, _pil_feature("zlib", "zlib"), _pil_version("zlib", "zlib"),
        ),
        "webp": Codec(
            "webp", "WebP lossless, Pillow (libwebp), lossless=True, quality=100, method=6, exact=True",
            ["lossless"],
            lambda a, _: _pil_save(a, "WEBP", lossless=True, quality=100, method=6, exact=True),
            _pil_decode, _pil_feature("webp", "WebP"), _pil_version("webp", "libwebp"),
        ),
        "jpeg2000": Codec(
            "jpeg2000", "JPEG 2000 reversible 5/3, Pillow (OpenJPEG), mct=1, raw codestream (no_jp2)",
            ["lossless"],
            lambda a, _: _pil_save(a, "JPEG2000", irreversible=False, mct=1, no_jp2=True),
            _pil_decode, _pil_feature("jpg_2000", "JPEG 2000"), _pil_version("jpg_2000", "openjpeg"),
        ),
        "jpegxl": Codec(
            "jpegxl", f"JPEG XL lossless, imagecodecs.jpegxl_encode (libjxl), effort=7, numthreads={threads}",
            ["lossless"], jxl_enc, jxl_dec, _imagecodecs_jxl_available, _jxl_versions,
        ),
    }


# ---------------------------------------------------------------------------- driver

def run_codec(codec: Codec, images: list[tuple[str, np.ndarray]], writer: common.ResultWriter,
              lossless: bool) -> None:
    # One untimed warm-up encode/decode so library initialisation is not billed to the first row.
    codec.decode(codec.encode(images[0][1], codec.params[len(codec.params) // 2]))
    for p in codec.params:
        t0 = time.perf_counter()
        for name, arr in images:
            m = common.measure(arr, lambda a: codec.encode(a, p), codec.decode)
            if lossless and not m["exact"]:
                print(f"  !! {codec.name} {name}: lossless round trip is NOT bit-exact "
                      f"(PSNR {m['psnr']:.2f} dB)")
            writer.add_measurement(name, p, m)
        avg = [a for a in writer.averages() if a["param"] == p][0]
        ms = f"{avg['ms_ssim']:.4f}" if avg["ms_ssim"] is not None else "-"
        ps = f"{avg['psnr']:.2f}" if avg["psnr"] is not None and np.isfinite(avg["psnr"]) else "inf"
        print(f"  {codec.name:9s} param={p!s:8s} bpp={avg['bpp']:.4f} psnr={ps} ms_ssim={ms} "
              f"enc={avg['encode_s']:.3f}s dec={avg['decode_s']:.3f}s  ({time.perf_counter() - t0:.1f}s)",
              flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder of 8-bit RGB images")
    ap.add_argument("--dataset", required=True, help="dataset name: results go to results/<dataset>[-lossless]/")
    ap.add_argument("--crop", type=int, default=None, help="centre NxN crop of every image (e.g. 256)")
    ap.add_argument("--codecs", default=None,
                    help="comma list; lossy: jpeg,webp,avif,jpeg2000,jpegxl; lossless: png,webp,jpeg2000,jpegxl")
    ap.add_argument("--lossless", action="store_true", help="lossless modes, bit-exact check")
    ap.add_argument("--threads", type=int, default=1, help="codec threads where the codec exposes it (default 1)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N images (quick checks)")
    ap.add_argument("--results", default=str(common.RESULTS_ROOT), help="results root (default benchmarks/results)")
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    # Pillow's AVIF decoder takes its thread count from this module-level default.
    try:
        from PIL import AvifImagePlugin
        AvifImagePlugin.DEFAULT_MAX_THREADS = args.threads
    except ImportError:
        pass

    codecs = lossless_codecs(args.threads) if args.lossless else lossy_codecs(args.threads)
    names = list(codecs) if args.codecs is None else [c.strip() for c in args.codecs.split(",") if c.strip()]
    unknown = [n for n in names if n not in codecs]
    if unknown:
        ap.error(f"unknown codec(s) {unknown}; choose from {list(codecs)}")

    images = common.load_images(args.data, crop=args.crop)
    if args.limit:
        images = images[: args.limit]
    dataset = args.dataset + ("-lossless" if args.lossless and not args.dataset.endswith("-lossless") else "")
    print(f"{len(images)} images from {args.data} (crop={args.crop}) -> {Path(args.results) / dataset}")

    command = common.command_string()
    t_all = time.perf_counter()
    for n in names:
        codec = codecs[n]
        reason = codec.available()
        if reason:
            print(f"skip {n}: {reason}")
            continue
        writer = common.ResultWriter(
            codec.name, dataset, codec.description, crop=args.crop, versions=codec.versions(),
            threads=args.threads, command=command, results_root=args.results,
            extra={"mode": "lossless" if args.lossless else "lossy"},
        )
        t0 = time.perf_counter()
        try:
            run_codec(codec, images, writer, args.lossless)
        except Exception as exc:  # a broken codec build should not kill the other baselines
            print(f"skip {n}: failed with {type(exc).__name__}: {exc}")
            continue
        path = writer.write()
        print(f"wrote {path} ({time.perf_counter() - t0:.1f}s)")
    print(f"total {time.perf_counter() - t_all:.1f}s")

    if not args.no_plot:
        out_dir = Path(args.results) / dataset
        if any(out_dir.glob("*.json")):
            print(f"plot {common.plot_rd(out_dir)}")
            print(common.summary_table(out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())

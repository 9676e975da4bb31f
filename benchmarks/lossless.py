"""Lossless benchmark: inrzip `lossless` against classical lossless codecs, in the same run.

Every inrzip row is a real .inrz file (size on disk, header included), decoded again in this
process with the numpy decoder and checked bit for bit. Classical codecs are run on the same
items in the same invocation:
  images (8-bit):  PNG optimize, WebP lossless m6, JPEG 2000 reversible (mct=1), JPEG XL e7
  images (16-bit): 16-bit PNG (pypng, zlib 9), JPEG XL lossless e7
  audio (16-bit):  FLAC (libsndfile via soundfile, default compression)

    python benchmarks/lossless.py --kind kodak --data ../shared/data/kodak --dataset kodak-lossless
    python benchmarks/lossless.py --kind hbd   --data ../shared/data/hbd   --dataset hbd-lossless
    python benchmarks/lossless.py --kind audio --data ../shared/data/audio --dataset audio-lossless
    python benchmarks/lossless.py --kind kodak ... --opts mode=paper --name inrzip-lossless-paper --images kodim03.png
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import classical  # noqa: E402
import common  # noqa: E402

import inrzip  # noqa: E402
from inrzip.media import read_signal  # noqa: E402

# The audio README names these clips as lossless sources (the others went through Vorbis).
LOSSLESS_AUDIO = (
    "speech_librispeech_2412-153948-0000_16k.wav", "speech_librispeech_2412-153948-0001_16k.wav",
    "speech_ami_ES2011a_headset_16k.wav", "speech_ljspeech_LJ001-0001_22k.wav",
    "speech_ljspeech_LJ001-0003_22k.wav", "speech_ljspeech_LJ001-0005_22k.wav",
    "speech_ljspeech_LJ001-0007_22k.wav", "music_tinysol_flute_C4_44k.wav",
    "music_tinysol_contrabass_A2_44k.wav", "music_tabla_binati_16k.wav",
)


def items(kind: str, folder: Path, names: list[str] | None) -> list[tuple[str, inrzip.Signal]]:
    if kind == "audio":
        files = [folder / n for n in LOSSLESS_AUDIO]
    else:
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() == ".png")
    if names:
        files = [f for f in files if f.name in names]
    return [(f.name, read_signal(f)) for f in files]


def unit_count(sig: inrzip.Signal) -> int:
    """Pixels (bpp) or samples over all channels (bits per sample)."""
    return sig.num_points if sig.modality == "image" else sig.num_points * sig.channels


def measure_inrzip(sig: inrzip.Signal, opts: dict, tmp: Path) -> dict:
    path = tmp / "x.inrz"
    t0 = time.perf_counter()
    report = inrzip.encode(sig, path, backend="lossless", options=opts, force=True)
    encode_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = inrzip.decode(path).signal.data
    decode_s = time.perf_counter() - t0
    size = path.stat().st_size
    exact = bool(np.array_equal(out, sig.data))
    return {"bpp": 8 * size / unit_count(sig), "psnr": None, "ms_ssim": None, "encode_s": encode_s,
            "decode_s": decode_s, "bytes": size, "exact": exact,
            "decode_msamples_per_s": sig.data.size / decode_s / 1e6,
            "model_bytes": report.stats["model_bytes"], "widths_tried": report.stats["widths_tried"]}


def classical_16bit(arr: np.ndarray) -> dict[str, tuple]:
    import imagecodecs
    import png

    def png16(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        png.Writer(a.shape[1], a.shape[0], greyscale=a.shape[2] == 1, bitdepth=16, compression=9).write(
            buf, a.reshape(a.shape[0], -1).tolist())
        return buf.getvalue()

    def png16_dec(data: bytes) -> np.ndarray:
        w, h, rows, info = png.Reader(bytes=data).asDirect()
        return np.array(list(rows), dtype=np.uint16).reshape(h, w, info["planes"])

    return {
        "png16": ("16-bit PNG, pypng, compression=9", png16, png16_dec),
        "jpegxl": ("JPEG XL lossless, imagecodecs (libjxl), effort=7",
                   lambda a: bytes(imagecodecs.jpegxl_encode(a, effort=7, lossless=True)),
                   lambda d: imagecodecs.jpegxl_decode(d)),
    }


def flac_codec() -> dict[str, tuple]:
    def enc(sig: inrzip.Signal) -> bytes:
        buf = io.BytesIO()
        soundfile.write(buf, sig.data, sig.sample_rate, format="FLAC", subtype="PCM_16")
        return buf.getvalue()

    def dec(data: bytes) -> np.ndarray:
        out, _ = soundfile.read(io.BytesIO(data), dtype="int16", always_2d=True)
        return out

    return {"flac": (f"FLAC, soundfile {soundfile.__version__} (libsndfile), default level", enc, dec)}


def run_classical(kind: str, dataset: str, data: list[tuple[str, inrzip.Signal]], threads: int) -> None:
    if kind == "kodak":
        images = [(n, s.data) for n, s in data]
        for name in ("png", "webp", "jpeg2000", "jpegxl"):
            codec = classical.lossless_codecs(threads)[name]
            writer = common.ResultWriter(codec.name, dataset, codec.description, versions=codec.versions(),
                                         threads=threads, extra={"mode": "lossless"})
            classical.run_codec(codec, images, writer, lossless=True)
            writer.write()
        return
    codecs = classical_16bit(data[0][1].data) if kind == "hbd" else flac_codec()
    for name, (description, enc, dec) in codecs.items():
        writer = common.ResultWriter(name, dataset, description, threads=threads, extra={"mode": "lossless"})
        for item, sig in data:
            source = sig if kind == "audio" else sig.data
            t0 = time.perf_counter()
            blob = enc(source)
            t1 = time.perf_counter()
            back = dec(blob)
            t2 = time.perf_counter()
            writer.add(item, "lossless", bpp=8 * len(blob) / unit_count(sig), psnr=None, ms_ssim=None,
                       encode_s=t1 - t0, decode_s=t2 - t1, bytes=len(blob),
                       exact=bool(np.array_equal(np.asarray(back).reshape(sig.data.shape), sig.data)))
            print(f"  {name:8s} {item}: {writer.rows[-1]['bpp']:.4f}", flush=True)
        writer.write()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kind", choices=("kodak", "hbd", "audio"), required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--name", default="inrzip-lossless")
    ap.add_argument("--opts", default="", help="comma list of backend options key=value")
    ap.add_argument("--images", default=None, help="comma list of file names (default: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-classical", action="store_true")
    ap.add_argument("--append", action="store_true",
                    help="keep the existing JSON's rows for items not run now (re-run a few items)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    opts = dict(kv.split("=", 1) for kv in args.opts.split(",") if kv)
    opts.setdefault("device", "cpu")
    data = items(args.kind, Path(args.data), args.images.split(",") if args.images else None)
    if not args.no_classical:
        run_classical(args.kind, args.dataset, data, args.threads)
    unit = "bpp" if args.kind != "audio" else "bits/sample"
    writer = common.ResultWriter(
        args.name, args.dataset, f"inrzip lossless backend, options {opts}; rate in {unit} from file bytes",
        threads=args.threads, extra={"mode": "lossless", "options": opts, "unit": unit})
    if args.append and writer.path.exists():
        done = {name for name, _ in data}
        writer.rows = [r for r in json.loads(writer.path.read_text())["rows"] if r["image"] not in done]
    with tempfile.TemporaryDirectory() as tmp:
        for name, sig in data:
            row = measure_inrzip(sig, opts, Path(tmp))
            writer.add(name, "lossless", **row)
            writer.write()          # after every item, so a long run keeps what it measured
            print(f"  inrzip   {name}: {row['bpp']:.4f} {unit}  exact={row['exact']}  enc {row['encode_s']:.0f}s "
                  f"dec {row['decode_s']:.1f}s", flush=True)


if __name__ == "__main__":
    main()

"""RD sweep of the sinr backend against its own plain baseline, from real .inrz files.

One SIREN fit per (image, width) is coded three ways, so the comparison isolates the coding:
  inrzip-sinr          sparse codes over the seeded dictionary (rate search at budgets set to
                       fractions of the plain-16 file size)
  inrzip-sinr-plain16  the baseline the SINR paper improves on: 16-bit weights + Brotli
  inrzip-sinr-plainq   the same plain coder with fewer value bits (a stronger baseline)
Every point is a real file written to disk; bpp is its size; PSNR/MS-SSIM come from decoding
that file with the numpy decoder (inrzip.api.decode).

    python benchmarks/rd_inrzip.py --data ../shared/data/kodak --dataset kodak-crop256 --crop 256
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from inrzip import api, container  # noqa: E402
from inrzip.backends.sinr import encoder as sinr  # noqa: E402
from inrzip.backends.sinr import format as fmt  # noqa: E402
from inrzip.signal import Signal  # noqa: E402


def write_and_measure(tmp: Path, name: str, header: container.Header, coded, original: np.ndarray,
                      fit_s: float, code_s: float) -> dict:
    data = container.build(replace(header, params=coded.params.to_bytes()), [(fmt.NET_CHUNK, coded.payload)])
    path = tmp / f"{name}.inrz"
    path.write_bytes(data)
    size = path.stat().st_size
    t0 = time.perf_counter()
    rec = api.decode(path).signal.data
    decode_s = time.perf_counter() - t0
    return dict(bpp=common.bpp(size, original.shape), psnr=common.psnr(original, rec),
                ms_ssim=common.ms_ssim(original, rec), encode_s=fit_s + code_s,
                decode_s=decode_s, bytes=size, fit_s=round(fit_s, 2), code_s=round(code_s, 2),
                **{k: v for k, v in coded.stats.items() if k in ("value_bits", "atoms_per_vector")})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--crop", type=int, default=None)
    ap.add_argument("--widths", default="32,48,64")
    ap.add_argument("--hidden-layers", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--ratios", default="0.55,0.7,0.85", help="sparse budgets as fractions of plain-16 size")
    ap.add_argument("--plain-bits", default="8,10,12")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--images", default=None, help="comma-separated file names to keep (default all)")
    args = ap.parse_args()

    widths = [int(w) for w in args.widths.split(",")]
    ratios = [float(r) for r in args.ratios.split(",")]
    plain_bits = [int(q) for q in args.plain_bits.split(",")]
    images = common.load_images(args.data, crop=args.crop)
    if args.images:
        images = [(n, a) for n, a in images if n in args.images.split(",")]
    images = images[: args.limit]
    device = common.device_string(torch.get_num_threads())
    versions = {"inrzip": "0.1.0", "torch": torch.__version__}
    desc = (f"SIREN {args.hidden_layers} hidden layers x width {widths}, {args.steps} Adam steps "
            f"(lr 1e-3, cosine), one fit per (image, width) shared by the three coders")
    writers = {
        "sparse": common.ResultWriter("inrzip-sinr", args.dataset, "sinr sparse codes, " + desc,
                                      crop=args.crop, device=device, versions=versions),
        "plain16": common.ResultWriter("inrzip-sinr-plain16", args.dataset, "plain 16-bit + Brotli, " + desc,
                                       crop=args.crop, device=device, versions=versions),
        "plainq": common.ResultWriter("inrzip-sinr-plainq", args.dataset, "plain q-bit + Brotli, " + desc,
                                      crop=args.crop, device=device, versions=versions),
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for name, arr in images:
            signal = Signal(arr, "image", 8)
            header = sinr.base_header(signal)
            for width in widths:
                opts = sinr.SinrOptions(width=width, hidden_layers=args.hidden_layers, steps=args.steps)
                t0 = time.perf_counter()
                fitted = sinr.fit_network(signal, width, opts)
                fit_s = time.perf_counter() - t0
                t0 = time.perf_counter()
                plain16 = sinr.search(fitted, replace(opts, mode="plain", value_bits=16), header, None)
                row = write_and_measure(tmp, "p16", header, plain16, arr, fit_s, time.perf_counter() - t0)
                writers["plain16"].add(name, f"w{width}", **row)
                print(f"{name} w{width} fit {fit_s:.0f}s {fitted.fit_psnr:.2f} dB | plain16 "
                      f"{row['bpp']:.3f} bpp {row['psnr']:.2f} dB", flush=True)
                for q in plain_bits:
                    t0 = time.perf_counter()
                    coded = sinr.search(fitted, replace(opts, mode="plain", value_bits=q), header, None)
                    row = write_and_measure(tmp, "pq", header, coded, arr, fit_s, time.perf_counter() - t0)
                    writers["plainq"].add(name, f"w{width}-q{q}", **row)
                    print(f"   plain q{q} {row['bpp']:.3f} bpp {row['psnr']:.2f} dB", flush=True)
                for ratio in ratios:
                    t0 = time.perf_counter()
                    coded = sinr.search(fitted, opts, header, ratio * plain16.stats["bytes"])
                    row = write_and_measure(tmp, "sp", header, coded, arr, fit_s, time.perf_counter() - t0)
                    writers["sparse"].add(name, f"w{width}-r{ratio}", **row)
                    print(f"   sparse r{ratio} q{row.get('value_bits')} s{row.get('atoms_per_vector')} "
                          f"{row['bpp']:.3f} bpp {row['psnr']:.2f} dB", flush=True)
            for w in writers.values():
                w.write()   # after every image, so a cut-off run still leaves results
    for w in writers.values():
        print("wrote", w.write())
    common.plot_rd(common.RESULTS_ROOT / args.dataset)


if __name__ == "__main__":
    main()

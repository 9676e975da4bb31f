"""Benchmarks of the croppable backend (Local-Global SIREN). Every file is real; bpp is its size.

    rd        RD points on full-size Kodak images (no downscale) -> results/kodak/croppable.json;
              keeps one file per image for `crop`.
    crop      256x256 crop decode of a Kodak-size file vs the full decode (bytes read, time), and
              `inrzip crop` output size vs global + kept/all x local -> results/kodak/croppable-crop.json
    equal     equal-parameter comparison with a plain SIREN fitted for the same steps (256x256
              centre crops, as the paper compares at ~equal parameter count)
              -> results/kodak-crop256/croppable-vs-siren.json

    python benchmarks/croppable.py rd --data ../shared/data/kodak --images kodim03.png --rates 1,2,3
    python benchmarks/croppable.py crop --file /tmp/croppable-bench/kodim03-2bpp.inrz
    python benchmarks/croppable.py equal --data ../shared/data/kodak --images kodim03.png --steps 300

Run with one torch thread (the machine is shared); device strings say so.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

from inrzip import api, container  # noqa: E402
from inrzip.backends.croppable import encoder as enc  # noqa: E402
from inrzip.backends.croppable import format as fmt  # noqa: E402
from inrzip.backends.croppable import partition as part  # noqa: E402
from inrzip.fit.siren import FitConfig, Siren, fit, mse_to_psnr  # noqa: E402
from inrzip.signal import Signal  # noqa: E402

KEEP = Path("/tmp/croppable-bench")


def select(images: list, names: str | None) -> list:
    return [(n, a) for n, a in images if not names or n in names.split(",")]


def cmd_rd(args: argparse.Namespace) -> None:
    images = select(common.load_images(args.data), args.images)
    device = common.device_string(torch.get_num_threads())
    w = common.ResultWriter("croppable", args.dataset,
                            f"croppable (Local-Global SIREN), effort {args.effort}, auto partitions 32x32, "
                            "rate control to -b; full-size images, no downscale", device=device)
    KEEP.mkdir(exist_ok=True)
    for name, arr in images:
        for rate in args.rates.split(","):
            path = KEEP / f"{Path(name).stem}-{rate}bpp.inrz"
            t0 = time.perf_counter()
            rep = api.encode(Signal(arr, "image", 8), path, rate=f"{rate}bpp", backend="croppable",
                             options={"effort": args.effort, "device": "cpu"}, force=True)
            enc_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = api.decode(path).signal.data
            dec_s = time.perf_counter() - t0
            size = path.stat().st_size
            st = rep.stats
            w.add(name, f"{rate}bpp", bpp=common.bpp(size, arr.shape), psnr=common.psnr(arr, out),
                  ms_ssim=common.ms_ssim(arr, out), encode_s=enc_s, decode_s=dec_s, bytes=size,
                  params=st["params"], local_width=st["local_width"], global_width=st["global_width"],
                  fit_psnr=st["fit_psnr"], delta=st["delta"], refits=st["refits"])
            print(f"{name} {rate}bpp: {size} B {common.bpp(size, arr.shape):.3f} bpp "
                  f"{common.psnr(arr, out):.2f} dB (fit {st['fit_psnr']:.2f}) l{st['local_width']} "
                  f"g{st['global_width']} refits {st['refits']} enc {enc_s:.0f}s dec {dec_s:.2f}s", flush=True)
            w.write()
    print("wrote", w.write())


def cmd_crop(args: argparse.Namespace) -> None:
    path = Path(args.file)
    reader = container.Reader.open(path)
    p = fmt.params_of(reader.header)
    sizes = [c.length for c in reader.chunks]
    reader.close()
    full_t = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        full = api.decode(path)
        full_t.append(time.perf_counter() - t0)
    rows = []
    for region in args.regions.split(";"):
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            cropped = api.decode(path, crop=region)
            times.append(time.perf_counter() - t0)
        spans = [tuple(int(v) for v in r.split(":")) for r in region.split(",")]
        same = np.array_equal(cropped.signal.data, full.signal.data[tuple(slice(a, b) for a, b in spans)])
        t0 = time.perf_counter()
        cut = api.crop(path, None, region=region)
        cut_s = time.perf_counter() - t0
        kept = math.prod(-(-b // s) - a // s for (a, b), s in zip(spans, p.part))
        predicted = reader.preamble_size + sizes[0] + sum(sizes[1:]) * kept / p.kept
        cut_same = np.array_equal(api.decode(cut.data).signal.data, cropped.signal.data)
        rows.append({"region": region, "bytes_read": cropped.bytes_read, "file_bytes": cropped.file_bytes,
                     "bytes_fraction": round(cropped.bytes_read / cropped.file_bytes, 4),
                     "decode_s": round(min(times), 4), "full_decode_s": round(min(full_t), 4),
                     "time_fraction": round(min(times) / min(full_t), 4), "identical_to_full": bool(same),
                     "partitions_kept": kept, "partitions": p.kept,
                     "crop_file_bytes": cut.bytes, "crop_predicted_bytes": round(predicted),
                     "crop_vs_predicted": round(cut.bytes / predicted, 4), "crop_s": round(cut_s, 4),
                     "crop_file_decode_identical": bool(cut_same)})
        print(json.dumps(rows[-1]), flush=True)
    doc = {"name": "croppable-crop", "command": common.command_string(), "file": path.name,
           "device": common.device_string(1), "date": time.strftime("%Y-%m-%d"),
           "global_chunk_bytes": sizes[0], "partition_chunk_bytes": sum(sizes[1:]),
           "header_bytes": reader.preamble_size, "repeat": args.repeat, "rows": rows}
    out = common.RESULTS_ROOT / args.dataset / "croppable-crop.json"
    common.write_doc(doc, out)
    print("wrote", out)


def cmd_equal(args: argparse.Namespace) -> None:
    images = select(common.load_images(args.data, crop=256), args.images)
    rows = []
    for name, arr in images:
        sig = Signal(arr, "image", 8)
        sizes = part.partition_sizes(sig.spatial_shape, "image")
        grid = enc.Grid(sizes, tuple(-(-n // s) for n, s in zip(sig.spatial_shape, sizes)))
        target = Siren.num_params(2, args.width, 3, 3)
        l, g = part.auto_widths(target, grid.partitions, 2, 3, 3)
        row = {"image": name, "steps": args.steps, "siren_width": args.width, "siren_params": target}
        for lr in args.lrs.split(","):
            opts = enc.parse_options({"steps": args.steps, "lr": float(lr), "batch": 1.0, "device": "cpu",
                                      "weighting": False})
            t0 = time.perf_counter()
            fitted = enc.fit_network(sig, grid, (l, g), opts, lambda *a, **k: None)
            row[f"lgs_lr{lr}"] = round(fitted.fit_psnr, 3)
            row[f"lgs_lr{lr}_s"] = round(time.perf_counter() - t0, 1)
            row["lgs_params"], row["lgs_widths"] = fitted.n_params, [l, g]
            torch.manual_seed(0)
            net = Siren(2, args.width, 3, 3, 30.0, 30.0)
            coords = torch.from_numpy(np.ascontiguousarray(
                enc.partition_tensors(sig, enc.Grid((256, 256), (1, 1)))[0][0]))
            targets = torch.from_numpy(sig.to_unit().reshape(-1, 3))
            t0 = time.perf_counter()
            mse = fit(net, coords, targets, FitConfig(steps=args.steps, lr=float(lr), batch_points=1 << 17))
            row[f"siren_lr{lr}"] = round(mse_to_psnr(mse), 3)
            row[f"siren_lr{lr}_s"] = round(time.perf_counter() - t0, 1)
            print(json.dumps(row), flush=True)
        lgs = max(v for k, v in row.items() if k.startswith("lgs_lr") and not k.endswith("_s"))
        siren = max(v for k, v in row.items() if k.startswith("siren_lr") and not k.endswith("_s"))
        row.update(lgs_best=lgs, siren_best=siren, gain_db=round(lgs - siren, 3))
        rows.append(row)
        _write_equal(args, rows)


def _write_equal(args: argparse.Namespace, rows: list[dict]) -> None:
    doc = {"name": "croppable-vs-siren", "command": common.command_string(),
           "description": "fit PSNR (float weights, no quantisation) of a Local-Global SIREN (auto "
                          "partitions 32x32, 64 partitions) vs a plain SIREN 3x{w} at ~equal parameter "
                          "count, same steps, both Adam + cosine decay, full batch; best of the listed "
                          "learning rates for each; 256x256 centre crops of Kodak".format(w=args.width),
           "device": common.device_string(1), "date": time.strftime("%Y-%m-%d"), "rows": rows,
           "mean_gain_db": round(float(np.mean([r["gain_db"] for r in rows])), 3)}
    out = common.RESULTS_ROOT / "kodak-crop256" / "croppable-vs-siren.json"
    common.write_doc(doc, out)
    print("wrote", out, doc["mean_gain_db"], flush=True)


def main() -> None:
    torch.set_num_threads(1)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    rd = sub.add_parser("rd")
    rd.add_argument("--data", required=True)
    rd.add_argument("--dataset", default="kodak")
    rd.add_argument("--images", default=None)
    rd.add_argument("--rates", default="1,2,3")
    rd.add_argument("--effort", default="fast")
    cr = sub.add_parser("crop")
    cr.add_argument("--file", required=True)
    cr.add_argument("--dataset", default="kodak")
    cr.add_argument("--regions", default="0:256,0:256;128:384,200:456;64:448,128:640")
    cr.add_argument("--repeat", type=int, default=3)
    eq = sub.add_parser("equal")
    eq.add_argument("--data", required=True)
    eq.add_argument("--images", default=None)
    eq.add_argument("--steps", type=int, default=300)
    eq.add_argument("--width", type=int, default=128)
    eq.add_argument("--lrs", default="1e-3,2e-3")
    args = ap.parse_args()
    {"rd": cmd_rd, "crop": cmd_crop, "equal": cmd_equal}[args.cmd](args)


if __name__ == "__main__":
    main()

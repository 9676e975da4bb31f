"""RD of the rec backend (RECOMBINER) on Kodak, from real .inrz files, beside the paper's table.

Every point is a file written to disk and decoded again by `inrzip decode` in a fresh process
(the decode wall time reported is that command's, imports included, plus the in-process decode
time); bpp is the file size, header included.

    python benchmarks/rec.py --data ../shared/data/kodak --rates 0.1,0.3,0.5,1.0 --effort fast
    python benchmarks/rec.py --data ../shared/data/kodak --images kodim03.png --rates 0.3 --effort normal
    INRZIP_PACK_PATH=DIR python benchmarks/rec.py --data ../shared/data/kodak --crop 256 --images kodim05.png \
        --rates 0.3,1.0 --opts pack=DIR/p.safetensors --dataset kodak-crop256-rec-packs --name p   # compare packs
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from inrzip import api
from inrzip.signal import Signal

# He et al., ICLR 2024, appendix G ("Kodak"): bpp and PSNR of RECOMBINER
PAPER_RATE = [0.074, 0.130, 0.178, 0.316, 0.488, 0.972, 1.567, 3.320]
PAPER_PSNR = [26.158, 27.653, 28.594, 30.439, 31.953, 34.540, 36.547, 40.426]


def paper_psnr(bpp: float) -> float:
    """The paper's curve at `bpp` (linear in log-rate between its points)."""
    return float(np.interp(np.log(bpp), np.log(PAPER_RATE), PAPER_PSNR))


def cli_decode_seconds(path: Path, out: Path, pack: str | None = None) -> float:
    """Wall time of `inrzip decode` in a fresh process; a pack named by `--opts pack=FILE` is put on
    that process's $INRZIP_PACK_PATH, as a user decoding the file would have to."""
    inrzip = Path(sys.executable).with_name("inrzip")
    env = dict(os.environ)
    if pack:
        env["INRZIP_PACK_PATH"] = os.pathsep.join(filter(None, [str(Path(pack).resolve().parent),
                                                                env.get("INRZIP_PACK_PATH", "")]))
    t0 = time.perf_counter()
    subprocess.run([str(inrzip), "decode", str(path), "-o", str(out), "--force", "-q"], check=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--dataset", default="kodak")
    ap.add_argument("--rates", default="0.1,0.3,0.5,1.0")
    ap.add_argument("--images", default=None, help="comma-separated file names (default: all)")
    ap.add_argument("--crop", type=int, default=None, help="code the centre N x N of each image (quick comparisons)")
    common.add_rec_arguments(ap)
    ap.add_argument("--append", action="store_true",
                    help="resume: keep rows already in the results file and encode only the missing ones")
    args = ap.parse_args()
    if not Path(args.data).is_dir():
        sys.exit(f"skip: {args.data} not found (the Kodak images live in ../shared/data/kodak)")
    images = common.load_images(args.data, crop=args.crop)
    if args.images:
        keep = set(args.images.split(","))
        images = [(n, a) for n, a in images if n in keep]
    options = common.rec_options(args)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    name = args.name or f"inrzip-rec-{args.effort}"
    w = common.ResultWriter(name, args.dataset, f"inrzip rec backend (RECOMBINER), effort {args.effort}, "
                            f"options {options}; bpp from file bytes; decode = numpy decoder",
                            crop=args.crop,
                            device=common.device_string(torch.get_num_threads()) if dev == "cpu" else dev)
    done: set[tuple[str, str]] = set()
    if args.append and w.path.exists():
        w.rows = json.loads(w.path.read_text())["rows"]
        done = {(r["image"], r["param"]) for r in w.rows}
    tmp = Path(tempfile.mkdtemp(prefix="rec-bench-"))
    for img, arr in images:
        for rate in args.rates.split(","):
            if (img, f"{rate}bpp") in done:
                continue
            path = tmp / f"{Path(img).stem}-{rate}.inrz"
            t0 = time.perf_counter()
            rep = api.encode(Signal(arr, "image", 8), path, rate=f"{rate}bpp", backend="rec", options=options, force=True)
            enc_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            out = api.decode(path).signal.data
            dec_s = time.perf_counter() - t0
            cli_s = cli_decode_seconds(path, tmp / "out.png", options.get("pack"))
            size = path.stat().st_size
            bpp = common.bpp(size, arr.shape)
            psnr = common.psnr(arr, out)
            st = rep.stats
            w.add(img, f"{rate}bpp", bpp=bpp, psnr=psnr, ms_ssim=common.ms_ssim(arr, out), encode_s=enc_s,
                  decode_s=dec_s, cli_decode_s=cli_s, bytes=size, paper_psnr=paper_psnr(bpp),
                  gap_db=psnr - paper_psnr(bpp), pack_rate_bpp=st["pack_rate_bpp"], fit_steps=st["fit_steps"],
                  finetune_steps=st["finetune_steps"], **common.rec_row_stats(st))
            print(f"{img} {rate}bpp: {size} B {bpp:.4f} bpp {psnr:.2f} dB (paper {paper_psnr(bpp):.2f}) "
                  f"enc {enc_s:.0f}s dec {dec_s:.2f}s cli {cli_s:.2f}s", flush=True)
            w.write()
    print("wrote", w.write())


if __name__ == "__main__":
    main()

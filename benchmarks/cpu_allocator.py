"""Time of one CPU fitting step with glibc's allocator defaults and with inrzip's settings
(inrzip/allocator.py, applied when a fit picks the CPU; INRZIP_MALLOC_TUNING=0 turns them off).
The setting is per process, so every measurement runs in a fresh process, the two alternating.

    python benchmarks/cpu_allocator.py --kodak ../shared/data/kodak --train ../shared/data/train-images
    python benchmarks/cpu_allocator.py --decode FILE.inrz ...     # decoders only -> decode.json

- encode: `rec` encoder fitting steps on a full-size Kodak image at 0.3 bpp (96 patches; the step
  the fast preset repeats ~3 000 times), milliseconds per step;
- train: `inrzip train` with one EM iteration of `--steps` E-steps and no warm-up on the training
  images (12 crops of 4 x 8 patches, the default recipe), seconds per step of the whole command;
- decode: seconds of an in-process `api.decode` of each file (after one warm-up decode).
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def encode_worker(image: str, steps: int) -> float:
    """Milliseconds per encoder fitting step (after 5 warm-up steps)."""
    return common.rec_step_ms(common.kodak_step_encoder(image), steps, warmup=5)


def decode_worker(path: str) -> float:
    """Seconds of one in-process decode, after a warm-up decode of the same file."""
    from inrzip import api

    api.decode(path)
    t0 = time.perf_counter()
    api.decode(path)
    return time.perf_counter() - t0


def in_fresh_process(args: list[str], env: dict) -> float:
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def train_seconds(data: str, steps: int, env: dict) -> float:
    """Seconds per E-step of a whole one-iteration `inrzip train` run."""
    inrzip = Path(sys.executable).with_name("inrzip")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        subprocess.run([str(inrzip), "train", "--data", data, "-b", "0.3bpp", "--device", "cpu", "-o",
                        str(Path(tmp) / "p.safetensors"), "-q", "-O", "em_iterations=1", "-O", "warmup=0",
                        "-O", f"e_steps={steps}"], check=True, env=env)
        return (time.perf_counter() - t0) / steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kodak", help="folder with kodim12.png")
    ap.add_argument("--train", help="training images (../shared/data/train-images)")
    ap.add_argument("--decode", nargs="+", help="time decoding these .inrz files instead")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--decode-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(encode_worker(args.worker, args.steps)))
        return
    if args.decode_worker:
        print(json.dumps(decode_worker(args.decode_worker)))
        return
    if args.decode:
        missing = [f for f in args.decode if not Path(f).is_file()]
        if missing:
            sys.exit(f"error: {', '.join(missing)} not found")

        def measure(env: dict) -> list[tuple[str, float]]:
            return [(f"decode s ({Path(f).name}, {Path(f).stat().st_size} B)",
                     round(in_fresh_process(["--decode-worker", f], env), 3)) for f in args.decode]
        name = "decode.json"
    else:
        if not args.kodak or not args.train:
            ap.error("give --kodak and --train, or --decode FILES")
        image = Path(args.kodak) / "kodim12.png"
        if not image.is_file() or not Path(args.train).is_dir():
            sys.exit(f"skip: {image} or {args.train} not found (they live in ../shared/data)")

        def measure(env: dict) -> list[tuple[str, float]]:
            step = in_fresh_process(["--steps", str(args.steps), "--worker", str(image)], env)
            return [("encode step ms (kodim12, 0.3 bpp, 96 patches)", round(step, 2)),
                    ("train s per E-step (12 crops x 32 patches)", round(train_seconds(args.train, args.steps, env), 4))]
        name = "steps.json"
    rows = []
    for repeat in range(args.repeats):
        for tuned in ("0", "1"):
            env = {**os.environ, "INRZIP_MALLOC_TUNING": tuned}
            for what, value in measure(env):
                rows.append({"what": what, "tuned": tuned == "1", "repeat": repeat, "value": value})
                print(rows[-1], flush=True)
    summary = {}
    for what in dict.fromkeys(r["what"] for r in rows):
        mean = {t: sum(r["value"] for r in rows if r["what"] == what and r["tuned"] == t) / args.repeats
                for t in (False, True)}
        summary[what] = {"glibc_default": round(mean[False], 4), "inrzip_settings": round(mean[True], 4),
                         "speedup": round(mean[False] / mean[True], 3)}
    out = common.RESULTS_ROOT / "cpu-allocator" / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"command": common.command_string(), "date": time.strftime("%Y-%m-%d"),
                               "device": common.device_string(),   # $OMP_NUM_THREADS, else the usable CPUs
                               "summary": summary, "rows": rows}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    print("wrote", out)


if __name__ == "__main__":
    main()

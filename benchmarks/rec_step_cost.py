"""Milliseconds of one `rec` encoder step on a full-size Kodak image (kodim12, 0.3 bpp, 96 patches)
for each `phase_share`, the shares alternating in one process so that a busy CPU slows them alike.
The ratio is what an equal-time comparison of shares needs (benchmarks/README.md, "phase_share").

    OMP_NUM_THREADS=1 python benchmarks/rec_step_cost.py --kodak ../shared/data/kodak --shares 1,0.5,0.25
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def main() -> None:
    args, image = common.step_cost_arguments(
        __doc__, Path(__file__).parent / "results" / "kodak-rec-step-cost" / "phase-share.json",
        lambda ap: ap.add_argument("--shares", default="1,0.5,0.25"))
    import torch

    enc = common.kodak_step_encoder(image)
    shares = [float(s) for s in args.shares.split(",")]
    times: dict[float, list[float]] = {s: [] for s in shares}
    for _ in range(args.repeats):
        for share in shares:
            times[share].append(common.rec_step_ms(enc, args.steps, warmup=2, phase_share=share))
    print(common.write_step_times("phase-share", __doc__, "phase_share", times, args.out, torch.get_num_threads()))


if __name__ == "__main__":
    main()

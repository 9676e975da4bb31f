"""Milliseconds of one `rec` encoder step on a full-size Kodak image (kodim12, 0.3 bpp, 96 patches)
for each `phase_share`, the shares alternating in one process so that a busy CPU slows them alike.
The ratio is what an equal-time comparison of shares needs (benchmarks/README.md, "phase_share").

    OMP_NUM_THREADS=1 python benchmarks/rec_step_cost.py --kodak ../shared/data/kodak --shares 1,0.5,0.25
"""
from __future__ import annotations

import statistics
import sys
import time
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
    base = statistics.median(times[shares[0]])
    rows = [{"phase_share": s, "step_ms_median": round(statistics.median(t), 2), "step_ms": [round(x, 2) for x in t],
             "relative": round(statistics.median(t) / base, 3)} for s, t in times.items()]
    for r in rows:
        print(r)
    doc = {"name": "phase-share", "description": __doc__.strip().splitlines()[0], "command": common.command_string(),
           "date": time.strftime("%Y-%m-%d"),
           "device": common.device_string(torch.get_num_threads()), "rows": rows}
    print(common.write_doc(doc, args.out))


if __name__ == "__main__":
    main()

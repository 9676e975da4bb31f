"""Milliseconds of one `rec` encoder step on kodim12 (0.3 bpp, fast preset) with the SIREN's sine
eager and through `torch.compile` (inductor), alternating in one process so that a busy CPU slows
both alike. Part 3 of the rec issue asks whether `torch.compile` pays on the encoder: the
profile of a CPU step puts ATen's sin / cos and the multiply of the sine's backward at a third
of it, and inductor fuses cos(x) * grad into one vectorised loop. Not used by the encoder
(benchmarks/README.md, "rec: where more encoder time pays"); this measures what it would buy.

    python benchmarks/rec_compile.py --kodak ../shared/data/kodak      # needs a C++ compiler (inductor)
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common


def compiled_sine(calls: list[int]):
    """sin with a compiled forward and a fused compiled backward (cos(x) * grad); counts its
    forward calls in calls[0], so the timing can prove the compiled path ran."""
    import torch

    forward = torch.compile(torch.sin)
    backward = torch.compile(lambda x, grad: torch.cos(x) * grad)

    class Sine(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            calls[0] += 1
            return forward(x)

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return backward(x, grad)

    eager = torch.sin
    return lambda x: Sine.apply(x) if x.requires_grad else eager(x)


def main() -> None:
    args, image = common.step_cost_arguments(
        __doc__, Path(__file__).parent / "results" / "kodak-rec-step-cost" / "compiled-sine.json")
    import torch

    enc = common.kodak_step_encoder(image)
    calls = [0]
    sines = {"eager": torch.sin, "compiled": compiled_sine(calls)}
    # RecNet.forward calls torch.sin: this swaps it process-wide for the timing, and puts it back
    times: dict[str, list[float]] = {name: [] for name in sines}
    try:
        t0 = time.perf_counter()
        torch.sin = sines["compiled"]
        common.rec_step_ms(enc, 1, warmup=0)
        first_call_s = time.perf_counter() - t0
        for _ in range(args.repeats):
            for name, sine in sines.items():
                torch.sin = sine
                times[name].append(common.rec_step_ms(enc, args.steps, warmup=2))
    finally:
        torch.sin = sines["eager"]
    if not calls[0]:
        sys.exit("rec_compile: the encoder step never called torch.sin; nothing compiled was timed")
    print(common.write_step_times(
        "compiled-sine", __doc__, "sine", times, args.out, torch.get_num_threads(),
        compile_first_step_s=round(first_call_s, 1),   # with the inductor cache below (empty: a cold start)
        inductor_cache_dir=os.environ.get("TORCHINDUCTOR_CACHE_DIR", "default")))


if __name__ == "__main__":
    main()

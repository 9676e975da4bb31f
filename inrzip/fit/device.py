"""Choose the torch device from --device auto|cpu|cuda (and set the host allocator up for a CPU fit)."""
from __future__ import annotations

import torch

from .. import allocator
from ..errors import UsageError


def resolve(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: choose auto, cpu or cuda")
    if name == "cpu":
        allocator.tune()
    return torch.device(name)

"""Choose the torch device from --device auto|cpu|cuda, and set the host allocator up for fitting."""
from __future__ import annotations

import ctypes
import os
import sys

import torch

from ..errors import UsageError

# glibc mallopt parameters (malloc.h) and the values a CPU fitting loop wants. Every step of a
# fit allocates and frees the same few 10-50 MB activation tensors. glibc serves blocks that
# large with a fresh mmap whose pages all fault in on first touch, and trims freed heap tops back
# to the kernel, so a third of a CPU rec step went to page faults. Taking every block from the
# heap (no mmap), keeping up to 1 GB of freed heap and growing it 64 MB at a time makes a
# full-size Kodak step 1.3x faster (96 patches) and a 384-patch step, a training batch's size,
# 1.85x (benchmarks/README.md, "rec on the CPU: allocator settings"). The cost: a process that
# fitted keeps freed memory (up to 1 GB at the heap's top) for reuse instead of returning it.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
MALLOC_SETTINGS = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
OPT_OUT_VARIABLE = "INRZIP_MALLOC_TUNING"     # "0": leave the allocator as it is
_tuned: bool | None = None


def tune_host_allocator() -> bool:
    """Apply MALLOC_SETTINGS once per process where the C library is glibc; True if applied."""
    global _tuned
    if _tuned is None:
        _tuned = os.environ.get(OPT_OUT_VARIABLE, "1") != "0" and _apply_glibc_settings()
    return _tuned


def _apply_glibc_settings() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version      # glibc only: musl's mallopt does nothing
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in MALLOC_SETTINGS)


def resolve(name: str = "auto") -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA GPU is available here (use auto or cpu)")
    if name not in ("cpu", "cuda"):
        raise UsageError(f"--device {name!r}: choose auto, cpu or cuda")
    if name == "cpu":
        tune_host_allocator()
    return torch.device(name)

"""Process-wide glibc allocator settings for loops that allocate and free large arrays.

No torch here: encoders apply it when they fit on the CPU (fit/device.py), and the numpy
decoders before they decode (api.py).
"""
from __future__ import annotations

import ctypes
import os
import sys

# glibc mallopt parameters (malloc.h) and the values a CPU fitting loop wants. Every step of a
# fit allocates and frees the same few 10-50 MB activation tensors. glibc serves blocks that
# large with a fresh mmap whose pages all fault in on first touch, and trims freed heap tops back
# to the kernel: a CPU rec step took ~31 000 page faults (almost none with the settings below),
# about a third of its time. Taking every block from the heap (no mmap), keeping up to 1 GB of
# freed heap and growing it 64 MB at a time makes a full-size Kodak encode step (96 patches)
# 1.3-2.1x faster and a training step (384 patches) 1.5-1.9x; a Kodak encode at 0.3 bpp took
# 250 s instead of 323 (benchmarks/README.md, "rec on the CPU: allocator settings"). The cost: a
# process that fitted keeps the memory it freed (up to 1 GB at the heap's top) for reuse.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_MAX = -1, -2, -4
MALLOC_SETTINGS = ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 1 << 30), (_M_TOP_PAD, 64 << 20))
OPT_OUT_VARIABLE = "INRZIP_MALLOC_TUNING"     # "0": leave the allocator as it is
_tuned: bool | None = None


def tune() -> bool:
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

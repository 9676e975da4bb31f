"""Automatic partitioning (paper Appendix A; reference compute_partitions.py / train_img.py).

Partition factors: C = ceil(side / target) per axis, then partitions of ceil(side / C) samples;
the last one is padded (never resized, unlike the reference). Widths: binary search for the
global width g whose chain holds `ratio` of the parameter budget, then for the local width l
that fills 95% of the rest, then step g by +-1 until the total is within 1% of the budget
while the global share stays within +-25% of `ratio` (at that bound, step l instead).

Agg: the reference's count omits the shared Agg layer; we count it as global (the paper calls
"the weights of the global sub-network and the merge operator" the global weights, and Agg is
stored in the global chunk, which every crop keeps).
"""
from __future__ import annotations

import math
from collections.abc import Callable

from ...errors import UsageError

TARGET = {"image": (32, 32), "video": (8, 32, 32)}
AUDIO_PARTITIONS, AUDIO_MIN = 32, 2048   # reference audio: 32 partitions in time


def partition_sizes(shape: tuple[int, ...], modality: str, option: str = "") -> tuple[int, ...]:
    """Partition size per axis from the target (option "32", "8x32x32", ...; "" = default)."""
    if option:
        try:
            target = tuple(int(v) for v in option.lower().split("x"))
        except ValueError:
            raise UsageError(f"croppable: partition {option!r} is not N or NxM...") from None
        if len(target) == 1:
            target = target * len(shape)
        if len(target) != len(shape) or min(target) < 1:
            raise UsageError(f"croppable: partition {option!r} needs {len(shape)} positive size(s)")
    elif modality == "audio":
        target = (max(AUDIO_MIN, -(-shape[0] // AUDIO_PARTITIONS)),)
    else:
        target = TARGET[modality]
    counts = [-(-n // min(t, n)) for n, t in zip(shape, target)]
    return tuple(-(-n // c) for n, c in zip(shape, counts))


def chain_params(g: int, d: int, L: int) -> int:
    return d * g + g + L * (g * g + g)


def agg_params(g: int, l: int) -> int:
    return (g + l) * l + l


def local_params(l: int, d: int, c: int, L: int, G: int) -> int:
    return G * (d * l + l + L * (l * l + l) + l * c + c)


def total_params(g: int, l: int, d: int, c: int, L: int, G: int) -> int:
    return chain_params(g, d, L) + agg_params(g, l) + local_params(l, d, c, L, G)


def find_dim(count: Callable[[int], int], target: float, lo: int = 1, hi: int = 1000) -> int:
    """Width in [lo, hi] whose count is closest to target (count increases with width)."""
    a, b = lo, hi
    while a < b:
        mid = (a + b) // 2
        if count(mid) < target:
            a = mid + 1
        else:
            b = mid
    return min((a, max(lo, a - 1)), key=lambda w: abs(count(w) - target))


def auto_widths(target: float, G: int, d: int, c: int, L: int, ratio: float = 0.1,
                min_width: int = 2) -> tuple[int, int]:
    """(local width, global width) for a budget of `target` parameters (Algorithm 1)."""
    g = max(min_width, find_dim(lambda w: chain_params(w, d, L), ratio * target))
    l = max(min_width, find_dim(lambda w: local_params(w, d, c, L, G) + agg_params(g, w),
                                0.95 * (target - chain_params(g, d, L))))
    lo_share, hi_share = 0.75 * ratio, 1.25 * ratio

    def share(gw: int, lw: int) -> float:
        return (chain_params(gw, d, L) + agg_params(gw, lw)) / total_params(gw, lw, d, c, L, G)

    for _ in range(2000):
        total = total_params(g, l, d, c, L, G)
        if abs(total - target) <= 0.01 * target:
            break
        step = 1 if total < target else -1
        if g + step >= min_width and lo_share <= share(g + step, l) <= hi_share:
            g += step
        elif l + step >= min_width and abs(total_params(g, l + step, d, c, L, G) - target) < abs(total - target):
            l += step      # the global share is at its bound: move the local width instead
        else:
            break
    return l, g


def count_partitions(shape: tuple[int, ...], sizes: tuple[int, ...]) -> int:
    return math.prod(-(-n // s) for n, s in zip(shape, sizes))

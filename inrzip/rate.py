"""Rate targets: "0.3bpp", "24kbps", "50KB", or a plain number in the modality's default unit."""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import UsageError

_UNITS = {
    # unit -> (kind, factor to the base of that kind: bits per point, bits per second, bytes)
    "bpp": ("per_point", 1.0), "bps": ("per_second", 1.0), "kbps": ("per_second", 1e3),
    "kb/s": ("per_second", 1e3), "mbps": ("per_second", 1e6), "mb/s": ("per_second", 1e6),
    "b": ("bytes", 1.0), "kb": ("bytes", 1e3), "mb": ("bytes", 1e6),
    "kib": ("bytes", 1024.0), "mib": ("bytes", 1024.0 ** 2),
}
DEFAULT_UNIT = {"image": "bpp", "video": "bpp", "audio": "kbps"}
_PATTERN = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z/]*)\s*$")


@dataclass(frozen=True)
class RateTarget:
    """A parsed target; turned into a bit budget once the signal's size is known."""

    value: float
    unit: str
    text: str

    def budget_bits(self, num_points: int, duration_s: float) -> float:
        """Total bits allowed for the whole file, header included."""
        kind, factor = _UNITS[self.unit]
        if kind == "per_point":
            return self.value * factor * num_points
        if kind == "per_second":
            if duration_s <= 0:
                raise UsageError(f"rate {self.text!r}: bits per second needs audio or video")
            return self.value * factor * duration_s
        return self.value * factor * 8.0


def parse_rate(text: str, modality: str) -> RateTarget:
    """Parse a user rate; raises UsageError with the accepted forms on anything else."""
    m = _PATTERN.match(text)
    unit = (m.group(2).lower() if m else "") or DEFAULT_UNIT[modality]
    if not m or unit not in _UNITS:
        raise UsageError(
            f"cannot parse rate {text!r}: use e.g. 0.3bpp, 24kbps, 50KB or a plain number "
            f"({DEFAULT_UNIT[modality]} for {modality})")
    value = float(m.group(1))
    if value <= 0:
        raise UsageError(f"rate {text!r} must be positive")
    return RateTarget(value, unit, text)

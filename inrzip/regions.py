"""Parse user crop regions ("y0:y1,x0:x1", "2.5s:4s", "t0:t1,y0:y1,x0:x1") into spans."""
from __future__ import annotations

from .container import Header
from .errors import UsageError
from .runtime.coords import Span

AXES = {"image": ("y", "x"), "audio": ("t",), "video": ("t", "y", "x")}


def parse_crop(text: str, header: Header, option: str = "--crop") -> tuple[Span, ...]:
    """Spans in source samples; bounds may be empty (":"), and time axes accept seconds ("2.5s").

    `option` names the flag the text came from in error messages (--crop, --region)."""
    parts = [p.strip() for p in text.split(",")]
    axes = AXES[header.modality]
    if len(parts) != len(axes):
        example = {"image": "0:256,0:256", "audio": "2.5s:4s or 1000:5000",
                   "video": "0s:1s,0:144,0:176"}[header.modality]
        article = "an" if header.modality[0] in "aeiou" else "a"
        raise UsageError(f"{option} {text!r}: {article} {header.modality} region has {len(axes)} "
                         f"range{'s' if len(axes) > 1 else ''} ({','.join(a + '0:' + a + '1' for a in axes)}), "
                         f"got {len(parts)}; e.g. {example}")
    spans = []
    for part, axis, size in zip(parts, axes, header.shape):
        lo_text, sep, hi_text = part.partition(":")
        if not sep:
            raise UsageError(f"{option} {text!r}: each range is start:stop")
        lo = _bound(lo_text, 0, axis, header, text, option)
        hi = _bound(hi_text, size, axis, header, text, option)
        if not 0 <= lo < hi <= size:
            raise UsageError(f"{option} {text!r}: range {lo}:{hi} is empty or outside 0:{size}")
        spans.append((lo, hi))
    return tuple(spans)


def _bound(token: str, default: int, axis: str, header: Header, text: str, option: str) -> int:
    token = token.strip()
    if not token:
        return default
    try:
        if token.endswith("s") and axis == "t":
            rate = header.sample_rate if header.modality == "audio" else float(header.fps or 0)
            if not rate:
                raise UsageError(f"{option} {text!r}: seconds need a known frame or sample rate")
            return round(float(token[:-1]) * rate)
        return int(token)
    except (ValueError, OverflowError):
        raise UsageError(f"{option} {text!r}: {token!r} is not a number") from None

"""`-O key=value` options onto an encoder's options dataclass, with clear errors."""
from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

from ..errors import UsageError

T = TypeVar("T")


def options_from_dict(cls: type[T], options: dict, backend: str) -> T:
    """Build `cls()` and set each option, converted to the type of the field's default."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise UsageError(f"{backend}: unknown option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    out = cls()
    for key, value in options.items():
        kind = type(getattr(out, key))
        try:
            if kind is bool:
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
            else:
                value = kind(value)
        except ValueError:
            raise UsageError(f"{backend}: option {key}={value!r} is not a valid {kind.__name__}") from None
        setattr(out, key, value)
    return out

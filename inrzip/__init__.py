"""inrzip: compress images and audio by fitting implicit neural representations.

    import inrzip
    report = inrzip.encode("photo.png", "photo.inrz", rate="1.5bpp")
    decoded = inrzip.decode("photo.inrz", "photo.png")
    print(inrzip.info("photo.inrz"))

Importing inrzip never imports torch; only encoding does.
"""
from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["encode", "decode", "info", "read_signal", "write_signal", "Signal", "InrzipError",
           "__version__"]


def __getattr__(name: str):
    # Lazy so `import inrzip` stays cheap; the CLI and users get the same functions.
    if name in ("encode", "decode", "info"):
        from . import api
        return getattr(api, name)
    if name in ("read_signal", "write_signal"):
        from . import media
        return getattr(media, name)
    if name == "Signal":
        from .signal import Signal
        return Signal
    if name == "InrzipError":
        from .errors import InrzipError
        return InrzipError
    raise AttributeError(f"module 'inrzip' has no attribute {name!r}")

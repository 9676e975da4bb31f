"""Brotli with the output size known in advance, so a decompression bomb stops early."""
from __future__ import annotations

import brotli

from ..errors import FormatError


def brotli_exact(data: bytes, expected: int, what: str) -> bytes:
    """Decompress `data`, which must expand to exactly `expected` bytes (else FormatError)."""
    try:
        dec = brotli.Decompressor()
        out = dec.process(data, output_buffer_limit=expected + 1)
    except brotli.error:
        raise FormatError(f"{what}: corrupt Brotli stream") from None
    if len(out) != expected or not dec.is_finished():
        raise FormatError(f"{what}: corrupt Brotli stream (wrong size)")
    return out

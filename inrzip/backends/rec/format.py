"""rec header params and chunk tags (formats/rec.md)."""
from __future__ import annotations

from dataclasses import dataclass

from ...container import ByteReader, ByteWriter
from ...errors import FormatError

INDEX_CHUNK = 0x81          # required: the packed REC indices, level 3, then 2, then 1
PARAMS_VERSION = 2          # 2 added `index_coding`; version 1 files (fixed-width indices) still decode
INDEX_FIXED = 0             # index_bits bits per index, big-endian, packed
INDEX_RANGED = 1            # range-coded with the fixed table of index_code.py
RANGED_INDEX_BITS = 16      # the one index width that table is for
INDEX_CODING_NAMES = {INDEX_FIXED: "fixed", INDEX_RANGED: "range"}
MAX_INDEX_BITS = 24
MAX_GROUPS = 1 << 20


@dataclass(frozen=True)
class RecParams:
    """Header params: which pack, how many blocks per level, how wide an index is."""

    pack_id: bytes          # 8 bytes: SHA-256 prefix of the model pack file
    index_bits: int         # bits per block index (2**index_bits candidates); paper: 16
    seed: int               # candidate-noise seed
    groups: tuple[int, int, int]   # blocks per instance at levels 1 (patch), 2 (group), 3 (image)
    index_coding: int = INDEX_FIXED

    def to_bytes(self) -> bytes:
        w = ByteWriter().u8(PARAMS_VERSION).bytes_(self.pack_id).u8(self.index_bits).varint(self.seed)
        for g in self.groups:
            w.varint(g)
        return w.u8(self.index_coding).getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecParams:
        r = ByteReader(data, "rec params")
        version = r.u8()
        if not 1 <= version <= PARAMS_VERSION:
            raise FormatError(f"rec params version {version} is newer than this decoder; upgrade inrzip")
        pack_id = r.bytes_(64)
        if len(pack_id) != 8:
            raise FormatError("rec params: pack id must be 8 bytes")
        bits = r.u8()
        if not 1 <= bits <= MAX_INDEX_BITS:
            raise FormatError(f"rec params: index width {bits} bits is out of range")
        seed = r.varint(1 << 63)
        groups = tuple(r.varint(MAX_GROUPS) for _ in range(3))
        if min(groups) < 1:
            raise FormatError("rec params: every level needs at least one block")
        coding = r.u8() if version >= 2 else INDEX_FIXED
        if coding not in INDEX_CODING_NAMES:
            raise FormatError(f"rec params: index coding {coding} is newer than this decoder; upgrade inrzip")
        if coding == INDEX_RANGED and bits != RANGED_INDEX_BITS:
            raise FormatError(f"rec params: range-coded indices must be {RANGED_INDEX_BITS} bits wide, not {bits}")
        if r.remaining:
            raise FormatError("rec params: trailing bytes")
        return cls(pack_id, bits, seed, groups, coding)  # type: ignore[arg-type]

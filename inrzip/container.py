"""Reading and writing the .inrz container (formats/inrz.md). Knows nothing of backends.

Layout (all integers little-endian, varint = unsigned LEB128):

    magic        8 bytes  89 49 4E 5A 0D 0A 1A 0A   ("\\x89INZ\\r\\n\\x1a\\n", PNG-style)
    major, minor 2 bytes
    header_len   varint, then `header_len` bytes of header fields
    n_chunks     varint, then per chunk: tag (1 byte), length (varint), crc32 (4 bytes)
    preamble_crc 4 bytes  CRC-32 of every byte from `major` up to here
    payloads     the chunks' bytes, back to back, in index order

A decoder reads the preamble (tens of bytes), then seeks to exactly the chunks it needs.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from .errors import FormatError, LimitError
from .signal import MODALITIES, Modality

MAGIC = b"\x89INZ\r\n\x1a\n"
VERSION_MAJOR = 1
VERSION_MINOR = 0

# Backend ids are part of the format (formats/inrz.md, "Backends"); never renumber.
BACKEND_IDS = {"sinr": 1, "lossless": 2, "croppable": 3, "rec": 4}
BACKEND_NAMES = {v: k for k, v in BACKEND_IDS.items()}

REQUIRED_BIT = 0x80  # tag bit: a decoder that does not know this chunk must refuse the file

# Limits a decoder checks before it allocates anything (see formats/inrz.md, "Limits").
MAX_HEADER_BYTES = 1 << 16
MAX_CHUNKS = 1 << 20
MAX_CHUNK_BYTES = 1 << 31
MAX_SAMPLES = 1 << 31          # points x channels of the decoded signal
MAX_DIM = 1 << 24              # any single dimension
MAX_CHANNELS = 16
MAX_PREAMBLE = 8 + 2 + 10 + MAX_HEADER_BYTES + 10 + 15 * MAX_CHUNKS + 4


# ---------------------------------------------------------------- varints
def encode_varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class ByteReader:
    """Cursor over bytes whose every read is bounds-checked and names what it was reading."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(f"{self.what} is truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def varint(self, limit: int = 1 << 63) -> int:
        value = shift = 0
        for _ in range(10):
            byte = self.u8()
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                if value > limit:
                    raise LimitError(f"{self.what}: value {value} exceeds the limit {limit}")
                return value
            shift += 7
        raise FormatError(f"{self.what}: malformed varint")

    def bytes_(self, limit: int = MAX_HEADER_BYTES) -> bytes:
        return self.take(self.varint(limit))

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos


class ByteWriter:
    """The writing counterpart of :class:`ByteReader`."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def u8(self, v: int) -> "ByteWriter":
        self.buf.append(v & 0xFF)
        return self

    def varint(self, v: int) -> "ByteWriter":
        self.buf += encode_varint(v)
        return self

    def bytes_(self, b: bytes) -> "ByteWriter":
        self.buf += encode_varint(len(b)) + b
        return self

    def getvalue(self) -> bytes:
        return bytes(self.buf)


# ---------------------------------------------------------------- header
@dataclass(frozen=True)
class Header:
    """What every decoder needs before it reads a chunk."""

    backend: str
    modality: Modality
    shape: tuple[int, ...]           # (H, W) image, (N,) audio, (T, H, W) video
    channels: int
    bit_depth: int
    sample_rate: int = 0             # audio only
    fps: Fraction | None = None      # video only
    params: bytes = b""              # backend parameters, opaque to the container

    @property
    def num_points(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    def to_bytes(self) -> bytes:
        w = ByteWriter()
        w.u8(BACKEND_IDS[self.backend])
        w.u8(MODALITIES.index(self.modality))
        for s in self.shape:
            w.varint(s)
        w.varint(self.channels).u8(self.bit_depth)
        if self.modality == "audio":
            w.varint(self.sample_rate)
        if self.modality == "video":
            fps = self.fps or Fraction(0)
            w.varint(fps.numerator).varint(fps.denominator)
        w.bytes_(self.params)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Header":
        r = ByteReader(data, "header")
        backend_id = r.u8()
        if backend_id not in BACKEND_NAMES:
            raise FormatError(f"header: unknown backend id {backend_id}; upgrade inrzip")
        backend = BACKEND_NAMES[backend_id]
        modality_id = r.u8()
        if modality_id >= len(MODALITIES):
            raise FormatError(f"header: unknown modality {modality_id}")
        modality = MODALITIES[modality_id]
        ndim = {"image": 2, "audio": 1, "video": 3}[modality]
        shape = tuple(r.varint(MAX_DIM) for _ in range(ndim))
        channels = r.varint(MAX_CHANNELS)
        bit_depth = r.u8()
        sample_rate = r.varint(1 << 24) if modality == "audio" else 0
        fps = None
        if modality == "video":
            num, den = r.varint(1 << 32), r.varint(1 << 32)
            fps = Fraction(num, den) if den else None
        params = r.bytes_(MAX_HEADER_BYTES)
        header = cls(backend, modality, shape, channels, bit_depth, sample_rate, fps, params)
        header.check_limits()
        return header

    def check_limits(self) -> None:
        """Refuse geometry no real signal has, before anything is allocated for it."""
        if any(s == 0 for s in self.shape) or self.channels == 0:
            raise FormatError(f"header: empty geometry {self.shape} x {self.channels}")
        if self.num_points * self.channels > MAX_SAMPLES:
            raise LimitError(
                f"header: {self.shape} x {self.channels} samples exceeds the limit of {MAX_SAMPLES}")
        max_channels = {"image": 4, "audio": MAX_CHANNELS, "video": 3}[self.modality]
        if self.channels > max_channels or (self.modality == "video" and self.channels != 3):
            raise FormatError(f"header: {self.channels} channels is not a valid {self.modality}")
        depths = {"image": (8, 16), "audio": (16, 24), "video": (8,)}[self.modality]
        if self.bit_depth not in depths:
            raise FormatError(f"header: unsupported bit depth {self.bit_depth} for {self.modality}")
        if self.modality == "audio" and self.sample_rate == 0:
            raise FormatError("header: audio with a sample rate of 0")


@dataclass(frozen=True)
class ChunkEntry:
    tag: int
    length: int
    crc: int
    offset: int  # absolute offset in the file

    @property
    def required(self) -> bool:
        return bool(self.tag & REQUIRED_BIT)


# ---------------------------------------------------------------- writing
def build(header: Header, chunks: list[tuple[int, bytes]]) -> bytes:
    """Serialise a whole container into bytes (files are small; callers write them atomically)."""
    head = header.to_bytes()
    pre = bytearray([VERSION_MAJOR, VERSION_MINOR])
    pre += encode_varint(len(head)) + head
    pre += encode_varint(len(chunks))
    for tag, data in chunks:
        if not 0 <= tag <= 0xFF:
            raise ValueError(f"chunk tag {tag} out of range")
        pre.append(tag)
        pre += encode_varint(len(data)) + struct.pack("<I", zlib.crc32(data))
    pre += struct.pack("<I", zlib.crc32(bytes(pre)))
    return MAGIC + bytes(pre) + b"".join(data for _, data in chunks)


# ---------------------------------------------------------------- reading
class Reader:
    """Random access to a container: parse the preamble once, then read chunks on demand.

    `bytes_read` counts the distinct bytes taken from the source, so callers can prove that
    a cropped decode touched only the chunks it needed.
    """

    def __init__(self, source: BinaryIO, name: str = "<input>", size: int | None = None) -> None:
        self._f = source
        self.name = name
        self._ranges: list[tuple[int, int]] = []
        self.size = size if size is not None else _stream_size(source)
        self.header, self.chunks, self.preamble_size = self._parse_preamble()

    @classmethod
    def open(cls, path: str | os.PathLike) -> "Reader":
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise FormatError(f"{path}: no such file") from None
        except IsADirectoryError:
            raise FormatError(f"{path}: is a directory, not an .inrz file") from None
        except OSError as e:
            raise FormatError(f"{path}: cannot open ({e.strerror})") from None
        try:
            return cls(f, name=str(path))
        except BaseException:
            f.close()
            raise

    @classmethod
    def from_bytes(cls, data: bytes, name: str = "<stdin>") -> "Reader":
        return cls(io.BytesIO(data), name=name, size=len(data))

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> "Reader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def bytes_read(self) -> int:
        """Size of the union of all byte ranges read so far."""
        total, end = 0, 0
        for a, b in sorted(self._ranges):
            a = max(a, end)
            if b > a:
                total += b - a
            end = max(end, b)
        return total

    def _read_at(self, offset: int, n: int, what: str) -> bytes:
        self._f.seek(offset)
        data = self._f.read(n)
        self._ranges.append((offset, offset + len(data)))
        if len(data) != n:
            raise FormatError(f"{self.name}: truncated ({what} needs {n} bytes at offset {offset})")
        return data

    def _parse_preamble(self) -> tuple[Header, list[ChunkEntry], int]:
        # Read a small prefix and grow it only while the preamble is longer, so a decoder
        # touches little more than the bytes it needs.
        want = 1024
        while True:
            self._f.seek(0)
            prefix = self._f.read(want)
            self._ranges.append((0, len(prefix)))
            try:
                return self._parse_prefix(prefix)
            except _NeedMore:
                if len(prefix) < want or want >= MAX_PREAMBLE:
                    raise FormatError(f"{self.name}: truncated (file ends inside the header)") from None
                want = min(want * 4, MAX_PREAMBLE)

    def _parse_prefix(self, prefix: bytes) -> tuple[Header, list[ChunkEntry], int]:
        if not prefix:
            raise FormatError(f"{self.name}: empty file, not an .inrz file")
        if len(prefix) < len(MAGIC) or prefix[:len(MAGIC)] != MAGIC:
            if len(prefix) < len(MAGIC) and MAGIC.startswith(prefix) and prefix:
                raise FormatError(f"{self.name}: truncated (file ends inside the signature)")
            raise FormatError(f"{self.name}: not an .inrz file (wrong magic){_magic_hint(prefix)}")
        r = _PrefixReader(prefix, f"{self.name}: preamble")
        r.take(len(MAGIC))
        major, minor = r.u8(), r.u8()
        self.version = (major, minor)
        if major != VERSION_MAJOR:
            raise FormatError(
                f"{self.name}: .inrz version {major}.{minor} is not supported by this inrzip "
                f"(reads {VERSION_MAJOR}.x); upgrade inrzip")
        header_bytes = r.bytes_(MAX_HEADER_BYTES)
        n_chunks = r.varint(MAX_CHUNKS)
        raw = []
        for _ in range(n_chunks):
            tag = r.u8()
            length = r.varint(MAX_CHUNK_BYTES)
            crc = struct.unpack("<I", r.take(4))[0]
            raw.append((tag, length, crc))
        body_end = r.pos
        stored_crc = struct.unpack("<I", r.take(4))[0]
        if zlib.crc32(prefix[len(MAGIC):body_end]) != stored_crc:
            raise FormatError(f"{self.name}: header is damaged (checksum mismatch)")
        try:
            header = Header.from_bytes(header_bytes)
        except FormatError as e:
            raise type(e)(f"{self.name}: {e}") from None
        offset = r.pos
        chunks = []
        for tag, length, crc in raw:
            chunks.append(ChunkEntry(tag, length, crc, offset))
            offset += length
        if self.size is not None and offset > self.size:
            raise FormatError(
                f"{self.name}: truncated (chunks need {offset} bytes, file has {self.size})")
        return header, chunks, r.pos

    def read_chunk(self, index: int, what: str | None = None) -> bytes:
        """The verified bytes of chunk `index`; a checksum mismatch names the chunk."""
        entry = self.chunks[index]
        label = what or f"chunk {index} (tag 0x{entry.tag:02x})"
        data = self._read_at(entry.offset, entry.length, label)
        if zlib.crc32(data) != entry.crc:
            raise FormatError(f"{self.name}: {label} is damaged (checksum mismatch)")
        return data

    def check_required_tags(self, known: set[int]) -> None:
        """Refuse files with required chunks this decoder does not understand."""
        for i, entry in enumerate(self.chunks):
            if entry.required and entry.tag not in known:
                raise FormatError(
                    f"{self.name}: chunk {i} has required tag 0x{entry.tag:02x} unknown to this "
                    f"inrzip; upgrade inrzip")

    def verify_all(self) -> list[bool]:
        """Checksum state of every chunk (for `inrzip info`), without raising."""
        states = []
        for entry in self.chunks:
            try:
                data = self._read_at(entry.offset, entry.length, "chunk")
                states.append(zlib.crc32(data) == entry.crc)
            except FormatError:
                states.append(False)
        return states


class _NeedMore(Exception):
    """The prefix read so far ends inside the preamble."""


class _PrefixReader(ByteReader):
    def take(self, n: int) -> bytes:
        if n >= 0 and self.pos + n > len(self.data):
            raise _NeedMore
        return super().take(n)


def _stream_size(f: BinaryIO) -> int | None:
    try:
        pos = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(pos)
        return end
    except (OSError, ValueError):
        return None


def _magic_hint(prefix: bytes) -> str:
    """Say what kind of damage a near-miss signature suggests (PNG's reasoning)."""
    if prefix[1:4] == b"INZ":
        if prefix[:1] != b"\x89":
            return " (high bit stripped: transferred as 7-bit text?)"
        if b"\r\r\n" in prefix[:10] or prefix[4:6] == b"\n\x1a":
            return " (line endings converted: transferred in text mode?)"
    return ""

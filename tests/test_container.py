"""Container v1: round trip, random access, and every kind of damage gives a FormatError."""
import struct
import zlib
from fractions import Fraction

import pytest

from inrzip import container as c
from inrzip.errors import FormatError, LimitError

HEADER = c.Header("sinr", "image", (512, 768), 3, 8, params=b"\x01\x02\x03")
CHUNKS = [(0x81, b"global" * 10), (0x02, b"optional"), (0x82, bytes(range(200)))]


def build(header=HEADER, chunks=CHUNKS) -> bytes:
    return c.build(header, chunks)


def test_round_trip_and_random_access():
    data = build()
    r = c.Reader.from_bytes(data)
    assert r.header == HEADER
    assert [e.tag for e in r.chunks] == [0x81, 0x02, 0x82]
    assert r.read_chunk(2) == bytes(range(200))
    assert r.verify_all() == [True, True, True]


def test_reading_one_chunk_reads_little_else():
    big = [(0x81, b"a" * 50_000), (0x82, b"b" * 50_000)]
    r = c.Reader.from_bytes(build(chunks=big))
    r.read_chunk(1)
    assert 50_000 <= r.bytes_read < 50_000 + 1100   # the chunk + at most the first read block


def test_overhead_is_tiny():
    # A one-chunk file costs well under 1% of a 4.9 KB file (the rec 0.1 bpp Kodak case).
    data = c.build(HEADER, [(0x81, b"x" * 4900)])
    assert len(data) - 4900 < 40


def test_audio_and_video_headers_round_trip():
    for h in (c.Header("sinr", "audio", (48000,), 2, 24, sample_rate=44100),
              c.Header("croppable", "video", (10, 144, 176), 3, 8, fps=Fraction(30000, 1001))):
        assert c.Reader.from_bytes(c.build(h, [])).header == h


def test_wrong_magic():
    with pytest.raises(FormatError, match="not an .inrz file"):
        c.Reader.from_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)


def test_text_mode_corruption_is_named():
    data = build().replace(b"\r\n", b"\n", 1)
    with pytest.raises(FormatError, match="text mode"):
        c.Reader.from_bytes(data)


def test_unknown_major_version_says_upgrade():
    data = bytearray(build())
    data[8] = 2
    with pytest.raises(FormatError, match="upgrade inrzip"):
        c.Reader.from_bytes(bytes(data))


def test_every_truncation_is_a_format_error():
    data = build()
    for n in range(len(data)):
        with pytest.raises(FormatError):
            r = c.Reader.from_bytes(data[:n])
            for i in range(len(r.chunks)):
                r.read_chunk(i)


def test_every_single_bit_flip_is_detected():
    data = build()
    for pos in range(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 0x10
        with pytest.raises(FormatError):
            r = c.Reader.from_bytes(bytes(damaged))
            for i in range(len(r.chunks)):
                r.read_chunk(i)


def test_damaged_chunk_is_named():
    data = bytearray(build())
    data[-1] ^= 1
    r = c.Reader.from_bytes(bytes(data))
    with pytest.raises(FormatError, match="chunk 2 .* damaged"):
        r.read_chunk(2)
    assert r.verify_all() == [True, True, False]


def test_unknown_required_chunk_is_refused_optional_is_not():
    r = c.Reader.from_bytes(build())
    r.check_required_tags({0x81, 0x82})          # 0x02 is optional: fine
    with pytest.raises(FormatError, match="required tag 0x82"):
        r.check_required_tags({0x81})


def _forge(header_bytes: bytes) -> bytes:
    """A container whose header bytes are arbitrary but whose checksum is valid (a liar)."""
    pre = bytes([1, 0]) + c.encode_varint(len(header_bytes)) + header_bytes + c.encode_varint(0)
    return c.MAGIC + pre + struct.pack("<I", zlib.crc32(pre))


def test_absurd_dimensions_are_refused_before_allocation():
    h = c.ByteWriter().u8(1).u8(0).varint(1 << 23).varint(1 << 23).varint(3).u8(8).bytes_(b"")
    with pytest.raises(LimitError):
        c.Reader.from_bytes(_forge(h.getvalue()))


def test_zero_dimensions_and_odd_bit_depths_are_refused():
    for h in (c.ByteWriter().u8(1).u8(0).varint(0).varint(5).varint(3).u8(8).bytes_(b""),
              c.ByteWriter().u8(1).u8(0).varint(5).varint(5).varint(3).u8(7).bytes_(b"")):
        with pytest.raises(FormatError):
            c.Reader.from_bytes(_forge(h.getvalue()))


def test_lying_chunk_length_is_truncation():
    data = build()
    with pytest.raises(FormatError, match="truncated"):
        c.Reader.from_bytes(data[:-10])


def test_unknown_backend_id():
    h = c.ByteWriter().u8(99).u8(0).varint(5).varint(5).varint(3).u8(8).bytes_(b"")
    with pytest.raises(FormatError, match="unknown backend"):
        c.Reader.from_bytes(_forge(h.getvalue()))


def test_varint_round_trip():
    for v in (0, 1, 127, 128, 300, 1 << 35):
        assert c.ByteReader(c.encode_varint(v), "x").varint() == v


@pytest.mark.parametrize("modality,depth", [("image", 24), ("audio", 8), ("video", 16)])
def test_bit_depth_must_suit_the_modality(modality, depth):
    shape = {"image": (4, 4), "audio": (100,), "video": (2, 4, 4)}[modality]
    h = c.Header("sinr", modality, shape, 3 if modality == "video" else 1, depth, sample_rate=8000,
                 fps=Fraction(25))
    with pytest.raises(FormatError, match="bit depth"):
        c.Reader.from_bytes(c.build(h, []))


def test_audio_without_sample_rate_is_refused():
    with pytest.raises(FormatError, match="sample rate"):
        c.Reader.from_bytes(c.build(c.Header("sinr", "audio", (100,), 1, 16, sample_rate=0), []))


@pytest.mark.parametrize("modality,channels", [("image", 5), ("video", 1)])
def test_channel_count_must_suit_the_modality(modality, channels):
    shape = {"image": (4, 4), "video": (2, 4, 4)}[modality]
    with pytest.raises(FormatError, match="channels"):
        c.Reader.from_bytes(c.build(c.Header("sinr", modality, shape, channels, 8, fps=Fraction(25)), []))

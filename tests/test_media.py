"""Media I/O: exact round trips, format detection, and one-line errors for bad input."""
from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import numpy as np
import png
import pytest
import soundfile as sf
from PIL import Image

from inrzip.errors import InputError, UsageError
from inrzip.media import (default_format, format_from_path, output_extension, read_signal,
                          write_signal)
from inrzip.media import image as media_image
from inrzip.signal import Signal

RNG = np.random.default_rng(1234)


def _image(h: int, w: int, c: int, depth: int) -> Signal:
    dtype = np.uint8 if depth == 8 else np.uint16
    data = RNG.integers(0, 1 << depth, size=(h, w, c), dtype=np.uint64).astype(dtype)
    return Signal(data, "image", depth)


def _audio(n: int, c: int, depth: int, rate: int = 16000) -> Signal:
    half = 1 << (depth - 1)
    data = RNG.integers(-half, half, size=(n, c)).astype(np.int16 if depth == 16 else np.int32)
    data[0] = -half                 # make sure the extremes are exercised
    data[1] = half - 1
    return Signal(data, "audio", depth, sample_rate=rate)


def _video(t: int, h: int, w: int) -> Signal:
    data = RNG.integers(0, 256, size=(t, h, w, 3), dtype=np.uint8)
    return Signal(data, "video", 8, fps=Fraction(30000, 1001))


def _roundtrip(signal: Signal, fmt: str, tmp_path: Path, *, via: str = "path") -> Signal:
    if via == "path":
        dest = tmp_path / ("out.part")          # no useful extension: fmt must carry it
        write_signal(signal, dest, fmt=fmt)
        return read_signal(dest)
    buf = io.BytesIO()
    write_signal(signal, buf, fmt=fmt)
    if via == "bytes":
        return read_signal(buf.getvalue(), name="mem")
    buf.seek(0)
    return read_signal(buf, name="stream")


# ---------------------------------------------------------------------------- images

@pytest.mark.parametrize("fmt", ["png", "tiff"])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_image_roundtrip_exact(fmt, depth, channels, tmp_path):
    sig = _image(13, 17, channels, depth)
    out = _roundtrip(sig, fmt, tmp_path)
    assert out.modality == "image" and out.bit_depth == depth
    assert out.data.dtype == sig.data.dtype and out.data.shape == sig.data.shape
    np.testing.assert_array_equal(out.data, sig.data)
    assert out.meta["format"] == fmt


@pytest.mark.parametrize("via", ["bytes", "stream"])
def test_image_from_bytes_and_stream(via, tmp_path):
    sig = _image(8, 5, 3, 16)
    np.testing.assert_array_equal(_roundtrip(sig, "png", tmp_path, via=via).data, sig.data)


def test_16bit_png_is_not_truncated():
    sig = _image(4, 6, 3, 16)
    buf = io.BytesIO()
    write_signal(sig, buf, fmt="png")
    assert Image.open(io.BytesIO(buf.getvalue())).mode == "RGB"   # what Pillow would have given
    out = read_signal(buf.getvalue())
    assert out.data.dtype == np.uint16 and out.data.max() > 255


def test_8bit_only_formats(tmp_path):
    sig = _image(8, 8, 3, 8)
    for fmt in ("webp", "bmp"):
        np.testing.assert_array_equal(_roundtrip(sig, fmt, tmp_path).data, sig.data)
    jpeg = _roundtrip(sig, "jpeg", tmp_path)
    assert jpeg.data.shape == sig.data.shape and jpeg.meta["format"] == "jpeg"
    with pytest.raises(UsageError, match="16-bit"):
        write_signal(_image(4, 4, 3, 16), tmp_path / "x", fmt="jpeg")
    with pytest.raises(UsageError, match="alpha"):
        write_signal(_image(4, 4, 4, 8), tmp_path / "x", fmt="jpeg")


def _pillow_bytes(im: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_pillow_modes_are_normalised():
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    # palette -> RGB, palette with transparency -> RGBA
    pal = Image.fromarray(gray).convert("P")
    assert read_signal(_pillow_bytes(pal)).data.shape == (6, 8, 3)
    pal.info["transparency"] = 0
    assert read_signal(_pillow_bytes(pal, transparency=0)).data.shape == (6, 8, 4)
    # 1-bit -> 8-bit gray 0/255
    bits = read_signal(_pillow_bytes(Image.fromarray(gray > 100)))
    assert bits.data.dtype == np.uint8 and set(np.unique(bits.data)) <= {0, 255}
    # 2-bit gray PNG -> widened to 8 bits
    buf = io.BytesIO()
    png.Writer(4, 1, greyscale=True, bitdepth=2).write(buf, [[0, 1, 2, 3]])
    two = read_signal(buf.getvalue())
    assert two.bit_depth == 8 and two.data[0, :, 0].tolist() == [0, 85, 170, 255]
    # 16-bit gray through Pillow (PGM) -> uint16
    wide = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 1000)
    pgm = read_signal(_pillow_bytes(Image.fromarray(wide), "PPM"), name="x.pgm")
    assert pgm.data.dtype == np.uint16 and pgm.bit_depth == 16
    np.testing.assert_array_equal(pgm.data[..., 0], wide)


def test_16bit_png_with_colour_key_gets_alpha():
    buf = io.BytesIO()
    rows = np.array([[1000, 2000, 3000, 5, 6, 7]], dtype=np.uint16)
    png.Writer(2, 1, greyscale=False, bitdepth=16, transparent=(1000, 2000, 3000)).write(buf, rows)
    out = read_signal(buf.getvalue())
    assert out.data.shape == (1, 2, 4)
    assert out.data[0, :, 3].tolist() == [0, 65535]


def test_image_size_limit(monkeypatch, tmp_path):
    monkeypatch.setattr(media_image, "MAX_PIXELS", 100)
    path = tmp_path / "big.png"
    write_signal(_image(11, 10, 3, 8), path, fmt="png")
    with pytest.raises(InputError, match=r"big\.png: image is too large"):
        read_signal(path)
    write_signal(_image(11, 10, 3, 16), path, fmt="png")    # pypng path, checked from IHDR
    with pytest.raises(InputError, match="too large"):
        read_signal(path)


# ---------------------------------------------------------------------------- audio

@pytest.mark.parametrize("fmt", ["wav", "flac"])
@pytest.mark.parametrize("depth", [16, 24])
@pytest.mark.parametrize("channels", [1, 2])
def test_audio_roundtrip_exact(fmt, depth, channels, tmp_path):
    sig = _audio(500, channels, depth, rate=22050)
    out = _roundtrip(sig, fmt, tmp_path)
    assert out.bit_depth == depth and out.sample_rate == 22050
    assert out.data.dtype == (np.int16 if depth == 16 else np.int32)
    np.testing.assert_array_equal(out.data, sig.data)
    if depth == 24:
        assert out.data.min() == -(1 << 23) and out.data.max() == (1 << 23) - 1
        info = sf.info(io.BytesIO(_bytes_of(sig, fmt)))
        assert info.subtype == "PCM_24"


def _bytes_of(sig: Signal, fmt: str) -> bytes:
    buf = io.BytesIO()
    write_signal(sig, buf, fmt=fmt)
    return buf.getvalue()


def test_audio_from_stream_and_many_channels(tmp_path):
    sig = _audio(100, 6, 16, rate=48000)
    out = _roundtrip(sig, "wav", tmp_path, via="stream")
    assert out.data.shape == (100, 6)
    np.testing.assert_array_equal(out.data, sig.data)


def test_8bit_audio_is_widened_to_16():
    buf = io.BytesIO()
    sf.write(buf, np.array([[-32768], [0], [256], [32512]], dtype=np.int16), 8000,
             subtype="PCM_U8", format="WAV")
    out = read_signal(buf.getvalue())
    assert out.bit_depth == 16 and out.data.dtype == np.int16
    assert out.data[:, 0].tolist() == [-32768, 0, 256, 32512]


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_32"])
def test_float_and_32bit_audio_refused(subtype, tmp_path):
    path = tmp_path / "loud.wav"
    sf.write(path, np.zeros((10, 1), dtype=np.float32), 8000, subtype=subtype)
    with pytest.raises(InputError, match=rf"loud\.wav: .*\({subtype}\).*16- or 24-bit PCM"):
        read_signal(path)


def test_truncated_wav(tmp_path):
    data = _bytes_of(_audio(1000, 2, 16), "wav")
    path = tmp_path / "cut.wav"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.wav: truncated WAV"):
        read_signal(path)
    path.write_bytes(data[:20])
    with pytest.raises(InputError, match=r"cut\.wav: "):
        read_signal(path)


def test_truncated_flac(tmp_path):
    data = _bytes_of(_audio(4000, 2, 16), "flac")
    path = tmp_path / "cut.flac"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut\.flac: "):
        read_signal(path)


# ---------------------------------------------------------------------------- video

@pytest.mark.parametrize("via", ["path", "bytes"])
def test_video_mkv_lossless(via, tmp_path):
    sig = _video(4, 16, 24)
    out = _roundtrip(sig, "mkv", tmp_path, via=via)
    assert out.modality == "video" and out.bit_depth == 8 and out.fps == Fraction(30000, 1001)
    np.testing.assert_array_equal(out.data, sig.data)


def _smooth_video(t: int, h: int, w: int) -> Signal:
    y, x = np.mgrid[0:h, 0:w]
    frames = [np.stack([(x * 4 + k * 3) % 256, (y * 5) % 256, ((x + y) * 2 + k) % 256], axis=-1)
              for k in range(t)]
    return Signal(np.asarray(frames, dtype=np.uint8), "video", 8, fps=Fraction(25))


@pytest.mark.parametrize("fmt,min_psnr", [("mp4", 30.0), ("y4m", 40.0)])
@pytest.mark.parametrize("size", [(32, 48), (17, 23)])   # odd sides cannot be 4:2:0
def test_video_lossy_roundtrip(fmt, min_psnr, size, tmp_path):
    sig = _smooth_video(5, *size)
    out = _roundtrip(sig, fmt, tmp_path)
    assert out.data.shape == sig.data.shape and out.fps == Fraction(25)
    mse = np.mean((out.data.astype(np.float64) - sig.data) ** 2)
    assert 10 * np.log10(255**2 / max(mse, 1e-9)) > min_psnr


def test_video_size_limit(monkeypatch, tmp_path):
    from inrzip.media import video as media_video
    path = tmp_path / "long.mkv"
    write_signal(_video(3, 16, 16), path, fmt="mkv")
    monkeypatch.setattr(media_video, "MAX_VOXELS", 16 * 16 * 2)
    with pytest.raises(InputError, match=r"long\.mkv: video is too large"):
        read_signal(path)


# ---------------------------------------------------------------------------- formats

def test_format_helpers():
    assert default_format("image") == "png"
    assert default_format("audio") == "wav"
    assert default_format("video") == "mp4"
    assert format_from_path("a/b/KODIM01.PNG") == "png"
    assert format_from_path("x.tif") == format_from_path("x.tiff") == "tiff"
    assert format_from_path("x.jpg") == "jpeg"
    assert [format_from_path(f"x.{e}") for e in ("wav", "flac", "mp4", "mkv", "y4m")] == \
        ["wav", "flac", "mp4", "mkv", "y4m"]
    assert format_from_path("x.txt") is None and format_from_path("noext") is None
    assert output_extension("png") == ".png" and output_extension("jpeg") == ".jpg"
    assert output_extension("tif") == ".tiff" and output_extension("mkv") == ".mkv"
    with pytest.raises(UsageError):
        output_extension("mp3")
    with pytest.raises(UsageError):
        default_format("smell")


def test_magic_beats_extension(tmp_path):
    path = tmp_path / "actually_audio.png"
    path.write_bytes(_bytes_of(_audio(50, 1, 16), "wav"))
    assert read_signal(path).modality == "audio"


def test_write_rejects_wrong_format(tmp_path):
    with pytest.raises(UsageError):
        write_signal(_image(4, 4, 3, 8), tmp_path / "x", fmt="wav")
    with pytest.raises(UsageError):
        write_signal(_audio(10, 1, 16), tmp_path / "x", fmt="mp3")
    with pytest.raises(UsageError):
        write_signal(_image(4, 4, 3, 8), tmp_path, fmt="png")   # a directory


# ---------------------------------------------------------------------------- errors

def _png_bytes() -> bytes:
    return _pillow_bytes(Image.fromarray(RNG.integers(0, 256, (40, 40, 3), dtype=np.uint8)))


BAD_INPUTS = {
    "empty.png": (b"", "empty file"),
    "text.png": (b"hello, I am not an image\n" * 4, "not a supported image, audio or video file"),
    "mystery.bin": (b"\x00\x01\x02\x03" * 40, "not a supported image, audio or video file"),
    "cut.png": (_png_bytes()[:300], "PNG"),
    "cut16.png": (None, "PNG"),      # filled in below
    "cut.mp4": (b"\x00\x00\x00\x18ftypisom" + b"\x00" * 200, "video"),
    "fake.y4m": (b"YUV4MPEG2 W10 H10 F25:1\nFRA", ""),
}


def _cut16() -> bytes:
    buf = io.BytesIO()
    write_signal(_image(30, 30, 3, 16), buf, fmt="png")
    return buf.getvalue()[:200]


@pytest.mark.parametrize("fname", sorted(BAD_INPUTS))
def test_bad_inputs_raise_one_line(fname, tmp_path):
    content, words = BAD_INPUTS[fname]
    if content is None:
        content = _cut16()
    path = tmp_path / fname
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        read_signal(path)
    msg = str(info.value)
    assert msg.startswith(str(path)) and fname in msg
    assert "\n" not in msg and words in msg
    # the same bytes through memory name themselves with `name`
    with pytest.raises(InputError) as info:
        read_signal(content, name=fname)
    assert str(info.value).startswith(fname + ":") and "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"nope\.png: no such file"):
        read_signal(tmp_path / "nope.png")
    with pytest.raises(InputError, match="is a directory"):
        read_signal(tmp_path)


def test_zlib_damage_in_8bit_png(tmp_path):
    good = _png_bytes()
    idat = good.index(b"IDAT")
    bad = bytearray(good)
    bad[idat + 20: idat + 40] = b"\xff" * 20
    path = tmp_path / "bitrot.png"
    path.write_bytes(bytes(bad))
    with pytest.raises(InputError, match=r"bitrot\.png: "):
        read_signal(path)


# ---------------------------------------------------------------------------- real data

@pytest.mark.shared_data
def test_kodak_png(shared_data):
    sig = read_signal(shared_data / "kodak" / "kodim01.png")
    assert sig.modality == "image" and sig.bit_depth == 8 and sig.data.dtype == np.uint8
    assert sig.data.shape in ((512, 768, 3), (768, 512, 3))


@pytest.mark.shared_data
def test_hbd_png_matches_pypng(shared_data):
    path = next(iter(sorted((shared_data / "hbd").glob("rawpixls_64px_*.png"))))
    sig = read_signal(path)
    assert sig.data.dtype == np.uint16 and sig.bit_depth == 16 and sig.data.max() > 255
    w, h, rows, info = png.Reader(filename=str(path)).read()
    ref = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])
    np.testing.assert_array_equal(sig.data, ref)


@pytest.mark.shared_data
def test_audio_wav(shared_data):
    sig = read_signal(shared_data / "audio" / "speech_librispeech_2412-153948-0000_16k.wav")
    assert sig.modality == "audio" and sig.data.dtype == np.int16 and sig.bit_depth == 16
    assert sig.sample_rate == 16000 and sig.data.shape[1] == 1
    stereo = read_signal(shared_data / "audio" / "music_trumpet_loop_44k_stereo.wav")
    assert stereo.sample_rate == 44100 and stereo.data.shape[1] == 2


@pytest.mark.shared_data
def test_carphone_mp4(shared_data):
    sig = read_signal(shared_data / "video" / "carphone_176x144_30fps_4s.mp4")
    assert sig.modality == "video" and sig.data.shape == (120, 144, 176, 3)
    assert sig.data.dtype == np.uint8 and sig.fps == Fraction(30000, 1001)
    assert abs(float(sig.fps) - 29.97) < 0.01

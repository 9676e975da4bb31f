"""Media I/O: turn image, audio and video files into :class:`~inrzip.signal.Signal` and back.

The kind of a file is decided by its magic bytes first and its extension second, so a
renamed or extension-less file (stdin, a temporary name) still reads correctly. Every
failure a user can cause is raised as a one-line :class:`InputError` / :class:`UsageError`
naming the file; library exceptions never escape.
"""
from __future__ import annotations

import io
import os
import shutil
import tempfile
from typing import BinaryIO

import importlib
from types import ModuleType

from ..errors import InputError, UsageError
from ..signal import Signal


def _kind(name: str) -> ModuleType:
    """The image/audio/video module, imported on first use so start-up stays light
    (a decode to PNG never loads soundfile, tifffile or imageio-ffmpeg's ffmpeg lookup)."""
    return importlib.import_module(f"{__name__}.{name}")

__all__ = ["read_signal", "write_signal", "default_format", "format_from_path", "output_extension"]

# format -> modality, for every format we can read (writing is a subset, see *_FORMATS below)
_KIND: dict[str, str] = {
    **{f: "image" for f in ("png", "jpeg", "tiff", "webp", "bmp", "gif", "pnm", "avif", "qoi", "jp2")},
    **{f: "audio" for f in ("wav", "flac", "ogg", "aiff", "mp3", "au", "caf", "w64", "m4a")},
    **{f: "video" for f in ("mp4", "mkv", "webm", "y4m", "avi", "mov", "ts", "flv", "mpeg")},
}
_EXTENSIONS: dict[str, str] = {
    ".png": "png", ".apng": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".jfif": "jpeg",
    ".tif": "tiff", ".tiff": "tiff", ".webp": "webp", ".bmp": "bmp", ".dib": "bmp", ".gif": "gif",
    ".pbm": "pnm", ".pgm": "pnm", ".ppm": "pnm", ".pnm": "pnm", ".avif": "avif", ".qoi": "qoi",
    ".jp2": "jp2", ".j2k": "jp2",
    ".wav": "wav", ".wave": "wav", ".flac": "flac", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg",
    ".aif": "aiff", ".aiff": "aiff", ".aifc": "aiff", ".mp3": "mp3", ".au": "au", ".snd": "au",
    ".caf": "caf", ".w64": "w64", ".m4a": "m4a",
    ".mp4": "mp4", ".m4v": "mp4", ".mkv": "mkv", ".webm": "webm", ".y4m": "y4m", ".avi": "avi",
    ".mov": "mov", ".ts": "ts", ".m2ts": "ts", ".flv": "flv", ".mpg": "mpeg", ".mpeg": "mpeg",
}
_ALIASES = {"jpg": "jpeg", "tif": "tiff", "matroska": "mkv", "wave": "wav", "yuv4mpegpipe": "y4m"}
_OUT_EXT = {"jpeg": ".jpg"}
_DEFAULTS = {"image": "png", "audio": "wav", "video": "mp4"}
# Writable formats per modality; the image/audio/video modules read theirs from here.
_WRITERS = {"image": ("png", "tiff", "jpeg", "webp", "bmp"), "audio": ("wav", "flac"),
            "video": ("mp4", "mkv", "webm", "y4m")}
_HEAD = 64  # bytes of the file needed to recognise every magic number below

Source = str | os.PathLike | bytes | bytearray | memoryview | BinaryIO


def default_format(modality: str) -> str:
    """The output format used when the user names none: png, wav or mp4."""
    try:
        return _DEFAULTS[modality]
    except KeyError:
        raise UsageError(f"unknown modality {modality!r} (expected image, audio or video)") from None


def format_from_path(path: str | os.PathLike) -> str | None:
    """Format named by a file's extension (".tif" -> "tiff"), or None when not recognised."""
    return _EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())


def output_extension(fmt: str) -> str:
    """File extension, with the dot, for a writable format: "png" -> ".png", "jpeg" -> ".jpg"."""
    fmt = _normalise(fmt)
    if not any(fmt in formats for formats in _WRITERS.values()):
        raise UsageError(f"cannot write {fmt!r} files (writable: {', '.join(_writable())})")
    return _OUT_EXT.get(fmt, "." + fmt)


def read_signal(source: Source, *, name: str = "<stdin>") -> Signal:
    """Read an image, audio or video file (path, bytes or binary stream) into a Signal.

    `name` labels bytes and streams in error messages; a path names itself.
    """
    path: str | None = None
    data: bytes | None = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = path
        _check_path(path)
        try:
            with open(path, "rb") as f:
                head = f.read(_HEAD)
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({_reason(exc)})") from None
    elif isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        head = data[:_HEAD]
    elif hasattr(source, "read"):
        try:
            chunk = source.read()
        except OSError as exc:
            raise InputError(f"{name}: cannot read ({_reason(exc)})") from None
        if not isinstance(chunk, (bytes, bytearray)):
            raise UsageError(f"{name}: read_signal needs a binary stream, got text")
        data = bytes(chunk)
        head = data[:_HEAD]
    else:
        raise UsageError(f"{name}: cannot read from a {type(source).__name__}")
    if not head:
        raise InputError(f"{name}: empty file")

    fmt = sniff(head)
    trusted = fmt is not None           # the content, not just the name, says what this is
    if fmt is None:
        fmt = format_from_path(name)
    kind = _KIND.get(fmt or "")
    try:
        if kind == "video":
            return _read_video(path, data, name, fmt)
        if kind == "audio":
            try:
                with _open(path, data, name) as f:
                    return _kind("audio").read_audio(f, name, fmt, size=_size(path, data))
            except InputError as audio_error:
                if fmt != "ogg":
                    raise
                try:
                    return _read_video(path, data, name, fmt)   # Ogg can also hold Theora video
                except InputError:
                    raise audio_error from None
        with _open(path, data, name) as f:   # image, or unknown: let Pillow have a go
            return _kind("image").read_image(f, name, fmt)
    except InputError:
        if trusted:
            raise
        # Neither magic bytes nor a reader recognised it: a renamed text file, say.
        raise InputError(f"{name}: not a supported image, audio or video file") from None


def write_signal(signal: Signal, dest: str | os.PathLike | BinaryIO, *, fmt: str) -> None:
    """Write `signal` as `fmt` to a path or binary stream.

    `fmt` is explicit because `dest` is often a temporary name without the real extension.
    """
    fmt = _normalise(fmt)
    kind = signal.modality
    if fmt not in _WRITERS.get(kind, ()):
        if _KIND.get(fmt) not in (None, kind) or fmt not in _KIND:
            raise UsageError(f"cannot write {kind} as {fmt!r} "
                             f"(writable {kind} formats: {', '.join(_WRITERS[kind])})")
        raise UsageError(f"{fmt} is read-only here; write {kind} as one of: {', '.join(_WRITERS[kind])}")
    label = os.fspath(dest) if isinstance(dest, (str, os.PathLike)) else getattr(dest, "name", "<stdout>")
    label = str(label)
    if kind == "video":
        if isinstance(dest, (str, os.PathLike)):
            _check_dest(label)
            _kind("video").write_video(signal, label, fmt, label)
            return
        fd, tmp = tempfile.mkstemp(prefix="inrzip-", suffix=output_extension(fmt))
        os.close(fd)
        try:
            _kind("video").write_video(signal, tmp, fmt, label)
            with open(tmp, "rb") as f:
                _emit(dest, label, stream=f)
        finally:
            _unlink(tmp)
        return
    payload = _kind("image").encode_image(signal, fmt) if kind == "image" else _kind("audio").encode_audio(signal, fmt)
    if isinstance(dest, (str, os.PathLike)):
        _check_dest(label)
        try:
            with open(label, "wb") as f:
                f.write(payload)
        except OSError as exc:
            raise UsageError(f"{label}: cannot write ({_reason(exc)})") from None
    else:
        _emit(dest, label, data=payload)


# ---------------------------------------------------------------------------- detection

def sniff(head: bytes) -> str | None:
    """Format named by a file's magic bytes, or None when they are not recognised."""
    riff = head[8:12] if head[:4] in (b"RIFF", b"RIFX") else b""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if riff == b"WEBP":
        return "webp"
    if riff == b"WAVE" or head.startswith(b"RF64") or head.startswith(b"BW64"):
        return "wav"
    if riff == b"AVI ":
        return "avi"
    if head.startswith(b"fLaC"):
        return "flac"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"FORM") and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head.startswith(b"YUV4MPEG2"):
        return "y4m"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"):
            return "avif"
        if brand in (b"M4A ", b"M4B ", b"F4A "):
            return "m4a"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"BM") and len(head) >= 18 and head[14] in (12, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if head.startswith(b"qoif"):
        return "qoi"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "jp2"
    if head.startswith(b"ID3") or head[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "mp3"
    if head.startswith(b".snd"):
        return "au"
    if head.startswith(b"caff"):
        return "caf"
    if head.startswith(b"riff\x2e\x91\xcf\x11"):
        return "w64"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg"
    if len(head) >= 2 and head[0] == ord("P") and head[1] in b"1234567" and len(head) > 2 and head[2] in b" \t\r\n":
        return "pnm"
    return None


# ---------------------------------------------------------------------------- helpers

def _normalise(fmt: str) -> str:
    fmt = str(fmt).lower().lstrip(".")
    return _ALIASES.get(fmt, fmt)


def _writable() -> list[str]:
    return [f for formats in _WRITERS.values() for f in formats]


def _reason(exc: BaseException) -> str:
    """A short, single-line description of an OS error."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return text.splitlines()[0].strip().lower() if text else type(exc).__name__


def _check_path(path: str) -> None:
    if not os.path.exists(path):
        raise InputError(f"{path}: no such file")
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: cannot read (permission denied)")


def _check_dest(path: str) -> None:
    if os.path.isdir(path):
        raise UsageError(f"{path}: is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise UsageError(f"{parent}: output directory does not exist")


def _size(path: str | None, data: bytes | None) -> int:
    return os.path.getsize(path) if path is not None else len(data or b"")


def _open(path: str | None, data: bytes | None, name: str) -> BinaryIO:
    if path is None:
        return io.BytesIO(data or b"")
    try:
        return open(path, "rb")
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({_reason(exc)})") from None


def _read_video(path: str | None, data: bytes | None, name: str, fmt: str | None) -> Signal:
    """ffmpeg needs a seekable file (MP4 keeps its index at the end), so bytes go to a temp file."""
    if path is not None:
        return _kind("video").read_video(path, name, fmt)
    fd, tmp = tempfile.mkstemp(prefix="inrzip-", suffix="." + (fmt or "bin"))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data or b"")
        return _kind("video").read_video(tmp, name, fmt)
    finally:
        _unlink(tmp)


def _emit(dest: BinaryIO, label: str, *, data: bytes | None = None, stream: BinaryIO | None = None) -> None:
    try:
        if stream is not None:
            shutil.copyfileobj(stream, dest)
        else:
            dest.write(data or b"")
        if hasattr(dest, "flush"):
            dest.flush()
    except (OSError, ValueError) as exc:
        raise UsageError(f"{label}: cannot write ({_reason(exc)})") from None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass

"""Still images <-> (H, W, C) uint8/uint16 arrays, C in {1, 2, 3, 4} (gray, gray+alpha, RGB, RGBA).

Pillow handles the 8-bit world, but it silently truncates 16-bit RGB PNG to 8 bits, so
16-bit PNG goes through pypng and TIFF through tifffile; both round-trip 16 bits exactly.
Pixels are kept as stored: no EXIF rotation, no colour management.
"""
from __future__ import annotations

import io
import struct
import threading
import warnings
from typing import BinaryIO

import numpy as np
import png
import tifffile
from PIL import Image

from ..errors import InputError, UsageError
from ..signal import Signal

MAX_PIXELS = 1 << 28   # refuse larger images before decoding them
from . import _WRITERS  # noqa: E402  (one list of writable formats, in media/__init__)

WRITE_FORMATS = _WRITERS["image"]

_PIL_LOCK = threading.Lock()   # guards the temporary change to Pillow's global pixel limit
_PIL_FORMATS = {"PNG": "png", "JPEG": "jpeg", "TIFF": "tiff", "WEBP": "webp", "BMP": "bmp",
                "GIF": "gif", "PPM": "pnm", "AVIF": "avif", "QOI": "qoi", "JPEG2000": "jp2"}


def read_image(f: BinaryIO, name: str, fmt: str | None) -> Signal:
    """Decode an image; `fmt` is the sniffed (or extension) format, None when unknown."""
    head = f.read(33)
    f.seek(0)
    if fmt == "png" and len(head) >= 26 and head[12:16] == b"IHDR" and head[24] == 16:
        _check_size(name, *struct.unpack(">II", head[16:24]))
        return _read_png16(f, name)
    if fmt == "tiff":
        arr = _read_tiff(f, name)
        if arr is not None:
            return _signal(arr, "tiff")
        f.seek(0)
    return _read_pillow(f, name, fmt)


def encode_image(signal: Signal, fmt: str) -> bytes:
    """Encode an image Signal as `fmt` (one of WRITE_FORMATS); 16-bit only to png/tiff."""
    arr = _checked(signal)
    h, w, c = arr.shape
    if fmt == "png" and arr.dtype == np.uint16:
        buf = io.BytesIO()
        writer = png.Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16, compression=6)
        writer.write_array(buf, arr.reshape(-1))
        return buf.getvalue()
    if fmt == "tiff":
        buf = io.BytesIO()
        tifffile.imwrite(buf, arr[..., 0] if c == 1 else arr,
                         photometric="rgb" if c >= 3 else "minisblack",
                         extrasamples=("unassalpha",) if c in (2, 4) else None,
                         compression="zlib", metadata=None)
        return buf.getvalue()
    if arr.dtype != np.uint8:
        raise UsageError(f"{fmt} cannot hold {signal.bit_depth}-bit samples; write png or tiff instead")
    im = Image.fromarray(arr[..., 0] if c == 1 else arr)
    buf = io.BytesIO()
    if fmt == "png":
        im.save(buf, format="PNG", compress_level=6)
    elif fmt == "jpeg":
        if c in (2, 4):
            raise UsageError("jpeg cannot hold an alpha channel; write png or tiff instead")
        im.save(buf, format="JPEG", quality=95, subsampling=0)
    elif fmt == "webp":
        im.convert("RGBA" if c in (2, 4) else "RGB").save(buf, format="WEBP", lossless=True, exact=True)
    elif fmt == "bmp":
        if c == 2:
            raise UsageError("bmp cannot hold gray+alpha; write png or tiff instead")
        im.save(buf, format="BMP")
    else:
        raise UsageError(f"cannot write images as {fmt!r} (writable: {', '.join(WRITE_FORMATS)})")
    return buf.getvalue()


# ---------------------------------------------------------------------------- readers

def _read_png16(f: BinaryIO, name: str) -> Signal:
    """16-bit PNG via pypng (read(), not asDirect(), so sBIT never rescales the samples)."""
    try:
        reader = png.Reader(file=f)
        w, h, pixels, info = reader.read_flat()
        planes = int(info["planes"])
        arr = np.frombuffer(pixels, dtype=np.uint16).reshape(h, w, planes)
    except Exception as exc:  # pypng raises its own errors, zlib.error, ValueError...
        raise InputError(f"{name}: damaged or truncated PNG file ({_one_line(exc)})") from None
    transparent = info.get("transparent")
    if transparent is not None and planes in (1, 3):   # tRNS colour key -> explicit alpha
        key = np.asarray(transparent, dtype=np.uint16).reshape(1, 1, -1)
        alpha = np.where((arr == key).all(axis=2, keepdims=True), 0, 65535).astype(np.uint16)
        arr = np.concatenate([arr, alpha], axis=2)
    return _signal(np.ascontiguousarray(arr), "png")


def _read_tiff(f: BinaryIO, name: str) -> np.ndarray | None:
    """Plain gray/RGB(A) 8/16-bit TIFF via tifffile; None means "let Pillow try" (palette, CMYK...)."""
    try:
        with tifffile.TiffFile(f) as tif:
            page = tif.pages.first
            ok = (page.photometric in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB)
                  and page.bitspersample in (8, 16) and page.sampleformat == tifffile.SAMPLEFORMAT.UINT)
            if not ok:
                return None
            _check_size(name, page.imagewidth, page.imagelength)
            multi = page.samplesperpixel > 1 and page.bitspersample == 16
            try:
                arr = page.asarray()
            except Exception as exc:
                if multi:  # Pillow would silently truncate this to 8 bits
                    raise InputError(f"{name}: cannot decode this 16-bit TIFF ({_one_line(exc)})") from None
                return None
            axes = page.axes
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{name}: damaged or unsupported TIFF file ({_one_line(exc)})") from None
    if "S" in axes:
        arr = np.moveaxis(arr, axes.index("S"), -1)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3 or not 1 <= arr.shape[2] <= 4:
        raise InputError(f"{name}: unsupported TIFF layout {axes} {tuple(arr.shape)} "
                         f"(expected gray, gray+alpha, RGB or RGBA)")
    return np.ascontiguousarray(arr)


def _read_pillow(f: BinaryIO, name: str, fmt: str | None) -> Signal:
    with _PIL_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None   # we apply our own limit
        try:
            im = Image.open(f)
        except Exception as exc:
            label = f"{fmt.upper()} file" if fmt else "image"
            raise InputError(f"{name}: not a readable {label} ({_one_line(exc)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    with im:
        _check_size(name, *im.size)
        source = _PIL_FORMATS.get(im.format or "", (im.format or fmt or "image").lower())
        try:
            im.load()
            arr = _pillow_array(im, name)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{name}: damaged or truncated {source.upper()} file ({_one_line(exc)})") from None
    return _signal(arr, source)


def _pillow_array(im: Image.Image, name: str) -> np.ndarray:
    """Map Pillow's many modes onto the four layouts; palettes expand, 1/2/4-bit widen to 8."""
    mode = im.mode
    has_key = "transparency" in im.info
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        return np.asarray(im).astype(np.uint16)[..., None]
    if mode == "I":
        arr = np.asarray(im)
        if arr.size and (arr.min() < 0 or arr.max() > 65535):
            raise InputError(f"{name}: 32-bit integer images are not supported (only 8 or 16 bits)")
        return arr.astype(np.uint16)[..., None]
    if mode == "F":
        raise InputError(f"{name}: floating-point images are not supported (only 8 or 16 bits)")
    if mode == "1":
        im = im.convert("L")
    elif mode == "L" and has_key:
        im = im.convert("LA")
    elif mode in ("P", "PA"):
        alpha = mode == "PA" or has_key or (im.palette is not None and im.palette.mode == "RGBA")
        im = im.convert("RGBA" if alpha else "RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGB" and has_key:
        im = im.convert("RGBA")
    elif mode in ("RGBa", "RGBX"):
        im = im.convert("RGBA" if mode == "RGBa" else "RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGB")   # CMYK, YCbCr, LAB, HSV...
    arr = np.asarray(im, dtype=np.uint8)
    return arr[..., None] if arr.ndim == 2 else arr


# ---------------------------------------------------------------------------- helpers

def _signal(arr: np.ndarray, source: str) -> Signal:
    depth = 16 if arr.dtype == np.uint16 else 8
    return Signal(arr, "image", depth, meta={"format": source})


def _check_size(name: str, width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise InputError(f"{name}: image is too large ({width}x{height} pixels; "
                         f"the limit is {MAX_PIXELS} pixels)")


def _checked(signal: Signal) -> np.ndarray:
    arr = signal.data
    if arr.ndim != 3 or not 1 <= arr.shape[2] <= 4:
        raise ValueError(f"image data must be (H, W, 1..4), got {arr.shape}")
    if signal.bit_depth <= 8:
        if arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ValueError("8-bit image samples out of range")
            arr = arr.astype(np.uint8)
    elif signal.bit_depth <= 16:
        if arr.dtype != np.uint16:
            if arr.size and (arr.min() < 0 or arr.max() > 65535):
                raise ValueError("16-bit image samples out of range")
            arr = arr.astype(np.uint16)
    else:
        raise UsageError(f"cannot write {signal.bit_depth}-bit images (8 or 16 bits only)")
    return np.ascontiguousarray(arr)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    line = text.splitlines()[0].strip()
    return line[:200]

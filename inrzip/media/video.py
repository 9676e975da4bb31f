"""Video <-> (T, H, W, 3) uint8 RGB arrays via the ffmpeg binary shipped with imageio-ffmpeg.

Frames are decoded to rgb24 (8 bits; higher-depth sources are reduced by ffmpeg, alpha is
dropped, audio tracks are ignored). YUV is converted with BT.601 limited range on the way
out and tagged so, matching what ffmpeg assumes for untagged input on the way back in.
Output: mp4 = H.264 CRF 12 yuv420p (visually transparent, plays everywhere; yuv444p when a
side is odd, which 4:2:0 cannot represent), mkv = FFV1 gbrp (bit-exact), webm = VP9 CRF 15,
y4m = raw yuv444p (exact up to RGB->YUV rounding).
"""
from __future__ import annotations

import math
import os
import re
from fractions import Fraction

import imageio_ffmpeg
import numpy as np

from ..errors import InputError, UsageError
from ..signal import Signal

MAX_VOXELS = 1 << 31      # T x H x W; refuse larger videos
DEFAULT_FPS = Fraction(25)
from . import _WRITERS  # noqa: E402  (one list of writable formats, in media/__init__)

WRITE_FORMATS = _WRITERS["video"]

_BT601 = ["-vf", "scale=out_color_matrix=bt601:out_range=tv", "-colorspace", "smpte170m",
          "-color_range", "tv"]


def read_video(path: str, name: str, fmt: str | None) -> Signal:
    """Decode every frame of the first video stream of `path` (a real, seekable file)."""
    exact_fps = _y4m_fps(path) if fmt == "y4m" else None
    frames: list[np.ndarray] = []
    gen = imageio_ffmpeg.read_frames(path, pix_fmt="rgb24",
                                     output_params=["-map", "0:v:0", "-an", "-sn", "-dn"])
    try:
        try:
            meta = next(gen)
            width, height = (int(v) for v in meta["size"])
        except Exception as exc:
            raise InputError(f"{name}: not a readable video file ({_ffmpeg_reason(exc, path)})") from None
        if width <= 0 or height <= 0:
            raise InputError(f"{name}: video has no pixels ({width}x{height})")
        fps = exact_fps or _snap_fps(float(meta.get("fps") or 0.0))
        expected = math.ceil(float(meta.get("duration") or 0.0) * float(fps or 0))
        _check_voxels(name, expected, height, width)
        try:
            for raw in gen:
                frames.append(np.frombuffer(raw, dtype=np.uint8).reshape(height, width, 3))
                _check_voxels(name, len(frames), height, width)
        except InputError:
            raise
        except Exception as exc:
            raise InputError(f"{name}: damaged video file ({_ffmpeg_reason(exc, path)})") from None
    finally:
        gen.close()   # stops ffmpeg
    if not frames:
        raise InputError(f"{name}: video contains no frames")
    meta_out = {"format": fmt or "video", "codec": str(meta.get("codec") or "").rstrip(","), "pix_fmt": meta.get("pix_fmt")}
    return Signal(np.stack(frames), "video", 8, fps=fps, meta=meta_out)


def write_video(signal: Signal, path: str, fmt: str, label: str) -> None:
    """Encode `signal` to `path` as `fmt` (one of WRITE_FORMATS); `label` names it in errors."""
    arr = signal.data
    if arr.ndim != 4 or arr.shape[3] != 3 or arr.shape[0] == 0:
        raise ValueError(f"video data must be (T>0, H, W, 3), got {arr.shape}")
    if signal.bit_depth != 8:
        raise UsageError(f"cannot write {signal.bit_depth}-bit video (8 bits only)")
    frames = arr.astype(np.uint8, copy=False)
    _, height, width, _ = frames.shape
    even = height % 2 == 0 and width % 2 == 0
    sub = "yuv420p" if even else "yuv444p"
    if fmt == "mp4":
        codec, pix, params = "libx264", sub, ["-crf", "12", "-preset", "medium", *_BT601,
                                              "-movflags", "+faststart", "-f", "mp4"]
    elif fmt == "mkv":
        codec, pix, params = "ffv1", "gbrp", ["-level", "3", "-g", "1", "-f", "matroska"]
    elif fmt == "webm":
        codec, pix, params = "libvpx-vp9", sub, ["-crf", "15", "-b:v", "0", "-row-mt", "1", *_BT601,
                                                 "-f", "webm"]
    elif fmt == "y4m":
        codec, pix, params = "rawvideo", "yuv444p", [*_BT601, "-f", "yuv4mpegpipe"]
    else:
        raise UsageError(f"cannot write video as {fmt!r} (writable: {', '.join(WRITE_FORMATS)})")
    fps = signal.fps if signal.fps and signal.fps > 0 else DEFAULT_FPS
    try:
        gen = imageio_ffmpeg.write_frames(
            path, (int(width), int(height)), pix_fmt_in="rgb24", pix_fmt_out=pix, fps=Fraction(fps),
            quality=None, codec=codec, macro_block_size=1, ffmpeg_log_level="error",
            output_params=params)
        gen.send(None)
        for frame in frames:
            gen.send(np.ascontiguousarray(frame))
        gen.close()
    except Exception as exc:
        raise UsageError(f"{label}: could not write {fmt} video ({_ffmpeg_reason(exc, path)})") from None
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        raise UsageError(f"{label}: ffmpeg wrote no {fmt} output")


# ---------------------------------------------------------------------------- helpers

def _snap_fps(fps: float) -> Fraction | None:
    """ffmpeg prints rates to 2 decimals; recover integer and NTSC (n*1000/1001) rates exactly."""
    if fps <= 0 or not math.isfinite(fps):
        return None
    if abs(fps - round(fps)) < 0.005:
        return Fraction(round(fps))
    ntsc = round(fps * 1.001)
    if abs(ntsc * 1000 / 1001 - fps) < 0.006:
        return Fraction(ntsc * 1000, 1001)
    return Fraction(fps).limit_denominator(1001)


def _y4m_fps(path: str) -> Fraction | None:
    """Y4M states its rate exactly in the header ("F30000:1001")."""
    try:
        with open(path, "rb") as f:
            header = f.readline(1024)
        m = re.search(rb" F(\d+):(\d+)", header)
        if m and int(m.group(1)) > 0 and int(m.group(2)) > 0:
            return Fraction(int(m.group(1)), int(m.group(2)))
    except OSError:
        pass
    return None


def _check_voxels(name: str, frames: int, height: int, width: int) -> None:
    if frames * height * width > MAX_VOXELS:
        raise InputError(f"{name}: video is too large ({width}x{height}, {frames}+ frames; "
                         f"the limit is {MAX_VOXELS} voxels)")


_NOISE = ("===", "could not load meta", "ffmpeg version", "built with", "configuration:", "lib",
          "input #", "duration:", "stream #", "metadata:", "output #", "ffmpeg command", "ffmpeg stderr")


def _ffmpeg_reason(exc: BaseException, path: str) -> str:
    """The most telling single line of an ffmpeg failure, without the temp-file path."""
    lines = [ln.strip().replace(path, "").strip(": ") for ln in str(exc).splitlines()]
    useful = [ln for ln in lines if ln and not ln.lower().startswith(_NOISE)]
    pick = [ln for ln in useful if re.search(r"error|invalid|not found|no stream|matches no|unsupported|"
                                             r"could not|failed|broken pipe", ln, re.I)]
    text = (pick or useful or [type(exc).__name__])[-1]
    return text[:200]

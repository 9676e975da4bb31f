"""Audio <-> (N, C) integer arrays via libsndfile (soundfile).

Samples stay integers so lossless paths are exact:
  16-bit (and 8-bit, u-law, ADPCM, lossy codecs) -> int16, bit_depth 16 (8-bit is widened, x256)
  24-bit                                        -> int32 holding values in [-2**23, 2**23), bit_depth 24
32-bit integer and floating-point PCM are refused rather than silently requantised.
"""
from __future__ import annotations

import io
import struct
from typing import BinaryIO

import numpy as np
import soundfile as sf

from ..errors import InputError, UsageError
from ..signal import Signal

MAX_SAMPLES = 1 << 31   # frames x channels; refuse larger files before decoding
from . import _WRITERS  # noqa: E402  (one list of writable formats, in media/__init__)

WRITE_FORMATS = _WRITERS["audio"]

_REFUSED = {"FLOAT": "32-bit float", "DOUBLE": "64-bit float", "PCM_32": "32-bit integer"}
_DECODED_AS_FLOAT = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III")
_SF_FORMAT = {"wav": "WAV", "flac": "FLAC"}


def read_audio(f: BinaryIO, name: str, fmt: str | None, *, size: int) -> Signal:
    """Decode an audio file; `size` is its length in bytes (to detect truncated WAV data)."""
    if fmt == "m4a":
        raise InputError(f"{name}: AAC/M4A audio is not supported; convert it to WAV or FLAC")
    _check_wav_length(f, name, size)
    try:
        with sf.SoundFile(f) as snd:
            subtype, frames, channels, rate = snd.subtype, snd.frames, snd.channels, snd.samplerate
            source = snd.format.lower()
            if subtype in _REFUSED:
                raise InputError(f"{name}: {_REFUSED[subtype]} audio ({subtype}) is not supported; "
                                 f"convert it to 16- or 24-bit PCM")
            if frames <= 0 or channels <= 0:
                raise InputError(f"{name}: contains no audio samples")
            if frames * channels > MAX_SAMPLES:
                raise InputError(f"{name}: audio is too long ({frames} frames x {channels} channels; "
                                 f"the limit is {MAX_SAMPLES} samples)")
            if subtype in ("PCM_24", "DWVW_24"):
                data = snd.read(dtype="int32", always_2d=True) >> 8   # libsndfile left-aligns 24 bits
                depth = 24
            elif subtype in _DECODED_AS_FLOAT:   # libsndfile's own int conversion does not clip
                floats = snd.read(dtype="float64", always_2d=True)
                data = np.clip(np.rint(floats * 32768.0), -32768, 32767).astype(np.int16)
                depth = 16
            else:
                data = snd.read(dtype="int16", always_2d=True)
                depth = 16
    except InputError:
        raise
    except Exception as exc:  # LibsndfileError, RuntimeError, TypeError on odd files
        raise InputError(f"{name}: not a readable audio file ({_one_line(exc)})") from None
    if data.shape[0] == 0:
        raise InputError(f"{name}: contains no audio samples")
    meta = {"format": source, "subtype": subtype}
    if subtype in _DECODED_AS_FLOAT:
        meta["lossy_source"] = True
    return Signal(np.ascontiguousarray(data), "audio", depth, sample_rate=int(rate), meta=meta)


def encode_audio(signal: Signal, fmt: str) -> bytes:
    """Encode as WAV or FLAC, PCM_16 or PCM_24 to match `bit_depth`, so samples survive exactly."""
    if fmt not in _SF_FORMAT:
        raise UsageError(f"cannot write audio as {fmt!r} (writable: {', '.join(WRITE_FORMATS)})")
    if signal.sample_rate <= 0:
        raise ValueError("audio signal has no sample rate")
    data = signal.data
    if signal.bit_depth == 16:
        out, subtype = data.astype(np.int16, copy=False), "PCM_16"
    elif signal.bit_depth == 24:
        out, subtype = data.astype(np.int32) << 8, "PCM_24"   # libsndfile takes the top 24 bits
    else:
        raise UsageError(f"cannot write {signal.bit_depth}-bit audio (16 or 24 bits only)")
    buf = io.BytesIO()
    try:
        sf.write(buf, np.ascontiguousarray(out), signal.sample_rate, subtype=subtype, format=_SF_FORMAT[fmt])
    except Exception as exc:
        raise UsageError(f"cannot write this audio as {fmt} ({_one_line(exc)})") from None
    return buf.getvalue()


def resample(track: np.ndarray, rate: int, to_rate: int) -> np.ndarray:
    """(N, 1) float32 mono samples at `rate` -> (M, 1) at `to_rate`, by ffmpeg's resampler.

    An audio pack learns patches of P samples: 800 samples are 50 ms of 16 kHz speech but 18 ms
    of a 44.1 kHz track, so a pack for 16 kHz audio is trained on 16 kHz audio. Floats go through
    ffmpeg (the binary imageio-ffmpeg ships) raw both ways, so no 16-bit rounding is added."""
    if rate == to_rate:
        return track
    import subprocess

    import imageio_ffmpeg

    raw = np.ascontiguousarray(track[:, 0], dtype="<f4").tobytes()
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "f32le", "-ar", str(rate), "-ac", "1",
           "-i", "pipe:0", "-ar", str(to_rate), "-f", "f32le", "-c:a", "pcm_f32le", "pipe:1"]
    done = subprocess.run(cmd, input=raw, capture_output=True, check=False)
    if done.returncode != 0 or not done.stdout:
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"cannot resample {rate} Hz audio to {to_rate} Hz ({reason[0] if reason else 'ffmpeg failed'})")
    return np.frombuffer(done.stdout, dtype="<f4").astype(np.float32).reshape(-1, 1)


def _check_wav_length(f: BinaryIO, name: str, size: int) -> None:
    """libsndfile quietly reads a cut-off WAV as a shorter one; compare the data chunk with the file."""
    pos = f.tell()
    try:
        f.seek(0)
        riff = f.read(12)
        if riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
            return   # RF64/RIFX: leave to libsndfile
        offset = 12
        while offset + 8 <= size:
            f.seek(offset)
            chunk_id, length = struct.unpack("<4sI", f.read(8))
            if chunk_id == b"data":
                available = size - offset - 8
                if 0 < length < 0xFFFFFFFF and length > available:   # 0/~0: size unknown (streamed)
                    raise InputError(f"{name}: truncated WAV file (data chunk says {length} bytes, "
                                     f"only {available} present)")
                return
            offset += 8 + length + (length & 1)
    finally:
        f.seek(pos)


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "error_string", "") or exc).strip() or type(exc).__name__
    return text.splitlines()[0].strip()[:200]

"""encode() / decode() / info(): the public Python API, which the CLI itself uses.

Nothing here imports torch: encoders are imported lazily through the backend registry, so
`decode` and `info` start fast and run on machines without torch.
"""
from __future__ import annotations

import contextlib
import io
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from . import allocator, backends, container, media
from .errors import FormatError, UsageError
from .fileio import atomic_path, check_output, write_bytes_atomic
from .progress import Progress, silent
from .rate import parse_rate
from .regions import parse_crop
from .runtime.coords import Region
from .signal import Signal

DEFAULT_BACKEND = {"image": "sinr", "audio": "sinr", "video": "sinr"}
Source = str | os.PathLike | bytes | BinaryIO


@dataclass
class EncodeReport:
    """What an encode produced, measured from the bytes written (header included)."""

    input: str
    output: str | None
    backend: str
    modality: str
    bytes: int
    rate: float                 # bpp (image/video) or kbps (audio), from the file size
    rate_unit: str
    psnr: float                 # of the numpy decoder's output against the input (inf: exact)
    encode_s: float
    stats: dict = field(default_factory=dict)
    data: bytes | None = field(default=None, repr=False)   # the file, when not written to disk

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("data")
        d["exact"] = math.isinf(self.psnr)
        if d["exact"]:
            d["psnr"] = None        # JSON has no infinity
        return d


@dataclass
class DecodeReport:
    input: str
    output: str | None
    shape: tuple[int, ...]
    decode_s: float
    bytes_read: int
    file_bytes: int
    signal: Signal | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("signal")
        return d


# ------------------------------------------------------------------ helpers
def _source_name(source: Source | Signal) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return "<signal>" if isinstance(source, Signal) else "<stdin>"


def load_signal(source: Source | Signal) -> Signal:
    """A Signal from a path, bytes, a binary stream, or a Signal (returned as is)."""
    if isinstance(source, Signal):
        return source
    return media.read_signal(source)


def rate_of(num_bytes: int, header: container.Header) -> tuple[float, str]:
    """The file's rate in the modality's unit: bpp for images/video, kbps for audio."""
    if header.modality == "audio":
        return 8 * num_bytes / (header.shape[0] / header.sample_rate) / 1000, "kbps"
    return 8 * num_bytes / header.num_points, "bpp"


def psnr(reference: np.ndarray, decoded: np.ndarray, bit_depth: int) -> float:
    """PSNR over all samples, peak = the full integer range (255 for 8-bit images)."""
    diff = reference.astype(np.float64) - decoded.astype(np.float64)
    mse = float(np.mean(diff * diff))
    peak = float((1 << bit_depth) - 1)
    return math.inf if mse == 0 else 10 * math.log10(peak * peak / mse)


def _open_reader(source: Source) -> container.Reader:
    if isinstance(source, (str, os.PathLike)):
        return container.Reader.open(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return container.Reader.from_bytes(bytes(source))
    return container.Reader.from_bytes(source.read())


# ------------------------------------------------------------------ encode
def encode(source: Source | Signal, output: str | os.PathLike | None = None, *,
           rate: str | None = None, backend: str | None = None, options: dict | None = None,
           force: bool = False, progress: Progress = silent) -> EncodeReport:
    """Fit and code `source` into an .inrz file.

    `output` None returns the file's bytes in ``report.data`` instead of writing it.
    `options` are backend options (e.g. {"effort": "fast", "device": "cpu", "mode": "plain"}).
    """
    signal = load_signal(source)
    name = backend or DEFAULT_BACKEND[signal.modality]
    info = backends.get(name)
    if signal.modality not in info.modalities:
        raise UsageError(f"backend {name} does not support {signal.modality} "
                         f"(supports {', '.join(info.modalities)})")
    budget = None
    if rate is not None:
        budget = parse_rate(rate, signal.modality).budget_bits(signal.num_points, signal.duration_s)
    encoder = backends.encoder(name)
    encoder.parse_options(dict(options or {}))   # fail on bad options before any work
    out_path = Path(output) if output is not None else None
    if out_path is not None:
        inputs = [Path(source)] if isinstance(source, (str, os.PathLike)) else []
        check_output(out_path, force, inputs)
    start = time.perf_counter()
    result = encoder.encode(signal, budget, dict(options or {}), progress)
    header = container.Header(name, signal.modality, signal.spatial_shape, signal.channels,
                              signal.bit_depth, signal.sample_rate, signal.fps, result.params)
    data = container.build(header, result.chunks)
    encode_s = time.perf_counter() - start
    # Measure quality through the real decoder on the real bytes: what the user will get.
    decoded = _decode_reader(container.Reader.from_bytes(data), Region.full(header.shape))
    quality = psnr(signal.data, decoded, signal.bit_depth)
    value, unit = rate_of(len(data), header)
    if out_path is not None:
        write_bytes_atomic(out_path, data)
    return EncodeReport(
        input=_source_name(source), output=str(out_path) if out_path else None, backend=name,
        modality=signal.modality, bytes=len(data), rate=round(value, 5), rate_unit=unit,
        psnr=round(quality, 4), encode_s=round(encode_s, 3), stats=result.stats,
        data=None if out_path is not None else data)


# ------------------------------------------------------------------ decode
def _decode_reader(reader: container.Reader, region: Region) -> np.ndarray:
    name = reader.header.backend
    if name not in backends.REGISTRY:
        raise FormatError(f"{reader.name}: backend {name!r} is not supported by this inrzip; upgrade inrzip")
    allocator.tune()     # the numpy decoders allocate and free large arrays too (lossless Kodak decode 1.25x)
    with _naming(reader):
        return backends.decoder(name).decode(reader, region)


@contextlib.contextmanager
def _naming(reader: container.Reader) -> Iterator[None]:
    """Prefix a backend's FormatError with the file's name when it does not already say it."""
    try:
        yield
    except FormatError as e:
        if str(e).startswith(f"{reader.name}:"):
            raise
        raise type(e)(f"{reader.name}: {e}") from None


def decode(source: Source, output: str | os.PathLike | BinaryIO | None = None, *,
           crop: str | None = None, scale: float = 1.0, fmt: str | None = None,
           force: bool = False) -> DecodeReport:
    """Decode an .inrz file (optionally a crop, at another scale) to a Signal and/or a file.

    `output` may be a path (written atomically, format from `fmt` or its extension), a binary
    stream (format from `fmt` or the modality's default), or None (Signal only).
    """
    if not scale > 0 or scale > 64:
        raise UsageError(f"--scale {scale}: must be in (0, 64]")
    out_path = Path(output) if isinstance(output, (str, os.PathLike)) else None
    start = time.perf_counter()
    with _open_reader(source) as reader:
        header = reader.header
        spans = parse_crop(crop, header) if crop else Region.full(header.shape).spans
        region = Region(spans, scale)
        out_shape = region.output_shape(header.shape)
        if math.prod(out_shape) * header.channels > container.MAX_SAMPLES:
            raise UsageError(f"--scale {scale}: output of {out_shape} samples exceeds the limit")
        if out_path is not None:
            inputs = [Path(source)] if isinstance(source, (str, os.PathLike)) else []
            check_output(out_path, force, inputs)
        out_fmt = None
        if output is not None:
            out_fmt = fmt or (media.format_from_path(out_path) if out_path else None)
            if out_fmt is None and out_path is not None and out_path.suffix:
                raise UsageError(f"{out_path}: unknown output format {out_path.suffix!r} (use --format)")
            out_fmt = out_fmt or media.default_format(header.modality)
            media.output_extension(out_fmt)   # an unwritable format fails before decoding
        data = _decode_reader(reader, region)
        bytes_read, file_bytes = reader.bytes_read, reader.size or 0
    signal = Signal(data, header.modality, header.bit_depth, header.sample_rate, header.fps)
    if output is not None:
        if out_path is not None:
            with atomic_path(out_path) as tmp:
                media.write_signal(signal, tmp, fmt=out_fmt)
        else:
            buf = io.BytesIO()
            media.write_signal(signal, buf, fmt=out_fmt)
            output.write(buf.getvalue())
    return DecodeReport(
        input=_source_name(source), output=str(out_path) if out_path else None,
        shape=tuple(int(s) for s in data.shape), decode_s=round(time.perf_counter() - start, 4),
        bytes_read=bytes_read, file_bytes=file_bytes, signal=signal)


# ------------------------------------------------------------------ crop
@dataclass
class CropReport:
    """A file cut down to a region: sizes before/after and the bytes of the input actually read."""

    input: str
    output: str | None
    region: str
    shape: tuple[int, ...]
    bytes: int
    input_bytes: int
    bytes_read: int
    crop_s: float
    data: bytes | None = field(default=None, repr=False)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("data")
        return d


def crop(source: Source, output: str | os.PathLike | None = None, *, region: str,
         force: bool = False) -> CropReport:
    """Cut an .inrz file down to `region` ("y0:y1,x0:x1", "2.5s:4s", ...) without decoding.

    Only backends whose decoder offers ``crop`` (croppable) can do this; the new file holds the
    partitions the region touches and decodes to exactly the region. `output` None returns the
    bytes in ``report.data``.
    """
    out_path = Path(output) if output is not None else None
    start = time.perf_counter()
    with _open_reader(source) as reader:
        name = reader.header.backend
        if name not in backends.REGISTRY:
            raise FormatError(f"{reader.name}: backend {name!r} is not supported by this inrzip; upgrade inrzip")
        dec = backends.decoder(name)
        if not hasattr(dec, "crop"):
            raise UsageError(f"{reader.name}: a {name} file cannot be cut without re-encoding; only "
                             "croppable files can (encode with --backend croppable), or use decode --crop")
        spans = parse_crop(region, reader.header, "--region")
        if out_path is not None:
            inputs = [Path(source)] if isinstance(source, (str, os.PathLike)) else []
            check_output(out_path, force, inputs)
        with _naming(reader):
            header, chunks = dec.crop(reader, spans)
        bytes_read, input_bytes = reader.bytes_read, reader.size or 0
    data = container.build(header, chunks)
    if out_path is not None:
        write_bytes_atomic(out_path, data)
    return CropReport(
        input=_source_name(source), output=str(out_path) if out_path else None, region=region,
        shape=tuple(header.shape), bytes=len(data), input_bytes=input_bytes, bytes_read=bytes_read,
        crop_s=round(time.perf_counter() - start, 4), data=None if out_path is not None else data)


# ------------------------------------------------------------------ info
def info(source: Source) -> dict:
    """Everything the header says, every chunk with its size and checksum state, the rate."""
    with _open_reader(source) as reader:
        h = reader.header
        try:
            if h.backend not in backends.REGISTRY:
                raise FormatError(f"backend {h.backend!r} needs a newer inrzip")
            dec = backends.decoder(h.backend)
            names, params = dec.CHUNK_NAMES, dec.describe(h)
        except FormatError as e:
            names, params = {}, {"error": str(e)}
        states = reader.verify_all()
        size = reader.size or 0
        value, unit = rate_of(size, h)
        chunks = [{"index": i, "tag": f"0x{c.tag:02x}", "name": names.get(c.tag, "unknown"),
                   "required": c.required, "offset": c.offset, "bytes": c.length,
                   "checksum_ok": ok} for i, (c, ok) in enumerate(zip(reader.chunks, states))]
    geometry = {"shape": list(h.shape), "channels": h.channels, "bit_depth": h.bit_depth}
    if h.modality == "audio":
        geometry["sample_rate"] = h.sample_rate
    if h.modality == "video" and h.fps:
        geometry["fps"] = str(h.fps)
    return {"file": _source_name(source), "version": "%d.%d" % reader.version,
            "backend": h.backend, "modality": h.modality, **geometry, "file_bytes": size,
            "header_bytes": reader.preamble_size, unit: round(value, 5), "params": params,
            "chunks": chunks, "ok": all(states)}

"""Model packs: safetensors files (never pickle) holding what `inrzip train` learned.

A pack holds, for one rate point: the matrices A (one per layer), the positional-encoding
upsampler, and per level the prior mean and std, the average training posterior log-std (the
encoder's starting point) and the average KL per variable in bits (which fixes the REC blocks).
Its id is the first 8 bytes of the SHA-256 of the file; a `.inrz` names the id it was coded with.
Packs are found in the package's `models/` folder and in the folders of $INRZIP_PACK_PATH.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from ...errors import FormatError, UsageError
from .arch import LEVEL_GROUP, LEVEL_IMAGE, LEVEL_PATCH, RecArch

LEVELS = (LEVEL_PATCH, LEVEL_GROUP, LEVEL_IMAGE)
PACK_DIR = Path(__file__).resolve().parents[2] / "models"
# Shipped packs that a newer pack replaced: files made with them still decode, but the encoder
# never picks them (a pack is named by its hash, so it can never be updated in place).
RETIRED_DIR = PACK_DIR / "retired"
FORMAT_TAG = "inrzip-rec-pack-1"
MAX_PACK_BYTES = 1 << 30


@dataclass
class Pack:
    """A loaded model pack (float32 numpy arrays) plus its metadata."""

    arch: RecArch
    rate_bpp: float                       # the bit budget it was trained for, per patch point
    beta: float                           # final training beta (the encoder's starting beta)
    level_bits: dict[int, float]          # average KL per instance of each level, bits
    A: list[np.ndarray]                   # (a, a) per layer
    upsampler: list[tuple[np.ndarray, np.ndarray]]   # (weight (out, in, k x dims), bias (out,))
    prior_mean: dict[int, np.ndarray]
    prior_std: dict[int, np.ndarray]
    init_logstd: dict[int, np.ndarray]
    kl_bits: dict[int, np.ndarray]
    info: dict = field(default_factory=dict)   # how it was made (data, steps, device, ...)
    pack_id: bytes = b""
    path: Path | None = None

    def tensors(self) -> dict[str, np.ndarray]:
        t: dict[str, np.ndarray] = {}
        for i, a in enumerate(self.A):
            t[f"A.{i}"] = a.astype(np.float16)
        for i, (w, b) in enumerate(self.upsampler):
            t[f"up.{i}.weight"], t[f"up.{i}.bias"] = w.astype(np.float32), b.astype(np.float32)
        for lv in LEVELS:
            t[f"prior_mean.{lv}"] = self.prior_mean[lv].astype(np.float32)
            t[f"prior_std.{lv}"] = self.prior_std[lv].astype(np.float32)
            t[f"init_logstd.{lv}"] = self.init_logstd[lv].astype(np.float32)
            t[f"kl_bits.{lv}"] = self.kl_bits[lv].astype(np.float32)
        return t

    def metadata(self) -> dict[str, str]:
        return {"format": FORMAT_TAG, "arch": self.arch.to_json(), "rate_bpp": repr(self.rate_bpp),
                "beta": repr(self.beta), "level_bits": json.dumps({str(k): v for k, v in self.level_bits.items()}),
                "info": json.dumps(self.info, sort_keys=True)}


def save(pack: Pack, path: Path) -> bytes:
    """Write the pack (atomically) and return its id."""
    from safetensors.numpy import save

    from ...fileio import atomic_path

    data = save(pack.tensors(), metadata=pack.metadata())
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_bytes(data)
    return pack_id_of(data)


def pack_id_of(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:8]


def load(path: Path) -> Pack:
    """Load a pack file, checking that every tensor has the shape its architecture implies."""
    from safetensors import SafetensorError
    from safetensors.numpy import load as st_load

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise UsageError(f"{path}: cannot read model pack ({e.strerror})") from None
    try:
        tensors = st_load(data)
        meta = _metadata(data)
        if meta.get("format") != FORMAT_TAG:
            raise ValueError("not an inrzip rec pack")
        arch = RecArch.from_json(meta["arch"])
        level_bits = {int(k): float(v) for k, v in json.loads(meta["level_bits"]).items()}
        pack = Pack(arch=arch, rate_bpp=float(meta["rate_bpp"]), beta=float(meta["beta"]), level_bits=level_bits,
                    A=[tensors[f"A.{i}"].astype(np.float32) for i in range(arch.layers)],
                    upsampler=[(tensors[f"up.{i}.weight"].astype(np.float32), tensors[f"up.{i}.bias"].astype(np.float32))
                               for i in range(3)],
                    prior_mean={lv: tensors[f"prior_mean.{lv}"] for lv in LEVELS},
                    prior_std={lv: tensors[f"prior_std.{lv}"] for lv in LEVELS},
                    init_logstd={lv: tensors[f"init_logstd.{lv}"] for lv in LEVELS},
                    kl_bits={lv: tensors[f"kl_bits.{lv}"] for lv in LEVELS},
                    info=json.loads(meta.get("info", "{}")), pack_id=pack_id_of(data), path=path)
    except (SafetensorError, KeyError, ValueError, TypeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: not a valid rec model pack ({e})") from None
    _check_shapes(pack)
    return pack


def _metadata(data: bytes) -> dict[str, str]:
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8:8 + n]).get("__metadata__", {})


def _file_metadata(path: Path) -> dict[str, str]:
    """A pack file's metadata from its safetensors header alone (not the multi-MB tensors)."""
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        if n > 1 << 24:
            raise ValueError("safetensors header too large")
        return _metadata(n.to_bytes(8, "little") + f.read(n))


def _check_shapes(pack: Pack) -> None:
    arch = pack.arch
    ok = [a.shape == (s, s) for a, s in zip(pack.A, arch.layer_sizes)]
    ok += [w.shape == (o, i) + (k,) * arch.dims and b.shape == (o,)
           for (w, b), (o, i, k) in zip(pack.upsampler, arch.upsampler_shapes)]
    for lv in LEVELS:
        n = arch.level_size(lv)
        ok += [getattr(pack, name)[lv].shape == (n,) for name in ("prior_mean", "prior_std", "init_logstd", "kl_bits")]
        ok.append(bool(np.all(pack.prior_std[lv] > 0)) and bool(np.all(np.isfinite(pack.prior_mean[lv]))))
    if not all(ok):
        raise FormatError(f"{pack.path}: rec model pack tensors do not match its architecture")


_NAMED: dict[bytes, Path] = {}     # packs this process was pointed at by path (`-O pack=...`)


def remember(path: Path, pack_id: bytes) -> None:
    """Let `find` resolve a pack named by path for the rest of this process, so an encode with
    `-O pack=FILE` can verify its own output (a later decode elsewhere still needs the pack installed)."""
    _NAMED[pack_id] = Path(path)


def search_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("INRZIP_PACK_PATH", "").split(os.pathsep) if p]
    return extra + [PACK_DIR]


@lru_cache(maxsize=64)
def _id_of_file(path: str, mtime_ns: int, size: int) -> bytes:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.digest()[:8]


def available(retired: bool = False) -> list[Path]:
    """Pack files in the search folders (plus the retired shipped packs, for decoding)."""
    out = []
    for d in search_dirs() + ([RETIRED_DIR] if retired else []):
        if d.is_dir():
            out += sorted(p for p in d.glob("*.safetensors") if p.is_file() and p.stat().st_size <= MAX_PACK_BYTES)
    return out


def file_id(path: Path) -> bytes:
    st = path.stat()
    return _id_of_file(str(path), st.st_mtime_ns, st.st_size)


def find(pack_id: bytes) -> Pack:
    """The pack a file names, or a clear error saying which id is missing."""
    named = _NAMED.get(pack_id)
    if named is not None and named.is_file() and file_id(named) == pack_id:
        return load(named)
    for path in available(retired=True):
        if file_id(path) == pack_id:
            return load(path)
    raise FormatError(f"rec: this file needs model pack {pack_id.hex()}, which is not installed "
                      f"(searched {', '.join(str(d) for d in search_dirs())}; set INRZIP_PACK_PATH)")


def shipped_rates(modality: str) -> list[tuple[float, Path]]:
    """(rate per patch point, path) of every pack found for the modality, lowest rate first.

    Packs of equal rate keep the search order, so a pack in `$INRZIP_PACK_PATH` is chosen over a
    shipped one of the same rate (as PATH overrides system programs)."""
    rates = []
    for path in available():
        try:
            meta = _file_metadata(path)
            if RecArch.from_json(meta["arch"]).modality != modality:
                continue
            rates.append((float(meta["rate_bpp"]), path))
        except (KeyError, ValueError, TypeError, OSError, json.JSONDecodeError):
            continue
    return sorted(rates, key=lambda rate_path: rate_path[0])

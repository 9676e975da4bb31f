"""Backend registry. Backends register by name; the container and CLI never import internals.

Each backend has two halves, imported lazily so that decoding never imports torch:
  encoder module: ``parse_options(dict)`` (raises UsageError) and
                  ``encode(signal, budget_bits, options, progress) -> EncodeResult``
  decoder module: ``decode(reader, region) -> np.ndarray`` (integer samples, Signal layout)
                  ``CHUNK_NAMES: dict[int, str]`` and ``describe(header) -> dict``
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from ..errors import UsageError


@dataclass(frozen=True)
class BackendInfo:
    name: str
    encoder: str
    decoder: str
    modalities: tuple[str, ...]
    summary: str


@dataclass
class EncodeResult:
    """What an encoder hands to the container: header params, chunks, and stats to report."""

    params: bytes
    chunks: list[tuple[int, bytes]]
    stats: dict = field(default_factory=dict)


REGISTRY: dict[str, BackendInfo] = {}


def register(info: BackendInfo) -> None:
    REGISTRY[info.name] = info


def get(name: str) -> BackendInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise UsageError(f"unknown backend {name!r} (available: {known})") from None


def encoder(name: str) -> ModuleType:
    return importlib.import_module(get(name).encoder)


def decoder(name: str) -> ModuleType:
    return importlib.import_module(get(name).decoder)


register(BackendInfo(
    name="sinr",
    encoder="inrzip.backends.sinr.encoder",
    decoder="inrzip.backends.sinr.decoder",
    modalities=("image", "audio"),
    summary="SIREN weights as sparse codes over a seeded Gaussian dictionary (OMP), Brotli",
))

register(BackendInfo(
    name="lossless",
    encoder="inrzip.backends.lossless.encoder",
    decoder="inrzip.backends.lossless.decoder",
    modalities=("image", "audio"),
    summary="bit-plane INR probabilities driving an arithmetic coder; bit-exact integer decoder",
))

register(BackendInfo(
    name="croppable",
    encoder="inrzip.backends.croppable.encoder",
    decoder="inrzip.backends.croppable.decoder",
    modalities=("image", "audio", "video"),
    summary="Local-Global SIREN: one chunk per partition, crop on decode or crop the file",
))

register(BackendInfo(
    name="rec",
    encoder="inrzip.backends.rec.encoder",
    decoder="inrzip.backends.rec.decoder",
    modalities=("image", "audio", "video"),
    summary="RECOMBINER: Bayesian INR with learned priors, coded by relative entropy coding",
))

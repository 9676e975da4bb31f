"""Fit the fixed table that range-codes rec's 16-bit block indices (inrzip/backends/rec/index_code.py),
and measure what an index costs under the shipped table at each rate (what the encoder budgets).

Encodes training images (never Kodak) with the rec fast preset and fixed-width indices,
and fits bucket probabilities to every encode's indices (each encode weighted equally). Prints the table as a
Python tuple and writes a JSON result with each encode's mean index cost under it (in sample,
and with that encode left out of the fit) against the 16 bits a fixed-width index costs.
`--calibrate` adds encodes of training images or audio (never LibriSpeech) that are not fitted
on; every encode's mean cost under the shipped table, averaged per modality and rate, is the
result's `index_bits_by_rate` (index_code.INDEX_BITS_BY_RATE).

    python benchmarks/rec_index_model.py --data ../shared/data/train-images \\
        --images sunhays80_canyon_sun_aokgdiugvxssbqyl.png:0.3,urban100_img_054.png:1.0 \\
        --calibrate ../shared/data/audio/speech_ami_ES2011a_headset_16k.wav:5.7 \\
        --cache /tmp/rec-index-cache --out benchmarks/results/rec-index-model/table.json
"""
from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from inrzip.backends.rec import encoder, index_code
from inrzip.backends.rec import format as fmt
from inrzip.media import read_signal
from inrzip.signal import Signal

TOTAL = 1 << 16      # the table's integer counts sum to this
SHIPPED = np.asarray(index_code.TABLE_16)


AUDIO_RATE = 16000    # audio targets are kbps at 16 kHz, as the audio packs are trained and benchmarked
AUDIO_SAMPLES = 48000  # the first 3 s at 16 kHz, channel 0: the LibriSpeech benchmark's signal shape


def load(path: Path) -> tuple[Signal, float]:
    """A training file as the benchmarks code it, and the bits per point one target unit means:
    an image whole (bpp), an audio file's first 48 000 samples of channel 0 (kbps at 16 kHz)."""
    signal = read_signal(path)
    if signal.modality == "audio":
        cut = Signal(signal.data[:AUDIO_SAMPLES, :1].copy(), "audio", signal.bit_depth, sample_rate=signal.sample_rate)
        return cut, 1000.0 / AUDIO_RATE
    return signal, 1.0


def harvest(path: Path, rate: float, cache: Path | None) -> tuple[str, float, np.ndarray]:
    """Modality, bits per point and REC indices of one fast-preset encode at `rate` (bpp for an
    image, kbps for audio; the indices cached as .npy)."""
    signal, per_point = load(path)
    unit = "kbps" if signal.modality == "audio" else "bpp"
    stored = cache / f"{path.stem}-{rate:g}{unit}.npy" if cache else None
    if stored is not None and stored.exists():
        return signal.modality, rate * per_point, np.load(stored)
    t = time.perf_counter()
    result = encoder.encode(signal, rate * per_point * signal.num_points, {"effort": "fast", "index_coding": "fixed"})
    params = fmt.RecParams.from_bytes(result.params)
    indices = index_code.read(result.chunks[0][1], result.stats["blocks"], params)
    print(f"{path.name} @ {rate:g} {unit}: {indices.size} indices, {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.save(stored, indices)
    return signal.modality, rate * per_point, indices


def fit(encodes: list[np.ndarray]) -> np.ndarray:
    """Integer bucket counts summing to TOTAL, each >= 1: every encode's bucket frequencies with
    the same weight (a 1 bpp encode has 10x the blocks of a 0.1 bpp one), add-half smoothed."""
    n = index_code.bucket_edges(fmt.RANGED_INDEX_BITS).size - 1
    p = sum((np.bincount(index_code.bucket_of(e), minlength=n) + 0.5) / (e.size + 0.5 * n) for e in encodes)
    q = np.maximum(1, np.round(p / p.sum() * TOTAL)).astype(np.int64)
    q[np.argmax(q)] += TOTAL - q.sum()
    return q


def cost(indices: np.ndarray, table: np.ndarray) -> float:
    """Mean bits per index under a table (bucket code length plus the uniform offset)."""
    return float(np.mean(index_code.code_lengths(table)[index_code.bucket_of(indices)]))


def spec_list(folder: Path, specs: str | None) -> list[tuple[Path, float]]:
    """NAME:RATE,... -> (folder / NAME, RATE) pairs."""
    return [(folder / s.rsplit(":", 1)[0], float(s.rsplit(":", 1)[1])) for s in specs.split(",")] if specs else []


def rate_curve(runs: dict[str, tuple[str, float, np.ndarray]]) -> dict[str, list[list[float]]]:
    """Mean cost per index under the shipped table, per modality and bits per point (each
    encode weighted equally): what the encoder budgets per block (index_code.INDEX_BITS_BY_RATE)."""
    by: dict[str, dict[float, list[float]]] = {}
    for modality, per_point, idx in runs.values():
        by.setdefault(modality, {}).setdefault(round(per_point, 6), []).append(cost(idx, SHIPPED))
    return {m: [[r, round(float(np.mean(c)), 3)] for r, c in sorted(rates.items())] for m, rates in sorted(by.items())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="folder of training images (not Kodak)")
    ap.add_argument("--images", required=True, help="comma-separated NAME:BPP encodes; the table is fitted on these")
    ap.add_argument("--calibrate", help="comma-separated PATH:RATE encodes of training images (bpp) or audio "
                                        "(kbps at 16 kHz, the first 3 s) that only measure the cost per rate "
                                        "under the shipped table, never fit it")
    ap.add_argument("--cache", type=Path, help="folder for each encode's indices (.npy), reused when present")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    images = {f"{p.name}@{r:g}": harvest(p, r, args.cache) for p, r in spec_list(args.data, args.images)}
    extra = {f"{p.name}@{r:g}": harvest(p, r, args.cache) for p, r in spec_list(Path("."), args.calibrate)}
    runs = {k: v[2] for k, v in images.items()}
    table = fit(list(runs.values()))
    rows = []
    for name, idx in runs.items():
        rest = [v for k, v in runs.items() if k != name] or [idx]
        rows.append({"encode": name, "indices": int(idx.size), "bits_in_sample": round(cost(idx, table), 3),
                     "bits_left_out": round(cost(idx, fit(rest)), 3), "bits_fixed": fmt.RANGED_INDEX_BITS})
    for name, (_, _, idx) in extra.items():
        rows.append({"encode": name, "indices": int(idx.size), "bits_shipped_table": round(cost(idx, SHIPPED), 3),
                     "bits_fixed": fmt.RANGED_INDEX_BITS})
    result = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
              "table": table.tolist(), "expected_bits": round(index_code.expected_bits(table), 4),
              "index_bits_by_rate": rate_curve({**images, **extra}),
              "encodes": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    print("TABLE_16 = (" + ", ".join(map(str, table.tolist())) + ",)")
    print("INDEX_BITS_BY_RATE = " + repr({m: tuple(map(tuple, c)) for m, c in result["index_bits_by_rate"].items()}))


if __name__ == "__main__":
    main()

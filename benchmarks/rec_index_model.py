"""Fit the fixed table that range-codes rec's 16-bit block indices (inrzip/backends/rec/index_code.py).

Encodes training images (never Kodak) with the rec fast preset and fixed-width indices,
and fits bucket probabilities to every encode's indices (each encode weighted equally). Prints the table as a
Python tuple and writes a JSON result with each encode's mean index cost under it (in sample,
and with that encode left out of the fit) against the 16 bits a fixed-width index costs.

    python benchmarks/rec_index_model.py --data ../shared/data/train-images \\
        --images sunhays80_canyon_sun_aokgdiugvxssbqyl.png:0.3,urban100_img_054.png:1.0 \\
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

TOTAL = 1 << 16      # the table's integer counts sum to this


def harvest(path: Path, rate: float, cache: Path | None) -> np.ndarray:
    """The REC indices of one fast-preset encode at `rate` bpp (cached as .npy)."""
    stored = cache / f"{path.stem}-{rate:g}bpp.npy" if cache else None
    if stored is not None and stored.exists():
        return np.load(stored)
    signal = read_signal(path)
    t = time.perf_counter()
    result = encoder.encode(signal, rate * signal.num_points, {"effort": "fast", "index_coding": "fixed"})
    params = fmt.RecParams.from_bytes(result.params)
    payload = result.chunks[0][1]
    indices = index_code.read(payload, result.stats["blocks"], params)
    print(f"{path.name} @ {rate} bpp: {indices.size} indices, {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if stored is not None:
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.save(stored, indices)
    return indices


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, type=Path, help="folder of training images (not Kodak)")
    ap.add_argument("--images", required=True, help="comma-separated NAME:BPP encodes")
    ap.add_argument("--cache", type=Path, help="folder for each encode's indices (.npy), reused when present")
    ap.add_argument("--out", required=True, type=Path)
    args = ap.parse_args()
    specs = [(args.data / s.rsplit(":", 1)[0], float(s.rsplit(":", 1)[1])) for s in args.images.split(",")]
    runs = {f"{p.name}@{r:g}": harvest(p, r, args.cache) for p, r in specs}
    table = fit(list(runs.values()))
    rows = []
    for name, idx in runs.items():
        rest = [v for k, v in runs.items() if k != name] or [idx]
        rows.append({"encode": name, "indices": int(idx.size), "bits_in_sample": round(cost(idx, table), 3),
                     "bits_left_out": round(cost(idx, fit(rest)), 3), "bits_fixed": fmt.RANGED_INDEX_BITS})
    expected = float(np.sum(table / table.sum() * index_code.code_lengths(table)))
    result = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv),
              "table": table.tolist(), "expected_bits": round(expected, 4),
              "encodes": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(rows, indent=1))
    print("TABLE_16 = (" + ", ".join(map(str, table.tolist())) + ",)")


if __name__ == "__main__":
    main()

"""Bits saved at equal PSNR between two RD results (a piecewise-linear Bjøntegaard delta rate).

For each image, each codec's points are reduced to their Pareto front (more bits must buy
more PSNR); log(bpp) is interpolated linearly in PSNR over the PSNR range both fronts cover,
and the mean log-rate difference gives the rate ratio. Ratios are averaged over images
(geometric mean); images whose fronts do not overlap are listed and skipped.

    python benchmarks/compare_rd.py benchmarks/results/kodak-crop256 inrzip-sinr inrzip-sinr-plain16
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(bpp, psnr) points where no other point has fewer bits and more PSNR, by rate."""
    front, best = [], -math.inf
    for bpp, psnr in sorted(points):
        if psnr > best:
            front.append((bpp, psnr))
            best = psnr
    return front


def rate_ratio(test: list[tuple[float, float]], ref: list[tuple[float, float]]) -> float | None:
    """exp(mean log(bpp_test / bpp_ref)) over the shared PSNR range, or None if disjoint."""
    t, r = pareto(test), pareto(ref)
    if len(t) < 2 or len(r) < 2:
        return None
    lo = max(t[0][1], r[0][1])
    hi = min(t[-1][1], r[-1][1])
    if hi <= lo:
        return None
    grid = np.linspace(lo, hi, 200)
    log_t = np.interp(grid, [p for _, p in t], [math.log(b) for b, _ in t])
    log_r = np.interp(grid, [p for _, p in r], [math.log(b) for b, _ in r])
    return float(math.exp(np.mean(log_t - log_r)))


def rows_by_image(doc: dict) -> dict[str, list[tuple[float, float]]]:
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for row in doc["rows"]:
        out[row["image"]].append((row["bpp"], row["psnr"]))
    return out


def compare(folder: Path, test: str, ref: str) -> dict:
    a = rows_by_image(json.loads((folder / f"{test}.json").read_text()))
    b = rows_by_image(json.loads((folder / f"{ref}.json").read_text()))
    per_image, skipped = {}, []
    for image in sorted(set(a) & set(b)):
        ratio = rate_ratio(a[image], b[image])
        if ratio is None:
            skipped.append(image)
        else:
            per_image[image] = round(ratio, 4)
    mean = math.exp(sum(math.log(v) for v in per_image.values()) / len(per_image)) if per_image else None
    return {"test": test, "reference": ref, "dataset": folder.name,
            "rate_ratio_at_equal_psnr": round(mean, 4) if mean else None,
            "bits_saved_percent": round(100 * (1 - mean), 2) if mean else None,
            "per_image": per_image, "skipped_no_overlap": skipped,
            "method": "per-image Pareto fronts, log(bpp) linear in PSNR over the shared range, "
                      "geometric mean over images",
            "command": " ".join(["python"] + sys.argv)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("test")
    ap.add_argument("reference", nargs="+")
    ap.add_argument("--write", action="store_true", help="save as <folder>/compare-<test>.json")
    args = ap.parse_args()
    results = [compare(args.folder, args.test, ref) for ref in args.reference]
    for r in results:
        print(f"{r['test']} vs {r['reference']}: rate ratio {r['rate_ratio_at_equal_psnr']} "
              f"({r['bits_saved_percent']}% bits saved) over {len(r['per_image'])} images")
    if args.write:
        path = args.folder / f"compare-{args.test}.json"
        common.write_doc(results, path)
        print("wrote", path)


if __name__ == "__main__":
    main()

"""One row per rate for rec on Kodak: mean bpp and PSNR, the paper's curve at that bpp, and each
classical codec's distance per image (interpolated in log-bpp at that image's own bpp, so images
the codec's ladder does not reach are left out and counted).

Each input is a `benchmarks/rec.py` results file holding one rate; the classical curves come from
`benchmarks/classical.py` results in the same folder. The table is printed as markdown and written
as JSON with the command that made it.

    python benchmarks/rec_rate_table.py benchmarks/results/kodak/inrzip-rec-fast-…-0.07.json … \
        --out benchmarks/results/kodak-rec-rates/fast-preset.json
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
from rec import paper_psnr  # noqa: E402  (the paper's Kodak curve, clamped to its end points)

CLASSICAL = ("jpeg", "jpeg2000", "webp", "avif", "jpegxl")


def classical_curves(folder: Path) -> dict[str, dict[str, list[dict]]]:
    """codec -> image -> its result rows (bpp, PSNR, ...), for the codecs whose results are here."""
    out = {}
    for codec in CLASSICAL:
        path = folder / f"{codec}.json"
        if path.is_file():
            per: dict[str, list[dict]] = {}
            for r in json.loads(path.read_text())["rows"]:
                per.setdefault(r["image"], []).append(r)
            out[codec] = per
    return out


def rate_row(result: dict, curves: dict) -> dict:
    """The summary of one rate's results file."""
    rows = result["rows"]
    if len({r["param"] for r in rows}) != 1:
        raise SystemExit(f"{result['name']}: holds several rates; give one results file per rate")
    bpp = float(np.mean([r["bpp"] for r in rows]))
    psnr = float(np.mean([r["psnr"] for r in rows]))
    row = {"param": rows[0]["param"], "images": len(rows), "bpp": bpp, "psnr": psnr,
           "paper_psnr": paper_psnr(bpp), "gap_db": psnr - paper_psnr(bpp),
           "encode_s": float(np.mean([r["encode_s"] for r in rows])), "source": result["name"]}
    for codec, per_image in curves.items():
        deltas = [r["psnr"] - v for r in rows
                  if (v := common.psnr_at_bpp(per_image.get(r["image"], []), r["bpp"])) is not None]
        row[f"vs_{codec}_db"] = float(np.mean(deltas)) if deltas else None
        row[f"vs_{codec}_images"] = len(deltas)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def markdown(rows: list[dict], codecs: list[str]) -> str:
    head = "| target | images | bpp | PSNR | paper | gap | " + " | ".join(f"vs {c}" for c in codecs) + " | enc s |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        cells = []
        for c in codecs:
            d, n = r[f"vs_{c}_db"], r[f"vs_{c}_images"]
            cells.append("–" if d is None else f"{d:+.2f}" + ("" if n == r["images"] else f" ({n})"))
        lines.append(f"| {r['param']} | {r['images']} | {r['bpp']:.4f} | {r['psnr']:.2f} | {r['paper_psnr']:.2f} | "
                     f"{r['gap_db']:+.2f} | " + " | ".join(cells) + f" | {r['encode_s']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="+", help="benchmarks/rec.py results files, one rate each")
    ap.add_argument("--classical", default=str(Path(__file__).parent / "results" / "kodak"),
                    help="folder of benchmarks/classical.py results on the same images")
    ap.add_argument("--out", help="write the table as JSON here")
    args = ap.parse_args()
    curves = classical_curves(Path(args.classical))
    rows = sorted((rate_row(json.loads(Path(p).read_text()), curves) for p in args.results), key=lambda r: r["bpp"])
    print(markdown(rows, list(curves)))
    if args.out:
        doc = {"name": Path(args.out).stem, "description": __doc__.split("\n\n")[0],
               "command": common.command_string(), "rows": rows}
        print("wrote", common.write_doc(doc, args.out))


if __name__ == "__main__":
    main()

"""Merge results files written by parallel parts of one benchmark into a single file.

    python benchmarks/merge_results.py results/kodak/NAME.json results/kodak/NAME-a.json results/kodak/NAME-b.json

The parts are removed once the merged file is written (``--keep`` keeps them).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output", type=Path)
    ap.add_argument("parts", type=Path, nargs="+")
    ap.add_argument("--keep", action="store_true", help="do not delete the parts")
    args = ap.parse_args()
    if args.output in args.parts:
        sys.exit("merge_results: the output must not be one of the parts")
    try:
        merged = common.merge_results(args.output.stem, [json.loads(p.read_text()) for p in args.parts])
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"merge_results: {e}")
    common.write_doc(merged, args.output)
    if not args.keep:
        for p in args.parts:
            p.unlink()
    print(f"wrote {args.output}: {len(merged['rows'])} rows; {merged['averages']}")


if __name__ == "__main__":
    main()

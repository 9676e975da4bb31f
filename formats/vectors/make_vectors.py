"""Regenerate the golden .inrz vectors and vectors.json (run only when the format changes
on purpose: old vectors must keep decoding identically, so never overwrite them casually).

    python formats/vectors/make_vectors.py
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

from helpers import small_audio, small_image  # noqa: E402
from inrzip import api  # noqa: E402

VECTORS = {
    "sinr-image-sparse.inrz": (small_image(24, 32), "4bpp", {"steps": 200, "width": 14}),
    "sinr-image-plain.inrz": (small_image(24, 32), None, {"steps": 200, "width": 10, "mode": "plain", "value_bits": 16}),
    "sinr-audio-sparse.inrz": (small_audio(2000), "48kbps", {"steps": 200}),
}


def samples_sha256(data) -> str:
    """Hash of the decoded samples' raw little-endian bytes in Signal layout."""
    return hashlib.sha256(data.astype(data.dtype.newbyteorder("<")).tobytes()).hexdigest()


def main() -> None:
    manifest = {}
    for name, (signal, rate, opts) in VECTORS.items():
        path = HERE / name
        api.encode(signal, path, rate=rate, options={**opts, "device": "cpu", "seed": 7}, force=True)
        out = api.decode(path).signal.data
        manifest[name] = {"sha256": samples_sha256(out), "shape": list(out.shape), "dtype": str(out.dtype),
                          "bytes": path.stat().st_size}
        print(name, manifest[name])
    (HERE / "vectors.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()

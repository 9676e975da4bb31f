"""Generate golden .inrz vectors and their entries in vectors.json. Old vectors must keep
decoding identically forever, so name the new ones; with no names it writes only vectors
that do not exist yet (never overwrite one casually).

    python formats/vectors/make_vectors.py [NAME.inrz ...]
    python formats/vectors/make_vectors.py --references   # store the lossy vectors' samples

Lossy (floating-point) vectors also keep their first decode's samples in reference_samples.npz:
another CPU's BLAS kernels may round differently (inrz.md, "Golden vectors"), and the test then
checks the decode against those samples instead of the hash. `--references` writes them from
this machine's decode only where it matches the manifest's hash exactly.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))

import numpy as np  # noqa: E402
from helpers import small_audio, small_image  # noqa: E402

from inrzip import api  # noqa: E402
from inrzip.media import read_signal  # noqa: E402
from inrzip.signal import Signal  # noqa: E402

FIXTURE16 = HERE.parents[1] / "tests" / "fixtures" / "rgb16_nikon_d300_64px.png"
REC_PACK = HERE / "rec-pack-tiny.safetensors"    # the rec vector's model pack; decoders find it
os.environ.setdefault("INRZIP_PACK_PATH", str(HERE))   # via INRZIP_PACK_PATH (tests/conftest.py)


def rec_tiny_pack() -> Path:
    """A 60 KB pack trained on the example photo, so the rec vector needs no shipped pack."""
    if not REC_PACK.exists():
        from inrzip.backends.rec.arch import RecArch
        from inrzip.backends.rec.train import TrainOptions, train

        import shutil
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(HERE.parents[1] / "examples" / "kodim03_crop.png", Path(tmp) / "photo.png")
            arch = RecArch(patch=32, hidden=8, fourier=8, lpe_channels=4, lpe_mid=8, lpe_out=8, group=2)
            train(Path(tmp), REC_PACK, TrainOptions(rate_bpp=2.0, crops=4, crop_rows=2, crop_cols=2,
                                                    em_iterations=4, e_steps=20, arch=arch, device="cpu",
                                                    # the recipe the stored pack was made with
                                                    warmup=0, posterior_std0=3e-4, lr_std=0.0,
                                                    pixel_fraction=1.0, beta0=1e-4))
    return REC_PACK


def small_video() -> Signal:
    """4 frames of 16x16 RGB at 4 fps: the photo patch, flipped and shifted."""
    a = small_image(16, 20).data
    frames = [a[:, :16], a[::-1, :16], a[:, 4:20], a[::-1, 4:20]]
    return Signal(np.ascontiguousarray(np.stack(frames)), "video", 8, fps=Fraction(4))


def rgb16_patch() -> Signal:
    return Signal(np.ascontiguousarray(read_signal(FIXTURE16).data[20:36, 24:40]), "image", 16)


LOSSLESS = {"backend": "lossless", "steps": 60}
CROPPABLE = {"backend": "croppable", "steps": 200, "lr": 3e-3, "local_width": 6, "global_width": 8,
             "delta": 0.15}

VECTORS = {
    "sinr-image-sparse.inrz": (small_image(24, 32), "4bpp", {"steps": 200, "width": 14}),
    "sinr-image-plain.inrz": (small_image(24, 32), None, {"steps": 200, "width": 10, "mode": "plain", "value_bits": 16}),
    "sinr-audio-sparse.inrz": (small_audio(2000), "48kbps", {"steps": 200}),
    "lossless-image-rgb8.inrz": (small_image(16, 20), None, {**LOSSLESS, "width": 8, "tile": 3}),
    "lossless-image-rgb16.inrz": (rgb16_patch(), None, {**LOSSLESS, "width": 8}),
    "lossless-image-paper.inrz": (small_image(12, 12), None, {**LOSSLESS, "width": 8, "mode": "paper"}),
    "lossless-audio-stereo.inrz": (small_audio(600, 2), None, {**LOSSLESS, "width": 8, "tile": 8}),
    "croppable-image.inrz": (small_image(24, 32), None, {**CROPPABLE, "partition": "8"}),
    "croppable-audio.inrz": (small_audio(2000), None, {**CROPPABLE, "partition": "500", "lr": 1e-3}),
    "croppable-video.inrz": (small_video(), None, {**CROPPABLE, "partition": "2x8x8"}),
    "rec-image.inrz": (small_image(40, 48), "2bpp", {"backend": "rec", "effort": "fast", "steps": 100,
                                                     "index_bits": 8, "pack": "rec-pack-tiny.safetensors"}),
    # 16-bit indices, range-coded with the fixed table (params version 2, index_coding 1)
    "rec-image-ranged.inrz": (small_image(40, 48), "2bpp", {"backend": "rec", "effort": "fast", "steps": 100, "finetune": 3,
                                                            "pack": "rec-pack-tiny.safetensors"}),
}


def samples_sha256(data) -> str:
    """Hash of the decoded samples' raw little-endian bytes in Signal layout."""
    return hashlib.sha256(data.astype(data.dtype.newbyteorder("<")).tobytes()).hexdigest()


REFERENCES = HERE / "reference_samples.npz"


def is_lossless(path: Path) -> bool:
    from inrzip import container

    return container.Reader.open(path).header.backend == "lossless"


def store_references(samples: dict[str, np.ndarray]) -> None:
    """Merge these vectors' decoded samples into reference_samples.npz (no pickles)."""
    old = dict(np.load(REFERENCES, allow_pickle=False)) if REFERENCES.exists() else {}
    np.savez_compressed(REFERENCES, **{**old, **samples})


def references_from_this_machine(manifest: dict) -> None:
    samples = {}
    for name, entry in manifest.items():
        if is_lossless(HERE / name):
            continue
        out = api.decode(HERE / name).signal.data
        if samples_sha256(out) != entry["sha256"]:
            raise SystemExit(f"{name}: this machine does not decode the manifest's samples exactly; "
                             "run --references where it does (e.g. OPENBLAS_CORETYPE=Haswell)")
        samples[name] = out
    store_references(samples)
    print("wrote", REFERENCES, sorted(samples))


def main(names: list[str]) -> None:
    manifest_path = HERE / "vectors.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    if names == ["--references"]:
        return references_from_this_machine(manifest)
    unknown = sorted(set(names) - set(VECTORS))
    if unknown:
        raise SystemExit(f"unknown vector(s): {', '.join(unknown)}")
    for name, (signal, rate, opts) in VECTORS.items():
        path = HERE / name
        if (names and name not in names) or (not names and path.exists()):
            continue
        opts = dict(opts)
        backend = opts.pop("backend", None)
        if backend == "rec":
            opts["pack"] = str(rec_tiny_pack())
        api.encode(signal, path, rate=rate, backend=backend, options={**opts, "device": "cpu", "seed": 7},
                   force=True)
        out = api.decode(path).signal.data
        manifest[name] = {"sha256": samples_sha256(out), "shape": list(out.shape), "dtype": str(out.dtype),
                          "bytes": path.stat().st_size}
        print(name, manifest[name])
        if not is_lossless(path):
            store_references({name: out})
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

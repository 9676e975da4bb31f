"""RD of rec on 24 x 128 x 128 video clips beside H.264 and H.265 measured in the same run.

The paper (RECOMBINER, Table 2 / Fig. 3c) codes 24-frame UCF-101 clips resized to 128 x 128 in
64 patches of 24 x 16 x 16, against ffmpeg's libx264 / libx265 at CRF 15..40 (presets
ultrafast and veryslow). UCF-101 is not in `../shared/data/video`; the clips here are the
centre 128 x 128 of consecutive 24-frame runs of `carphone` (QCIF, 30 fps), which the shipped
video pack never saw (it is trained on Big Buck Bunny). The paper reports its video results as
a plot only, so there is no table to quote: the comparison is with x264/x265 run here.

Rates are bits per voxel (frames x height x width) from bytes on disk: the whole .inrz file for
rec, the raw Annex-B elementary stream for x264/x265 (no container, SEI dropped: the fairest
byte count for them). PSNR is over all RGB samples of the clip (peak 255); the classical codecs code
yuv420p, as in the paper's commands.

    python benchmarks/rec_video.py --data ../shared/data/video --rates 0.1,0.3,0.6 --clips 2
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from inrzip import api
from inrzip.signal import Signal

CLIP_FRAMES, CLIP_SIDE = 24, 128
CRF = [10, 15, 20, 25, 30, 35, 40, 45]   # paper: 15..40; 10 and 45 widen the range to rec's rates
# SEI NAL units (x264's and x265's settings banners, ~0.6 and ~2 KB) carry nothing a decoder
# needs and would add 0.01-0.04 bpp to a 24 x 128 x 128 clip: they are dropped.
ENCODERS = {"x264": ["-c:v", "libx264", "-preset", "veryslow", "-bsf:v", "filter_units=remove_types=6"],
            "x265": ["-c:v", "libx265", "-preset", "veryslow", "-x265-params", "log-level=error:info=0",
                     "-bsf:v", "filter_units=remove_types=39|40"]}
STREAM = {"x264": "h264", "x265": "hevc"}


def clips(path: Path, count: int) -> list[tuple[str, Signal]]:
    """The centre 128 x 128 of the first `count` 24-frame runs of the video."""
    sig = api.load_signal(str(path))
    t, h, w, _ = sig.data.shape
    y, x = (h - CLIP_SIDE) // 2, (w - CLIP_SIDE) // 2
    out = []
    for i in range(min(count, t // CLIP_FRAMES)):
        data = sig.data[i * CLIP_FRAMES:(i + 1) * CLIP_FRAMES, y:y + CLIP_SIDE, x:x + CLIP_SIDE]
        out.append((f"{path.stem}@{i * CLIP_FRAMES}", Signal(np.ascontiguousarray(data), "video", 8, fps=sig.fps)))
    return out


def ffmpeg_round_trip(clip: Signal, codec: str, crf: int) -> tuple[bytes, np.ndarray, float, float]:
    """Encode RGB frames with ffmpeg to a raw elementary stream, decode back to RGB."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    t, h, w, _ = clip.data.shape
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}"]
    t0 = time.perf_counter()
    enc = subprocess.run([exe, "-v", "error", *raw, "-r", str(clip.fps or 30), "-i", "-", *ENCODERS[codec],
                          "-crf", str(crf), "-pix_fmt", "yuv420p", "-f", STREAM[codec], "-"],
                         input=clip.data.tobytes(), capture_output=True, check=True).stdout
    t1 = time.perf_counter()
    dec = subprocess.run([exe, "-v", "error", "-f", STREAM[codec], "-i", "-", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
                         input=enc, capture_output=True, check=True).stdout
    t2 = time.perf_counter()
    return enc, np.frombuffer(dec, dtype=np.uint8).reshape(t, h, w, 3), t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--video", default="carphone_176x144_30fps_120f_yuv420p.y4m")
    ap.add_argument("--clips", type=int, default=2, help="24-frame clips from the start of the video")
    ap.add_argument("--rates", default="0.1,0.3,0.6", help="rec targets in bits per voxel")
    common.add_rec_arguments(ap)
    ap.add_argument("--codecs", default="rec,x264,x265")
    args = ap.parse_args()
    path = Path(args.data) / args.video
    if not path.is_file():
        sys.exit(f"skip: {path} not found (the test video lives in ../shared/data/video)")
    todo = clips(path, args.clips)
    desc = f"{len(todo)} clips of {CLIP_FRAMES} x {CLIP_SIDE} x {CLIP_SIDE} (centre crop) from {args.video}"
    for codec in args.codecs.split(","):
        name = (args.name or f"inrzip-rec-{args.effort}") if codec == "rec" else f"{codec}-veryslow"
        w = common.ResultWriter(name, "carphone-clips", f"{codec} on {desc}", threads=None)
        ladder = [float(r) for r in args.rates.split(",")] if codec == "rec" else CRF
        for clip_name, clip in todo:
            voxels = clip.data.shape[0] * clip.data.shape[1] * clip.data.shape[2]
            for param in ladder:
                extra: dict = {}
                if codec == "rec":
                    size, out, enc_s, dec_s, stats = common.rec_round_trip(clip, f"{param}bpp", common.rec_options(args))
                    extra = common.rec_row_stats(stats)
                    label = f"{param}bpp"
                else:
                    data, out, enc_s, dec_s = ffmpeg_round_trip(clip, codec, int(param))
                    size, label = len(data), f"crf{int(param)}"
                bpp = 8 * size / voxels
                score = common.psnr(clip.data, out)
                w.add(clip_name, label, bpp=bpp, psnr=score, ms_ssim=None, encode_s=enc_s, decode_s=dec_s,
                      bytes=size, **extra)
                print(f"{codec} {clip_name} {label}: {bpp:.4f} bpp {score:.2f} dB enc {enc_s:.1f}s dec {dec_s:.3f}s",
                      flush=True)
                w.write()


if __name__ == "__main__":
    main()

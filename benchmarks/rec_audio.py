"""RD of rec on LibriSpeech clips beside MP3 and Opus measured in the same run, and the paper.

The paper (RECOMBINER, Table 2 / Fig. 3b) codes the first 3 s of each LibriSpeech test clip at
16 kHz in 60 patches of 800 samples. `../shared/data/audio` holds two LibriSpeech clips; both
are held out of `inrzip train` (the pack is trained on the folder's other files). Rates are
kbps from bytes on disk (the .inrz header, the MP3 frames, the Ogg pages); PSNR is over int16
samples with peak 65535 (signals in [-1, 1], peak-to-peak 2, as COIN++ and the paper).
MP3 and Opus are decoded by ffmpeg, which trims encoder delay; the best lag within +-2000
samples is still searched (and reported) so that a codec is never charged for misalignment.

    python benchmarks/rec_audio.py --data ../shared/data/audio --rates 5.7,10.7,22.1
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from inrzip import api
from inrzip.signal import Signal

PAPER_KBPS = [5.7, 10.7, 22.1]           # LibriSpeech, as quoted in the issue (paper Fig. 3b)
PAPER_PSNR = [42.6, 47.1, 52.2]
MP3_KBPS = [8, 16, 24, 32]              # MPEG-2 layer III rates at 16 kHz
OPUS_KBPS = [6, 10, 16, 22]
MAX_LAG = 2000


def paper_psnr(kbps: float) -> float:
    return float(np.interp(np.log(kbps), np.log(PAPER_KBPS), PAPER_PSNR))


def psnr_aligned(ref: np.ndarray, out: np.ndarray) -> tuple[float, int]:
    """PSNR (peak 65535) at the lag in +-MAX_LAG samples that maximises the cross-correlation."""
    r, o = ref.astype(np.float64).ravel(), out.astype(np.float64).ravel()
    n = len(r) + len(o)
    spec = np.fft.irfft(np.fft.rfft(o, n) * np.conj(np.fft.rfft(r, n)), n)
    lags = np.r_[np.arange(0, MAX_LAG + 1), np.arange(-MAX_LAG, 0)]
    lag = int(lags[np.argmax(spec[lags])])
    shifted = np.zeros_like(r)
    src = o[max(lag, 0):max(lag, 0) + len(r) - max(-lag, 0)]
    shifted[max(-lag, 0):max(-lag, 0) + len(src)] = src
    return common.psnr(r, shifted, 65535.0), lag


def ffmpeg_round_trip(samples: np.ndarray, rate: int, codec: str, kbps: int) -> tuple[bytes, np.ndarray, float, float]:
    """Encode with ffmpeg (libmp3lame / libopus), decode back to int16; returns bytes, samples, times."""
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()
    wav = io.BytesIO()
    soundfile.write(wav, samples, rate, format="WAV", subtype="PCM_16")
    fmt, args = ("mp3", ["-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0"]) if codec == "mp3" \
        else ("ogg", ["-c:a", "libopus", "-application", "audio"])
    t0 = time.perf_counter()
    enc = subprocess.run([exe, "-v", "error", "-f", "wav", "-i", "-", *args, "-b:a", f"{kbps}k",
                          "-map_metadata", "-1", "-f", fmt, "-"], input=wav.getvalue(), capture_output=True, check=True).stdout
    t1 = time.perf_counter()
    dec = subprocess.run([exe, "-v", "error", "-i", "-", "-f", "s16le", "-ac", "1", "-ar", str(rate), "-"],
                         input=enc, capture_output=True, check=True).stdout
    t2 = time.perf_counter()
    return enc, np.frombuffer(dec, dtype=np.int16), t1 - t0, t2 - t1


def clips(folder: Path, pattern: str, seconds: float) -> list[tuple[str, Signal]]:
    out = []
    for path in sorted(folder.glob(pattern)):
        sig = api.load_signal(str(path))
        n = int(seconds * sig.sample_rate) if seconds > 0 else sig.spatial_shape[0]
        out.append((path.name, Signal(sig.data[:n, :1].copy(), "audio", sig.bit_depth, sample_rate=sig.sample_rate)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--pattern", default="speech_librispeech_*.wav")
    ap.add_argument("--seconds", type=float, default=3.0, help="first N seconds of each clip (paper: 3)")
    ap.add_argument("--rates", default="5.7,10.7,22.1", help="rec targets in kbps")
    common.add_rec_arguments(ap)
    ap.add_argument("--codecs", default="rec,mp3,opus")
    args = ap.parse_args()
    folder = Path(args.data)
    if not folder.is_dir():
        sys.exit(f"skip: {folder} not found (the audio lives in ../shared/data/audio)")
    todo = clips(folder, args.pattern, args.seconds)
    if not todo:
        sys.exit(f"skip: no {args.pattern} in {folder}")
    dataset = "librispeech"
    codecs = args.codecs.split(",")
    desc = f"first {args.seconds:g} s of {', '.join(n for n, _ in todo)} (16 kHz mono)"
    for codec in codecs:
        name = (args.name or f"inrzip-rec-{args.effort}") if codec == "rec" else codec
        w = common.ResultWriter(name, dataset, f"{codec} on {desc}", threads=None,
                                extra={"paper": {"kbps": PAPER_KBPS, "psnr": PAPER_PSNR}})
        ladder = [float(r) for r in args.rates.split(",")] if codec == "rec" else (MP3_KBPS if codec == "mp3" else OPUS_KBPS)
        for clip, sig in todo:
            seconds = sig.spatial_shape[0] / sig.sample_rate
            for kbps in ladder:
                extra: dict = {}
                if codec == "rec":
                    data_len, decoded, enc_s, dec_s, stats = common.rec_round_trip(sig, f"{kbps}kbps", common.rec_options(args))
                    out = decoded[:, 0]
                    score, lag = common.psnr(sig.data[:, 0].astype(np.float64), out.astype(np.float64), 65535.0), 0
                    extra = common.rec_row_stats(stats)
                else:
                    data, out, enc_s, dec_s = ffmpeg_round_trip(sig.data[:, 0], sig.sample_rate, codec, int(kbps))
                    data_len = len(data)
                    score, lag = psnr_aligned(sig.data[:, 0], out)
                real_kbps = 8 * data_len / seconds / 1000
                w.add(clip, f"{kbps}kbps", bpp=8 * data_len / sig.spatial_shape[0], psnr=score, ms_ssim=None,
                      encode_s=enc_s, decode_s=dec_s, kbps=round(real_kbps, 3), bytes=data_len, lag=lag,
                      paper_psnr=round(paper_psnr(real_kbps), 3), **extra)
                print(f"{codec} {clip} {kbps}: {real_kbps:.2f} kbps {score:.2f} dB (paper {paper_psnr(real_kbps):.1f}) "
                      f"enc {enc_s:.1f}s dec {dec_s:.3f}s", flush=True)
                w.write()


if __name__ == "__main__":
    main()

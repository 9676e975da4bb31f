"""`inrzip train`: learn a rec model pack (the paper's Algorithm 1, as its code runs it).

Full-batch EM over a fixed set of training crops (image crops of rows x cols patches; for
audio, mono segments of cols patches taken from any channel of the training files; for video,
clips of frames x rows x cols patches): the E-step fits every crop's posterior jointly
with A and the upsampler (loss = sum of per-patch MSE + beta * KL); the M-step sets each prior to
the closed-form empirical Bayes update (mean of posterior means; mean of posterior variances plus
the variance of the means); beta moves after each E-step so that the average KL per patch (all
levels amortised) lands in [0.9, 1] x the bit budget. Checkpoints make it resumable.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ...errors import UsageError
from ...fit.device import resolve
from ...fit.recombiner import (
    LN2,
    Posterior,
    RecNet,
    patch_mse,
    patchify,
    random_pixels,
    unit_psnr,
)
from ...progress import Progress, silent
from .arch import LEVEL_GROUP, LEVEL_IMAGE, LEVEL_PATCH, RecArch
from .pack import LEVELS, Pack

INIT_PRIOR_STD = math.log1p(math.exp(-2.0)) / 6       # reference: softplus(-2) / 6
# reference: softplus(-4) / 6 = 3e-3; with a short CPU training that much sampling noise keeps the
# fit near 20 dB, and 3e-4 lets the prior collapse (see `warmup`); 1e-3 with `lr_std` 1e-2 reached
# 26 dB after the warmup and the best encodes of the three (measured on a Kodak crop).
INIT_POSTERIOR_STD = 1e-3


@dataclass
class TrainOptions:
    """Everything that makes a pack; recorded in the pack's `info`."""

    rate_bpp: float = 0.3
    # Defaults: the recipe of the shipped image pack (inrzip/models/README.md), ~45 min on 2 CPU cores.
    crops: int = 12                  # training instances (crop_rows x crop_cols patches each)
    crop_rows: int = 4
    crop_cols: int = 8
    crop_frames: int = 1             # video: patches along time per crop (paper: one 24-frame slab)
    downscale: int = 1               # video: box-filter training videos by this factor first (paper: 240 -> 128 px)
    em_iterations: int = 50
    e_steps: int = 50                # Adam steps per E-step (reference: 200 then 100)
    # The first M-step must see posteriors that have spread out to fit their patches: M-steps on
    # posteriors still near their shared init shrink the prior to the init std (measured: 4e-4),
    # and every later step is then too costly to move. Hence a long first E-step at a small beta.
    warmup: int = 200                # extra Adam steps in the first E-step (reference: 100)
    posterior_std0: float = INIT_POSTERIOR_STD   # initial posterior std (reference: softplus(-4) / 6 = 3e-3)
    lr: float = 1e-3                 # reference: 2e-4 over ~55k steps
    lr_a: float = 1e-5               # A: every entry moves every weight, so it needs a far smaller step
    lr_std: float = 1e-2             # posterior log-stds (0: lr); a larger step lets them settle in a short run
    pixel_fraction: float = 0.25     # SIREN evaluated on this share of points per step (COMBINER: 0.25)
    beta0: float = 1e-6              # beta doubles at most per EM iteration until the KL meets the budget
    seed: int = 0
    # audio: resample every training file to this rate first (0: each file's own rate, as packs
    # made before 2026-12-02 were); `inrzip train` sets it to --sample-rate
    sample_rate: int = 0
    device: str = "auto"
    arch: RecArch = field(default_factory=RecArch)

    @property
    def crop_grid(self) -> tuple[int, ...]:
        """Patch grid of one training crop."""
        if self.arch.dims == 3:
            return self.crop_frames, self.crop_rows, self.crop_cols
        return self.crop_rows, self.crop_cols


AUDIO_ARCH = {"patch": 800, "channels": 1, "dims": 1}     # the paper's audio setting (Table 2)
AUDIO_CROP = {"crop_rows": 1, "crop_cols": 15}           # 12 000-sample segments (paper: 60 patches)
VIDEO_ARCH = {"patch": 16, "frames": 24, "dims": 3, "fourier": 18}   # Table 2: 24 x 16 x 16 patches
VIDEO_CROP = {"crop_frames": 1, "crop_rows": 4, "crop_cols": 4}     # 24 x 64 x 64 clips (paper: 24 x 128 x 128)


def parse_train_options(options: dict, rate_bpp: float, device: str, modality: str = "image") -> TrainOptions:
    """TrainOptions from `-O key=value` pairs; `arch.NAME=V` sets a network size.

    `rate_bpp` is bits per patch point (pixel, or audio sample)."""
    from dataclasses import fields, replace

    arch_fields = {f.name: f.type for f in fields(RecArch)}
    train_fields = {f.name for f in fields(TrainOptions)} - {"arch", "rate_bpp", "device"}
    float_fields = {f.name for f in fields(TrainOptions) if f.type in ("float", float)}
    arch_kw, kw = {}, {}
    for key, value in options.items():
        try:
            if key.startswith("arch.") and key[5:] in arch_fields:
                arch_kw[key[5:]] = float(value) if arch_fields[key[5:]] in ("float", float) else int(value)
            elif key in train_fields:
                kw[key] = float(value) if key in float_fields else int(value)
            else:
                known = ", ".join(sorted(train_fields) + [f"arch.{k}" for k in arch_fields])
                raise UsageError(f"train: unknown option {key!r} (known: {known})")
        except ValueError:
            raise UsageError(f"train: option {key}={value!r} is not a number") from None
    if modality == "audio":
        arch_kw = {**AUDIO_ARCH, **arch_kw}
        kw = {**AUDIO_CROP, **kw}
        if kw["crop_rows"] != 1 or arch_kw["dims"] != 1 or arch_kw["channels"] != 1:
            raise UsageError("train: audio packs are mono 1-D (crop_rows=1, arch.dims=1, arch.channels=1)")
    elif modality == "video":
        arch_kw = {**VIDEO_ARCH, **arch_kw}
        kw = {**VIDEO_CROP, **kw}
        if arch_kw["dims"] != 3 or arch_kw.get("channels", 3) != 3:
            raise UsageError("train: video packs are 3-D RGB (arch.dims=3, arch.channels=3)")
    elif arch_kw.get("dims", 2) != 2:
        raise UsageError("train: image packs are 2-D (arch.dims=2); use --modality audio or video")
    try:
        arch = replace(RecArch(), **arch_kw)
    except ValueError as e:
        raise UsageError(str(e)) from None
    opts = TrainOptions(rate_bpp=rate_bpp, device=device, arch=arch, **kw)
    if min(opts.crops, opts.crop_rows, opts.crop_cols, opts.crop_frames, opts.downscale, opts.em_iterations,
           opts.e_steps) < 1:
        raise UsageError("train: crops, crop_rows, crop_cols, crop_frames, downscale, em_iterations and e_steps "
                         "must be >= 1")
    if opts.sample_rate < 0:
        raise UsageError("train: sample_rate must be >= 0 (0: each file's own rate)")
    if not 0 < opts.pixel_fraction <= 1 or min(opts.lr, opts.beta0, opts.posterior_std0) <= 0 \
            or min(opts.lr_std, opts.warmup) < 0:
        raise UsageError("train: need 0 < pixel_fraction <= 1, lr, beta0, posterior_std0 > 0, lr_std, warmup >= 0")
    return opts


def load_training_images(folder: Path, min_side: int) -> list[np.ndarray]:
    """8-bit RGB images of the folder at least `min_side` on both sides, as float32 in [-1, 1]."""
    from ...media.image import read_image

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})
    images = []
    for p in paths:
        with open(p, "rb") as f:
            sig = read_image(f, str(p), None)
        if sig.channels != 3 or min(sig.data.shape[:2]) < min_side:
            continue
        images.append(sig.to_unit())
    if not images:
        raise UsageError(f"{folder}: no RGB images of at least {min_side} px to train on")
    return images


def load_training_audio(folder: Path, min_samples: int, sample_rate: int = 0) -> list[np.ndarray]:
    """Every channel of every WAV/FLAC in the folder, resampled to `sample_rate` (0: each file's
    own rate), that has at least `min_samples`, as (N, 1) float32."""
    from ...media.audio import read_audio, resample

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in {".wav", ".flac"})
    tracks = []
    for p in paths:
        with open(p, "rb") as f:
            sig = read_audio(f, str(p), None, size=p.stat().st_size)
        unit = sig.to_unit()
        for c in range(sig.channels):
            track = resample(unit[:, c:c + 1], sig.sample_rate, sample_rate or sig.sample_rate)
            if track.shape[0] >= min_samples:
                tracks.append(track)
    if not tracks:
        raise UsageError(f"{folder}: no WAV/FLAC files of at least {min_samples} samples to train on")
    return tracks


VIDEO_SUFFIXES = {".mp4", ".m4v", ".mkv", ".webm", ".y4m", ".avi", ".mov"}


def load_training_video(folder: Path, frames: int, min_side: int, downscale: int = 1) -> list[np.ndarray]:
    """Every video in the folder with at least `frames` frames and `min_side` px (after a
    `downscale` x `downscale` box filter), as (T, H, W, 3) float32 in [-1, 1]. Raw .yuv files
    are skipped: their frame size is not in the file."""
    from ...media import read_signal

    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    clips = []
    for p in paths:
        sig = read_signal(str(p))
        if sig.modality != "video":
            continue
        unit = sig.to_unit()
        if downscale > 1:
            t, hh, ww, c = unit.shape
            hh, ww = hh // downscale * downscale, ww // downscale * downscale
            unit = unit[:, :hh, :ww].reshape(t, hh // downscale, downscale, ww // downscale, downscale, c).mean(axis=(2, 4))
        if unit.shape[0] >= frames and min(unit.shape[1:3]) >= min_side:
            clips.append(unit.astype(np.float32))
    if not clips:
        raise UsageError(f"{folder}: no videos of at least {frames} frames and {min_side} px to train on")
    return clips


def random_clips(videos: list[np.ndarray], count: int, shape: tuple[int, int, int], seed: int) -> np.ndarray:
    """`count` (T, H, W, 3) crops of the videos, drawn with a seeded generator."""
    gen = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        v = videos[gen.integers(len(videos))]
        start = [int(gen.integers(n - s + 1)) for n, s in zip(v.shape[:3], shape)]
        out.append(v[tuple(slice(a, a + s) for a, s in zip(start, shape))])
    return np.stack(out)


def random_segments(tracks: list[np.ndarray], count: int, length: int, seed: int) -> np.ndarray:
    """`count` (length, 1) segments of the tracks, drawn with a seeded generator."""
    gen = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        t = tracks[gen.integers(len(tracks))]
        start = gen.integers(t.shape[0] - length + 1)
        out.append(t[start:start + length])
    return np.stack(out)


def training_set(data: Path, opts: TrainOptions) -> np.ndarray:
    """The fixed training crops: (crops, H, W, 3) images, (crops, T, H, W, 3) clips or (crops, N, 1) audio."""
    arch = opts.arch
    if arch.dims == 3:
        shape = tuple(g * p for g, p in zip(opts.crop_grid, arch.patch_shape))
        videos = load_training_video(data, shape[0], min(shape[1:]), opts.downscale)
        return random_clips(videos, opts.crops, shape, opts.seed)
    if arch.dims == 1:
        length = opts.crop_cols * arch.patch
        return random_segments(load_training_audio(data, length, opts.sample_rate), opts.crops, length, opts.seed)
    height, width = opts.crop_rows * arch.patch, opts.crop_cols * arch.patch
    return random_crops(load_training_images(data, min(height, width)), opts.crops, height, width, opts.seed)


def random_crops(images: list[np.ndarray], count: int, height: int, width: int, seed: int) -> np.ndarray:
    """`count` crops (either orientation of the source), drawn with a seeded generator."""
    gen = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        img = images[gen.integers(len(images))]
        if img.shape[0] < height or img.shape[1] < width:
            img = img.transpose(1, 0, 2)
            if img.shape[0] < height or img.shape[1] < width:
                continue
        y = gen.integers(img.shape[0] - height + 1)
        x = gen.integers(img.shape[1] - width + 1)
        out.append(img[y:y + height, x:x + width])
    return np.stack(out)


def initial_posterior(arch: RecArch, gen: torch.Generator, std: float = INIT_POSTERIOR_STD
                      ) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor]]:
    """Reference init: SIREN-scaled patch latents, 0.1 N(0,1) positional latents, zero upper levels."""
    bound = math.sqrt(6.0 / arch.hidden) / arch.w0
    inr = torch.empty(arch.inr_size).uniform_(-bound, bound, generator=gen)
    lpe = 0.1 * torch.randn(arch.lpe_size, generator=gen)
    mean = {LEVEL_PATCH: torch.cat([inr, lpe]), LEVEL_GROUP: torch.zeros(arch.inr_size), LEVEL_IMAGE: torch.zeros(arch.inr_size)}
    logstd = {lv: torch.full_like(mean[lv], math.log(std)) for lv in LEVELS}
    return mean, logstd


def train(data: Path, out: Path, opts: TrainOptions, progress: Progress = silent,
          checkpoint: Path | None = None, init: Pack | None = None) -> Pack:
    """Run EM and write the pack to `out`. `init` warm-starts from a trained pack (its A,
    upsampler, priors and beta; posteriors start where the encoder starts them): with a new
    `seed` the run sees new crops, so chained runs train on more data than one run holds."""
    arch = opts.arch
    if init is not None and init.arch != arch:
        raise UsageError(f"--init {init.path}: its architecture differs from these training options' "
                         "(modality or arch.* options)")
    dev = resolve(opts.device)
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    t0 = time.time()
    crops = torch.from_numpy(training_set(data, opts))
    target = patchify(crops, arch).to(dev)
    weight = torch.ones(target.shape[:3], device=dev)

    net = RecNet(arch).to(dev)
    if init is None:
        mean, logstd = initial_posterior(arch, gen, opts.posterior_std0)
        prior_mean = {lv: torch.zeros(arch.level_size(lv), device=dev) for lv in LEVELS}
        prior_std = {lv: torch.full((arch.level_size(lv),), INIT_PRIOR_STD, device=dev) for lv in LEVELS}
        beta = opts.beta0
    else:
        net.load_pack_tensors(init.A, init.upsampler)
        mean = {lv: torch.from_numpy(init.prior_mean[lv]) for lv in LEVELS}
        logstd = {lv: torch.from_numpy(init.init_logstd[lv]) for lv in LEVELS}
        prior_mean = {lv: mean[lv].to(dev) for lv in LEVELS}
        prior_std = {lv: torch.from_numpy(init.prior_std[lv]).to(dev) for lv in LEVELS}
        beta = init.beta
    post = Posterior(arch, opts.crops, opts.crop_grid, mean, logstd).to(dev)
    start_iter = 0
    history: list[dict] = []
    optimizer = torch.optim.Adam([{"params": list(post.mean.parameters()) + list(net.convs.parameters()), "lr": opts.lr},
                                  {"params": list(post.logstd.parameters()), "lr": opts.lr_std or opts.lr},
                                  {"params": list(net.A.parameters()), "lr": opts.lr_a}])
    if checkpoint and checkpoint.exists():
        beta, start_iter, history = _resume(checkpoint, net, post, prior_mean, prior_std, optimizer)
    patches = opts.crops * math.prod(opts.crop_grid)
    budget = opts.rate_bpp * arch.patch_points
    total_steps = opts.em_iterations * opts.e_steps + opts.warmup
    for it in range(start_iter, opts.em_iterations):
        steps_before = it * opts.e_steps + (opts.warmup if it else 0)
        for step in range(opts.e_steps + (opts.warmup if it == 0 else 0)):
            z = post.sample()
            h, lpe = post.latents(z)
            sample = random_pixels(arch, opts.pixel_fraction)
            pred = net(h, lpe, opts.crop_grid, sample)
            mse = patch_mse(pred, target, weight, sample)
            kl = post.kl_nats(prior_mean, prior_std)
            kl_total = sum(k.sum() for k in kl.values())
            loss = (mse.sum() + beta * kl_total) / patches
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            done = steps_before + step + 1
            progress("train", done, total_steps, psnr=unit_psnr(mse.mean().item()),
                     bits=kl_total.item() / LN2 / patches / arch.patch_points)
        with torch.no_grad():
            kl_bits_patch = sum(k.sum() for k in post.kl_nats(prior_mean, prior_std).values()).item() / LN2 / patches
            _m_step(post, prior_mean, prior_std)
            ratio = kl_bits_patch / budget
            if ratio > 1.0 or ratio < 0.9:
                beta = float(np.clip(beta * np.clip(ratio, 1 / 2, 2), 1e-12, 1.0))
            history.append({"iteration": it + 1, "bpp": round(kl_bits_patch / arch.patch_points, 4),
                            "psnr": round(unit_psnr(mse.mean().item()), 3), "beta": beta})
        if checkpoint:
            _save_checkpoint(checkpoint, net, post, prior_mean, prior_std, optimizer, beta, it + 1, history)
    pack = _finish(net, post, prior_mean, prior_std, beta, opts, data, time.time() - t0, dev, history, init)
    from .pack import save

    pack.pack_id = save(pack, out)
    pack.path = out
    return pack



def _m_step(post: Posterior, prior_mean: dict, prior_std: dict) -> None:
    for lv in LEVELS:
        m = post.mean[str(lv)].reshape(-1, post.mean[str(lv)].shape[-1])
        var = torch.exp(2 * post.logstd[str(lv)]).reshape(m.shape)
        prior_mean[lv] = m.mean(0)
        spread = m.var(0) if m.shape[0] > 1 else torch.zeros_like(prior_mean[lv])
        prior_std[lv] = torch.sqrt(var.mean(0) + spread).clamp_min(1e-8)


def _finish(net: RecNet, post: Posterior, prior_mean: dict, prior_std: dict, beta: float, opts: TrainOptions,
            data: Path, seconds: float, dev: torch.device, history: list[dict], init: Pack | None = None) -> Pack:
    arch = opts.arch
    with torch.no_grad():
        kl = post.kl_nats(prior_mean, prior_std)
        kl_bits = {lv: (kl[lv].reshape(-1, kl[lv].shape[-1]).mean(0) / LN2).cpu().numpy() for lv in LEVELS}
        init_logstd = {lv: post.logstd[str(lv)].reshape(-1, kl[lv].shape[-1]).mean(0).cpu().numpy() for lv in LEVELS}
    info = {"data": str(data), "command": " ".join(["inrzip"] + sys.argv[1:]) if sys.argv[0].endswith("inrzip") else "python api", "options": {k: v for k, v in asdict(opts).items() if k != "arch"},
            "seconds": round(seconds, 1), "device": str(dev), "torch": torch.__version__,
            "history_tail": history[-5:]}
    if init is not None:     # the parent pack of a warm-started (chained) run
        info["init"] = {"pack": init.pack_id.hex(), "path": str(init.path), "seconds": init.info.get("seconds")}
    return Pack(arch=arch, rate_bpp=opts.rate_bpp, beta=beta,
                level_bits={lv: float(kl_bits[lv].sum()) for lv in LEVELS},
                A=[a.detach().cpu().numpy() for a in net.A],
                upsampler=[(c.weight.detach().cpu().numpy(), c.bias.detach().cpu().numpy()) for c in net.convs],
                prior_mean={lv: prior_mean[lv].cpu().numpy() for lv in LEVELS},
                prior_std={lv: prior_std[lv].cpu().numpy() for lv in LEVELS},
                init_logstd=init_logstd, kl_bits=kl_bits, info=info)


def _save_checkpoint(path: Path, net: RecNet, post: Posterior, prior_mean: dict, prior_std: dict,
                     optimizer: torch.optim.Optimizer, beta: float, iteration: int, history: list[dict]) -> None:
    """Everything the loop carries from one EM iteration to the next, so that a resumed run
    continues exactly as an uninterrupted one would: weights, posteriors, priors, beta, Adam's
    moments (a fresh Adam after a resume takes full-size steps and throws the KL off target) and
    the random number generators' states."""
    from safetensors.torch import save_file

    from ...fileio import atomic_path

    tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    tensors.update({f"post.{k}": v.detach().cpu().contiguous() for k, v in post.state_dict().items()})
    tensors.update({f"prior_mean.{lv}": prior_mean[lv].cpu() for lv in LEVELS})
    tensors.update({f"prior_std.{lv}": prior_std[lv].cpu() for lv in LEVELS})
    for index, state in optimizer.state_dict()["state"].items():
        tensors.update({f"adam.{index}.{k}": torch.as_tensor(v).detach().cpu().contiguous() for k, v in state.items()})
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and next(net.parameters()).is_cuda:
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    with atomic_path(Path(path)) as tmp:
        save_file(tensors, str(tmp), metadata={"beta": repr(beta), "iteration": str(iteration),
                                               "history": json.dumps(history)})


def _resume(path: Path, net: RecNet, post: Posterior, prior_mean: dict, prior_std: dict,
            optimizer: torch.optim.Optimizer) -> tuple[float, int, list]:
    """Load a checkpoint into the run's objects; checkpoints written before Adam's moments and
    the RNG states were saved resume with a fresh Adam and the seed's RNG."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    dev = next(net.parameters()).device
    net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=False)
    try:
        post.load_state_dict({k[5:]: v for k, v in tensors.items() if k.startswith("post.")}, strict=False)
        _load_adam(optimizer, tensors)
    except (RuntimeError, ValueError, KeyError) as e:
        raise UsageError(f"{path}: checkpoint does not match these training options ({e})") from None
    for lv in LEVELS:
        prior_mean[lv] = tensors[f"prior_mean.{lv}"].to(dev)
        prior_std[lv] = tensors[f"prior_std.{lv}"].to(dev)
    if "rng.cpu" in tensors:
        torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and dev.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return float(meta["beta"]), int(meta["iteration"]), json.loads(meta["history"])


def _load_adam(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("adam."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    if state:
        saved = optimizer.state_dict()
        optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})

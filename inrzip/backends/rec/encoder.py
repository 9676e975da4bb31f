"""rec encoder: fit the three-level posterior, then code it block by block with relative entropy
coding (fixed-budget ordered random coding, as the reference code runs it).

1. Pick the lowest-rate pack at or above the target rate; split the bit budget over the levels in the pack's
   proportions and turn it into a block count per level (each block costs `index_bits`, or, with
   range-coded 16-bit indices, what an index cost at this rate in training encodes, 14.8-15.6 bits).
2. Fit the posterior: per-patch MSE + beta_b * KL_b, with one beta per block pushed every 10
   steps so that each block's KL sits just under `index_bits` bits.
3. Code level 3, then 2, then 1. Each round codes, in every row, the not-yet-coded block with
   the largest KL: of 2**index_bits shared candidates from the prior, take
   argmax_i log q/p (x_i) + g_i (g: sorted Gumbel sequence, -log of Poisson arrival times),
   fix those variables, and fine-tune the rest for a few steps.
4. Store the indices: range-coded with a fixed table (index_code.py) when 16 bits wide, else
   fixed-width.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ... import container
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
    unpatchify,
)
from ...progress import Progress, silent
from ...signal import Signal, from_unit
from .. import EncodeResult
from ..options import options_from_dict
from . import blocks
from . import format as fmt
from . import index_code
from . import pack as packs
from .arch import CODING_ORDER, LEVEL_GROUP, LEVEL_IMAGE, LEVEL_PATCH, signal_grid
from .decoder import level_rows

RATE_TOLERANCE = 0.05
# The posterior of the whole signal is fitted at once (~200 bytes of activations per sample on
# the sampled share): 16 M samples is ~3-4 GB, e.g. a 4K image, 96 frames of 512 x 320, or 17
# minutes of 16 kHz audio. Beyond it, a clear error instead of an out-of-memory kill.
MAX_FIT_POINTS = 1 << 24


@dataclass(frozen=True)
class EffortPreset:
    """What an `effort` name sets; `RecOptions.schedule` applies the options that override it."""

    fit_steps: int          # Adam steps on the whole posterior before coding starts
    finetune_steps: int     # steps between coding rounds (repair what each coded sample costs)
    beta_factor: float      # how hard each block's beta is pushed towards index_bits
    pixel_fraction: float   # share of points the SIREN evaluates per step
    max_rounds: int         # most coding rounds per level (0: one block per row per round)
    lr_end: float = 0.0     # Adam step once every block is coded (0: no decay from `lr`)
    finetune_tilt: float = 0.0  # fine-tune steps per round weighted by (blocks coded) ** tilt; 0: even
    min_finetune_rounds: int = 0  # fine-tune steps in all at least finetune_steps x this (low rates code fewer rounds)
    phase_share: float = 1.0  # share of the sampled phases' points the SIREN evaluates per step


# The fine-tuning between coding rounds, which repairs what each coded block's sample costs,
# is worth more than fitting longer: on Kodak crops at 0.3 bpp, 10 fine-tune steps over up to 48
# rounds instead of 3 over 24 gain 0.7-1.2 dB; 300 more fitting steps on top add 0.1 dB. On
# full-size kodim12 at 0.3 bpp, 2 threads of a free 2-core Xeon: 10 / 20 / 30 fine-tune steps per
# round gave 31.38 / 31.77 / 31.99 dB in 161 / 268 / 381 s (2026-12-01); since the CPU allocator
# settings (inrzip/allocator.py) made each step ~1.3x cheaper, 20 / 30 / 40 steps with range-coded
# indices give 31.90 / 32.12 / 32.24 dB in 250 / 379 / 485 s on the same kind of CPU (2026-12-07),
# so both presets moved up ten steps (benchmarks/README.md, "rec on the CPU: allocator settings").
# Letting Adam's step fall from 1e-3 to 1e-4 as the blocks get coded gains 0.05-0.23 dB per Kodak
# crop at 0.1, 0.3 and 1.0 bpp (fast; a constant 5e-4 or 2e-3 does not; benchmarks/README.md,
# "rec: a falling step size"). The same steps after every round, although a round of the image level
# codes 48-115x fewer blocks than one of the patch level on a Kodak image, beat spreading them by blocks
# coded (-0.5 dB on a crop at 1.0 bpp) and favouring the few-block rounds (-0.15 dB): `finetune_tilt`.
# A Kodak image codes 78 rounds at 0.1 bpp and 129 at 1.0, so per-round steps gave low rates 40% less
# fine-tuning in less time; a floor of 120 rounds' worth (3 600 steps in fast) gains 0.06-0.24 dB on
# every Kodak image at 0.1 bpp and leaves 1.0 bpp as it was (benchmarks/README.md, "a floor on the
# fine-tune steps"). A small image that codes few rounds gets many steps per round, each of them cheap.
# Evaluating half or a quarter of the sampled points per step (`phase_share`) makes a step 0.75 / 0.62
# as costly, but as many more steps bought nothing on Kodak crops at 0.1 bpp (benchmarks/README.md).
# `max` is four times fast's steps: +0.21 / +0.25 / +0.58 dB on Kodak crops at 0.1 / 0.3 / 1.0 bpp for
# 4-5x the time (it replaced the paper's 30 000-step schedule: hours per image on a CPU, never measured).
# Extra time pays at least as well in fitting as in fine-tuning: 1 200 fitting steps instead of 300 gain
# 0.04-0.27 dB on Kodak and LibriSpeech for 10-33% more time, so `normal` fits 1 200; `fast` keeps 300
# for its Kodak tables and its margin under the 10-minute bar (benchmarks/README.md, "rec: encoder
# effort" and "rec: where more encoder time pays").
_FAST = EffortPreset(300, 30, 1.2, 0.25, 48, lr_end=1e-4, min_finetune_rounds=120)
EFFORT = {
    "fast": _FAST,
    "normal": replace(_FAST, fit_steps=4 * _FAST.fit_steps, finetune_steps=40),
    "max": replace(_FAST, fit_steps=4 * _FAST.fit_steps, finetune_steps=4 * _FAST.finetune_steps),
}
KL_MARGIN = 0.4     # beta falls when a block's KL drops below index_bits - margin (reference: 15.6 of 16)


@dataclass
class RecOptions:
    """Encoder parameters; each can be set with `-O key=value`."""

    effort: str = "normal"
    steps: int = 0            # 0: from effort
    finetune: int = -1        # fine-tune steps per coding round; -1: from effort
    rounds: int = -1          # most coding rounds per level (0: one block per row per round); -1: effort
    lr: float = 1e-3          # reference: 2e-4 over 30k steps
    lr_end: float = -1.0      # step once every block is coded, geometric in the coded share; 0: none; -1: effort
    finetune_tilt: float = math.nan  # fine-tune steps per round ~ (blocks it codes) ** tilt; nan: from effort
    min_finetune_rounds: int = -1  # fine-tune steps in all at least `finetune` x this; 0: none; -1: effort
    phase_share: float = -1.0  # share of the sampled points each step evaluates (cheaper, noisier steps); -1: effort
    index_bits: int = 16
    index_coding: str = "auto"  # range (16-bit indices only), fixed, or auto: range when 16 bits wide
    seed: int = 0
    pack: str = ""            # path to a pack; default: the installed pack at or just above the rate
    device: str = "auto"

    def validate(self) -> None:
        if self.effort not in EFFORT:
            raise UsageError(f"rec: effort must be one of {', '.join(EFFORT)}")
        if not 4 <= self.index_bits <= 20:
            raise UsageError("rec: index_bits must be between 4 and 20")
        if self.index_coding not in ("auto", "range", "fixed"):
            raise UsageError("rec: index_coding must be auto, range or fixed")
        if self.index_coding == "range" and self.index_bits != fmt.RANGED_INDEX_BITS:
            raise UsageError(f"rec: index_coding=range needs index_bits={fmt.RANGED_INDEX_BITS}")
        if self.steps < 0 or self.lr <= 0 or not (self.lr_end >= 0 or self.lr_end == -1):
            raise UsageError("rec: steps must be >= 0, lr > 0 and lr_end >= 0 (0: no decay)")
        if self.min_finetune_rounds < -1:
            raise UsageError("rec: min_finetune_rounds must be >= 0 (0: none)")
        if not (math.isnan(self.finetune_tilt) or -2 <= self.finetune_tilt <= 2):
            raise UsageError("rec: finetune_tilt must be between -2 and 2")
        if not (0 < self.phase_share <= 1 or self.phase_share == -1):
            raise UsageError("rec: phase_share must be in (0, 1]")

    def schedule(self) -> EffortPreset:
        """The effort preset with the options that override it applied: the one place the -1 / nan
        "from effort" defaults are resolved."""
        preset = EFFORT[self.effort]

        def own(value: float, default: float) -> float:
            return default if value < 0 else value

        return replace(
            preset,
            fit_steps=self.steps or preset.fit_steps,
            finetune_steps=int(own(self.finetune, preset.finetune_steps)),
            max_rounds=int(own(self.rounds, preset.max_rounds)),
            lr_end=min(preset.lr_end, self.lr) if self.lr_end < 0 else self.lr_end,  # a preset never raises the step
            finetune_tilt=preset.finetune_tilt if math.isnan(self.finetune_tilt) else self.finetune_tilt,
            min_finetune_rounds=int(own(self.min_finetune_rounds, preset.min_finetune_rounds)),
            phase_share=own(self.phase_share, preset.phase_share),
        )


def parse_options(options: dict) -> RecOptions:
    opts = options_from_dict(RecOptions, options, "rec")
    opts.validate()
    return opts


# ------------------------------------------------------------------ choosing a pack and blocks
# A pack codes rates below the one it was trained at better than a lower-rate pack codes them:
# on Kodak crops (fast preset) the 0.3 pack beats the 0.1 pack at 0.15 bpp by 0.16 dB, the 0.5
# pack the 0.3 pack at 0.35 by 0.05, the 1.0 pack the 0.3 pack at 0.5 by 0.21 and the 0.5 pack at
# 0.7 by 0.23 (benchmarks/README.md, "a 0.5 bpp image pack"). So the encoder takes the lowest-rate
# pack trained at or above the target, counting a pack as "at" it up to this share below.
PACK_RATE_SLACK = 0.05


def nearest_pack_at_or_above(rates: list[tuple[float, Path]], bpp: float) -> Path:
    """The lowest-rate pack whose rate is at least the target (less the slack), else the highest."""
    above = [(rate, path) for rate, path in rates if rate >= bpp * (1 - PACK_RATE_SLACK)]
    return min(above, key=lambda rp: rp[0])[1] if above else max(rates, key=lambda rp: rp[0])[1]


def choose_pack(opts: RecOptions, modality: str, bpp: float) -> packs.Pack:
    """The pack named by `-O pack=`, else the installed pack for the modality trained nearest at
    or above the rate (bits per patch point: per pixel, or per sample of one channel)."""
    if opts.pack:
        path = Path(opts.pack)
        if not path.is_file():
            raise UsageError(f"rec: model pack {path} not found")
        pack = packs.load(path)
        if pack.arch.modality != modality:
            raise UsageError(f"rec: model pack {path} codes {pack.arch.modality}, not {modality}")
        packs.remember(path, pack.pack_id)
        return pack
    rates = packs.shipped_rates(modality)
    if not rates:
        raise UsageError(f"rec: no {modality} model pack is installed (train one with `inrzip train`, "
                         "or use --backend sinr)")
    return packs.load(nearest_pack_at_or_above(rates, bpp))


def index_coding(opts: RecOptions) -> int:
    """The index coding the options ask for (auto: range-coded when the indices are 16 bits)."""
    if opts.index_coding == "fixed" or opts.index_bits != fmt.RANGED_INDEX_BITS:
        return fmt.INDEX_FIXED
    return fmt.INDEX_RANGED


def bits_per_block(params: fmt.RecParams, modality: str, bits_per_point: float) -> float:
    """What one block's index is expected to cost in the file at this rate."""
    if params.index_coding == fmt.INDEX_RANGED:
        return index_code.budgeted_bits(modality, bits_per_point)
    return float(params.index_bits)


def block_counts(pack: packs.Pack, rows: dict[int, int], budget_bits: float, block_bits: float) -> tuple[int, int, int]:
    """Blocks per instance at levels 1, 2, 3 whose total cost (block_bits each) is nearest the budget."""
    k = pack.level_bits
    mass = rows[LEVEL_PATCH] * k[LEVEL_PATCH] + rows[LEVEL_GROUP] * k[LEVEL_GROUP] + rows[LEVEL_IMAGE] * k[LEVEL_IMAGE]
    scale = budget_bits / max(mass, 1e-9)
    arch = pack.arch
    n3 = int(np.clip(round(scale * k[LEVEL_IMAGE] / block_bits), 1, arch.level_size(LEVEL_IMAGE)))
    n2 = int(np.clip(round(scale * k[LEVEL_GROUP] / block_bits), 1, arch.level_size(LEVEL_GROUP)))
    rest = budget_bits - block_bits * (n3 * rows[LEVEL_IMAGE] + n2 * rows[LEVEL_GROUP])
    n1 = int(np.clip(round(rest / (block_bits * rows[LEVEL_PATCH])), 1, arch.level_size(LEVEL_PATCH)))
    return n1, n2, n3


def overhead_bytes(header: container.Header, params: fmt.RecParams, payload_bytes: int) -> int:
    return len(container.build(container.Header(**{**header.__dict__, "params": params.to_bytes()}),
                               [(fmt.INDEX_CHUNK, b"\0" * payload_bytes)])) - payload_bytes


# ------------------------------------------------------------------ the block layout in torch
@dataclass
class LevelLayout:
    """Index arrays that map a level's (instance, variable) tensors to (row, block)."""

    gid: torch.Tensor              # (size,) block of each variable
    perm: torch.Tensor             # (rows, size) instance held by coded row r of variable j
    members: list[np.ndarray]      # variables of each block
    n_groups: int

    def block_sums(self, per_variable: torch.Tensor) -> torch.Tensor:
        """(instances, size) -> (rows, n_groups) sums in the coded layout."""
        coded = torch.gather(per_variable, 0, self.perm)
        out = torch.zeros(coded.shape[0], self.n_groups, dtype=coded.dtype, device=coded.device)
        return out.index_add_(1, self.gid, coded)


def layouts(pack: packs.Pack, rows: dict[int, int], groups: tuple[int, int, int], dev: torch.device) -> dict[int, LevelLayout]:
    out = {}
    for lv, n in zip((LEVEL_PATCH, LEVEL_GROUP, LEVEL_IMAGE), groups):
        gid = blocks.group_of_variables(pack.kl_bits[lv], lv, n)
        perm = blocks.row_permutation(lv, rows[lv], gid.size)
        out[lv] = LevelLayout(torch.from_numpy(gid).to(dev), torch.from_numpy(perm).to(dev),
                              blocks.group_members(gid, n), n)
    return out


# ------------------------------------------------------------------ encoding
class RecEncoder:
    """State of one image's encode: posterior, betas, fixed (coded) variables."""

    def __init__(self, signal: Signal, pack: packs.Pack, groups: tuple[int, int, int], opts: RecOptions,
                 dev: torch.device):
        arch = pack.arch
        self.arch, self.pack, self.opts, self.dev = arch, pack, opts, dev
        shape = signal.spatial_shape
        self.shape = shape
        self.grid = signal_grid(shape, signal.channels, arch)
        if arch.dims == 1:
            padded_shape: tuple[int, ...] = (self.grid[1] * arch.patch,)
        else:
            padded_shape = tuple(g * q for g, q in zip(self.grid, arch.patch_shape))
        unit = signal.to_unit()
        padded = np.pad(unit, [(0, n - s) for n, s in zip(padded_shape, shape)] + [(0, 0)], mode="edge")
        mask = np.zeros(padded.shape[:-1] + ((signal.channels,) if arch.dims == 1 else (1,)), dtype=np.float32)
        mask[tuple(slice(0, s) for s in shape)] = 1.0
        self.target = patchify(torch.from_numpy(padded)[None], arch).to(dev)
        self.weight = patchify(torch.from_numpy(mask)[None], arch)[..., 0].to(dev)
        self.net = RecNet(arch).to(dev)
        self.net.load_pack_tensors(pack.A, pack.upsampler)
        for q in self.net.parameters():
            q.requires_grad_(False)
        self.prior_mean = {lv: torch.from_numpy(pack.prior_mean[lv]).to(dev) for lv in packs.LEVELS}
        self.prior_std = {lv: torch.from_numpy(pack.prior_std[lv]).to(dev) for lv in packs.LEVELS}
        init_logstd = {lv: torch.from_numpy(pack.init_logstd[lv]).to(dev) for lv in packs.LEVELS}
        self.post = Posterior(arch, 1, self.grid, self.prior_mean, init_logstd).to(dev)
        self.level_rows = {lv: self.post.counts[lv] for lv in packs.LEVELS}
        self.layout = layouts(pack, self.level_rows, groups, dev)
        self.beta = {lv: torch.full((self.level_rows[lv], self.layout[lv].n_groups), pack.beta, device=dev)
                     for lv in packs.LEVELS}
        self.coded = {lv: torch.zeros_like(self.beta[lv], dtype=torch.bool) for lv in packs.LEVELS}
        self.fixed = {lv: (torch.zeros_like(self.post.mean[str(lv)], dtype=torch.bool),
                           torch.zeros_like(self.post.mean[str(lv)])) for lv in packs.LEVELS}
        self.indices = {lv: np.zeros((self.level_rows[lv], self.layout[lv].n_groups), dtype=np.int64)
                        for lv in packs.LEVELS}
        self.optimizer = torch.optim.Adam(self.post.parameters(), lr=opts.lr)
        self.patches = math.prod(self.grid)
        self.step_count = 0
        self.max_rounds = 0          # 0: one block per row per round, as the reference

    # ---- one optimisation step
    def block_kl_bits(self) -> dict[int, torch.Tensor]:
        kl = self.post.kl_nats(self.prior_mean, self.prior_std)
        return {lv: self.layout[lv].block_sums(kl[lv][0]) / LN2 for lv in packs.LEVELS}

    def step(self, beta_factor: float, pixel_fraction: float = 1.0, phase_share: float = 1.0) -> tuple[float, float]:
        z = self.post.sample(self.fixed)
        h, lpe = self.post.latents(z)
        sample = random_pixels(self.arch, pixel_fraction, phase_share=phase_share)
        pred = self.net(h, lpe, self.grid, sample)
        mse = patch_mse(pred, self.target, self.weight, sample)
        kl_bits = self.block_kl_bits()
        rate = sum((self.beta[lv] * kl_bits[lv] * ~self.coded[lv]).sum() for lv in packs.LEVELS) * LN2
        loss = (mse.sum() + rate) / self.patches
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_count += 1
        if self.step_count % 10 == 0:
            self.adapt_beta(kl_bits, beta_factor)
        real = (self.weight.sum(dim=2) / self.weight.shape[2])[0]   # share of real pixels per patch
        total_mse = float((mse[0].detach() * real).sum() / real.sum())
        return total_mse, float(sum(k.detach()[~self.coded[lv]].sum() for lv, k in kl_bits.items()))

    @torch.no_grad()
    def adapt_beta(self, kl_bits: dict[int, torch.Tensor], factor: float) -> None:
        top = self.opts.index_bits
        for lv in packs.LEVELS:
            k = kl_bits[lv].detach()
            b = self.beta[lv]
            b[k > top] *= factor
            b[k < top - KL_MARGIN] /= factor
            b.clamp_(1e-10, 1e4)

    # ---- coding
    def candidates(self, level: int) -> torch.Tensor:
        dmax = max(m.size for m in self.layout[level].members)
        n = 1 << self.opts.index_bits
        eps = blocks.candidate_noise(self.opts.seed, level, np.arange(n), dmax)
        return torch.from_numpy(eps.astype(np.float32)).to(self.dev)

    def gumbel(self) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.opts.seed + 1)
        arrivals = torch.cumsum(torch.empty(1 << self.opts.index_bits, dtype=torch.float64).exponential_(generator=gen), 0)
        return (-torch.log(arrivals)).float().to(self.dev)

    def blocks_per_round(self, level: int) -> int:
        """Blocks each row codes per round at a level: all rows have the same blocks, so move together."""
        return -(-self.layout[level].n_groups // self.max_rounds) if self.max_rounds else 1

    def round_blocks(self, level: int) -> list[int]:
        """Blocks each coding round of a level codes, over all its rows."""
        n, per, rows = self.layout[level].n_groups, self.blocks_per_round(level), self.level_rows[level]
        return [rows * min(per, n - start) for start in range(0, n, per)]

    @torch.no_grad()
    def code_round(self, level: int, eps: torch.Tensor, gumbel: torch.Tensor) -> int:
        """Code, in every row with blocks left, its uncoded block of largest KL. Returns blocks coded."""
        lay = self.layout[level]
        kl = self.block_kl_bits()[level].masked_fill(self.coded[level], -1.0)
        pending = ~self.coded[level].all(dim=1)
        rows = torch.nonzero(pending).flatten().tolist()
        if not rows:
            return 0
        left = (~self.coded[level]).sum(dim=1)
        per_round = self.blocks_per_round(level)
        top = kl.topk(per_round, dim=1).indices.tolist()
        by_group: dict[int, list[int]] = {}
        for r in rows:
            for g in top[r][: int(left[r])]:
                by_group.setdefault(g, []).append(r)
        mean, logstd = self.post.mean[str(level)][0], self.post.logstd[str(level)][0]
        mask, value = self.fixed[level]
        for g, grp_rows in by_group.items():
            members = torch.from_numpy(lay.members[g]).to(self.dev)
            r_t = torch.tensor(grp_rows, device=self.dev)
            inst = lay.perm[r_t][:, members]                              # (B, d) instances
            mq = mean[inst, members[None, :]]
            sq = torch.exp(logstd[inst, members[None, :]])
            mp, sp = self.prior_mean[level][members], self.prior_std[level][members]
            a = 0.5 - sp ** 2 / (2 * sq ** 2)                              # (B, d)
            b = sp * (mq - mp) / sq ** 2
            e = eps[:, :members.numel()]
            scores = (e * e) @ a.T + e @ b.T + gumbel[:, None]              # (N, B)
            best = scores.argmax(dim=0)
            chosen = mp + sp * e[best]                                       # (B, d)
            mask[0, inst, members[None, :]] = True
            value[0, inst, members[None, :]] = chosen
            self.coded[level][r_t, g] = True
            self.indices[level][grp_rows, g] = best.cpu().numpy()
        return sum(len(v) for v in by_group.values())

    @torch.no_grad()
    def reconstruction(self) -> np.ndarray:
        """Unit-range samples of the coded signal (every variable fixed), padding cut off."""
        z = {lv: self.fixed[lv][1] for lv in packs.LEVELS}
        h, lpe = self.post.latents(z)
        pred = self.net(h, lpe, self.grid)
        out = unpatchify(pred, self.grid, self.arch)[0].cpu().numpy()
        return out[tuple(slice(0, s) for s in self.shape)]

    def index_stream(self) -> np.ndarray:
        return np.concatenate([self.indices[lv].reshape(-1) for lv in CODING_ORDER])



@dataclass
class Prepared:
    """An encode set up and not yet fitted: what `encode` runs, and what benchmarks time steps of."""

    enc: RecEncoder
    header: container.Header
    params: fmt.RecParams
    block_bits: float


def prepare(signal: Signal, budget_bits: float | None, opts: RecOptions) -> Prepared:
    """Check the signal, choose the pack, split the budget into blocks, build the encoder state."""
    if budget_bits is None:
        raise UsageError("rec: give a rate with -b (e.g. -b 0.3bpp, or -b 6kbps for audio)")
    points = signal.num_points * (signal.channels if signal.modality == "audio" else 1)
    if points > MAX_FIT_POINTS:
        raise UsageError(f"rec: {points:,} samples is more than one encode fits at once ({MAX_FIT_POINTS:,}); "
                         f"cut the {signal.modality} into parts (the paper codes 24-frame 128 x 128 video clips)")
    per_point = budget_bits / points
    pack = choose_pack(opts, signal.modality, per_point)
    arch = pack.arch
    if arch.dims != 1 and signal.channels != arch.channels:
        raise UsageError(f"rec: the model pack codes {arch.channels}-channel {signal.modality}; this one has "
                         f"{signal.channels} (use --backend sinr)")
    dev = resolve(opts.device)
    torch.manual_seed(opts.seed)
    header = container.Header("rec", signal.modality, signal.spatial_shape, signal.channels, signal.bit_depth,
                              sample_rate=signal.sample_rate, fps=signal.fps)
    enc_rows = level_rows(header, arch)
    guess = fmt.RecParams(pack.pack_id, opts.index_bits, opts.seed, (1, 1, 1), index_coding(opts))
    overhead = overhead_bytes(header, guess, int(budget_bits / 8))
    block_bits = bits_per_block(guess, signal.modality, per_point)
    groups = block_counts(pack, enc_rows, budget_bits - 8 * overhead, block_bits)
    params = fmt.RecParams(pack.pack_id, opts.index_bits, opts.seed, groups, guess.index_coding)
    return Prepared(RecEncoder(signal, pack, groups, opts, dev), header, params, block_bits)


def finetune_lr(lr: float, lr_end: float, coded_share: float) -> float:
    """Adam step for the fine-tuning after a share of the blocks is coded: geometric from `lr` to
    `lr_end` (0: stays at `lr`), so the last free variables settle instead of jittering around
    what the coded ones left them."""
    return lr * (lr_end / lr) ** coded_share if lr_end > 0 else lr


def finetune_schedule(per_round: int, tilt: float, round_blocks: list[int], floor: int = 0) -> list[int]:
    """Fine-tune steps after each coding round: `per_round` times the rounds, or `floor` if more, in
    all, each round's share weighted by (blocks it codes / mean) ** tilt. Tilt 0 gives every round
    the same steps (the reference); 1 spreads them by blocks coded; below 0 favours the few-block
    rounds of the image and group levels, whose samples every patch depends on. The floor gives
    low rates, which code fewer rounds and so finish sooner, the steps a high rate gets."""
    mean = sum(round_blocks) / len(round_blocks)
    weights = np.array([(n / mean) ** tilt for n in round_blocks])
    total = max(per_round * len(round_blocks), floor)
    marks = np.round(np.cumsum(weights) * (total / weights.sum())).astype(int)
    return np.diff(marks, prepend=0).tolist()


def encode(signal: Signal, budget_bits: float | None, options: dict, progress: Progress = silent) -> EncodeResult:
    opts = parse_options(options)
    ready = prepare(signal, budget_bits, opts)
    enc, header, params, block_bits = ready.enc, ready.header, ready.params, ready.block_bits
    pack, groups = enc.pack, params.groups

    plan = opts.schedule()
    steps, finetune, share = plan.fit_steps, plan.finetune_steps, plan.phase_share
    enc.max_rounds = plan.max_rounds
    mse = kl = 0.0
    for i in range(steps):
        mse, kl = enc.step(plan.beta_factor, plan.pixel_fraction, share)
        progress("fit", i + 1, steps, psnr=unit_psnr(mse), bits=kl)
    total_blocks = sum(int(enc.coded[lv].numel()) for lv in packs.LEVELS)
    round_blocks = [n for lv in CODING_ORDER for n in enc.round_blocks(lv)]
    floor = finetune * plan.min_finetune_rounds
    schedule = finetune_schedule(finetune, plan.finetune_tilt, round_blocks, floor)
    done = round_i = 0
    gumbel = enc.gumbel()
    for level in CODING_ORDER:
        eps = enc.candidates(level)
        while True:
            n = enc.code_round(level, eps, gumbel)
            if not n:
                break
            if n != round_blocks[round_i]:
                raise RuntimeError(f"rec: coding round {round_i} coded {n} blocks, not the planned {round_blocks[round_i]}")
            done += n
            for group in enc.optimizer.param_groups:
                group["lr"] = finetune_lr(opts.lr, plan.lr_end, done / total_blocks)
            for _ in range(schedule[round_i]):
                mse, _ = enc.step(plan.beta_factor, plan.pixel_fraction, share)
            round_i += 1
            progress("code", done, total_blocks, psnr=unit_psnr(mse), bits=done * block_bits)
        del eps
    params, payload = index_code.write(enc.index_stream(), params)
    recon = enc.reconstruction()
    coded = from_unit(recon, signal.modality, signal.bit_depth)
    err = (coded.astype(np.float64) - signal.data.astype(np.float64)) / signal.max_value
    psnr = 10 * math.log10(1.0 / max(float(np.mean(err ** 2)), 1e-12))
    total = overhead_bytes(header, params, len(payload)) + len(payload)
    stats = {"pack": pack.pack_id.hex(), "pack_rate_bpp": pack.rate_bpp, "blocks": total_blocks,
             "blocks_per_level": list(groups), "fit_steps": steps, "finetune": finetune, "lr_end": plan.lr_end,
             "finetune_tilt": plan.finetune_tilt, "finetune_floor": floor, "phase_share": share,
             "index_coding": fmt.INDEX_CODING_NAMES[params.index_coding],
             "index_bits_mean": round(8 * len(payload) / total_blocks, 3),
             "finetune_steps": enc.step_count - steps,
             "psnr_estimate": round(psnr, 3), "bytes": total, "target_bytes": round(budget_bits / 8)}
    stats["rate_met"] = abs(total / (budget_bits / 8) - 1) <= RATE_TOLERANCE
    if not stats["rate_met"]:
        stats["rate_note"] = f"target {budget_bits / 8:.0f} B not reachable within 5% with this pack; got {total} B"
    return EncodeResult(params.to_bytes(), [(fmt.INDEX_CHUNK, payload)], stats)

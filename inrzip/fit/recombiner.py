"""Torch half of RECOMBINER: the patch network, the three-level posterior, and the losses that
prior training (Algorithm 1) and the encoder share.

Everything is batched over B signals of one patch grid each (training crops, or the one signal
being encoded): (rows, cols) for images, (channels, cols) for audio, (slabs, rows, cols) for video. Posterior means and log-stds live in the natural layout (instance, variable);
the REC block layout is applied by index arrays in the encoder.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..backends.rec.arch import (
    LEVEL_GROUP,
    LEVEL_IMAGE,
    LEVEL_PATCH,
    RecArch,
    fourier_features,
    group_count,
    patch_groups,
)
from ..backends.rec.network import LEAK, phase_taps

LN2 = math.log(2.0)


def unit_psnr(mse: float) -> float:
    """PSNR of a mean squared error on signals in [-1, 1] (peak-to-peak 2)."""
    return 10 * math.log10(4.0 / max(mse, 1e-12))


class RecNet(nn.Module):
    """A matrices and the positional-encoding upsampler (the parts a pack holds besides priors)."""

    def __init__(self, arch: RecArch):
        super().__init__()
        self.arch = arch
        # Practical change: A starts at identity plus the reference's U(+-1/a) noise, so a short
        # CPU training starts from a SIREN-scaled network instead of weights ~1e-4.
        self.A = nn.ParameterList(
            nn.Parameter(torch.eye(a) + torch.empty(a, a).uniform_(-1.0 / a, 1.0 / a)) for a in arch.layer_sizes)
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[arch.dims]
        self.convs = nn.ModuleList(conv(i, o, k, padding=k // 2) for o, i, k in arch.upsampler_shapes)
        self.register_buffer("fourier", torch.from_numpy(fourier_features(arch)), persistent=False)

    def load_pack_tensors(self, A: list[np.ndarray], upsampler: list[tuple[np.ndarray, np.ndarray]]) -> None:
        with torch.no_grad():
            for p, a in zip(self.A, A):
                p.copy_(torch.from_numpy(a))
            for conv, (w, b) in zip(self.convs, upsampler):
                conv.weight.copy_(torch.from_numpy(w))
                conv.bias.copy_(torch.from_numpy(b))

    def positional(self, lpe: torch.Tensor, grid: tuple[int, ...], phases: list[tuple[int, ...]] | None = None
                   ) -> torch.Tensor:
        """lpe (B, patches, cells*Cl) -> features (B, patches, points, lpe_out).

        All patches are stitched into one latent grid along the conv axes; audio's leading grid
        axis (channels) is a batch axis, so each channel is upsampled on its own. With `phases`,
        the last (x2) stage yields only those phases of its output lattice (see PointSample):
        (B, patches, len(phases) * points / 2^dims, lpe_out), phase after phase.
        """
        a = self.arch
        b = lpe.shape[0]
        n = a.dims
        lead = len(grid) - n                      # 1 for audio, 0 otherwise
        conv_grid = grid[lead:]
        batch = b * math.prod(grid[:lead])
        x = lpe.reshape((batch,) + conv_grid + a.cell_shape + (a.lpe_channels,))
        # (batch, G1..Gn, c1..cn, C) -> (batch, C, G1 c1, ..., Gn cn)
        x = x.permute([0, 2 * n + 1] + [ax for i in range(n) for ax in (1 + i, 1 + n + i)])
        x = x.reshape((batch, a.lpe_channels) + tuple(g * c for g, c in zip(conv_grid, a.cell_shape)))
        if n == 2:   # NHWC convolutions (mkldnn): 27 -> 22 ms a fitting step on a Kodak image, rounding
            x = x.contiguous(memory_format=torch.channels_last)   # a little differently; no gain in 3-D
        last = len(self.convs) - 1
        for i, (conv, factor) in enumerate(zip(self.convs, a.upsample_factors)):
            if i == last and phases is not None:
                half = tuple(p // 2 for p in a.patch_shape)
                parts = [_to_patches(phase_conv(x, conv.weight, conv.bias, ph).movedim(1, -1), half) for ph in phases]
                return torch.cat(parts, dim=2).reshape(b, math.prod(grid), -1, a.lpe_out)
            x = conv(F.interpolate(x, scale_factor=factor, mode="nearest"))
            if i < 2:
                x = F.leaky_relu(x, LEAK)
        return _to_patches(x.movedim(1, -1), a.patch_shape).reshape(b, math.prod(grid), a.patch_points, a.lpe_out)

    def forward(self, h: torch.Tensor, lpe: torch.Tensor, grid: tuple[int, ...],
                sample: PointSample | None = None) -> torch.Tensor:
        """h (B, patches, inr_size), lpe (B, patches, lpe_size) -> (B, patches, points, channels).

        `sample` evaluates the network on only its points of every patch (-> (B, patches, k,
        channels)), a cheap stochastic estimate of the loss during fitting.
        """
        a = self.arch
        b, n, _ = h.shape
        feat = self.positional(lpe, grid, sample.phases if sample is not None else None)
        if sample is not None and sample.keep is not None:
            feat = feat[:, :, sample.keep]
        four = self.fourier if sample is None else self.fourier[sample.pixels]
        k = four.shape[0]
        x = torch.cat([four.expand(b, n, -1, -1), feat], dim=3).reshape(b * n, k, a.in_dim)
        hf = h.reshape(b * n, -1)
        start = 0
        for li, (A, (i, o), size) in enumerate(zip(self.A, a.layer_shapes, a.layer_sizes)):
            w = hf[:, start:start + size] @ A
            start += size
            hidden = li < a.layers - 1
            if hidden:      # sin(w0 (xW + b)) as sin(x (w0 W) + w0 b): the scaling on the small
                w = w * a.w0  # weight tensor instead of every activation (one multiply fewer each way)
            x = torch.baddbmm(w[:, None, :o], x, w[:, o:].reshape(-1, i, o))
            if hidden:
                x = torch.sin(x)
        return x.reshape(b, n, k, a.channels)


class Posterior(nn.Module):
    """Factorised Gaussian posteriors of the three levels for B signals of one patch grid each."""

    def __init__(self, arch: RecArch, images: int, grid: tuple[int, ...],
                 mean: dict[int, torch.Tensor], logstd: dict[int, torch.Tensor]):
        super().__init__()
        self.arch, self.grid = arch, grid
        self.counts = {LEVEL_PATCH: math.prod(grid), LEVEL_GROUP: group_count(grid, arch), LEVEL_IMAGE: 1}
        self.mean = nn.ParameterDict({str(lv): nn.Parameter(mean[lv].expand(images, self.counts[lv], -1).clone())
                                      for lv in self.counts})
        self.logstd = nn.ParameterDict({str(lv): nn.Parameter(logstd[lv].expand(images, self.counts[lv], -1).clone())
                                        for lv in self.counts})
        self.register_buffer("group_of_patch", torch.from_numpy(patch_groups(grid, arch)), persistent=False)

    def sample(self, fixed: dict[int, tuple[torch.Tensor, torch.Tensor]] | None = None) -> dict[int, torch.Tensor]:
        """One reparameterised sample per level; `fixed` = (mask, value) of already-coded variables."""
        z = {}
        for lv in self.counts:
            m, s = self.mean[str(lv)], self.logstd[str(lv)]
            x = m + torch.exp(s) * torch.randn_like(m)
            if fixed is not None:
                mask, value = fixed[lv]
                x = torch.where(mask, value, x)
            z[lv] = x
        return z

    def latents(self, z: dict[int, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        inr = self.arch.inr_size
        h = z[LEVEL_PATCH][..., :inr] + z[LEVEL_GROUP][:, self.group_of_patch] + z[LEVEL_IMAGE]
        return h, z[LEVEL_PATCH][..., inr:]

    def kl_nats(self, prior_mean: dict[int, torch.Tensor], prior_std: dict[int, torch.Tensor]) -> dict[int, torch.Tensor]:
        """KL(q || p) per variable, (B, instances, size) per level."""
        out = {}
        for lv in self.counts:
            m, s = self.mean[str(lv)], self.logstd[str(lv)]
            ps = prior_std[lv]
            out[lv] = torch.log(ps) - s + (torch.exp(2 * s) + (m - prior_mean[lv]) ** 2) / (2 * ps ** 2) - 0.5
        return out


def patchify(signals: torch.Tensor, arch: RecArch) -> torch.Tensor:
    """Whole-patch signals -> (B, patches, points, out channels), patches row-major over the grid.

    Images (B, H, W, C) and video (B, T, H, W, C) -> (B, patches, prod(patch_shape), C);
    audio (B, N, channels) -> (B, channels * N/P, P, 1), one row of patches per channel.
    """
    p = arch.patch
    if arch.dims == 1:
        b, n, ch = signals.shape
        return signals.permute(0, 2, 1).reshape(b, ch * (n // p), p, 1)
    return _to_patches(signals, arch.patch_shape)


def unpatchify(patches: torch.Tensor, grid: tuple[int, ...], arch: RecArch) -> torch.Tensor:
    """Inverse of patchify: (B, H, W, C) images, (B, T, H, W, C) video or (B, N, channels) audio."""
    b, _, _, c = patches.shape
    if arch.dims == 1:
        return patches.reshape(b, grid[0], grid[1] * arch.patch).permute(0, 2, 1)
    n = arch.dims
    x = patches.reshape((b,) + tuple(grid) + arch.patch_shape + (c,))
    x = x.permute([0] + [ax for i in range(n) for ax in (1 + i, 1 + n + i)] + [2 * n + 1])
    return x.reshape((b,) + tuple(g * q for g, q in zip(grid, arch.patch_shape)) + (c,))


@dataclass
class PointSample:
    """The points of every patch one fitting step evaluates: whole phases of the lattice of the
    upsampler's last x2 stage (points whose coordinates have the given parities). One phase is
    a conv with 2^dims taps on the half-resolution grid, so a step that evaluates 1/2^dims of
    the points also pays only 1/3^dims of the last conv (1/27 for video, 1/9 for images),
    instead of running it at full resolution for a random subset. Each step draws new phases
    (and, with `keep`, a new subset of their points for the SIREN), so every point is equally
    likely: the loss estimate stays unbiased."""

    phases: list[tuple[int, ...]]
    pixels: torch.Tensor          # (k,) patch-local indices of the points, phase after phase
    keep: torch.Tensor | None = None   # (k,) which of the phases' points were kept (None: all of them)


def _phase_points(patch_shape: tuple[int, ...], phase: tuple[int, ...]) -> torch.Tensor:
    """Row-major patch indices of the points with the parities of `phase` (row-major among themselves)."""
    axes = [torch.arange(ph, p, 2) for ph, p in zip(phase, patch_shape)]
    mesh = torch.meshgrid(*axes, indexing="ij")
    index = torch.zeros_like(mesh[0])
    for m, p in zip(mesh, patch_shape):
        index = index * p + m
    return index.reshape(-1)


def random_pixels(arch: RecArch, fraction: float, gen: torch.Generator | None = None,
                  phase_share: float = 1.0) -> PointSample | None:
    """round(fraction * 2^dims) random phases (at least one; None: every point) for one step, of
    which a random `phase_share` of the points (the same in every patch; at least one) is kept:
    the SIREN, about half of an encoder step's cost, then runs on that share while the
    upsampler's last stage still yields whole phases."""
    count = 1 << arch.dims
    take = max(1, round(fraction * count))
    if take >= count and phase_share >= 1.0:
        return None
    order = torch.randperm(count, generator=gen)[:take].tolist()
    phases = [tuple((c >> (arch.dims - 1 - a)) & 1 for a in range(arch.dims)) for c in order]
    pixels = torch.cat([_phase_points(arch.patch_shape, ph) for ph in phases])
    if phase_share >= 1.0:
        return PointSample(phases, pixels)
    keep = torch.randperm(pixels.numel(), generator=gen)[:max(1, round(phase_share * pixels.numel()))]
    keep = keep.sort().values
    return PointSample(phases, pixels[keep], keep)


def phase_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, phase: tuple[int, ...]) -> torch.Tensor:
    """One phase of conv_same(nearest-upsample(x, 2)): output points 2i + phase, as a conv on the
    low-res grid whose taps sum the kernel taps reading the same sample (the decoder's
    `phase_taps` decomposition, so both sides split the kernel the same way)."""
    n, k = len(phase), weight.shape[-1]
    taps = phase_taps(2, k)
    kernel = weight
    reach = max(abs(o) for per_phase in taps for o, _ in per_phase)
    for axis, ph in enumerate(phase):     # contract each kernel axis with its phase's 0/1 merge matrix
        merge = weight.new_zeros(len(taps[ph]), k)
        for slot, (_, ds) in enumerate(taps[ph]):
            merge[slot, ds] = 1.0
        kernel = torch.tensordot(kernel, merge, dims=([2 + axis], [1])).movedim(-1, 2 + axis)
    xp = F.pad(x, [reach, reach] * n)
    window = (slice(None), slice(None)) + tuple(
        slice(reach + taps[ph][0][0], reach + taps[ph][0][0] + s + len(taps[ph]) - 1) for ph, s in zip(phase, x.shape[2:]))
    return _CONV[n](xp[window], kernel, bias)


_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _to_patches(x: torch.Tensor, patch_shape: tuple[int, ...]) -> torch.Tensor:
    """Channel-last (B, G1 P1, ..., Gn Pn, C) -> (B, G1..Gn flattened, P1..Pn flattened, C)."""
    n = len(patch_shape)
    grid = tuple(s // p for s, p in zip(x.shape[1:-1], patch_shape))
    x = x.reshape(x.shape[:1] + tuple(v for g, p in zip(grid, patch_shape) for v in (g, p)) + x.shape[-1:])
    x = x.permute([0] + [1 + 2 * i for i in range(n)] + [2 + 2 * i for i in range(n)] + [2 * n + 1])
    return x.reshape(x.shape[0], math.prod(grid), math.prod(patch_shape), x.shape[-1])


def patch_mse(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
              sample: PointSample | None = None) -> torch.Tensor:
    """Per-patch mean squared error over real (weight 1) points: (B, patches)."""
    if sample is not None:
        target, weight = target[:, :, sample.pixels], weight[:, :, sample.pixels]
    err = ((pred - target) ** 2).mean(dim=3) * weight
    return err.sum(dim=2) / weight.sum(dim=2).clamp_min(1.0)

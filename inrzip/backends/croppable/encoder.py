"""Croppable encoder: fit a Local-Global SIREN, quantise, range-code one chunk per partition.

Rate control. Every tensor kind (a global layer's W or b, Agg's W or b, an LC layer's W or b
across all partitions) gets a uniform quantiser step = delta x its standard deviation; the
codes share one histogram (stored in the global chunk) that drives a range coder. Coding is
cheap, so for a fitted network a bisection on delta lands the file (header included) on the
budget. The parameter count comes from the budget and a bits-per-weight estimate; when the
delta that meets the budget is far from the one that balances fit and quantisation error, the
encoder refits once with a corrected count.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import numpy as np
import torch

from ... import container
from ...errors import UsageError
from ...fit import device as devices
from ...fit.local_global import LGFitConfig, LGShape, LocalGlobalSiren, fit_lg, masked_mse
from ...progress import Progress, silent
from ...signal import Signal
from .. import EncodeResult
from ..options import options_from_dict
from . import format as fmt
from . import partition as part

EFFORT = {"fast": (300, 0.25), "normal": (1000, 0.5), "max": (2000, 1.0)}   # steps, points per step
W0_FIRST = {"image": 30, "audio": 3000, "video": 30}    # audio: reference coords span +-100
# Reference: 5e-4 (image), 1e-4 (audio) at 2000 constant-lr GPU steps. With cosine decay and
# our CPU step counts 2e-3 fits far better (kodim03 256x256, 300 steps: 25.2 dB at 5e-4,
# 30.8 at 1e-3, 34.2 at 2e-3).
LR = {"image": 2e-3, "audio": 1e-4, "video": 2e-3}
RATE_TOLERANCE = 0.05
BITS_PER_WEIGHT = 7.0       # first guess of coded bits per parameter (refined by one refit)
# Quantisation should cost about LOSS_TARGET dB of the fitted PSNR (measured on Kodak crops: the
# best rate-distortion trade); outside LOSS_RANGE the encoder refits with a corrected size.
LOSS_TARGET, LOSS_RANGE = 0.8, (0.3, 1.8)
DELTA_DEFAULT = 0.12        # quantiser without a rate: about 0.5 dB below the fit


@dataclass
class CroppableOptions:
    """Encoder parameters; every field can be set with `--opt key=value`."""

    hidden_layers: int = 3
    local_width: int = 0            # 0: automatic partitioning (Appendix A) from the budget
    global_width: int = 0
    params: int = 0                 # target parameter count; 0: from the rate
    global_ratio: float = 0.05      # global share (chain + Agg); paper: 5-15% suffices
    partition: str = ""             # partition size "32", "32x32", "8x32x32"; "" = per modality
    w0: int = 30
    w0_first: int = 0               # 0: per modality (30 image/video, 3000 audio)
    effort: str = "normal"
    steps: int = 0                  # 0: from effort
    lr: float = 0.0                 # 0: per modality (2e-3 image/video, 1e-4 audio)
    batch: float = 0.0              # fraction of each partition's points per step; 0: from effort
    delta: float = 0.0              # quantiser step / std; 0: rate control chooses
    weighting: bool = True          # quantiser steps from sensitivities (False: from std)
    seed: int = 0
    device: str = "auto"
    refit: bool = True

    @classmethod
    def from_dict(cls, options: dict) -> "CroppableOptions":
        out = options_from_dict(cls, options, "croppable")
        out.validate()
        return out

    def validate(self) -> None:
        if self.effort not in EFFORT:
            raise UsageError(f"croppable: effort must be one of {', '.join(EFFORT)}")
        if not 0 <= self.hidden_layers <= fmt.MAX_HIDDEN_LAYERS:
            raise UsageError(f"croppable: hidden_layers must be in [0, {fmt.MAX_HIDDEN_LAYERS}]")
        for name in ("local_width", "global_width"):
            if not 0 <= getattr(self, name) <= fmt.MAX_WIDTH:
                raise UsageError(f"croppable: {name} must be in [0, {fmt.MAX_WIDTH}]")
        if (self.local_width == 0) != (self.global_width == 0):
            raise UsageError("croppable: give both local_width and global_width, or neither")
        if self.params < 0 or not 0.01 <= self.global_ratio <= 0.9:
            raise UsageError("croppable: params must be >= 0 and global_ratio in [0.01, 0.9]")
        if not 1 <= self.w0 <= 1 << 20 or not 0 <= self.w0_first <= 1 << 20 or not 0 <= self.seed < 1 << 63:
            raise UsageError("croppable: w0 in [1, 2^20], w0_first in [0, 2^20], seed in [0, 2^63)")
        if self.steps < 0 or not (self.lr >= 0 and math.isfinite(self.lr)):
            raise UsageError("croppable: steps and lr must be >= 0")
        if not 0 <= self.batch <= 1 or not (0 <= self.delta <= 16 and math.isfinite(self.delta)):
            raise UsageError("croppable: batch must be in [0, 1], delta in [0, 16]")
        if self.partition:
            part.partition_sizes((1 << 20,), "audio", self.partition.split("x")[0])
        devices.resolve(self.device)


def parse_options(options: dict) -> CroppableOptions:
    return CroppableOptions.from_dict(options)


# ------------------------------------------------------------------ signal -> partitions
@dataclass
class Grid:
    sizes: tuple[int, ...]
    counts: tuple[int, ...]

    @property
    def partitions(self) -> int:
        return math.prod(self.counts)

    def blocks(self, arr: np.ndarray) -> np.ndarray:
        """(C0*S0, C1*S1, ..., X) -> (G, P, X), partitions row-major, points row-major inside."""
        nd = len(self.sizes)
        shape = [v for c, s in zip(self.counts, self.sizes) for v in (c, s)] + [arr.shape[-1]]
        order = list(range(0, 2 * nd, 2)) + list(range(1, 2 * nd, 2)) + [2 * nd]
        return arr.reshape(shape).transpose(order).reshape(self.partitions, -1, arr.shape[-1])


def partition_tensors(signal: Signal, grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Coordinates, targets (edge-padded) and the mask of real samples, each (G, P, .)."""
    shape = signal.spatial_shape
    padded = tuple(c * s for c, s in zip(grid.counts, grid.sizes))
    data = np.pad(signal.to_unit(), [(0, p - n) for p, n in zip(padded, shape)] + [(0, 0)], mode="edge")
    axes = [fmt.axis_position(np.arange(p), n) for p, n in zip(padded, shape)]
    coords = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    real = [np.arange(p) < n for p, n in zip(padded, shape)]
    mask = np.ones(padded, dtype=np.float32)
    for i, r in enumerate(real):
        mask = mask * r.reshape([-1 if j == i else 1 for j in range(len(padded))])
    return grid.blocks(coords), grid.blocks(data), grid.blocks(mask[..., None])


# ------------------------------------------------------------------ coding
def net_tensors(net: LocalGlobalSiren) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Global tensors in code order, and local tensors (G, ...) in code order."""
    glob = []
    for layer in net.glob:
        glob += [layer.weight.detach().cpu().numpy(), layer.bias.detach().cpu().numpy()]
    glob += [net.agg.weight.detach().cpu().numpy(), net.agg.bias.detach().cpu().numpy()]
    local = []
    for w, b in zip(net.lc_w, net.lc_b):
        local += [w.detach().cpu().numpy(), b.detach().cpu().numpy()[:, 0, :]]
    return glob, local


def quantise(arr: np.ndarray, step: float) -> tuple[np.ndarray, float]:
    step = np.float32(step if step > 0 and math.isfinite(step) else 1.0)
    return np.clip(np.rint(arr / step), -fmt.MAX_CODE, fmt.MAX_CODE).astype(np.int64), float(step)


def min_delta(tensors: list[np.ndarray], scale: list[float]) -> float:
    """Finest delta at which no code is clipped to +-MAX_CODE (clipping wrecks the network)."""
    return max(float(np.max(np.abs(a))) / (k * fmt.MAX_CODE) if a.size and k > 0 else 0.0
               for a, k in zip(tensors, scale)) * 1.001


def code(glob: list[np.ndarray], local: list[np.ndarray], delta: float,
         scale: list[float] | None = None) -> list[tuple[int, bytes]]:
    """Chunks (global first, then every partition in row-major order) at quantiser delta.

    Tensor kind k gets step delta x scale[k] (scale: 1/sqrt(sensitivity), see `sensitivities`;
    None: the tensor's standard deviation)."""
    tensors = glob + local
    scale = scale or [float(np.std(a)) for a in tensors]
    delta = max(delta, min_delta(tensors, scale))
    g_codes, l_codes, steps = [], [], []
    for a, k in zip(glob, scale):
        c, s = quantise(a, delta * k)
        g_codes.append(c.reshape(-1))
        steps.append(s)
    G = local[0].shape[0]
    for a, k in zip(local, scale[len(glob):]):
        c, s = quantise(a, delta * k)
        l_codes.append(c.reshape(G, -1))
        steps.append(s)
    g_all, l_all = np.concatenate(g_codes), np.concatenate(l_codes, axis=1)
    model = fmt.CodeModel.of(np.concatenate([g_all, l_all.reshape(-1)]))
    cat = model.categorical()
    chunks = [(fmt.GLOBAL_CHUNK, fmt.steps_bytes(np.array(steps)) + model.to_bytes()
               + fmt.encode_codes(g_all, model, cat))]
    chunks += [(fmt.PART_CHUNK, fmt.encode_codes(row, model, cat)) for row in l_all]
    return chunks


def sensitivities(net: LocalGlobalSiren, coords: torch.Tensor, mask: torch.Tensor, probes: int = 4,
                  points: int = 256, seed: int = 0) -> list[float]:
    """Step scale per tensor kind (code order): 1/sqrt(mean diagonal Gauss-Newton sensitivity).

    A weight perturbed by e adds about e^2 * sum_outputs (d out / d w)^2 to the squared error,
    so uniform quantisers with step ~ 1/sqrt(sensitivity) spend the error evenly (equal slope).
    The sum is estimated with random +-1 output probes on a sample of points per partition."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    G, P, d = coords.shape
    idx = torch.randint(0, P, (G, min(points, P)), generator=gen).to(coords.device)
    x = torch.gather(coords, 1, idx[..., None].expand(-1, -1, d))
    m = torch.gather(mask, 1, idx[..., None])
    params = [p for layer in net.glob for p in (layer.weight, layer.bias)] + [net.agg.weight, net.agg.bias]
    params += [p for pair in zip(net.lc_w, net.lc_b) for p in pair]
    acc = [torch.zeros_like(p) for p in params]
    for _ in range(probes):
        out = net(x)
        v = (torch.randint(0, 2, out.shape, generator=gen).to(out.device) * 2 - 1).to(out.dtype)
        grads = torch.autograd.grad(torch.sum(out * v * m), params)
        for a, g in zip(acc, grads):
            a += g.detach() ** 2
    raw = [1.0 / math.sqrt(float(a.mean()) / probes) if float(a.mean()) > 0 else 1.0 for a in acc]
    # Normalise so that delta keeps the meaning "step / std" on average (weighted by count).
    n = [p.numel() for p in params]
    stds = [max(float(p.detach().std()), 1e-12) if p.numel() > 1 else 1.0 for p in params]
    shift = sum(k * (math.log(s) - math.log(r)) for k, s, r in zip(n, stds, raw)) / sum(n)
    return [r * math.exp(shift) for r in raw]


# ------------------------------------------------------------------ fitting
@dataclass
class Fitted:
    net: LocalGlobalSiren
    params: fmt.CroppableParams
    header: container.Header
    fit_psnr: float
    n_params: int
    scale: list[float] | None            # step scale per tensor kind (sensitivities)
    data: tuple[torch.Tensor, torch.Tensor, torch.Tensor]   # coords, targets, mask

    def file_bytes(self, chunks: list[tuple[int, bytes]]) -> int:
        return len(container.build(self.header, chunks))


def fit_network(signal: Signal, grid: Grid, widths: tuple[int, int], opts: CroppableOptions,
                progress: Progress) -> Fitted:
    dev = devices.resolve(opts.device)
    torch.manual_seed(opts.seed)
    coords, targets, mask = (torch.from_numpy(np.ascontiguousarray(a)).to(dev)
                             for a in partition_tensors(signal, grid))
    l, g = widths
    w0_first = opts.w0_first or W0_FIRST[signal.modality]
    shape = LGShape(grid.partitions, coords.shape[2], signal.channels, l, g, opts.hidden_layers)
    net = LocalGlobalSiren(shape, opts.w0, w0_first).to(dev)
    steps, frac = EFFORT[opts.effort]
    frac = opts.batch or frac
    cfg = LGFitConfig(steps=opts.steps or steps, lr=opts.lr or LR[signal.modality],
                      points_per_partition=max(1, round(frac * coords.shape[1])) if frac < 1 else 0,
                      seed=opts.seed)
    mse = fit_lg(net, coords, targets, mask, cfg, progress)
    params = fmt.CroppableParams(
        opts.hidden_layers, l, g, opts.w0, w0_first, grid.sizes, signal.spatial_shape,
        (0,) * len(grid.sizes), (0,) * len(grid.sizes), grid.counts)
    n = sum(p.numel() for p in net.parameters())
    scale = sensitivities(net, coords, mask, seed=opts.seed) if opts.weighting else None
    return Fitted(net, params, replace(base_header(signal), params=params.to_bytes()),
                  10 * math.log10(4 / max(mse, 1e-12)), n, scale, (coords, targets, mask))


# ------------------------------------------------------------------ rate control
def search_delta(fitted: Fitted, budget_bytes: float, progress: Progress = silent
                 ) -> tuple[float, list[tuple[int, bytes]]]:
    """Smallest delta (finest quantiser) whose file fits the budget; the coarsest if none does."""
    glob, local = net_tensors(fitted.net)
    lo, hi = math.log(lowest_delta(fitted)), math.log(16.0)
    best = None
    for i in range(20):
        mid = (lo + hi) / 2
        chunks = code(glob, local, math.exp(mid), fitted.scale)
        if fitted.file_bytes(chunks) <= budget_bytes:
            best, hi = (math.exp(mid), chunks), mid
        else:
            lo = mid
        progress("rate", i + 1, 20)
    return best or (math.exp(hi), code(glob, local, math.exp(hi), fitted.scale))


def lowest_delta(fitted: Fitted) -> float:
    glob, local = net_tensors(fitted.net)
    scale = fitted.scale or [float(np.std(a)) for a in glob + local]
    return max(1e-3, min_delta(glob + local, scale))


def dequantised(fitted: Fitted, delta: float) -> LocalGlobalSiren:
    """A copy of the network with exactly the weights the decoder rebuilds at this delta."""
    glob, local = net_tensors(fitted.net)
    scale = fitted.scale or [float(np.std(a)) for a in glob + local]
    delta = max(delta, min_delta(glob + local, scale))
    net = copy.deepcopy(fitted.net)
    params = [p for layer in net.glob for p in (layer.weight, layer.bias)] + [net.agg.weight, net.agg.bias]
    params += [p for pair in zip(net.lc_w, net.lc_b) for p in pair]
    with torch.no_grad():
        for p, a, k in zip(params, glob + local, scale):
            codes, step = quantise(a, delta * k)
            p.copy_(torch.from_numpy((codes.astype(np.float32) * np.float32(step)).reshape(p.shape)))
    return net


def coded_psnr(fitted: Fitted, delta: float) -> float:
    mse = masked_mse(dequantised(fitted, delta), *fitted.data)
    return 10 * math.log10(4 / max(mse, 1e-12))


def delta_for_loss(fitted: Fitted, loss_db: float) -> float:
    """Largest delta whose quantisation costs at most `loss_db` of PSNR (bisection in log delta)."""
    lo, hi = math.log(lowest_delta(fitted)), math.log(16.0)
    for _ in range(10):
        mid = (lo + hi) / 2
        if fitted.fit_psnr - coded_psnr(fitted, math.exp(mid)) <= loss_db:
            lo = mid
        else:
            hi = mid
    return math.exp(lo)


def target_params(budget_bits: float, G: int, bits_per_weight: float) -> float:
    overhead = 8 * (100 + 9 * G)     # preamble + chunk index + histogram, roughly
    return max(50.0, (budget_bits - overhead) / bits_per_weight)


def base_header(signal: Signal) -> container.Header:
    return container.Header("croppable", signal.modality, signal.spatial_shape, signal.channels,
                            signal.bit_depth, signal.sample_rate, signal.fps)


def encode(signal: Signal, budget_bits: float | None, options: dict, progress: Progress = silent) -> EncodeResult:
    opts = parse_options(options)
    if signal.modality not in fmt.NDIM:
        raise UsageError(f"croppable does not support {signal.modality}")
    sizes = part.partition_sizes(signal.spatial_shape, signal.modality, opts.partition)
    grid = Grid(sizes, tuple(-(-n // s) for n, s in zip(signal.spatial_shape, sizes)))
    d, c, L = len(sizes), signal.channels, opts.hidden_layers
    if grid.partitions >= container.MAX_CHUNKS:
        raise UsageError(f"croppable: {grid.partitions} partitions is too many; use a larger partition")
    budget_bytes = budget_bits / 8 if budget_bits else None
    if opts.local_width:
        widths = (opts.local_width, opts.global_width)
    elif opts.params or budget_bits:
        target = opts.params or target_params(budget_bits, grid.partitions, BITS_PER_WEIGHT)
        widths = part.auto_widths(target, grid.partitions, d, c, L, opts.global_ratio)
    else:
        raise UsageError("croppable: give a rate (-b), a parameter count (-O params=N) or widths")
    fitted = fit_network(signal, grid, widths, opts, progress)
    refits = 0
    if opts.delta or not budget_bytes:
        delta = opts.delta or DELTA_DEFAULT
        chunks = code(*net_tensors(fitted.net), delta, fitted.scale)
    else:
        delta, chunks = search_delta(fitted, budget_bytes, progress)
        loss = fitted.fit_psnr - coded_psnr(fitted, delta)
        free = not (opts.local_width or opts.params)
        if free and opts.refit and not LOSS_RANGE[0] <= loss <= LOSS_RANGE[1]:
            # Bits per weight where quantisation costs LOSS_TARGET dB say how many parameters
            # the budget holds at a balanced fit/quantisation error.
            balanced = delta_for_loss(fitted, LOSS_TARGET)
            bpw = 8 * fitted.file_bytes(code(*net_tensors(fitted.net), balanced, fitted.scale)) / fitted.n_params
            new_widths = part.auto_widths(target_params(budget_bits, grid.partitions, bpw),
                                          grid.partitions, d, c, L, opts.global_ratio)
            if new_widths != widths:
                refits, widths = 1, new_widths
                fitted = fit_network(signal, grid, widths, opts, progress)
                delta, chunks = search_delta(fitted, budget_bytes, progress)
    size = fitted.file_bytes(chunks)
    p = fitted.params
    stats = {"partitions": list(grid.counts), "partition_size": list(sizes), "local_width": widths[0],
             "global_width": widths[1], "params": fitted.n_params, "global_params": p.global_count(d),
             "local_params": p.local_count(d, c) * grid.partitions, "delta": round(delta, 5),
             "fit_psnr": round(fitted.fit_psnr, 3), "coded_psnr": round(coded_psnr(fitted, delta), 3),
             "refits": refits, "bytes": size}
    if budget_bytes:
        stats["target_bytes"] = round(budget_bytes)
        stats["rate_met"] = abs(size / budget_bytes - 1) <= RATE_TOLERANCE
        if not stats["rate_met"]:
            stats["rate_note"] = (f"target {budget_bytes:.0f} B not reachable within 5%; nearest "
                                  f"reachable {size} B")
    return EncodeResult(p.to_bytes(), chunks, stats)


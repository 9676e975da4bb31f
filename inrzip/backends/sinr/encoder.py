"""SINR encoder: fit a SIREN, code its weights (sparse or plain), pick the config by rate.

Rate control. Fitting is the expensive step, coding is cheap, so for a fitted network the
encoder searches value bits q and atoms per vector s (sparse) or q alone (plain) for the
best PSNR whose file fits the budget. The width comes from the budget and a bits-per-weight
estimate; if the fitted width cannot reach the budget (even the richest code is >5% short,
or the leanest is too big) it refits once with a corrected width, then settles for the
nearest reachable rate and says so in the stats.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import brotli
import numpy as np
import torch

from ... import container
from ...errors import UsageError
from ...fit import device as devices
from ...fit.omp import least_squares, omp_support
from ...fit.siren import FitConfig, Siren, evaluate_mse, fit, mse_to_psnr
from ...progress import Progress, silent
from ...runtime import dictionary
from ...runtime.coords import Region, mesh
from ...signal import Signal
from .. import EncodeResult
from ..options import options_from_dict
from . import decoder, format as fmt

EFFORT_STEPS = {"fast": 300, "normal": 1500, "max": 6000}
W0_FIRST = {"image": 30, "audio": 3000}
BROTLI_QUALITY, BROTLI_LGWIN = 11, 24
RATE_TOLERANCE = 0.05
# Bits one network weight costs, used only to pick a first width (measured on Kodak crops).
BITS_PER_WEIGHT = {"sparse": 9.0, "plain": 12.0, "plain16": 15.0}


@dataclass
class SinrOptions:
    """Encoder parameters; every field can be set with `--opt key=value`."""

    mode: str = "sparse"            # "sparse" (SINR) or "plain" (the baseline it improves on)
    hidden_layers: int = 3
    width: int = 0                  # 0: chosen from the rate
    w0: int = 30
    w0_first: int = 0               # 0: per modality (30 image, 3000 audio)
    effort: str = "normal"
    steps: int = 0                  # 0: from effort
    lr: float = 1e-3
    value_bits: int = 0             # 0: rate control chooses (sparse and plain)
    bias_bits: int = 16
    sparsity: float = 0.0           # atoms per vector / width; 0: rate control chooses
    log2_dict: int = 16             # dictionary size 2**16 = 65,536 (16-bit indices, as the paper)
    seed: int = 0
    device: str = "auto"
    refit: bool = True              # refit once when the first width misses the rate

    @classmethod
    def from_dict(cls, options: dict) -> "SinrOptions":
        out = options_from_dict(cls, options, "sinr")
        out.validate()
        return out

    def validate(self) -> None:
        if self.mode not in ("sparse", "plain"):
            raise UsageError(f"sinr: mode must be sparse or plain, not {self.mode!r}")
        if self.effort not in EFFORT_STEPS:
            raise UsageError(f"sinr: effort must be one of {', '.join(EFFORT_STEPS)}")
        if self.value_bits and not 2 <= self.value_bits <= 16:
            raise UsageError("sinr: value_bits must be between 2 and 16")
        if not 2 <= self.bias_bits <= 16:
            raise UsageError("sinr: bias_bits must be between 2 and 16")
        if not 8 <= self.log2_dict <= 16:
            raise UsageError("sinr: log2_dict must be between 8 and 16 (indices are 16-bit)")
        if self.sparsity and not 0 < self.sparsity <= 1:
            raise UsageError("sinr: sparsity must be in (0, 1]")
        if self.width < 0 or self.width > fmt.MAX_WIDTH or not 0 <= self.hidden_layers <= 16:
            raise UsageError("sinr: width or hidden_layers out of range")
        if not 0 <= self.seed < 1 << 63 or not 1 <= self.w0 <= 1 << 20 or not 0 <= self.w0_first <= 1 << 20:
            raise UsageError("sinr: seed must be in [0, 2^63), w0 and w0_first in [1, 2^20]")
        if not (self.lr > 0 and math.isfinite(self.lr)) or self.steps < 0:
            raise UsageError("sinr: lr must be a positive number and steps >= 0")
        devices.resolve(self.device)   # an unknown or absent device fails before any work


@dataclass
class Fitted:
    """A fitted network plus what coding it needs."""

    net: Siren
    coords: torch.Tensor
    targets: torch.Tensor
    in_dim: int
    out_dim: int
    w0_first: int
    support: torch.Tensor | None = None     # OMP atom order per vector, all layers stacked
    atoms: torch.Tensor | None = None
    fit_psnr: float = 0.0


@dataclass
class Coded:
    params: fmt.SinrParams
    payload: bytes
    psnr: float                      # of the quantised network on the signal (torch forward)
    stats: dict = field(default_factory=dict)


# ------------------------------------------------------------------ signal <-> tensors
def signal_tensors(signal: Signal, dev: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    if signal.modality not in W0_FIRST:
        raise UsageError(f"sinr does not support {signal.modality} (only image and audio)")
    region = Region.full(signal.spatial_shape)
    coords = torch.from_numpy(mesh(region.axis_coords(signal.spatial_shape))).to(dev)
    targets = torch.from_numpy(signal.to_unit().reshape(-1, signal.channels)).to(dev)
    return coords, targets


def params_for_width(width: int, hidden_layers: int, in_dim: int, out_dim: int) -> int:
    return Siren.num_params(in_dim, width, hidden_layers, out_dim)


def width_for_bits(bits: float, opts: SinrOptions, in_dim: int, out_dim: int, bits_per_weight: float) -> int:
    """Largest width whose weights fit `bits` at `bits_per_weight`."""
    target = bits / bits_per_weight
    width = 2
    while width < fmt.MAX_WIDTH and params_for_width(width + 1, opts.hidden_layers, in_dim, out_dim) <= target:
        width += 1
    return width


# ------------------------------------------------------------------ fitting
def fit_network(signal: Signal, width: int, opts: SinrOptions, progress: Progress = silent) -> Fitted:
    dev = devices.resolve(opts.device)
    torch.manual_seed(opts.seed)
    coords, targets = signal_tensors(signal, dev)
    in_dim, out_dim = coords.shape[1], targets.shape[1]
    w0_first = opts.w0_first or W0_FIRST[signal.modality]
    net = Siren(in_dim, width, opts.hidden_layers, out_dim, opts.w0, w0_first).to(dev)
    steps = opts.steps or EFFORT_STEPS[opts.effort]
    mse = fit(net, coords, targets, FitConfig(steps=steps, lr=opts.lr, seed=opts.seed), progress)
    return Fitted(net, coords, targets, in_dim, out_dim, w0_first, fit_psnr=mse_to_psnr(mse))


def layer_vectors(net: Siren) -> list[torch.Tensor]:
    """(V, width) vectors per layer: columns of every weight matrix, rows of the last."""
    n = len(net.layers)
    return [fmt.to_vectors(l.weight.detach(), i == n - 1) for i, l in enumerate(net.layers)]


def ensure_support(fitted: Fitted, opts: SinrOptions, s_max: int, progress: Progress = silent) -> None:
    """Run OMP once to s_max atoms per vector (greedy: smaller s reuse the prefix)."""
    if fitted.support is not None and fitted.support.shape[1] >= s_max:
        return
    width = fitted.net.layers[0].weight.shape[0]
    progress("dictionary", 0, 1)
    atoms_np = dictionary.full(opts.seed, fmt.DICT_STREAM, width, 1 << opts.log2_dict)
    fitted.atoms = torch.from_numpy(atoms_np).to(fitted.coords.device)
    vectors = torch.cat(layer_vectors(fitted.net))
    progress("omp", 0, 1)
    fitted.support = omp_support(fitted.atoms, vectors, s_max)
    progress("omp", 1, 1)


# ------------------------------------------------------------------ coding
def code(fitted: Fitted, opts: SinrOptions, value_bits: int, s: int | tuple[int, ...] = 0
         ) -> tuple[fmt.SinrParams, bytes]:
    """Quantise (and sparse-code with s atoms per vector, or s[i] in layer i) the network
    into header params and the Brotli payload."""
    net = fitted.net
    n = len(net.layers)
    per_layer = tuple(s) if isinstance(s, tuple) else (s,) * n
    width = net.layers[0].weight.shape[0]
    vectors = layer_vectors(net)
    steps_v, steps_b, sections = [], [], []
    if opts.mode == "sparse":
        all_idx, all_codes = [], []
        start = 0
        for i, vec in enumerate(vectors):
            sup = fitted.support[start:start + vec.shape[0], :per_layer[i]]
            start += vec.shape[0]
            sup, _ = torch.sort(sup, dim=1)
            coef = least_squares(fitted.atoms, vec, sup).cpu().numpy()
            codes, step = fmt.quantize(coef, value_bits)
            steps_v.append(step)
            idx = sup.cpu().numpy()
            all_idx.append(np.diff(idx, axis=1, prepend=0).reshape(-1))
            all_codes.append(codes.reshape(-1))
        sections += [fmt.planes(np.concatenate(all_idx)), fmt.planes(fmt.zigzag(np.concatenate(all_codes)))]
        sparsity = per_layer
    else:
        codes_all = []
        for layer in net.layers:
            w = layer.weight.detach().cpu().numpy()
            codes, step = fmt.quantize(w, value_bits)
            steps_v.append(step)
            codes_all.append(codes.reshape(-1))
        sections.append(fmt.planes(fmt.zigzag(np.concatenate(codes_all))))
        sparsity = ()
    bias_codes = []
    for layer in net.layers:
        codes, step = fmt.quantize(layer.bias.detach().cpu().numpy(), opts.bias_bits)
        steps_b.append(step)
        bias_codes.append(codes)
    body = (np.asarray(steps_v, "<f4").tobytes() + np.asarray(steps_b, "<f4").tobytes()
            + b"".join(sections) + fmt.planes(fmt.zigzag(np.concatenate(bias_codes))))
    params = fmt.SinrParams(
        mode=fmt.MODE_SPARSE if opts.mode == "sparse" else fmt.MODE_PLAIN,
        hidden_layers=opts.hidden_layers, width=width, w0=opts.w0, w0_first=fitted.w0_first,
        seed=opts.seed, log2_dict=opts.log2_dict, value_bits=value_bits, bias_bits=opts.bias_bits,
        sparsity=sparsity)
    payload = brotli.compress(body, quality=BROTLI_QUALITY, lgwin=BROTLI_LGWIN)
    return params, payload


def with_params(header: container.Header, params: fmt.SinrParams) -> container.Header:
    return replace(header, params=params.to_bytes())


@torch.no_grad()
def coded_psnr(fitted: Fitted, params: fmt.SinrParams, payload: bytes, header: container.Header) -> float:
    """PSNR of exactly what the decoder will rebuild (weights parsed back from the payload)."""
    full = with_params(header, params)
    weights = decoder.load_net(full, decoder.decompress(payload, decoder.expected_payload_size(full)))
    net = Siren(fitted.in_dim, params.width, params.hidden_layers, fitted.out_dim,
                params.w0, params.w0_first).to(fitted.coords.device)
    for layer, w, b in zip(net.layers, weights.weights, weights.biases):
        layer.weight.copy_(torch.from_numpy(w))
        layer.bias.copy_(torch.from_numpy(b))
    return mse_to_psnr(evaluate_mse(net, fitted.coords, fitted.targets))


def file_bytes(header: container.Header, params: fmt.SinrParams, payload: bytes) -> int:
    return len(container.build(with_params(header, params), [(fmt.NET_CHUNK, payload)]))


def search(fitted: Fitted, opts: SinrOptions, header: container.Header, budget_bytes: float | None,
           progress: Progress = silent) -> Coded:
    """Best-PSNR code of a fitted network within the budget (or the smallest, if none fits)."""
    width = fitted.net.layers[0].weight.shape[0]
    bit_choices = [opts.value_bits] if opts.value_bits else (
        [16] if budget_bytes is None else [8, 10, 12, 14, 16])
    s_max = max(1, width // 2)   # the paper asks 2s < width; we allow 2s = width at most
    candidates: list[Coded] = []
    if opts.mode == "sparse":
        fixed_s = max(1, min(width, round(opts.sparsity * width))) if opts.sparsity else 0
        ensure_support(fitted, opts, fixed_s or s_max, progress)
        for q in bit_choices:
            if fixed_s or budget_bytes is None:
                s = fixed_s or s_max
                params, payload = code(fitted, opts, q, s)
            else:
                params, payload, s = _largest_s_within(fitted, opts, header, q, s_max, budget_bytes)
            candidates.append(Coded(params, payload, 0.0, {"value_bits": q, "atoms_per_vector": s}))
    else:
        for q in bit_choices:
            params, payload = code(fitted, opts, q)
            candidates.append(Coded(params, payload, 0.0, {"value_bits": q}))
    for i, c in enumerate(candidates):
        c.stats["bytes"] = file_bytes(header, c.params, c.payload)
        progress("rate", i + 1, len(candidates))
    fitting = [c for c in candidates if budget_bytes is None or c.stats["bytes"] <= budget_bytes]
    if not fitting:
        return min(candidates, key=lambda c: c.stats["bytes"])
    for c in fitting:
        c.psnr = coded_psnr(fitted, c.params, c.payload, header)
    return max(fitting, key=lambda c: c.psnr)


def _largest_s_within(fitted, opts, header, q, s_max, budget_bytes):
    """Most atoms per vector whose file fits the budget: binary search on a uniform s, then
    one more atom layer by layer (hidden layers first) while it still fits, which makes the
    rate steps a layer's worth of atoms instead of the whole network's."""
    lo, hi, best = 1, s_max, None
    while lo <= hi:
        mid = (lo + hi) // 2
        params, payload = code(fitted, opts, q, mid)
        if file_bytes(header, params, payload) <= budget_bytes:
            best, lo = (params, payload, mid), mid + 1
        else:
            hi = mid - 1
    if best is None:
        params, payload = code(fitted, opts, q, 1)
        return params, payload, 1
    s = best[2]
    if s >= s_max:
        return best
    n = len(fitted.net.layers)
    per_layer = [s] * n
    for layer in list(range(1, n - 1)) + [0, n - 1]:
        trial = tuple(per_layer[:layer] + [s + 1] + per_layer[layer + 1:])
        params, payload = code(fitted, opts, q, trial)
        if file_bytes(header, params, payload) <= budget_bytes:
            per_layer = list(trial)
            best = (params, payload, s)
        else:
            break
    return best


# ------------------------------------------------------------------ entry point
def base_header(signal: Signal) -> container.Header:
    return container.Header("sinr", signal.modality, signal.spatial_shape, signal.channels,
                            signal.bit_depth, signal.sample_rate, signal.fps)


def parse_options(options: dict) -> SinrOptions:
    return SinrOptions.from_dict(options)


def encode(signal: Signal, budget_bits: float | None, options: dict, progress: Progress = silent) -> EncodeResult:
    opts = parse_options(options)
    header = base_header(signal)
    in_dim, out_dim = len(signal.spatial_shape), signal.channels
    budget_bytes = budget_bits / 8 if budget_bits else None
    estimate_key = opts.mode if opts.mode == "sparse" or opts.value_bits != 16 else "plain16"
    width = opts.width
    if not width:
        if budget_bits is None:
            raise UsageError("sinr: give a rate (-b) or a width (--opt width=N)")
        width = width_for_bits(budget_bits - 8 * file_bytes(header, _dummy_params(opts), b""),
                               opts, in_dim, out_dim, BITS_PER_WEIGHT[estimate_key])
    fitted = fit_network(signal, width, opts, progress)
    best = search(fitted, opts, header, budget_bytes, progress)
    refits = 0
    if budget_bytes and opts.refit and not opts.width and _missed(best, budget_bytes):
        new_width = width_for_bits(8 * budget_bytes, opts, in_dim, out_dim,
                                   8 * best.stats["bytes"] / params_for_width(width, opts.hidden_layers, in_dim, out_dim))
        if new_width != width:
            refits = 1
            fitted = fit_network(signal, new_width, opts, progress)
            best = search(fitted, opts, header, budget_bytes, progress)
            width = new_width
    stats = dict(best.stats, width=width, fit_psnr=round(fitted.fit_psnr, 3), refits=refits,
                 psnr_estimate=round(best.psnr, 3) if best.psnr else None)
    if budget_bytes:
        stats["target_bytes"] = round(budget_bytes)
        stats["rate_met"] = abs(best.stats["bytes"] / budget_bytes - 1) <= RATE_TOLERANCE
        if not stats["rate_met"]:
            stats["rate_note"] = (f"target {budget_bytes:.0f} B not reachable within 5%; nearest "
                                  f"reachable {best.stats['bytes']} B")
    return EncodeResult(best.params.to_bytes(), [(fmt.NET_CHUNK, best.payload)], stats)


def _missed(best: Coded, budget_bytes: float) -> bool:
    return abs(best.stats["bytes"] / budget_bytes - 1) > RATE_TOLERANCE


def _dummy_params(opts: SinrOptions) -> fmt.SinrParams:
    return fmt.SinrParams(1, opts.hidden_layers, 64, opts.w0, 30, opts.seed, opts.log2_dict, 16, 16, (8,) * (opts.hidden_layers + 2))

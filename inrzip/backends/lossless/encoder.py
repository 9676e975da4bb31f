"""Lossless encoder: fit a bit-plane INR (torch), quantize it, then code every bit with the
probabilities the integer decoder will compute (the very same code path, coding.run).

The file is lossless whatever the fit: a better net only makes the coded bits fewer.
Rate = model bytes + coded bits, so the model is kept small; `effort=max` tries several
widths and keeps the smallest file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import constriction
import numpy as np
import torch
from torch import nn

from ...errors import UsageError
from ...fit import device as devices
from ...progress import Progress, silent
from ...runtime.fixedpoint import FRAC, RELU_MAX, IntLayer, IntMLP
from ...signal import Signal
from .. import EncodeResult
from ..options import options_from_dict
from . import coding, decoder
from . import context as ctx
from . import format as fmt

EFFORT_STEPS = {"fast": 400, "normal": 1500, "max": 3000}
EFFORT_WIDTHS = {"fast": (24,), "normal": (32,), "max": (16, 32, 48)}
TILE_LOG2 = {"image": (7, 7), "audio": (0, 16)}
SMALL_BITS = 1 << 20        # below this many coded bits the default net shrinks (its bytes would dominate)
MAX_EPOCHS = 30             # default steps never pass over the coded bits more often than this
PE_LEVELS = {"image": 6, "audio": 8}


@dataclass
class LosslessOptions:
    """Encoder parameters; every field can be set with `--opt key=value`."""

    mode: str = "context"          # "context" (ours) or "paper" (bit-plane SIREN on coordinates only)
    effort: str = "normal"
    width: int = 0                 # 0: from effort (max tries several)
    hidden_layers: int = 2
    steps: int = 0                 # 0: from effort
    batch: int = 16384
    lr: float = 3e-3
    weight_bits: int = 12
    pe_levels: int = 0             # 0: per modality
    tile: int = 0                  # tile side as log2 (images) or samples log2 (audio); 0: default
    seed: int = 0
    device: str = "auto"

    def validate(self) -> None:
        if self.mode not in ("context", "paper"):
            raise UsageError(f"lossless: mode must be context or paper, not {self.mode!r}")
        if self.effort not in EFFORT_STEPS:
            raise UsageError(f"lossless: effort must be one of {', '.join(EFFORT_STEPS)}")
        if not 0 <= self.width <= 256 or not 0 <= self.hidden_layers <= 6:
            raise UsageError("lossless: width must be in [1, 256] and hidden_layers in [0, 6]")
        if not 6 <= self.weight_bits <= 16:
            raise UsageError("lossless: weight_bits must be between 6 and 16")
        if self.steps < 0 or self.batch < 64 or not (self.lr > 0 and math.isfinite(self.lr)):
            raise UsageError("lossless: steps >= 0, batch >= 64 and a positive lr are required")
        if not 0 <= self.pe_levels <= fmt.MAX_PE_LEVELS or not 0 <= self.tile <= fmt.MAX_TILE_LOG2:
            raise UsageError(f"lossless: pe_levels in [0, {fmt.MAX_PE_LEVELS}], tile in [0, {fmt.MAX_TILE_LOG2}]")
        devices.resolve(self.device)


def parse_options(options: dict) -> LosslessOptions:
    out = options_from_dict(LosslessOptions, options, "lossless")
    out.validate()
    return out


# ------------------------------------------------------------------ torch model
class BitPlaneNet(nn.Module):
    """Float twin of the integer net: same layers, sine in turns (sin(2*pi*z)), clipped ReLU."""

    def __init__(self, in_dim: int, width: int, hidden_layers: int, out_dim: int, activation: str):
        super().__init__()
        dims = [in_dim] + [width] * (hidden_layers + 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.activation = activation
        if activation == "sine":      # SIREN init (w0 = 30), expressed in turns
            with torch.no_grad():
                for i, layer in enumerate(self.layers[:-1]):
                    bound = 30.0 / layer.in_features if i == 0 else math.sqrt(6.0 / layer.in_features)
                    layer.weight.uniform_(-bound / (2 * math.pi), bound / (2 * math.pi))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers[:-1]:
            z = layer(x)
            x = torch.sin(2 * math.pi * z) if self.activation == "sine" else z.clamp(0.0, (RELU_MAX - 1) / (1 << FRAC))
        return self.layers[-1](x)


def quantize(net: BitPlaneNet, weight_bits: int) -> tuple[IntMLP, tuple[fmt.LayerSpec, ...]]:
    """Per-layer power-of-two scales: W_int = round(W * 2^s), b_int = round(b * 2^(FRAC + s))."""
    layers, specs = [], []
    n = len(net.layers)
    for i, layer in enumerate(net.layers):
        w = layer.weight.detach().cpu().double().numpy()
        b = layer.bias.detach().cpu().double().numpy()
        peak = max(float(np.abs(w).max()), 1e-12)
        shift = int(np.clip(weight_bits - 1 - math.ceil(math.log2(peak)), 0, fmt.MAX_SHIFT))
        limit = (1 << (weight_bits - 1)) - 1
        w_int = np.clip(np.rint(w * 2.0 ** shift), -limit, limit).astype(np.int64)
        b_int = np.clip(np.rint(b * 2.0 ** (FRAC + shift)), -fmt.BIAS_LIMIT, fmt.BIAS_LIMIT).astype(np.int64)
        act = "linear" if i == n - 1 else net.activation
        layers.append(IntLayer(w_int, b_int, shift, act))
        specs.append(fmt.LayerSpec(int(w.shape[0]), act, shift))
    return IntMLP(tuple(layers)), tuple(specs)


# ------------------------------------------------------------------ training data
@dataclass
class Problem:
    """The signal as the coder sees it, plus what is constant and what is coded."""

    grid: ctx.Grid
    u: np.ndarray                   # (C, rows, cols) int64 originals
    const_mask: tuple[int, ...]
    const_value: tuple[int, ...]
    pairs: np.ndarray               # (n, 2) coded (channel, plane) pairs

    @classmethod
    def of(cls, signal: Signal, tile_log2: tuple[int, int]) -> "Problem":
        u = decoder.from_signal_layout(signal.data, signal.modality, signal.bit_depth)
        full = (1 << signal.bit_depth) - 1
        masks, values = [], []
        for c in range(u.shape[0]):
            ch = u[c].reshape(-1)
            all_and, all_or = int(np.bitwise_and.reduce(ch)), int(np.bitwise_or.reduce(ch))
            mask = full & ~(all_and ^ all_or)
            masks.append(mask)
            values.append(all_and & mask)
        grid = ctx.Grid(signal.modality, u.shape[1:], (0, 0), (1 << tile_log2[0], 1 << tile_log2[1]),
                        signal.bit_depth, u.shape[0])
        pairs = [(c, k) for c in range(u.shape[0]) for k in range(signal.bit_depth - 1, -1, -1)
                 if not (masks[c] >> k) & 1]
        return cls(grid, u, tuple(masks), tuple(values), np.array(pairs, dtype=np.int64).reshape(-1, 2))

    @property
    def coded_bits(self) -> int:
        return len(self.pairs) * self.u.shape[1] * self.u.shape[2]


def default_widths(effort: str, coded_bits: int) -> tuple[int, ...]:
    """The effort's widths, scaled down by sqrt(bits / 1 Mbit) (at most 4x) for small signals:
    a 64x64 image cannot pay for a width-32 model."""
    scale = min(1.0, max(1 / 16, coded_bits / SMALL_BITS)) ** 0.5
    return tuple(sorted({max(8, round(w * scale)) for w in EFFORT_WIDTHS[effort]}))


def features_for(problem: Problem, mode: str, pe_levels: int, rows: np.ndarray, cols: np.ndarray,
                 channel: np.ndarray, plane: np.ndarray) -> np.ndarray:
    if mode == "paper":
        return ctx.paper_features(problem.grid, rows, cols, plane)
    hood = ctx.Neighbourhood.of(problem.grid, problem.u.shape[1:], rows, cols)
    return np.concatenate([ctx.positional_features(problem.grid, rows, cols, pe_levels),
                           ctx.context_features(problem.grid, problem.u, hood, channel, plane)], axis=1)


def sample_batch(problem: Problem, mode: str, pe_levels: int, n: int, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Uniform over coded bits: features (float, units of 1), targets, and output column."""
    rows_n, cols_n = problem.u.shape[1:]
    pick = problem.pairs[rng.integers(0, len(problem.pairs), n)]
    rows, cols = rng.integers(0, rows_n, n), rng.integers(0, cols_n, n)
    c, k = pick[:, 0], pick[:, 1]
    feats = features_for(problem, mode, pe_levels, rows, cols, c, k)
    bits = (problem.u[c, rows, cols] >> k) & 1
    return feats.astype(np.float32) / (1 << FRAC), bits.astype(np.float32), c if mode == "paper" else np.zeros_like(c)


def train(problem: Problem, opts: LosslessOptions, width: int, pe_levels: int, dev: torch.device,
          progress: Progress) -> BitPlaneNet:
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    mode = opts.mode
    in_dim = decoder.expected_in_dim(fmt.MODE_PAPER if mode == "paper" else fmt.MODE_CONTEXT,
                                     problem.grid.modality, pe_levels)
    out_dim = problem.grid.channels if mode == "paper" else 1
    net = BitPlaneNet(in_dim, width, opts.hidden_layers, out_dim, "sine" if mode == "paper" else "relu").to(dev)
    steps = opts.steps or EFFORT_STEPS[opts.effort]
    optim = torch.optim.Adam(net.parameters(), lr=opts.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(optim, max(steps, 1), eta_min=opts.lr * 0.01)
    loss_fn = nn.BCEWithLogitsLoss()
    running = None
    for step in range(steps):
        x, y, col = sample_batch(problem, mode, pe_levels, opts.batch, rng)
        x, y = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
        logits = net(x).gather(1, torch.from_numpy(col).to(dev)[:, None])[:, 0]
        loss = loss_fn(logits, y)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        sched.step()
        bits = float(loss.detach()) / math.log(2)
        running = bits if running is None else 0.98 * running + 0.02 * bits
        if step % 25 == 0 or step == steps - 1:
            progress("fit", step + 1, steps, bits_per_bit=running)
    return net


# ------------------------------------------------------------------ coding
def code(problem: Problem, params: fmt.LosslessParams, net: IntMLP, progress: Progress = silent
         ) -> list[tuple[int, bytes]]:
    """Range-code every tile with the integer decoder's probabilities; returns the chunks."""
    grid = problem.grid
    th, tw = grid.tile
    rows, cols = problem.u.shape[1:]
    encoders = [constriction.stream.queue.RangeEncoder()
                for _ in range(-(-rows // th) * -(-cols // tw))]
    model = coding.bernoulli()

    def visit(c: int, k: int, ph: int, order: coding.PhaseOrder, p_int: np.ndarray) -> None:
        bits = ((problem.u[c, order.rows, order.cols] >> k) & 1).astype(np.int32)
        probs = coding.as_probability(p_int)
        for enc, sl in zip(encoders, order.tile_slices):
            if sl.stop > sl.start:
                enc.encode(bits[sl], model, probs[sl])

    total, done = coding.step_count(params, grid), [0]

    def tick() -> None:
        done[0] += 1
        progress("code", done[0], total)

    coding.run(params, net, grid, problem.u, visit, tick)
    chunks = [(fmt.MODEL_CHUNK, fmt.pack_model(net))]
    i = 0
    for r in range(0, rows, th):
        for c in range(0, cols, tw):
            words = encoders[i].get_compressed().astype("<u4").tobytes()
            chunks.append((fmt.TILE_CHUNK, fmt.samples_hash(problem.u[:, r:r + th, c:c + tw]) + words))
            i += 1
    return chunks


def encode(signal: Signal, budget_bits: float | None, options: dict, progress: Progress = silent) -> EncodeResult:
    if budget_bits is not None:
        raise UsageError("lossless takes no rate target: the file is as small as the model makes it")
    opts = parse_options(options)
    if signal.modality not in decoder.MODALITIES or signal.bit_depth not in decoder.BIT_DEPTHS[signal.modality]:
        raise UsageError(f"lossless: {signal.bit_depth}-bit {signal.modality} is not supported "
                         f"(images 8/16-bit, audio 16/24-bit)")
    if signal.channels > decoder.MAX_CHANNELS[signal.modality]:
        raise UsageError(f"lossless: at most {decoder.MAX_CHANNELS[signal.modality]} {signal.modality} "
                         f"channels, got {signal.channels}")
    dev = devices.resolve(opts.device)
    tile_log2 = TILE_LOG2[signal.modality]
    if opts.tile:
        tile_log2 = (opts.tile, opts.tile) if signal.modality == "image" else (0, opts.tile)
    pe_levels = opts.pe_levels or PE_LEVELS[signal.modality]
    problem = Problem.of(signal, tile_log2)
    mode_id = fmt.MODE_PAPER if opts.mode == "paper" else fmt.MODE_CONTEXT
    widths = (opts.width,) if opts.width else default_widths(opts.effort, problem.coded_bits)
    if not opts.steps:
        opts.steps = min(EFFORT_STEPS[opts.effort], max(100, MAX_EPOCHS * problem.coded_bits // opts.batch))
    best: tuple[int, bytes, list] | None = None
    tried = []
    for width in widths:
        torch_net = train(problem, opts, width, pe_levels, dev, progress)
        net, specs = quantize(torch_net, opts.weight_bits)
        params = fmt.LosslessParams(mode_id, tile_log2, pe_levels, net.in_dim, specs,
                                    problem.const_mask, problem.const_value)
        decoder.check_net(net)
        chunks = code(problem, params, net, progress)
        size = sum(len(b) for _, b in chunks)
        tried.append({"width": width, "payload_bytes": size})
        if best is None or size < best[0]:
            best = (size, params.to_bytes(), chunks)
    assert best is not None
    _, params_bytes, chunks = best
    model_bytes = len(chunks[0][1])
    stats = {"mode": opts.mode, "model_bytes": model_bytes,
             "coded_bytes": sum(len(b) for _, b in chunks[1:]),
             "coded_bits_per_sample": round(8 * sum(len(b) - fmt.HASH_BYTES for _, b in chunks[1:])
                                            / max(problem.u.size, 1), 4),
             "widths_tried": tried}
    return EncodeResult(params_bytes, chunks, stats)

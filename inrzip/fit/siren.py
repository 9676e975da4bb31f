"""Torch SIREN (Sitzmann et al. 2020) and a fitting loop for one signal."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..progress import Progress, silent


class Siren(nn.Module):
    """MLP with y = sin(w0 (W x + b)) hidden layers and a linear output (SIREN init)."""

    def __init__(self, in_dim: int, width: int, hidden_layers: int, out_dim: int, w0: float = 30.0,
                 w0_first: float | None = None):
        super().__init__()
        self.w0_first = w0 if w0_first is None else w0_first
        dims = [in_dim] + [width] * (hidden_layers + 1) + [out_dim]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.w0 = w0
        with torch.no_grad():
            for i, layer in enumerate(self.layers):
                bound = 1.0 / layer.in_features if i == 0 else math.sqrt(6.0 / layer.in_features) / w0
                layer.weight.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.sin(self.w0_first * self.layers[0](x))
        for layer in self.layers[1:-1]:
            x = torch.sin(self.w0 * layer(x))
        return self.layers[-1](x)


    @staticmethod
    def num_params(in_dim: int, width: int, hidden_layers: int, out_dim: int) -> int:
        return (in_dim + 1) * width + hidden_layers * (width + 1) * width + (width + 1) * out_dim


@dataclass
class FitConfig:
    """How hard to fit: steps, learning rate schedule and coordinates per step."""

    steps: int = 2000
    lr: float = 1e-3
    lr_final: float = 1e-5
    batch_points: int = 1 << 16   # full batch when the signal has fewer points
    seed: int = 0


def fit(net: Siren, coords: torch.Tensor, targets: torch.Tensor, cfg: FitConfig,
        progress: Progress = silent) -> float:
    """Fit `net` to (coords, targets) with Adam and cosine decay; returns the final MSE.

    Keeps the best weights seen (evaluated on the whole signal every few hundred steps), so a
    late instability never makes the result worse.
    """
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.steps, eta_min=cfg.lr_final)
    n = coords.shape[0]
    full_batch = n <= cfg.batch_points
    best_mse, best_state = math.inf, None
    check_every = max(1, min(250, cfg.steps // 8))
    for step in range(1, cfg.steps + 1):
        if full_batch:
            x, y = coords, targets
        else:
            idx = torch.randint(0, n, (cfg.batch_points,), generator=gen).to(coords.device)
            x, y = coords[idx], targets[idx]
        loss = torch.mean((net(x) - y) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % check_every == 0 or step == cfg.steps:
            mse = evaluate_mse(net, coords, targets)   # after the step: the state we would keep
            if mse < best_mse:
                best_mse, best_state = mse, {k: v.clone() for k, v in net.state_dict().items()}
            progress("fit", step, cfg.steps, psnr=mse_to_psnr(mse))
    if best_state is not None:
        net.load_state_dict(best_state)
    return evaluate_mse(net, coords, targets)


@torch.no_grad()
def evaluate_mse(net: nn.Module, coords: torch.Tensor, targets: torch.Tensor,
                 chunk: int = 1 << 17) -> float:
    total = 0.0
    for s in range(0, coords.shape[0], chunk):
        total += float(torch.sum((net(coords[s:s + chunk]) - targets[s:s + chunk]) ** 2))
    return total / targets.numel()


def mse_to_psnr(mse: float) -> float:
    """PSNR of an MSE measured on [-1, 1] signals (peak-to-peak 2)."""
    return 10.0 * math.log10(4.0 / mse) if mse > 0 else float("inf")

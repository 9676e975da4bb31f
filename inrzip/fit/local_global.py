"""Torch Local-Global SIREN (Ashkenazi & Treister, NeurIPS 2024) and its fitting loop.

One network per partition (locally connected "LC" layers: one (G, in, out) tensor per layer,
applied with bmm) plus one global SIREN that sees every point. At each of the L+1 levels the
local features of a point are merged with the same point's global features by ONE shared
linear layer (Agg, (g+l) -> l) followed by a sine; the last layer is a per-partition linear map.
Coordinates are the global [-1, 1] ones for both branches (formats/croppable.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..progress import Progress, silent


@dataclass(frozen=True)
class LGShape:
    """Sizes that fix the network: partitions G, in/out dims, local and global widths, depth."""

    partitions: int
    in_dim: int
    out_dim: int
    local_width: int
    global_width: int
    hidden_layers: int          # L: the global chain has L+1 sine layers, the local one L+2 layers

    def lc_dims(self) -> list[tuple[int, int]]:
        """(in, out) of every LC layer, the last one linear."""
        l = self.local_width
        return [(self.in_dim, l)] + [(l, l)] * self.hidden_layers + [(l, self.out_dim)]

    def global_dims(self) -> list[tuple[int, int]]:
        g = self.global_width
        return [(self.in_dim, g)] + [(g, g)] * self.hidden_layers


class LocalGlobalSiren(nn.Module):
    """Input (G, P, d) global coordinates, one row of P points per partition -> (G, P, C)."""

    def __init__(self, shape: LGShape, w0: float = 30.0, w0_first: float = 30.0) -> None:
        super().__init__()
        self.shape, self.w0, self.w0_first = shape, w0, w0_first
        G = shape.partitions
        self.lc_w = nn.ParameterList()
        self.lc_b = nn.ParameterList()
        for i, (fan_in, fan_out) in enumerate(shape.lc_dims()):
            # SIREN init with the per-partition fan-in (reference LC layer).
            bound = 1.0 / fan_in if i == 0 else math.sqrt(6.0 / fan_in) / w0
            self.lc_w.append(nn.Parameter(torch.empty(G, fan_in, fan_out).uniform_(-bound, bound)))
            self.lc_b.append(nn.Parameter(torch.empty(G, 1, fan_out).uniform_(-1, 1) / math.sqrt(fan_in)))
        self.glob = nn.ModuleList(nn.Linear(a, b) for a, b in shape.global_dims())
        with torch.no_grad():
            for i, layer in enumerate(self.glob):
                bound = 1.0 / layer.in_features if i == 0 else math.sqrt(6.0 / layer.in_features) / w0
                layer.weight.uniform_(-bound, bound)
        l, g = shape.local_width, shape.global_width
        self.agg = nn.Linear(g + l, l)   # shared by every level and every partition
        with torch.no_grad():
            self.agg.weight.uniform_(-math.sqrt(6.0 / (g + l)) / w0, math.sqrt(6.0 / (g + l)) / w0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        G, P, d = x.shape
        gl = x.reshape(G * P, d)
        h = x
        last = len(self.lc_w) - 1
        for k in range(last):
            w = self.w0_first if k == 0 else self.w0
            gl = torch.sin(w * self.glob[k](gl))                       # global chain, independent
            local = torch.sin(w * (torch.bmm(h, self.lc_w[k]) + self.lc_b[k]))
            merged = torch.cat([local, gl.reshape(G, P, -1)], dim=2)   # concat -> shared Agg -> sine
            h = torch.sin(self.w0 * self.agg(merged))
        return torch.bmm(h, self.lc_w[last]) + self.lc_b[last]


@dataclass
class LGFitConfig:
    steps: int = 1000
    lr: float = 5e-4            # reference images: Adam 5e-4
    lr_final: float = 1e-5      # cosine decay (the reference keeps lr constant; decay helps quantisation)
    points_per_partition: int = 0   # 0: every point each step (full batch)
    seed: int = 0


def fit_lg(net: LocalGlobalSiren, coords: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
           cfg: LGFitConfig, progress: Progress = silent) -> float:
    """Adam on masked MSE (padding is excluded); keeps the best full-signal state. Returns its MSE."""
    gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(1, cfg.steps), eta_min=cfg.lr_final)
    G, P, _ = coords.shape
    k = cfg.points_per_partition
    sample = 0 < k < P
    best, best_state = math.inf, None
    check_every = max(1, min(200, cfg.steps // 8))
    for step in range(1, cfg.steps + 1):
        if sample:
            idx = torch.randint(0, P, (G, k), generator=gen).to(coords.device)
            x = torch.gather(coords, 1, idx[..., None].expand(-1, -1, coords.shape[2]))
            y = torch.gather(targets, 1, idx[..., None].expand(-1, -1, targets.shape[2]))
            m = torch.gather(mask, 1, idx[..., None])
        else:
            x, y, m = coords, targets, mask
        loss = torch.sum(m * (net(x) - y) ** 2) / torch.clamp(m.sum() * y.shape[2], min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % check_every == 0 or step == cfg.steps:
            mse = masked_mse(net, coords, targets, mask)
            if mse < best:
                best, best_state = mse, {n: v.clone() for n, v in net.state_dict().items()}
            progress("fit", step, cfg.steps, psnr=10 * math.log10(4 / max(mse, 1e-12)))
    if best_state is not None:
        net.load_state_dict(best_state)
    return masked_mse(net, coords, targets, mask)


@torch.no_grad()
def masked_mse(net: LocalGlobalSiren, coords: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
               chunk: int = 4096) -> float:
    """MSE over real (unpadded) samples, evaluated a slice of points per partition at a time."""
    total = 0.0
    for s in range(0, coords.shape[1], chunk):
        err = (net(coords[:, s:s + chunk]) - targets[:, s:s + chunk]) ** 2
        total += float(torch.sum(mask[:, s:s + chunk] * err))
    return total / max(1.0, float(mask.sum()) * targets.shape[2])

"""Batched orthogonal matching pursuit (Tropp & Gilbert) over a unit-norm dictionary.

OMP is greedy, so the support for s atoms is the first s of the support for s_max atoms:
one run to s_max serves every sparsity the rate control tries.
"""
from __future__ import annotations

import torch


def omp_support(atoms: torch.Tensor, targets: torch.Tensor, s_max: int) -> torch.Tensor:
    """Greedy atom order for each target vector.

    atoms: (K, k) unit-norm dictionary atoms; targets: (V, k). Returns (V, s_max) int64.
    """
    n_vec = targets.shape[0]
    support = torch.empty((n_vec, s_max), dtype=torch.int64, device=targets.device)
    residual = targets.clone()
    rows = torch.arange(n_vec, device=targets.device)
    for t in range(s_max):
        corr = (residual @ atoms.T).abs_()
        if t:
            corr[rows[:, None], support[:, :t]] = -1.0
        support[:, t] = corr.argmax(dim=1)
        coef = least_squares(atoms, targets, support[:, :t + 1])
        residual = targets - torch.einsum("vs,vsk->vk", coef, atoms[support[:, :t + 1]])
    return support


def least_squares(atoms: torch.Tensor, targets: torch.Tensor, support: torch.Tensor) -> torch.Tensor:
    """Coefficients (V, s) minimising |target - sum_j c_j atom_{support_j}| per vector."""
    basis = atoms[support].transpose(1, 2).double()          # (V, k, s)
    sol = torch.linalg.lstsq(basis, targets.double().unsqueeze(-1)).solution
    return sol.squeeze(-1).to(targets.dtype)

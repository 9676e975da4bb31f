"""The one loop both sides run: for every coded bit, integer features -> integer net -> P(1).

The encoder runs it over the original samples and hands each tile's bits and probabilities to
a range encoder; the decoder runs it over the samples decoded so far and gets the bits back
from the range decoders. Same code, same integers, same probabilities.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import constriction
import numpy as np

from ...runtime import fixedpoint as fx
from ...runtime.fixedpoint import IntMLP
from . import context as ctx
from .format import MODE_CONTEXT, LosslessParams


def bernoulli() -> "constriction.stream.model.Bernoulli":
    return constriction.stream.model.Bernoulli(perfect=False)


def as_probability(p_int: np.ndarray) -> np.ndarray:
    """16-bit integer probabilities as the exact float64 constriction takes."""
    return p_int.astype(np.float64) / float(1 << fx.PROB_BITS)


@dataclass(frozen=True)
class PhaseOrder:
    """Positions of one phase in coding order: by tile, then row-major inside the tile."""

    rows: np.ndarray            # full-grid rows
    cols: np.ndarray
    tile_slices: list[slice]    # per tile of the block (row-major), its range in rows/cols


def phase_orders(grid: ctx.Grid, block_shape: tuple[int, int]) -> list[PhaseOrder]:
    th, tw = grid.tile
    r = np.arange(block_shape[0], dtype=np.int64) + grid.origin[0]
    c = np.arange(block_shape[1], dtype=np.int64) + grid.origin[1]
    rows, cols = (a.reshape(-1) for a in np.meshgrid(r, c, indexing="ij"))
    tiles_x = -(-block_shape[1] // tw)
    tile_id = ((rows - grid.origin[0]) // th) * tiles_x + (cols - grid.origin[1]) // tw
    n_tiles = (-(-block_shape[0] // th)) * tiles_x
    phase = grid.phase(rows, cols)
    orders = []
    for ph in (0, 1):
        sel = np.nonzero(phase == ph)[0]
        order = sel[np.lexsort((cols[sel], rows[sel], tile_id[sel]))]
        bounds = np.searchsorted(tile_id[order], np.arange(n_tiles + 1))
        orders.append(PhaseOrder(rows[order], cols[order],
                                 [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]))
    return orders


# visit(channel, plane, phase, order, p_int) -> decoded bits (decoder) or None (encoder)
Visit = Callable[[int, int, int, PhaseOrder, np.ndarray], "np.ndarray | None"]


def run(params: LosslessParams, net: IntMLP, grid: ctx.Grid, u: np.ndarray, visit: Visit,
        tick: Callable[[], None] = lambda: None) -> None:
    """Walk every coded bit in coding order; write decoded bits (if visit returns them) into u."""
    orders = phase_orders(grid, u.shape[1:])
    first, rest = net.layers[0], IntMLP(net.layers[1:])
    if params.mode == MODE_CONTEXT:
        # The positional part of the first layer is the same for every plane: compute it once.
        n_static = ctx.positional_dim(grid.modality, params.pe_levels)
        w = first.weight.astype(np.float64)
        w_static, w_dynamic = w[:, :n_static].T.copy(), w[:, n_static:].T.copy()
        hoods = [ctx.Neighbourhood.of(grid, u.shape[1:], o.rows, o.cols) for o in orders]
        static = [ctx.positional_features(grid, o.rows, o.cols, params.pe_levels) @ w_static for o in orders]
    for c in range(grid.channels):
        for k in params.coded_planes(c, grid.bit_depth):
            for ph, order in enumerate(orders):
                if not len(order.rows):
                    continue
                logits = np.empty(len(order.rows))
                if params.mode == MODE_CONTEXT:
                    feats = ctx.context_features(grid, u, hoods[ph], c, k)
                    for blk in _blocks(len(logits)):     # cache-sized blocks: the net is memory bound
                        a = fx.finish_layer(first, feats[blk] @ w_dynamic + static[ph][blk])
                        logits[blk] = fx.forward(rest, a)[:, 0]
                else:
                    feats = ctx.paper_features(grid, order.rows, order.cols, k)
                    for blk in _blocks(len(logits)):
                        logits[blk] = fx.forward(net, feats[blk])[:, c]
                bits = visit(c, k, ph, order, fx.probabilities(logits))
                if bits is not None:
                    lr, lc = order.rows - grid.origin[0], order.cols - grid.origin[1]
                    u[c, lr, lc] |= bits.astype(u.dtype) << k
                tick()


BLOCK_ROWS = 4096


def _blocks(n: int) -> list[slice]:
    return [slice(i, min(n, i + BLOCK_ROWS)) for i in range(0, n, BLOCK_ROWS)]


def step_count(params: LosslessParams, grid: ctx.Grid) -> int:
    return 2 * sum(len(params.coded_planes(c, grid.bit_depth)) for c in range(grid.channels))

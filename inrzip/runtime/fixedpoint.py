"""Integer (fixed-point) MLP inference: the same numbers on every CPU, BLAS and thread count.

Lossless decoding needs the exact probabilities the encoder used. Floating point cannot promise
that, so every value that feeds the arithmetic coder is an integer:

* activations and features are integers in units of 2^-FRAC;
* layer l has integer weights W (units 2^-S_l) and biases b (units 2^-(FRAC+S_l));
  z = W @ a + b is exact (float64 BLAS on integers below 2^53 is exact in any summation
  order), then floor-shifted by S_l back to units of 2^-FRAC;
* sine takes its argument in *turns* (1.0 = one period) and is a 4096-entry table;
* the last layer's logit maps to a 16-bit probability through a 2048-entry sigmoid table.

Both tables are computed with Python's `decimal` module (correctly rounded, platform
independent) and their SHA-256 is pinned in the tests and in formats/lossless.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from functools import cache
from typing import Callable

import numpy as np

FRAC = 12                      # fractional bits of every activation and feature
SINE_BITS = 12                 # sine table: 4096 entries per turn
SIG_STEP_BITS = 6              # sigmoid table: logit steps of 1/64
SIG_HALF = 1024                # table covers logits in [-16, 16)
PROB_BITS = 16                 # probabilities are P/65536 with P in [1, 65535]
RELU_MAX = 16 << FRAC          # ReLU output is clipped to [0, 16)
MAX_ABS_ACC = 1 << 52          # every accumulator must stay below this to be exact in float64

ACTIVATIONS = {0: "linear", 1: "relu", 2: "sine"}
ACTIVATION_IDS = {v: k for k, v in ACTIVATIONS.items()}


def _decimal_sin(x: Decimal) -> Decimal:
    """Taylor series; x in [-pi, pi] so 40 terms are far past the 40-digit precision."""
    term, total, n = x, x, 1
    while True:
        term = -term * x * x / ((2 * n) * (2 * n + 1))
        if term == 0 or abs(term) < Decimal(10) ** -45:
            return total
        total += term
        n += 1


def _decimal_pi() -> Decimal:
    """Machin's formula at the current precision."""
    def arctan_inv(n: int) -> Decimal:
        x = Decimal(1) / n
        x2, term, total, k = x * x, x, x, 1
        while True:
            term *= -x2
            step = term / (2 * k + 1)
            if step == 0 or abs(step) < Decimal(10) ** -45:
                return total
            total += step
            k += 1
    return 4 * (4 * arctan_inv(5) - arctan_inv(239))


def _round_half_away(x: Decimal) -> int:
    return int(x.to_integral_value(rounding="ROUND_HALF_UP"))


def _round_exactly(approx: np.ndarray, exact: Callable[[int], Decimal]) -> np.ndarray:
    """Round float64 approximations half away from zero, redoing in Decimal any value whose
    fraction lies near .5, where the float error could flip the rounding."""
    out = np.where(approx >= 0, np.floor(approx + 0.5), np.ceil(approx - 0.5)).astype(np.int64)
    near = np.nonzero(np.abs(np.abs(approx) % 1.0 - 0.5) < 1e-6)[0]
    if near.size:
        with localcontext() as ctx:
            ctx.prec = 50
            for i in near:
                out[i] = _round_half_away(exact(int(i)))
    return out


@cache
def sine_table() -> np.ndarray:
    """SIN[i] = round(2^FRAC * sin(2*pi*i/4096)), half away from zero; int64, 4096 entries."""
    n = 1 << SINE_BITS
    i = np.arange(n)

    def exact(j: int) -> Decimal:
        pi = _decimal_pi()
        angle = 2 * pi * j / n
        return _decimal_sin(angle - 2 * pi if angle > pi else angle) * (1 << FRAC)

    out = _round_exactly(np.sin(2 * np.pi * i / n) * (1 << FRAC), exact)
    out[[0, n // 2]] = 0                      # sin(0) and sin(pi): float gives +-1e-13
    out.setflags(write=False)
    return out


@cache
def sigmoid_table() -> np.ndarray:
    """SIG[j] = clip(round(65536 * sigmoid((j - 1024 + 0.5) / 64)), 1, 65535); int64, 2048 entries."""
    j = np.arange(2 * SIG_HALF)

    def exact(k: int) -> Decimal:
        x = (Decimal(k - SIG_HALF) + Decimal("0.5")) / (1 << SIG_STEP_BITS)
        return Decimal(1 << PROB_BITS) / (1 + (-x).exp())

    x = (j - SIG_HALF + 0.5) / (1 << SIG_STEP_BITS)
    out = np.clip(_round_exactly((1 << PROB_BITS) / (1.0 + np.exp(-x)), exact), 1, (1 << PROB_BITS) - 1)
    out.setflags(write=False)
    return out


@dataclass(frozen=True)
class IntLayer:
    weight: np.ndarray     # (out, in) int64, units 2^-shift
    bias: np.ndarray       # (out,) int64, units 2^-(FRAC + shift)
    shift: int
    activation: str        # "linear" | "relu" | "sine"


@dataclass(frozen=True)
class IntMLP:
    layers: tuple[IntLayer, ...]

    @property
    def in_dim(self) -> int:
        return int(self.layers[0].weight.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.layers[-1].weight.shape[0])

    def accumulator_bound(self, input_bound: int) -> int:
        """Largest |W @ a + b| any input with |a| <= input_bound can produce (exactness check)."""
        bound, worst = input_bound, 0
        for layer in self.layers:
            acc = int(np.abs(layer.weight).sum(axis=1).max()) * bound + int(np.abs(layer.bias).max())
            worst = max(worst, acc)
            bound = {"relu": RELU_MAX, "sine": 1 << FRAC}.get(layer.activation, acc >> layer.shift)
        return worst


def apply_activation(z: np.ndarray, activation: str) -> np.ndarray:
    """z: integers held exactly in float64 (units 2^-FRAC)."""
    if activation == "relu":
        return np.clip(z, 0.0, float(RELU_MAX - 1))
    if activation == "sine":
        turn = np.mod(z, float(1 << FRAC)).astype(np.intp) >> (FRAC - SINE_BITS)
        return sine_table_f()[turn]
    return z


@cache
def sine_table_f() -> np.ndarray:
    return sine_table().astype(np.float64)


def layer_forward(layer: IntLayer, a: np.ndarray) -> np.ndarray:
    """One layer on integer-valued float64 activations: floor((W a + b) / 2^shift), activation.

    Every product and partial sum is an integer below 2^52 (checked by
    IntMLP.accumulator_bound), so float64 BLAS gives the exact integer in any order; the
    power-of-two scaling and floor are exact too."""
    return finish_layer(layer, a @ layer.weight.T.astype(np.float64))


def finish_layer(layer: IntLayer, wa: np.ndarray) -> np.ndarray:
    """Add the bias to W a (however it was summed), rescale, activate."""
    z = np.add(wa, layer.bias.astype(np.float64), out=wa if wa.flags.writeable else None)
    z *= 2.0 ** -layer.shift
    np.floor(z, out=z)
    if layer.activation == "relu":
        return np.clip(z, 0.0, float(RELU_MAX - 1), out=z)
    return apply_activation(z, layer.activation)


def forward(net: IntMLP, features: np.ndarray) -> np.ndarray:
    """(n, in) integer features (units 2^-FRAC) -> (n, out) integer outputs, as float64."""
    a = np.asarray(features, dtype=np.float64)
    for layer in net.layers:
        a = layer_forward(layer, a)
    return a


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Integer logits (units 2^-FRAC, any int or float dtype) -> P(bit = 1) * 65536, int64 in [1, 65535]."""
    j = np.clip(np.floor(np.asarray(logits, dtype=np.float64) * 2.0 ** -(FRAC - SIG_STEP_BITS)) + SIG_HALF,
                0, 2 * SIG_HALF - 1).astype(np.intp)
    return sigmoid_table()[j]

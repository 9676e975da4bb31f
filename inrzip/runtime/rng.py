"""The project's counter-based random generator (see formats/inrz.md, "Random numbers").

Every random draw a decoder must reproduce comes from here, keyed by (seed, stream, index),
so a decoder can generate any single value without generating the ones before it (e.g. only
the dictionary atoms a SINR file uses). The algorithm is fixed by the format:

    mix64(z)   = SplitMix64 finaliser: z ^= z >> 30; z *= 0xBF58476D1CE4E5B9;
                 z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31   (all mod 2**64)
    key        = mix64(mix64(seed + GOLDEN) ^ stream)
    bits(i)    = mix64(key + (i + 1) * GOLDEN)                        GOLDEN = 0x9E3779B97F4A7C15
    uniform(i) = ((bits(i) >> 11) + 0.5) * 2**-53                     in (0, 1]: never 0; float64
                 rounding makes it exactly 1.0 only for bits(i) >> 11 == 2**53 - 1
    normal(i)  = sqrt(-2 ln uniform(2i)) * cos(2 pi uniform(2i + 1))  (Box-Muller, float64)

Integer outputs (bits, uniform) are exact on every machine; normal() goes through libm's log
and cos, which can differ in the last ulp between platforms; formats that need bit-exact
values use bits() or uniform() only.
"""
from __future__ import annotations

import numpy as np

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MASK64 = (1 << 64) - 1


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrapping arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z ^ (z >> np.uint64(30))
        z = z * _M1
        z = z ^ (z >> np.uint64(27))
        z = z * _M2
        z = z ^ (z >> np.uint64(31))
    return z


def stream_key(seed: int, stream: int) -> np.uint64:
    """Key of one independent stream; `seed` and `stream` are taken modulo 2**64."""
    with np.errstate(over="ignore"):
        s = np.array([seed & _MASK64], dtype=np.uint64) + GOLDEN
        k = mix64(mix64(s) ^ np.uint64(stream & _MASK64))
    return k[0]


def random_bits(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """64 random bits for each counter value in `index` (any integer array, >= 0)."""
    key = stream_key(seed, stream)
    idx = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return mix64(key + (idx + np.uint64(1)) * GOLDEN)


def uniform(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """Float64 uniforms in (0, 1] (never 0, so log is safe); exact on every platform."""
    bits = random_bits(seed, stream, index)
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * (2.0 ** -53)


def normal(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """Standard normal float64 values; value i uses uniforms 2i and 2i + 1."""
    idx = np.asarray(index, dtype=np.uint64)
    u1 = uniform(seed, stream, idx * np.uint64(2))
    u2 = uniform(seed, stream, idx * np.uint64(2) + np.uint64(1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

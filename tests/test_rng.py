"""The counter-based RNG is part of the format: its outputs are pinned here forever."""
import numpy as np

from inrzip.runtime import dictionary, rng


def test_random_bits_golden_values():
    # Changing these breaks every sinr file ever written.
    assert rng.random_bits(1, 0, np.arange(3)).tolist() == [
        7982734928498899980, 7851527857629710090, 9955129241680291498]


def test_counter_access_is_random_access():
    full = rng.random_bits(42, 7, np.arange(1000))
    some = rng.random_bits(42, 7, np.array([999, 3, 500]))
    assert some.tolist() == full[[999, 3, 500]].tolist()


def test_streams_and_seeds_differ():
    a = rng.random_bits(1, 0, np.arange(100))
    assert not np.array_equal(a, rng.random_bits(1, 1, np.arange(100)))
    assert not np.array_equal(a, rng.random_bits(2, 0, np.arange(100)))


def test_uniform_open_interval_and_normal_moments():
    u = rng.uniform(3, 0, np.arange(200_000))
    assert u.min() > 0 and u.max() < 1
    assert abs(u.mean() - 0.5) < 0.005
    z = rng.normal(3, 0, np.arange(200_000))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01


def test_dictionary_atoms_match_full_and_are_unit_norm():
    full = dictionary.full(5, 0, 16, 4096, block=1000)
    cols = np.array([0, 17, 4095, 1000])
    assert np.array_equal(dictionary.atoms(5, 0, 16, cols), full[cols])
    assert np.allclose(np.linalg.norm(full, axis=1), 1.0, atol=1e-6)

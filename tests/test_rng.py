"""Check 1 of docs/checks.md and the quality of the hash PRNG."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from superpose.data.sparse_features import sample_features
from superpose.train import rng

N = 1_000_000


@pytest.mark.parametrize("prng", ["hash", "threefry"])
@pytest.mark.parametrize("p", [0.5, 0.05])
def test_feature_statistics(prng, p):
    x = np.asarray(sample_features(rng.key(3, prng), jnp.full((1,), p), N))[0]
    nonzero = x[x > 0]
    assert abs(nonzero.size / N - p) <= 4 * np.sqrt(p * (1 - p) / N)
    n = nonzero.size
    assert abs(nonzero.mean() - 0.5) <= 4 * np.sqrt(1 / 12 / n)
    assert abs(nonzero.var() - 1 / 12) <= 0.002
    assert nonzero.max() <= 1.0


def test_per_feature_probability_is_respected():
    p = jnp.asarray([1.0, 0.3, 0.01])
    x = np.asarray(sample_features(rng.key(0), p, 400_000))
    frac = (x > 0).mean(axis=1)
    assert np.all(
        np.abs(frac - np.asarray(p)) <= 4 * np.sqrt(np.asarray(p) * (1 - np.asarray(p)) / 400_000) + 1e-9
    )


def test_hash_bits_are_uniform_and_independent():
    key = rng.key(11)
    bits = np.asarray(jax.random.bits(key, (N,), jnp.uint32))
    # chi-square on the top byte and on the bottom byte: 255 degrees of freedom
    for byte in (bits >> 24, bits & 0xFF):
        counts = np.bincount(byte.astype(np.int64), minlength=256)
        chi2 = ((counts - N / 256) ** 2 / (N / 256)).sum()
        assert 150 < chi2 < 380  # ~ +/- 5 sigma around 255
    u = bits / 2**32
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 5 / np.sqrt(N)


def test_hash_streams_of_folded_keys_are_independent():
    key = rng.key(5)
    a = np.asarray(jax.random.uniform(jax.random.fold_in(key, 0), (N,)))
    b = np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), (N,)))
    assert abs(np.corrcoef(a, b)[0, 1]) < 5 / np.sqrt(N)
    assert not np.array_equal(a[:100], b[:100])

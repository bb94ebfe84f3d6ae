"""The SynthSAEBench world reproduces its specified statistics on 10^6 samples: firing rates, the low-rank
correlation, mutual exclusion, gating through deep hierarchies, parent scaling and magnitudes."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from superpose.data import synthsaebench as S
from superpose.train import rng

N = 1_000_000
CHUNK = 2**17
# 4 trees of 1 + 4 + 16 features (84) and 16 features outside the hierarchy; a strong rank-4 correlation
CONFIG = S.WorldConfig(n_features=100, n_dims=16, roots=4, depth=2, max_probability=0.4, min_probability=0.02,
                       correlation_rank=4, correlation_scale=0.3, seed=3)


def _codes(world, n=N, seed=0):
    draw = jax.jit(lambda key: S.codes(world, key, CHUNK))
    parts = [np.asarray(draw(jax.random.fold_in(rng.key(seed, "hash"), i))) for i in range(-(-n // CHUNK))]
    return np.concatenate(parts, axis=1)[:, :n]


@pytest.fixture(scope="module")
def correlated():
    world = S.build(CONFIG)
    return world, _codes(world)


def _within(observed, expected, sigma, k=4.5):
    assert np.all(np.abs(observed - expected) <= k * sigma), (observed, expected, sigma)


def test_roots_and_free_features_fire_at_their_probability(correlated):
    world, c = correlated
    free = np.flatnonzero(np.asarray(world.parent_G) < 0)  # roots and features outside the hierarchy
    p = np.asarray(world.probability_G)[free]
    _within((c[free] > 0).mean(1), p, np.sqrt(p * (1 - p) / N))


def test_low_rank_correlation_gives_the_gaussian_orthant_probability(correlated):
    """Features i, j fire together with P(z_i > t_i, z_j > t_j), z bivariate normal with ρ = F_i·F_j."""
    world, c = correlated
    free = np.arange(84, 100)
    F = np.asarray(world.factor_GxR, np.float64)
    rho = F[free] @ F[free].T
    np.fill_diagonal(rho, 0)
    a, b = free[np.array(np.unravel_index(np.argmax(np.abs(rho)), rho.shape))]
    t = np.asarray(world.threshold_G, np.float64)[[a, b]]
    r = F[a] @ F[b]
    both = scipy.stats.multivariate_normal(cov=[[1, r], [r, 1]]).cdf(-t)
    observed = ((c[a] > 0) & (c[b] > 0)).mean()
    p = np.asarray(world.probability_G)[[a, b]]
    sigma = np.sqrt(both * (1 - both) / N)
    assert abs(r) > 0.3 and abs(both - p[0] * p[1]) > 10 * sigma  # the correlation is visible at this size
    _within(observed, both, sigma)


def test_children_fire_only_with_their_parent_and_siblings_exclude_each_other(correlated):
    world, c = correlated
    on = c > 0
    parent = np.asarray(world.parent_G)
    children = np.flatnonzero(parent >= 0)
    assert not np.any(on[children] & ~on[parent[children]])  # so through every level: grandparents too
    grandchildren = children[parent[parent[children]] >= 0]
    assert grandchildren.size == 64 and not np.any(on[grandchildren] & ~on[parent[parent[grandchildren]]])
    for p in np.unique(parent[children]):
        assert on[parent == p].sum(0).max() == 1  # mutual exclusion, and it does happen that one is active
    assert on[children].any(1).all()


def test_child_rates_given_the_parent_follow_exclusion_among_independent_siblings():
    """Without correlation: P(child on | parent on) = q_c · E[1 / (1 + active siblings)], with q the
    compensated probabilities and siblings independent (the uniform choice among the active ones)."""
    world = S.build(S.WorldConfig(**{**CONFIG.to_dict(), "correlation_rank": 0}))
    c = _codes(world, seed=1)
    on = c > 0
    q = np.asarray(world.probability_G, np.float64)
    parent = np.asarray(world.parent_G)
    for child in np.flatnonzero(parent >= 0):
        others = [j for j in np.flatnonzero(parent == parent[child]) if j != child]
        share = sum(np.prod([q[j] if s else 1 - q[j] for j, s in zip(others, subset)]) / (1 + sum(subset))
                    for subset in itertools.product((0, 1), repeat=len(others)))
        expected = q[child] * share
        given = on[parent[child]]
        _within(on[child][given].mean(), expected, np.sqrt(expected * (1 - expected) / given.sum()))


def test_parents_scale_their_children_and_magnitudes_are_rectified_normals():
    """With σ = 0 a child's value is its mean magnitude times parent value / parent mean, at every level; with
    σ > 0 a free feature's mean value when active is E[ReLU(N(μ, σ))] = μΦ(μ/σ) + σφ(μ/σ)."""
    world = S.build(S.WorldConfig(**{**CONFIG.to_dict(), "magnitude_std": (0.0, 0.0)}))
    c = _codes(world, n=CHUNK)
    parent = np.asarray(world.parent_G)
    mean = np.asarray(world.magnitude_mean_G, np.float64)
    for child in np.flatnonzero(parent >= 0):
        both = c[child] > 0
        np.testing.assert_allclose(c[child][both], mean[child] * c[parent[child]][both] / mean[parent[child]],
                                   rtol=1e-5)
    world, c = S.build(CONFIG), _codes(S.build(CONFIG), n=CHUNK)
    mu, sd = np.asarray(world.magnitude_mean_G)[84:], np.asarray(world.magnitude_std_G)[84:]
    assert sd.min() > 0.01 and np.ptp(mu) > 0
    values = [c[g][c[g] > 0] for g in range(84, 100)]
    expected = mu * scipy.stats.norm.cdf(mu / sd) + sd * scipy.stats.norm.pdf(mu / sd)
    _within(
        np.asarray([v.mean() for v in values]),
        expected,
        np.asarray([v.std() / np.sqrt(v.size) for v in values]),
    )


def test_activations_are_the_codes_times_the_dictionary_plus_its_bias():
    world = S.build(CONFIG)
    codes, x = S.sample(world, rng.key(4, "hash"), 256)
    np.testing.assert_allclose(
        x,
        np.asarray(codes).T @ np.asarray(world.directions_GxD) + np.asarray(world.bias_D),
        rtol=1e-5,
        atol=1e-5,
    )
    assert np.linalg.norm(world.bias_D) == pytest.approx(0.5, rel=1e-5)
    np.testing.assert_allclose(np.linalg.norm(world.directions_GxD, axis=1), 1.0, rtol=1e-5)


def test_orthogonalisation_loss_is_the_pairwise_one_and_pushes_features_apart():
    d = np.random.default_rng(0).standard_normal((40, 8))
    gram = d @ d.T
    off = np.sum(gram**2) - np.sum(np.diag(gram) ** 2)
    norms2 = np.sum(d**2, axis=1)
    np.testing.assert_allclose(off, np.sum((d.T @ d) ** 2) - np.sum(norms2**2), rtol=1e-10)
    unit = d / np.linalg.norm(d, axis=1, keepdims=True)
    pushed = S.orthogonalize(unit, 300, 1e-2)
    assert S.mean_max_overlap(pushed) < S.mean_max_overlap(unit) - 0.05
    np.testing.assert_allclose(np.linalg.norm(pushed, axis=1), 1.0, rtol=1e-5)


def test_firing_profiles_span_their_range():
    for firing in ("zipf", "linear", "constant"):
        p = S.firing_probabilities(
            S.WorldConfig(n_features=50, n_dims=4, firing=firing, max_probability=0.3, min_probability=0.01)
        )
        assert p[0] == pytest.approx(0.3) and np.all(np.diff(p) <= 0)
        assert p[-1] == pytest.approx(0.3 if firing == "constant" else 0.01)
    zipf = S.firing_probabilities(
        S.WorldConfig(n_features=50, n_dims=4, max_probability=0.3, min_probability=0.01)
    )
    linear = np.linspace(0.3, 0.01, 50)
    assert np.all(zipf[1:-1] < linear[1:-1])  # a power law drops fast, then flattens


@pytest.mark.slow
def test_the_16k_preset_matches_its_published_statistics():
    """SynthSAEBench-16k: mean L0 ≈ 34 and ρ_mm ≈ 0.15 (Chanin & Garriga-Alonso 2026)."""
    world = S.preset("synthsaebench-16k")
    assert S.mean_max_overlap(np.asarray(world.directions_GxD)) == pytest.approx(0.15, abs=0.01)
    draw = jax.jit(lambda key: jnp.sum(S.codes(world, key, 1024) > 0, axis=0))
    l0 = np.concatenate([np.asarray(draw(rng.key(i, "hash"))) for i in range(16)])
    assert l0.mean() == pytest.approx(34, abs=1.5)

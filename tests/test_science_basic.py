"""Checks 5, 6, 7 and 16 of docs/checks.md (E2: n=20, m=5, I=0.7^i, notebook recipe, 1 seed)."""

import numpy as np
import pytest

from experiments import basic
from superpose.toy import metrics
from superpose.toy.sweep import shape_groups
from superpose.toy.training import train

DENSITIES = np.asarray(basic.DENSITIES)


@pytest.fixture(scope="module")
def runs():
    out = {}
    for label, instances in shape_groups(basic.sweeps(quick=False)[0]).items():
        res = train([c for _, _, c in instances], progress=False)
        out[label.removeprefix("model=")] = (res.W_IxFxH, res.b_IxF)
    return out


def _linear_like(W, b, density):
    norms = np.asarray(metrics.feature_norms(W))
    assert np.all((norms[:5] >= 0.95) & (norms[:5] <= 1.05))
    assert np.all(norms[5:] <= 0.05)
    assert np.sum(W**2) == pytest.approx(5, abs=0.1)
    gram = W @ W.T
    assert np.abs(gram - np.diag(np.diag(gram))).max() <= 0.05
    np.testing.assert_allclose(b[5:], 0.5 * density, atol=0.02)


@pytest.mark.parametrize("density", [1.0, 0.1, 0.01])
def test_linear_model_learns_top_five_orthogonally(runs, density):
    i = int(np.flatnonzero(DENSITIES == density)[0])
    W, b = runs["linear"]
    _linear_like(W[i], b[i], density)


def test_relu_equals_linear_when_dense(runs):
    W, b = runs["relu_output"]
    _linear_like(W[0], b[0], 1.0)


def test_relu_superposition_grows_with_sparsity(runs):
    W, b = runs["relu_output"]
    frob = np.sum(W**2, axis=(1, 2))
    assert frob[DENSITIES == 0.3][0] >= 6.5
    assert np.all(frob[DENSITIES <= 0.01] >= 10)
    assert np.all(np.diff(frob) >= -0.5)  # non-decreasing with slack
    i = int(np.flatnonzero(DENSITIES == 0.3)[0])
    interf = np.asarray(metrics.interference(W[i]))
    norms = np.asarray(metrics.feature_norms(W[i]))
    assert np.all(interf[:3] <= 0.05)  # the most important stay orthogonal
    assert np.sum((interf[3:] >= 0.8) & (norms[3:] > 0.5)) >= 2  # the least important superpose first
    for j in np.flatnonzero(DENSITIES <= 0.01):
        assert np.sum(b[j] < -0.05) >= 5  # negative biases at high sparsity


def test_adversarial_vulnerability_grows_with_superposition(runs):
    """Check 16 (E9), with the per-input attack norm and the relative loss increase (see experiments/adversarial)."""
    import jax.numpy as jnp
    from scipy.stats import spearmanr

    from superpose.toy import models
    from superpose.toy.adversarial import relative_vulnerability
    from superpose.toy.data import sample_features
    from superpose.train import rng

    W, b = runs["relu_output"]
    vulnerability = []
    for i, p in enumerate(DENSITIES):
        x = sample_features(rng.key(i), jnp.full((20,), p), 50_000)
        model = models.from_arrays("relu_output", {"W_FxH": jnp.asarray(W[i]), "b_F": jnp.asarray(b[i])})
        vulnerability.append(float(relative_vulnerability(model, x, jnp.asarray(0.7 ** np.arange(20)), 0.1)))
    assert vulnerability[-1] >= 3 * vulnerability[0]
    features_per_dim = np.sum(W**2, axis=(1, 2)) / 5
    assert spearmanr(vulnerability, features_per_dim).statistic >= 0.8

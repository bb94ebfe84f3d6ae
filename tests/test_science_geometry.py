"""E4/E5 geometry: checks 10 and 11 of docs/checks.md.

CI runs the quick size (100 features in 10 dimensions, 7 densities);
`-m slow` runs the checks at the paper notebook's size (200 in 20, 20 densities).
"""

import numpy as np
import pytest

from experiments import geometry
from experiments.geometry import sticky_counts
from superpose.toy import metrics
from superpose.toy.training import train


def _train(quick):
    configs = [c for _, _, c in geometry.sweeps(quick)[0].instances()]
    res = train(configs, progress=False)
    inv = 1 / np.asarray([c.feature_probability for c in configs])
    return inv, res.W_IxFxH


def _common(inv, W):
    n_hidden = W.shape[-1]
    d_star = np.asarray(metrics.dimensions_per_feature(W))
    assert d_star[0] == pytest.approx(1.0, abs=0.03)  # dense: one dimension per feature
    for w in W:  # dimensions are conserved
        assert np.asarray(metrics.feature_dimensionality(w)).sum() == pytest.approx(n_hidden, abs=0.1)
    return d_star


def test_quick_geometry_sticks_at_one_half():
    inv, W = _train(quick=True)
    d_star = _common(inv, W)
    plateau = (inv >= 2.2) & (inv <= 3.5)
    assert plateau.any()
    np.testing.assert_allclose(d_star[plateau], 0.5, atol=0.03)
    assert np.all(d_star[inv >= 4.8] <= 0.45)
    # the geometry graph: in the plateau every represented feature sits in a digon
    for i in np.flatnonzero(plateau):
        assert set(geometry.polytope_counts(W[i])) == {"digon"}


def test_geometry_graph_names_the_polytopes_of_a_tegum_product():
    """A pentagon, a triangular bipyramid (triangle ⊕ digon) and a tetrahedron in orthogonal subspaces,
    rotated and rescaled: each is its own component, the bipyramid split into a triangle and a digon."""
    def polygon(k):
        angle = 2 * np.pi * np.arange(k) / k
        return np.stack([np.cos(angle), np.sin(angle)], axis=1)

    tetrahedron = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)
    blocks = [polygon(5), polygon(3), np.array([[1.0], [-1.0]]), tetrahedron]
    W = np.zeros((14, 8))
    row = col = 0
    for block in blocks:
        W[row:row + len(block), col:col + block.shape[1]] = block
        row, col = row + len(block), col + block.shape[1]
    q, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(8, 8)))
    W = 1.05 * W @ q
    assert geometry.polytope_counts(W) == {"pentagon": 1, "triangle": 1, "digon": 1, "tetrahedron": 1}
    assert [len(c) for c in geometry.components(W)] == [5, 4, 3, 2]


@pytest.mark.slow
def test_uniform_superposition_checks_10_and_11():
    inv, W = _train(quick=False)
    d_star = _common(inv, W)
    for i in np.flatnonzero((inv >= 2.2) & (inv <= 3.5)):
        assert d_star[i] == pytest.approx(0.5, abs=0.03)
        learned = np.asarray(metrics.feature_norms(W[i])) > 0.5
        D = np.asarray(metrics.feature_dimensionality(W[i]))[learned]
        assert np.mean(np.abs(D - 0.5) <= 0.02) >= 0.95
    assert np.all(d_star[inv >= 4.8] <= 0.45) and d_star[-1] <= 0.2
    window = np.flatnonzero((inv >= 4) & (inv <= 6))
    assert any(sticky_counts(W[i])[2 / 5] >= 5 and sticky_counts(W[i])[3 / 8] >= 5 for i in window)

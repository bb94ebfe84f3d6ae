"""E4/E5 geometry: checks 10 and 11 of docs/checks.md.

CI runs the experiment's quick size (100 features in 10 dimensions, 7 densities); `-m slow` runs the checks
at the paper notebook's size (200 in 20, 20 densities). Both by the scorecard's check functions.
"""

import numpy as np
import pytest

from experiments import geometry
from superpose.app.scorecard import assert_holds
from superpose.toy.training import train


def test_quick_geometry_sticks_at_one_half(quick_results):
    run = quick_results("geometry").group("geometry", "all")
    W, p = run.arrays["W"], run.arrays["feature_probability"][:, 0]
    assert_holds(geometry.uniform_superposition(W, p, full_size=False), allow_unjudged=True)
    assert_holds(geometry.fractional_dimensionalities(W, p, full_size=False), allow_unjudged=True)
    # the geometry graph: in the plateau every represented feature sits in a digon
    plateau = (1 / p >= 2.2) & (1 / p <= 3.5)
    assert plateau.any()
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
    configs = [c for _, _, c in geometry.sweeps(quick=False)[0].instances()]
    W = train(configs, progress=False).W_IxFxH
    p = np.asarray([c.feature_probability for c in configs])
    assert_holds(geometry.uniform_superposition(W, p, full_size=True))
    assert_holds(geometry.fractional_dimensionalities(W, p, full_size=True))

"""Checks 5, 6, 7 and 16 of docs/checks.md (E2: n=20, m=5, I=0.7^i, notebook recipe, ReLU best of 4 seeds), on
the basic experiment's results, by the scorecard's own check functions."""

import numpy as np
import pytest

from experiments import adversarial, basic
from superpose.app.scorecard import assert_holds


@pytest.fixture(scope="module")
def runs(quick_results):
    manifest = quick_results("basic")
    return manifest, basic.basic_runs({"basic": manifest})


@pytest.mark.parametrize("density", [1.0, 0.1, 0.01])
def test_linear_model_learns_top_five_orthogonally(runs, density):
    W, b, p, _ = runs[1]["linear"]
    i = np.flatnonzero(np.isclose(p, density))
    assert i.size == 1
    assert_holds(basic.linear_like(W[i], b[i], p[i], "linear"))


def test_relu_equals_linear_when_dense(runs):
    W, b, p, _ = runs[1]["relu_output"]
    assert p[0] == 1.0
    assert_holds(basic.linear_like(W[:1], b[:1], p[:1], "ReLU"))


def test_relu_superposition_grows_with_sparsity(runs):
    _, _, p, seeds = runs[1]["relu_output"]
    rules = basic.relu_superposition(*seeds, p)
    assert len(rules) == 6  # the density-0.3 rules are among them
    assert_holds(rules)


def test_adversarial_vulnerability_grows_with_superposition(runs):
    """Check 16 (E9), with the per-input attack norm and the relative loss increase (see
    experiments/adversarial)."""
    v = adversarial.vulnerability(runs[0])
    assert_holds(
        adversarial.vulnerability_tracks_superposition(
            v["density"], v["vulnerability"], v["features_per_dim"]
        )
    )


def test_the_linear_model_fails_the_superposition_rules(runs):
    """The rules can fail: the linear model passed off as the ReLU one fails check 7."""
    _, _, p, seeds = runs[1]["linear"]
    assert [r.passed for r in basic.relu_superposition(*seeds, p)].count(False) >= 4

"""The intro experiment's science: checks 8 and 9 of docs/checks.md (by the scorecard's check functions), and
issue #2's claims. The experiment's quick results: the notebook's recipe (10,000 steps, batch 1024, AdamW 1e-3
wd 0.01), 7 densities from 1 to 0.011 (0.224 and 0.05 among them), best of 4 seeds, both models."""

import numpy as np
import pytest

from experiments import intro as intro_experiment
from superpose.app.scorecard import assert_holds
from superpose.measures import features as metrics


@pytest.fixture(scope="module")
def intro(quick_results):
    manifest = quick_results("intro")
    checks = {c.id: c for c in intro_experiment.CHECKS}
    return {
        "rules": {i: checks[i].rules({"intro": manifest}, True) for i in ("8", "9")},
        "relu": manifest.group("intro", "model=relu_output"),
        "linear": manifest.group("intro", "model=linear"),
    }


def test_dense_orthogonal_then_antipodal_pairs_then_pentagon(intro):
    rules = intro["rules"]["8"]
    assert len(rules) == 3  # dense, 0.224, 0.05
    assert_holds(rules)


def test_best_of_picks_the_pentagon_wherever_both_occur(intro):
    assert_holds(intro["rules"]["9"], allow_unjudged=True)


def test_pentagon_beats_four_antipodal_on_hand_made_seeds():
    """Check 9's rule judges: a pentagon with the lower loss passes, with the higher one fails."""
    angle = 2 * np.pi * np.arange(5) / 5
    pentagon = np.stack([np.cos(angle), np.sin(angle)], 1)
    pairs = np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [0, 0]], float)
    W = np.stack([pentagon, pairs])[None]
    (good,) = intro_experiment.best_of_picks_the_pentagon(W, np.array([[0.1, 0.2]]), [0.05])
    (bad,) = intro_experiment.best_of_picks_the_pentagon(W, np.array([[0.3, 0.2]]), [0.05])
    assert good.passed is True and bad.passed is False


def test_sparse_relu_represents_at_least_four_features(intro):
    run = intro["relu"]
    best = run.summary["best_of_point"]
    p = run.arrays["feature_probability"][:, 0]
    for i in np.flatnonzero(np.asarray(best) & (p <= 0.05 + 1e-9)):
        assert int(metrics.n_represented(run.arrays["W"][i])) >= 4


def test_linear_model_never_represents_more_than_hidden_dims(intro):
    W = intro["linear"].arrays["W"]
    assert np.all(metrics.n_represented(W) <= 2)
    assert np.all(metrics.feature_norms(W)[..., :2] > 0.9)  # always the two most important

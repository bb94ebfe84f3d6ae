"""E8 learning dynamics and the double-descent study (check 15), at quick size."""

import numpy as np
import pytest

from experiments import double_descent, dynamics
from superpose.app.scorecard import assert_holds
from superpose.measures import features as metrics
from superpose.results import load
from superpose.toy.sweep import run_sweep


def test_features_settle_into_digons_through_jumps(tmp_path):
    (folder,) = run_sweep(dynamics.sweeps(quick=True)[0], tmp_path, progress=False)
    run = load(folder)
    steps, D = dynamics.dimensionality_history(run)
    assert run.arrays["W_history"].shape[:2] == (1, len(steps))
    learned = np.asarray(metrics.feature_norms(run.arrays["W"][0])) > 0.5
    at_half = np.mean(np.abs(D[:, learned] - 0.5) <= 0.02, axis=1)
    assert at_half[-1] >= 0.9  # the end: antipodal pairs
    assert at_half[0] <= 0.1  # the start: not yet
    np.testing.assert_allclose(run.arrays["W_history"][0, -1], run.arrays["W"][0])
    np.testing.assert_allclose(run.arrays["b_history"][0, -1], run.arrays["b"][0])
    loss = dynamics.evaluation_loss(run)
    assert loss.shape == steps.shape and loss[-1] < 0.95 * loss[0]


def test_jumps_tell_discrete_moves_with_their_own_loss_drops_from_overlapping_rises():
    steps = np.arange(1, 201) * 10
    D = np.full((200, 2), 0.2)
    D[60:, 0], D[140:, 1] = 0.5, 0.5  # two moves at steps 610 and 1410, far apart
    loss = 1.0 - 0.1 * (steps >= 610) - 0.1 * (steps >= 1410)  # the loss drops at each, flat between
    r = dynamics.jumps(steps, D, loss)
    assert (r["moves"], r["isolated"], r["own_drops"]) == (2, 2, 2)
    rising = np.linspace(0.2, 0.5, 200)[:, None] + np.zeros((1, 3))  # three features rising together
    r = dynamics.jumps(steps, rising, np.linspace(1.0, 0.8, 200))
    assert (r["moves"], r["isolated"], r["own_drops"]) == (3, 0, 0)
    r = dynamics.jumps(steps, D, np.linspace(1.0, 0.8, 200))  # isolated moves, but a smoothly falling loss
    assert (r["isolated"], r["own_drops"]) == (2, 0)
    # check 21's function: a digon model whose moves are jumps passes; one whose moves overlap fails
    row = {"digons": 0.95, "moves": 2, "own_drops": 2, "density": 0.3, "learning_rate": 1e-3}
    assert_holds(dynamics.jump_rules([row]))
    assert [r.passed for r in dynamics.jump_rules([dict(row, own_drops=0)])] == [True, False]
    assert [r.passed for r in dynamics.jump_rules([dict(row, digons=0.5)])] == [False, False]


def test_transitions_time_each_features_move():
    steps = np.arange(1, 101) * 10
    D = np.full((100, 2), 0.2)
    D[50:, 0] = 0.5  # a jump at step 510
    D[:, 1] = np.linspace(0.2, 0.5, 100)  # a steady rise over the whole run
    moves = dynamics.transitions(steps, D)
    assert moves["middle"][0] == 510 and moves["width"][0] == 0
    assert 480 <= moves["middle"][1] <= 520 and 550 <= moves["width"][1] <= 650


@pytest.fixture(scope="module")
def dd(quick_results):
    manifest = quick_results("double_descent")
    return {**double_descent.analyse(manifest), "bumps": double_descent.weight_decay_bumps(manifest)}


def test_double_descent_check_15(dd):
    """Check 15 by the scorecard's function: T-gons (T = 5 judged at quick size; T = 3 is reported, not
    judged: three points are reconstructed exactly without a triangle, see docs/checks.md), the generalising
    end, the test-loss peak between, and the m = 4 bump that weight decay removes."""
    rules = double_descent.double_descent_rules(
        dd["T"], dd["data_dim"], dd["W"], dd["test_loss"], dd["bumps"], full_size=False
    )
    assert_holds(rules, allow_unjudged=True)
    assert [r.passed for r in rules].count(True) == 4


def test_weight_decay_removes_the_bump_with_four_dimensions(dd):
    """The paper's appendix, m = 4: at weight decay 0.01 the test loss at T = 150 is about twice the ends';
    at weight decay 1.0 the bump is gone."""
    bumps = dd["bumps"]
    assert bumps[0.01]["bump"] > 1.5
    assert bumps[1.0]["bump"] < 1.05

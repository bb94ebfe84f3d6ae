"""The intro experiment's science: checks 8 and 9 of docs/checks.md, and issue #2's claims.

One sweep at the notebook's recipe (10,000 steps, batch 1024, AdamW 1e-3 wd 0.01),
the notebook's densities 20**-linspace(0, 1, 10), best of 4 seeds, both models.
"""

import numpy as np
import pytest

from superpose.toy import metrics
from superpose.toy.config import ToyConfig
from superpose.toy.data import density_sweep
from superpose.toy.sweep import Sweep, shape_groups
from superpose.toy.training import train

DENSITIES = density_sweep(10)
SEEDS = 4


@pytest.fixture(scope="module")
def intro():
    sweep = Sweep(
        name="intro",
        base=ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9),
        axes={"model": ("relu_output", "linear"), "feature_probability": tuple(DENSITIES)},
        best_of=SEEDS,
    )
    out = {}
    for label, instances in shape_groups(sweep).items():
        res = train([c for _, _, c in instances], progress=False)
        shape = (len(DENSITIES), SEEDS)
        out[label.removeprefix("model=")] = {
            "W": res.W_IxFxH.reshape(shape + (5, 2)),
            "b": res.b_IxF.reshape(shape + (5,)),
            "loss": res.loss_IxC[:, -1].reshape(shape),
        }
    return out


def best(run, i):
    k = int(np.argmin(run["loss"][i]))
    return run["W"][i, k], run["b"][i, k]


def angle_gaps(W):
    rep = W[metrics.feature_norms(W) > 0.5]
    angles = np.sort(np.degrees(np.arctan2(rep[:, 1], rep[:, 0])))
    return np.diff(np.concatenate([angles, angles[:1] + 360]))


def represented(W):
    return set(np.flatnonzero(metrics.feature_norms(W) > 0.5).tolist())


def test_dense_relu_keeps_top_two_orthogonal_and_drops_the_rest(intro):
    W, b = best(intro["relu_output"], 0)
    assert represented(W) == {0, 1}
    unit = W[:2] / np.linalg.norm(W[:2], axis=1, keepdims=True)
    assert abs(unit[0] @ unit[1]) <= 0.05
    assert np.all(metrics.feature_norms(W)[2:] < 0.1)
    np.testing.assert_allclose(b[2:], 0.5, atol=0.02)  # the expected value of a dropped feature


def test_antipodal_pairs_at_80_percent_sparsity(intro):
    for i in np.flatnonzero((DENSITIES >= 0.19) & (DENSITIES <= 0.265)):
        W, _ = best(intro["relu_output"], i)
        assert represented(W) == {0, 1, 2, 3}, DENSITIES[i]
        np.testing.assert_allclose(angle_gaps(W), 90, atol=3)
        np.testing.assert_allclose(np.asarray(metrics.feature_dimensionality(W))[:4], 0.5, atol=0.05)
        assert metrics.feature_norms(W)[4] <= 0.1


def test_pentagon_at_density_005(intro):
    W, b = best(intro["relu_output"], len(DENSITIES) - 1)
    assert DENSITIES[-1] == pytest.approx(0.05)
    assert represented(W) == {0, 1, 2, 3, 4}
    np.testing.assert_allclose(angle_gaps(W), 72, atol=4)
    np.testing.assert_allclose(metrics.feature_dimensionality(W), 0.4, atol=0.03)
    assert np.all(b < -0.1)
    assert np.all(metrics.feature_norms(W) > 1)


def test_sparse_relu_represents_at_least_four_features(intro):
    for i in np.flatnonzero(DENSITIES <= 0.05 + 1e-9):
        assert len(represented(best(intro["relu_output"], i)[0])) >= 4


def test_linear_model_never_represents_more_than_hidden_dims(intro):
    W = intro["linear"]["W"]
    assert np.all(metrics.n_represented(W) <= 2)
    assert np.all(metrics.feature_norms(W)[..., :2] > 0.9)  # always the two most important


def test_pentagon_beats_four_antipodal_when_both_occur(intro):
    """Check 9: local minima are real and best-of-k by training loss picks the better geometry."""
    run = intro["relu_output"]
    for i in range(len(DENSITIES)):
        n_rep = metrics.n_represented(run["W"][i])
        pent, anti = run["loss"][i][n_rep == 5], run["loss"][i][n_rep == 4]
        if pent.size and anti.size and DENSITIES[i] <= 0.1:
            assert pent.max() < anti.min(), DENSITIES[i]

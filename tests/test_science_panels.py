"""The paper's panels beyond one figure per section, at quick size: adversarial training and the hidden L1
penalty remove superposition at a cost (Elhage et al. 2022, "Superposition and Adversarial Examples",
"The Strategic Picture"), and two correlated sets of 3 features in 3 dimensions reach the octahedron
through geometric transformations ("Learning Dynamics")."""

from collections import Counter

import numpy as np
import pytest

from experiments import adversarial_training, hidden_l1, transformations
from superpose.app.scorecard import assert_holds
from superpose.toy.config import ToyConfig
from superpose.toy.training import train


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    root = tmp_path_factory.mktemp("panels")
    return {module: module.measure(module.EXPERIMENT.run(root, "quick", progress=False))
            for module in (adversarial_training, hidden_l1, transformations)}


def test_zero_attack_and_zero_penalty_train_exactly_like_plain_training():
    plain = ToyConfig(n_features=6, n_hidden=2, feature_probability=0.1, steps=200, log_every=100)
    alone = train([plain], progress=False)
    mixed = train([plain, ToyConfig(**{**plain.to_dict(), "attack_fraction": 0.5, "hidden_l1": 0.01})],
                  progress=False)
    np.testing.assert_allclose(mixed.W_IxFxH[0], alone.W_IxFxH[0], rtol=1e-5, atol=1e-6)
    assert np.abs(mixed.W_IxFxH[1] - alone.W_IxFxH[0]).max() > 1e-2


def test_adversarial_training_removes_superposition_and_vulnerability_at_a_cost(measured):
    m = measured[adversarial_training]
    assert m["fraction"][0] == 0 and m["superposed"][0] >= 8  # the plain model: ~10 features in superposition
    assert m["superposed"][-1] <= 2 and m["represented"][-1] <= 5  # attacks of 1.2·‖x‖: (almost) none left
    assert np.all(np.diff(m["superposed"]) <= 0)
    assert m["vulnerability"][-1] < 0.05 * m["vulnerability"][0]
    assert m["vulnerability_mean_norm"][-1] < 0.05 * m["vulnerability_mean_norm"][0]  # the paper's size
    assert m["loss"][-1] > 3 * m["loss"][0]
    # the paper's measure, features per dimension ‖W‖²_F / m: ~2 plain, at most 1 under attacks of 1.2·‖x‖
    # (0.32 measured), where superpose's count still finds a feature interfering
    assert m["features_per_dim"][0] > 1.5 and m["features_per_dim"][-1] < 1.0
    assert adversarial_training.removing_fraction(m, "features_per_dim") <= 1.2
    assert_holds(adversarial_training.removal_rules(m), allow_unjudged=True)  # check 20: gone from 0.8 here


def test_hidden_l1_removes_superposition_at_a_cost_in_loss(measured):
    m = measured[hidden_l1]
    assert m["penalty"][0] == 0 and m["superposed"][0] >= 8
    assert m["superposed"][-1] == 0 and m["represented"][-1] >= 2
    assert np.all(np.diff(m["represented"]) <= 0)
    # removing superposition this way costs more than the best model without it
    assert m["loss"][-1] > hidden_l1.no_superposition_loss() > m["loss"][0]


def test_two_correlated_sets_reach_the_octahedron_through_orthogonal_frames(measured):
    m = measured[transformations]
    assert m["final"].count("octahedron") >= 6
    common = Counter(m["trajectories"]).most_common(1)[0][0]
    assert common[-2:] == ("orthogonal frames", "octahedron")
    assert "overlapping sets" in common

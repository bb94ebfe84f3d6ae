"""E7, E10, E11 at quick size: checks 17 and 18 of REFERENCE.md section 9, and E10's regimes."""

import numpy as np
import pytest

from experiments import absolute, correlated, privileged
from superpose.experiment import Manifest
from superpose.toy import metrics
from superpose.toy.sweep import best_instances, run_sweep


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    root = tmp_path_factory.mktemp("circuits")
    folders = []
    for experiment in (correlated, privileged):
        for sweep in experiment.sweeps(quick=True):
            folders += run_sweep(sweep, root, progress=False)
    folders += run_sweep(absolute.sweeps(quick=True)[0], root, progress=False)
    return Manifest(root, tuple(folders))


def test_correlated_pairs_orthogonal_anticorrelated_antipodal(out):
    """Check 17 (best of 3 seeds here, 5 in the full run)."""
    W, p = correlated.best_W(out, "correlated_pairs")
    assert np.all(p <= 0.05 + 1e-9)
    assert np.all(np.abs(correlated.pair_cosines(W)) <= 0.1)
    W, p = correlated.best_W(out, "anticorrelated_pairs")
    assert np.all((p >= 0.1 - 1e-9) & (p <= 0.32))
    assert np.all(correlated.pair_cosines(W) <= -0.95)


def test_absolute_value_uses_two_opposite_neurons_per_feature(out):
    """Check 18: after rescaling, each feature has exactly two neurons > 0.5 of opposite signs,
    and no neuron carries two features."""
    run = out.group("absolute_3in6", "all")
    W = absolute.rescaled_input_weights(run.arrays["W"][int(np.argmin(run.summary["final_loss"]))])
    strong = np.abs(W) > 0.5
    assert np.all(strong.sum(axis=1) == 2)
    for f in range(3):
        assert sorted(np.sign(W[f, strong[f]]).tolist()) == [-1.0, 1.0]
    assert np.all(strong.sum(axis=0) <= 1)


def test_privileged_basis_monosemantic_when_dense_polysemantic_when_sparse(out):
    run = out.group("privileged", "all")
    best = best_instances(run)
    W, p = run.arrays["W"][best], run.arrays["feature_probability"][best, 0]
    dense, sparse = int(np.argmax(p)), int(np.argmin(p))
    assert int(metrics.n_represented(W[dense])) == 5
    assert np.all(privileged.features_per_neuron(W[dense]) == 1)
    assert int(metrics.n_represented(W[sparse])) > 5
    assert np.any(privileged.features_per_neuron(W[sparse]) > 1)

"""E7, E10, E11 at quick size: checks 17 and 18 of docs/checks.md (by the scorecard's check functions), and
E10's regimes."""

import numpy as np
import pytest

from experiments import absolute, correlated, privileged
from superpose.app.experiment import Manifest
from superpose.app.scorecard import assert_holds
from superpose.measures import features as metrics
from superpose.toy.sweep import run_sweep


@pytest.fixture(scope="module")
def out(quick_results):
    manifests = [quick_results("correlated"), quick_results("absolute")]
    root = manifests[0].root
    folders = [f for m in manifests for f in m.folders]
    for sweep in privileged.sweeps(quick=True):
        folders += run_sweep(sweep, root, progress=False, skip_existing=True)
    return Manifest(root, tuple(folders))


def test_correlated_pairs_orthogonal_anticorrelated_antipodal(out):
    """Check 17 (best of 3 seeds here, 5 in the full run)."""
    W, p = correlated.best_weights(out, "correlated_pairs")
    W_anti, p_anti = correlated.best_weights(out, "anticorrelated_pairs")
    assert np.all((p_anti >= 0.1 - 1e-9) & (p_anti <= 0.32))
    assert_holds(
        correlated.correlated_pairs(correlated.pair_cosines(W), p, correlated.pair_cosines(W_anti), p_anti)
    )
    swapped = correlated.correlated_pairs(
        correlated.pair_cosines(W_anti), p, correlated.pair_cosines(W), p_anti
    )
    assert [r.passed for r in swapped] == [False, False]


def test_sets_of_correlated_features_get_a_local_orthogonal_basis(out):
    """Two sets of 10 correlated features in 10 dimensions: orthogonal within a set, superposed across."""
    within, across = correlated.block_overlaps(correlated.two_tens_gram(out))
    assert within < 0.02 and across > 0.1


def test_correlated_pairs_collapse_as_density_rises(out):
    """Collapsed pairs rise with density (the paper: one set near 0.05-0.15, two near 0.15-0.2). Over seed
    offsets 0, 1000, 2000 and 3000 (3 seeds per density): at 0.01 the best seed has 0 or 1 collapsed (seeds
    average 0-0.67), at 0.159 every best seed has 2 (seeds average 2); where exactly the first pair collapses
    (0.01-0.063) depends on the seeds, so it is not asserted."""
    c = correlated.collapse(out)
    by_density = dict(zip(np.round(c["density"].astype(float), 3).tolist(), c["best"].tolist()))
    mean = dict(zip(np.round(c["density"].astype(float), 3).tolist(), c["all"].mean(axis=1).tolist()))
    assert by_density[0.01] <= 1 and by_density[0.159] == 2
    assert mean[0.159] >= mean[0.01] + 1


def test_absolute_value_uses_two_opposite_neurons_per_feature(out):
    """Check 18: after rescaling, each feature has exactly two neurons > 0.5 of opposite signs,
    and no neuron carries two features."""
    run = out.group("absolute_3in6", "all")
    W = run.arrays["W"][int(np.argmin(run.summary["final_loss"]))]
    assert_holds(absolute.absolute_value_neurons(W))
    assert absolute.absolute_value_neurons(np.abs(W))[0].passed is False  # same-sign neurons fail
    assert absolute.features_per_neuron(W).max() == 1


def test_privileged_basis_monosemantic_when_dense_polysemantic_when_sparse(out):
    run = out.group("privileged", "all")
    best = privileged.best_by_evaluation(run)
    W, p = run.arrays["W"][best], run.arrays["feature_probability"][best, 0]
    dense, sparse = int(np.argmax(p)), int(np.argmin(p))
    assert int(metrics.n_represented(W[dense])) == 5
    assert np.all(privileged.features_per_neuron(W[dense]) == 1)
    assert int(metrics.n_represented(W[sparse])) > 5
    assert np.any(privileged.features_per_neuron(W[sparse]) > 1)


def test_privileged_regimes_of_the_paper_at_both_ends(out):
    """E10's regime list, at its ends: monosemantic when dense, three features in two neurons (beside three
    monosemantic ones) at 0.35, every feature on a pair of neurons at 0.03."""
    rows = {r["density"]: r for r in privileged.regimes(out.group("privileged", "all"))}
    assert rows[0.75]["best"] == "all monosemantic"
    assert rows[0.35]["best"] == "3 features in 2 neurons + 3 monosemantic"
    # the quantity this assertion was written against, the |W| count: at quick size (best of 8) the positive
    # count is seed-dependent (1.75 at seed offset 1000 under AVX2, 2.00 at 0); check 19 judges the pair
    # by the positive count at full size (2.00 neurons per feature at 0.03 and 0.01)
    assert rows[0.03]["neurons_per_feature_magnitude"] >= 1.8
    # check 19's function on the same rows: the two dense regimes hold
    assert_holds(privileged.regime_rules([rows[0.75], rows[0.35]]))
    broken = dict(rows[0.35], parts=[[4, 2], [1, 1]], best="4 features in 2 neurons")
    assert privileged.regime_rules([broken])[0].passed is False


def test_a_feature_uses_a_neuron_through_a_positive_weight_not_an_inhibitory_one():
    """Feature 0 drives neurons 0 and 1 and inhibits the other three: it uses 2 neurons by the positive rule,
    5 by the |W| rule of superpose 0.1 (which is kept under its own name)."""
    W = np.zeros((10, 5))
    W[0] = [1.0, 0.9, -0.8, -0.7, -0.9]
    W[1:5, 1:5] = 0.3 * np.eye(4)  # weak features on the other neurons
    W[2, 2] = 0.6  # feature 2 drives neuron 2, which feature 0 inhibits more strongly (-0.8)
    assert privileged.neurons_per_feature(W[:1]) == 2
    assert privileged.neurons_per_feature(W[:1], rule="magnitude") == 5
    assert privileged.uses(W).sum(axis=1)[0] == 2
    assert privileged.uses(W, rule="magnitude").sum(axis=1)[0] == 5
    assert list(privileged.features_per_neuron(W)) == [1, 1, 1, 1, 1]
    assert list(privileged.features_per_neuron(W, rule="magnitude")) == [1, 1, 2, 1, 1]
    with pytest.raises(ValueError, match="rule must be one of"):
        privileged.uses(W, rule="abs")


def test_structure_reads_components_of_the_feature_neuron_graph():
    W = np.zeros((10, 5))
    W[[0, 1, 2], [0, 1, 2]] = 1  # three monosemantic neurons
    W[3:6, 3:5] = [[1, 0], [0, 1], [0.8, 0.8]]  # three features in two neurons
    assert privileged.structure(W) == ((3, 2), (1, 1), (1, 1), (1, 1))
    assert privileged.describe(privileged.structure(W)) == "3 features in 2 neurons + 3 monosemantic"
    assert privileged.describe(privileged.structure(np.eye(10, 5))) == "all monosemantic"

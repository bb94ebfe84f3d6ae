"""E6 (quick size): a sparser fifth feature is dropped and the pentagon becomes two digons, through a
first-order change where the two geometries' loss curves cross."""

import numpy as np
import pytest

from experiments import perturb
from superpose import load
from superpose.measures import features as metrics
from superpose.toy.sweep import best_instances, run_sweep


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    (folder,) = run_sweep(perturb.sweeps(quick=True)[0], tmp_path_factory.mktemp("perturb"), progress=False)
    return load(folder)


def test_pentagon_snaps_to_digons_when_one_feature_is_sparser(run):
    W = run.arrays["W"][best_instances(run)]
    ratios = perturb.ratios(quick=True)
    D = np.asarray(metrics.feature_dimensionality(W))
    sparse, equal = 0, int(np.argmin(np.abs(ratios - 1)))
    assert metrics.feature_norms(W[sparse])[4] < 0.1  # the 10x sparser feature is dropped
    np.testing.assert_allclose(D[sparse, :4], 0.5, atol=0.05)  # two antipodal pairs
    np.testing.assert_allclose(D[equal], 0.4, atol=0.03)  # a regular pentagon


def test_the_two_geometries_loss_curves_cross(run):
    """Dropping feature 4 has the lower loss when it is 4.6x sparser, keeping it when 2.2x sparser; the
    curves cross in between (measured ×0.24 at this size, ×0.245 at full size: 4.1x sparser, where the paper
    says about 2.5x). The dropped curve is the 4-feature digon loss plus the dropped feature's own
    p₄·E[x²]/5, linear in its density."""
    r, kept, dropped = perturb.geometry_losses(run)
    at = {round(float(v), 2): i for i, v in enumerate(r)}
    assert dropped[at[0.22]] < kept[at[0.22]] and kept[at[0.46]] < dropped[at[0.46]]
    assert 0.22 < perturb.crossing(r, kept, dropped) < 0.46
    finite = np.isfinite(dropped)
    slope = np.polyfit(r[finite], dropped[finite], 1)[0]
    assert slope == pytest.approx(perturb.BASE_DENSITY / 3 / 5, rel=0.05)

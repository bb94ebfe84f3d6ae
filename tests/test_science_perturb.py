"""E6 (quick size): a sparser fifth feature is dropped and the pentagon becomes two digons."""

import numpy as np

from experiments import perturb
from superpose.toy import metrics
from superpose.toy.training import train


def test_pentagon_snaps_to_digons_when_one_feature_is_sparser():
    instances = perturb.sweeps(quick=True)[0].instances()
    res = train([c for _, _, c in instances], progress=False)
    n_points = len(perturb.ratios(quick=True))
    loss = res.loss_IxC[:, -1].reshape(n_points, 4)
    W = res.W_IxFxH.reshape(n_points, 4, 5, 2)[np.arange(n_points), np.argmin(loss, axis=1)]
    ratios = perturb.ratios(quick=True)
    D = np.asarray(metrics.feature_dimensionality(W))
    sparse, equal = 0, int(np.argmin(np.abs(ratios - 1)))
    assert metrics.feature_norms(W[sparse])[4] < 0.1  # the 10x sparser feature is dropped
    np.testing.assert_allclose(D[sparse, :4], 0.5, atol=0.05)  # two antipodal pairs
    np.testing.assert_allclose(D[equal], 0.4, atol=0.03)  # a regular pentagon

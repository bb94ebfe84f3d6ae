"""Check 12 of docs/checks.md: the empirical n=2, m=1 phase diagram agrees with theory.

The quick grid (9 x 9, r in [0.1, 10], density in [1, 0.01], 10,000 steps)
with best-of-4 per cell instead of the check's >= 6 seeds with the worst dropped.
"""

import numpy as np
import pytest

from experiments import phase
from superpose.results import load
from superpose.toy.sweep import run_sweep


@pytest.fixture(scope="module")
def phases(tmp_path_factory):
    sweep = phase.sweeps(quick=True)[0]  # n=2, m=1
    out = tmp_path_factory.mktemp("phase")
    (folder,) = run_sweep(sweep, out, progress=False)
    ratios, densities = phase.grid(quick=True)
    run = load(folder)
    return phase.empirical_phases(run), phase.theory_phases(densities, ratios), densities


def test_agrees_with_theory(phases):
    empirical, theory, _ = phases
    assert (empirical == theory).mean() >= 0.75


def test_phases_in_the_right_corners(phases):
    empirical, _, densities = phases
    assert empirical[0, 0] == 0  # r = 0.1, dense: extra feature not learned
    assert empirical[0, -1] == 2  # r = 10, dense: extra feature dedicated
    assert (empirical[densities <= 0.1] == 1).mean() >= 0.8  # sparse: superposition


def test_classification_of_hand_built_weights():
    W = np.array([[[1.0], [0.0]], [[1.0], [-1.0]], [[0.0], [1.0]], [[0.7], [0.7]]])
    assert phase.classify(W).tolist() == [0, 1, 2, 3]
    W3 = np.array(
        [
            [[1, 0], [0, 1], [0, 0]],  # extra dropped
            [[1, 0], [0, 1], [0, -1]],  # extra antipodal with feature 1
            [[1, 0], [-1, 0], [0, 1]],  # 0, 1 antipodal, extra dedicated
        ],
        dtype=float,
    )
    assert phase.classify(W3).tolist() == [0, 1, 2]


def test_n3m2_theory_has_three_phases_in_the_right_corners():
    ratios, densities = phase.grid(quick=False)
    th = phase.theory_phases(densities, ratios, 3)
    assert th[0, 0] == 0 and th[0, -1] == 2
    # sparse: a less important extra feature joins an antipodal pair; a more important one
    # keeps a dimension while the two unit features share the other
    assert np.all(th[-1, ratios < 1] == 1) and np.all(th[-1, ratios > 1] == 2)

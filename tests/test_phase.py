"""Check 12 of docs/checks.md: the empirical n=2, m=1 phase diagram agrees with theory.

The experiment's quick grid (9 x 9, r in [0.1, 10], density in [1, 0.01], 10,000 steps) with best-of-4 per
cell (by expected loss) instead of the full run's 6, judged by the scorecard's check function.
"""

import numpy as np

from experiments import phase
from superpose.app.scorecard import assert_holds


def test_agrees_with_theory_in_the_right_corners(quick_results):
    run = quick_results("phase").group("phase_n2m1", "all")
    densities, ratios = phase.grid_of(run)
    empirical = phase.empirical_phases(run)
    assert_holds(phase.phase_diagram(empirical, phase.theory_phases(densities, ratios), densities))
    flipped = np.where(empirical == 1, 2, empirical)  # a diagram without superposition fails
    assert [r.passed for r in phase.phase_diagram(flipped, phase.theory_phases(densities, ratios), densities)
            ].count(False) == 2


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


def test_the_study_files_are_the_experiments_full_grids():
    """studies/phase_n2m1.toml and phase_n3m2.toml hold exactly the sweeps `superpose run phase` trains at
    full size (same job, so either command finds the other's result folders)."""
    from pathlib import Path

    from superpose.app.study import load_study

    root = Path(__file__).parents[1] / "studies"
    for sweep in phase.sweeps(quick=False):
        assert load_study(root / f"{sweep.name}.toml").to_dict() == sweep.to_dict()

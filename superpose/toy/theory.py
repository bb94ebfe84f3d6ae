"""Closed forms of the "toy model of the toy model" (Wattenberg, in Elhage et al. 2022, "Superposition as a
Phase Change"; checks 3 and 4 of docs/checks.md).

Expected loss (paper's sum over features) of the fixed n=2, m=1 configurations
when each feature is present with density s and uniform on [0, 1], and the
extra feature's loss is weighted by r. Dropped features carry bias s/2,
superposed ones bias 0.
"""

from __future__ import annotations

import numpy as np


def loss_drop_unit(s):
    """Drop a weight-1 feature: s/3 - s²/4."""
    return s / 3 - s**2 / 4


def loss_drop_weighted(s, r):
    """Drop the weight-r feature: r (s/3 - s²/4)."""
    return r * loss_drop_unit(s)


def loss_antipodal(s, r=1.0):
    """A weight-1 and a weight-r feature as an antipodal pair: (1 + r) s² / 6 (two unit features: s²/3)."""
    return (1 + r) * s**2 / 6


def optimal_phase(s, r):
    """0: extra feature not learned, 1: antipodal superposition, 2: extra feature dedicated (argmin of the
    three)."""
    losses = np.stack(np.broadcast_arrays(loss_drop_weighted(s, r), loss_antipodal(s, r), loss_drop_unit(s)))
    return np.argmin(losses, axis=0)


def antipodal_boundary(r):
    """Density below which antipodal superposition is optimal: 4r/(2+5r) for r <= 1, 4/(5+2r) for r >= 1."""
    r = np.asarray(r, dtype=np.float64)
    return np.where(r <= 1, 4 * r / (2 + 5 * r), 4 / (5 + 2 * r))


def optimal_phase_n3m2(s, r):
    """n=3, m=2 with two weight-1 features and an extra weight-r feature (paper's four configurations):
    0: extra dropped, r(s/3 - s²/4); 1: extra antipodal with a weight-1 feature, (1+r)s²/6;
    2: extra dedicated, either dropping a weight-1 feature (s/3 - s²/4) or putting the two
    weight-1 features in an antipodal pair (s²/3)."""
    dedicated = np.minimum(loss_drop_unit(s), loss_antipodal(s))
    losses = np.stack(np.broadcast_arrays(loss_drop_weighted(s, r), loss_antipodal(s, r), dedicated))
    return np.argmin(losses, axis=0)

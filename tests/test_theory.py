"""Checks 3 and 4 of docs/checks.md: closed-form toy-of-toy losses and the phase boundary."""

import jax.numpy as jnp
import pytest

from superpose.data.sparse_features import sample_features
from superpose.toy import models, theory
from superpose.train import rng


def test_closed_forms_match_the_published_values():
    s, r = 0.3, 0.5
    assert theory.loss_drop_unit(s) == pytest.approx(s / 3 - s**2 / 4, abs=1e-15)
    assert theory.loss_drop_weighted(s, r) == pytest.approx(r * (s / 3 - s**2 / 4), abs=1e-15)
    assert theory.loss_antipodal(s, r) == pytest.approx((1 + r) * s**2 / 6, abs=1e-15)
    assert theory.loss_antipodal(s) == pytest.approx(s**2 / 3, abs=1e-15)


def test_phase_boundary():
    assert theory.antipodal_boundary(1.0) == pytest.approx(4 / 7, abs=1e-12)
    assert theory.antipodal_boundary(0.1) == pytest.approx(0.16, abs=1e-12)
    assert theory.antipodal_boundary(10.0) == pytest.approx(0.16, abs=1e-12)
    # the boundary separates the argmin phases
    for r in (0.2, 0.7, 1.0, 3.0):
        b = theory.antipodal_boundary(r)
        assert theory.optimal_phase(b * 0.98, r) == 1
        assert theory.optimal_phase(b * 1.02, r) != 1


@pytest.mark.parametrize(
    "W, b, expected",
    [
        ([[1.0], [0.0]], [0.0, 0.15], theory.loss_drop_weighted(0.3, 0.5)),
        ([[0.0], [1.0]], [0.15, 0.0], theory.loss_drop_unit(0.3)),
        ([[1.0], [-1.0]], [0.0, 0.0], theory.loss_antipodal(0.3, 0.5)),
    ],
)
def test_simulator_monte_carlo_loss_reproduces_closed_forms(W, b, expected):
    model = models.from_arrays("relu_output", {"W_FxH": jnp.asarray(W), "b_F": jnp.asarray(b)})
    x = sample_features(rng.key(0), jnp.full((2,), 0.3), 2_000_000)
    importance = jnp.asarray([1.0, 0.5])
    # the loss is the notebook's mean over features: times F gives the paper's sum
    mc = 2 * float(model.loss(x, importance))
    assert mc == pytest.approx(expected, rel=0.01)

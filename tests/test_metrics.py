"""Check 2 of docs/checks.md: dimensionality of fixed geometries."""

import numpy as np
import pytest

from experiments import _library_checks
from superpose.measures import features as metrics

GEOMETRIES = (
    _library_checks.known_geometries()
)  # check 2's geometries: one definition, shared with `superpose check`


@pytest.mark.parametrize("W, expected", list(GEOMETRIES.values()), ids=list(GEOMETRIES))
def test_dimensionality_of_known_geometries(W, expected):
    D = np.asarray(metrics.feature_dimensionality(W))
    np.testing.assert_allclose(D, expected, atol=1e-6)
    assert D.sum() == pytest.approx(W.shape[1], abs=1e-6)  # dimensions are conserved


def test_zero_row_has_dimensionality_zero_not_nan():
    W = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(metrics.feature_dimensionality(W), [1, 1, 0], atol=1e-6)
    assert metrics.n_represented(W) == 2


def test_interference_and_dimensions_per_feature():
    pair = np.array([[1.0], [-1.0], [0.0]])
    np.testing.assert_allclose(metrics.interference(pair), [1, 1, 0], atol=1e-6)
    np.testing.assert_allclose(metrics.interference(np.eye(2)), [0, 0], atol=1e-6)
    assert float(metrics.dimensions_per_feature(GEOMETRIES["pentagon"][0])) == pytest.approx(2 / 5)


def test_features_per_dimension_and_gram_rank_on_known_matrices():
    """The paper's measure of superposition in its adversarial section, ‖W‖_F² / m: an orthonormal basis
    holds 1 feature per dimension, antipodal pairs 2, a pentagon 5/2, a model that drops half its features
    and leaves a dimension unused 1/2; WᵀW's rank counts the dimensions used."""
    basis = np.eye(5)
    pairs = np.array([[1.0, 0], [-1.0, 0], [0, 1.0], [0, -1.0]])
    half = np.array([[1.0, 0], [0, 0], [0, 0]])
    rotated = np.random.default_rng(0).normal(size=(3, 3))
    q, _ = np.linalg.qr(rotated)  # an orthonormal basis in any rotation: still 1
    for W, per_dimension, rank in ((basis, 1.0, 5), (pairs, 2.0, 2), (half, 0.5, 1), (q, 1.0, 3),
                                   (GEOMETRIES["pentagon"][0], 2.5, 2)):
        assert float(metrics.features_per_dimension(W)) == pytest.approx(per_dimension)
        assert int(metrics.gram_rank(W)) == rank
    assert float(metrics.features_per_dimension(2 * pairs)) == pytest.approx(8.0)  # norms count too


def test_metrics_vectorise_over_instances():
    W = np.stack([np.eye(2), np.array([[1.0, 0], [-1.0, 0]])])
    np.testing.assert_allclose(metrics.feature_dimensionality(W), [[1, 1], [0.5, 0.5]], atol=1e-6)
    np.testing.assert_allclose(metrics.dimensions_per_feature(W), [1.0, 1.0])


def test_numpy_in_numpy_out_equal_to_jax():
    """Saved results (numpy) are measured on the host without compiling anything; the values are JAX's."""
    import jax
    import jax.numpy as jnp

    W = np.asarray(np.random.default_rng(0).normal(size=(3, 6, 2)), np.float32)
    W[1, 4] = 0.0
    for name in (
        "feature_norms",
        "interference",
        "feature_dimensionality",
        "dimensions_per_feature",
        "features_per_dimension",
        "gram_rank",
        "n_represented",
        "n_superposed",
    ):
        on_host, on_device = getattr(metrics, name)(W), getattr(metrics, name)(jnp.asarray(W))
        assert isinstance(on_host, np.ndarray) and isinstance(on_device, jax.Array), name
        assert on_host.dtype.kind == on_device.dtype.kind, name
        np.testing.assert_allclose(on_host, on_device, rtol=1e-5, atol=1e-6, err_msg=name)

"""Check 2 of docs/checks.md: dimensionality of fixed geometries."""

import numpy as np
import pytest

from superpose.toy import metrics


def polygon(k):
    a = 2 * np.pi * np.arange(k) / k
    return np.stack([np.cos(a), np.sin(a)], axis=1)


def tetrahedron():
    return np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3)


def square_antiprism():
    z = 1 / np.sqrt(3)
    r = np.sqrt(1 - z**2)
    a = np.pi / 2 * np.arange(4)
    top = np.stack([r * np.cos(a), r * np.sin(a), np.full(4, z)], 1)
    bottom = np.stack([r * np.cos(a + np.pi / 4), r * np.sin(a + np.pi / 4), np.full(4, -z)], 1)
    return np.concatenate([top, bottom])


@pytest.mark.parametrize(
    "W, expected",
    [
        (np.eye(3), 1.0),
        (np.array([[1.0], [-1.0]]), 1 / 2),
        (polygon(3), 2 / 3),
        (polygon(5), 2 / 5),
        (tetrahedron(), 3 / 4),
        (square_antiprism(), 3 / 8),
    ],
)
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
    assert float(metrics.dimensions_per_feature(polygon(5))) == pytest.approx(2 / 5)


def test_metrics_vectorise_over_instances():
    W = np.stack([np.eye(2), np.array([[1.0, 0], [-1.0, 0]])])
    np.testing.assert_allclose(metrics.feature_dimensionality(W), [[1, 1], [0.5, 0.5]], atol=1e-6)
    np.testing.assert_allclose(metrics.dimensions_per_feature(W), [1.0, 1.0])

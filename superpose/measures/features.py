"""Per-feature diagnostics of a toy model's W (Elhage et al. 2022).

Pure functions of ``W_...xFxH`` (any leading axes, e.g. instances); row i of
W is feature i's direction. They work on numpy and jax arrays alike: numpy in,
numpy out (computed on the host: a saved result's metrics then compile nothing),
jax in (traced or not), jax out.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

REPRESENTED_NORM = 0.5
"""A feature counts as represented when its norm ||W_i|| exceeds this (checks 7 and 10 of docs/checks.md)."""

_EPS = 1e-6  # the notebook clamps norms at 1e-6 before normalising


def _xp(W):
    """The array module for `W`: numpy for numpy arrays, jax.numpy otherwise."""
    return np if isinstance(W, np.ndarray) else jnp


def feature_norms(W_FxH):
    """||W_i||: ~1 for a represented feature, ~0 for a dropped one."""
    xp = _xp(W_FxH)
    return xp.linalg.norm(W_FxH, axis=-1)


def _overlaps(W_FxH):
    """(Ŵ_i · W_j)² for all i, j."""
    xp = _xp(W_FxH)
    unit_FxH = W_FxH / xp.maximum(feature_norms(W_FxH), _EPS)[..., None]
    return (unit_FxH @ xp.swapaxes(W_FxH, -1, -2)) ** 2


def interference(W_FxH):
    """Superposition of feature i: sum over j != i of (Ŵ_i · W_j)² (paper, "Basic results")."""
    xp = _xp(W_FxH)
    overlaps = _overlaps(W_FxH)
    return overlaps.sum(-1) - xp.diagonal(overlaps, axis1=-2, axis2=-1)


def feature_dimensionality(W_FxH):
    """D_i = ||W_i||² / sum_j (Ŵ_i · W_j)², the sum including j = i; 0 for a zero row.

    Dedicated feature 1, antipodal pair 1/2, pentagon 2/5, tetrahedron 3/4.
    """
    xp = _xp(W_FxH)
    denom = _overlaps(W_FxH).sum(-1)
    norms_sq = feature_norms(W_FxH) ** 2
    return xp.where(denom > 0, norms_sq / xp.where(denom > 0, denom, 1.0), 0.0)


def dimensions_per_feature(W_FxH):
    """D* = H / ||W||_F², the hidden dimensions each embedded feature gets."""
    xp = _xp(W_FxH)
    n_hidden = W_FxH.shape[-1]
    return n_hidden / xp.sum(W_FxH**2, axis=(-2, -1))


def features_per_dimension(W_FxH):
    """‖W‖_F² / H, the measure of superposition of the paper's adversarial section: about the features each
    hidden dimension holds (1 for an orthonormal basis, 2 for antipodal pairs, below 1 when dimensions go
    unused). The reciprocal of `dimensions_per_feature`."""
    xp = _xp(W_FxH)
    return xp.sum(W_FxH**2, axis=(-2, -1)) / W_FxH.shape[-1]


def gram_rank(W_FxH, relative_tolerance: float = 0.01):
    """The numerical rank of WᵀW (features x features): singular values of W above `relative_tolerance` x the
    largest; at most H, fewer when the model leaves hidden dimensions unused."""
    xp = _xp(W_FxH)
    s = xp.linalg.svd(W_FxH, compute_uv=False)
    return xp.sum(s > relative_tolerance * xp.max(s, axis=-1, keepdims=True), axis=-1)


def n_represented(W_FxH, threshold: float = REPRESENTED_NORM):
    """Number of features with ||W_i|| > threshold."""
    xp = _xp(W_FxH)
    return xp.sum(feature_norms(W_FxH) > threshold, axis=-1)


SUPERPOSED_INTERFERENCE = 0.1
"""A represented feature is in superposition when its interference exceeds this."""


def n_superposed(W_FxH, threshold: float = SUPERPOSED_INTERFERENCE):
    """Number of represented features whose interference Σ_{j≠i} (Ŵ_i·W_j)² exceeds `threshold`."""
    xp = _xp(W_FxH)
    return xp.sum((feature_norms(W_FxH) > REPRESENTED_NORM) & (interference(W_FxH) > threshold), axis=-1)


def summary(W_FxH) -> dict:
    """All per-instance metrics as plain lists (JSON-ready)."""
    return {
        "feature_norm": feature_norms(W_FxH).tolist(),
        "interference": interference(W_FxH).tolist(),
        "feature_dimensionality": feature_dimensionality(W_FxH).tolist(),
        "dimensions_per_feature": dimensions_per_feature(W_FxH).tolist(),
        "n_represented": n_represented(W_FxH).tolist(),
    }

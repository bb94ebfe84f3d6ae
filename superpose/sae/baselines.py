"""Classical decompositions to compare SAEs against, from scikit-learn (optional extra `baselines`).

Each returns learned directions (rows) from a data matrix x_NxD; recovery is
then measured with superpose.sae.evaluation like an SAE's decoder. `sparse_codes`
is per-sample sparse inference on a fixed dictionary (the amortisation-gap
test: the same dictionary, iterative instead of one-pass encoding).
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

import numpy as np

from superpose import results
from superpose.validate import ConfigError


@dataclasses.dataclass(frozen=True)
class BaselineGroup(results.Run, kind="dictionary_baselines", job_key="job"):
    """A folder of classical decompositions of one source: arrays.npz holds each baseline's directions (rows),
    summary.json its recovery metrics by name ({"metrics": {name: {...}}}, and "missing" where scikit-learn
    is not installed)."""


@contextlib.contextmanager
def _quiet():
    """scikit-learn's solvers warn when a lasso stops at max_iter; the baselines report what they reach."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def _sklearn():
    try:
        import sklearn.decomposition
    except ImportError:
        raise ConfigError("baselines need scikit-learn: pip install 'superpose[baselines]'") from None
    return sklearn.decomposition


def pca(x_NxD: np.ndarray, n_components: int) -> np.ndarray:
    """Principal directions (at most D, orthogonal)."""
    return _sklearn().PCA(n_components=min(n_components, x_NxD.shape[1])).fit(x_NxD).components_


def ica(x_NxD: np.ndarray, n_components: int, seed: int = 0) -> np.ndarray:
    """FastICA mixing directions (complete: at most D)."""
    model = _sklearn().FastICA(n_components=min(n_components, x_NxD.shape[1]), whiten="unit-variance",
                               random_state=seed, max_iter=500)
    with _quiet():
        model.fit(x_NxD)
    return model.mixing_.T


def dictionary_learning(x_NxD: np.ndarray, n_components: int, alpha: float, seed: int = 0) -> np.ndarray:
    """Online dictionary learning (Mairal et al.), non-negative codes."""
    model = _sklearn().MiniBatchDictionaryLearning(
        n_components=n_components,
        alpha=alpha,
        batch_size=256,
        max_iter=20,
        positive_code=True,
        fit_algorithm="cd",
        transform_algorithm="lasso_cd",
        random_state=seed,
    )
    with _quiet():
        return model.fit(x_NxD).components_


def sparse_codes(x_NxD: np.ndarray, dictionary_KxD: np.ndarray, alpha: float) -> np.ndarray:
    """Non-negative lasso codes of every sample on a fixed dictionary (rows normalised)."""
    dictionary_KxD = np.asarray(dictionary_KxD, np.float64)
    unit = dictionary_KxD / np.maximum(np.linalg.norm(dictionary_KxD, axis=1, keepdims=True), 1e-12)
    with _quiet():
        return _sklearn().sparse_encode(
            np.asarray(x_NxD, np.float64),
            unit,
            algorithm="lasso_cd",
            alpha=alpha,
            positive=True,
            max_iter=500,
        )


def support_f1(codes_NxK: np.ndarray, true_NxG: np.ndarray, atom_to_feature: np.ndarray) -> float:
    """Mean F1 over atoms of "atom is non-zero" against "its matched true feature is active"."""
    fired = codes_NxK > 1e-6
    active = true_NxG[:, atom_to_feature] > 0
    tp = (fired & active).sum(0)
    precision = tp / np.maximum(fired.sum(0), 1)
    recall = tp / np.maximum(active.sum(0), 1)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    return float(f1[fired.any(0)].mean()) if fired.any() else 0.0

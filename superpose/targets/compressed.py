"""Is "compressed computation" computation in superposition? Scores and baselines of Bhagat et al. (2025).

The one-layer residual MLP of Braun et al. computes y = x + ReLU(x) for n sparse features with
fewer neurons than features, through a random unit embedding W_E (n x d). Its output is
W_E W_Eᵀ x + W_E MLP(W_Eᵀ x), so the MLP must supply ReLU(x) + M x with the mixing matrix
M = I − W_E W_Eᵀ (symmetric, zero diagonal, off-diagonal standard deviation ≈ 1/√d). Bhagat et al.
train the equivalent model ŷ = W_out ReLU(W_in x) on labels ReLU(x) + M x (the `mixing_mlp` target)
and find that its advantage over implementing m features exactly grows with the size of M and vanishes
at M = 0. This module scores any such model by its loss per feature probability, L/p, and computes
the two baselines:

* **naive**: m features computed exactly, the rest output 0, on clean labels:
  L/p = (n − m)/n · E[ReLU(x)²] = (n − m)/(6n) for x ~ U[−1, 1];
* **semi-NMF**: ŷ = ReLU(x U) V with I + M ≈ U V, U ≥ 0 (n x m, the input weights) and V of any sign
  (m x n, the output weights): for one positive input every pre-activation is ≥ 0, the ReLU passes it,
  and ŷ ≈ x (I + M) is the label. It uses nothing but M.
"""

from __future__ import annotations

import warnings

import numpy as np

from superpose.train import rng

EVAL_SAMPLES = 1 << 16
EVAL_SEED = 777


def eval_inputs(
    n_features: int, probability: float, n: int = EVAL_SAMPLES, seed: int = EVAL_SEED
) -> np.ndarray:
    """Each feature active with `probability`, value U[−1, 1] when active."""
    generator = rng.generator(seed)
    active = generator.random((n, n_features)) < probability
    return np.where(active, generator.uniform(-1, 1, (n, n_features)), 0.0).astype(np.float32)


def labels(x_BxF: np.ndarray, M: np.ndarray) -> np.ndarray:
    return np.maximum(x_BxF, 0) + x_BxF @ M


def loss_per_probability(prediction: np.ndarray, label: np.ndarray, probability: float) -> float:
    """L/p: the squared error, mean over samples and features, divided by the feature probability."""
    return float(np.mean((prediction - label) ** 2) / probability)


def naive_loss_per_probability(n_features: int, n_neurons: int) -> float:
    """(n − m)/n · E[ReLU(x)²] with E[ReLU(x)²] = 1/6: m features exact, the rest zero, clean labels."""
    return (n_features - n_neurons) / n_features / 6


def semi_nmf(
    target_FxF: np.ndarray, rank: int, *, rounds: int = 500, pg_steps: int = 5, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(U ≥ 0, V) with U V ≈ target, the better (in ‖UV − target‖_F) of two local optima: one from
    scikit-learn's NMF of |target| (Bhagat et al.'s start; skipped without scikit-learn) and one from a random
    non-negative U[0, 1] start. From each: `rounds` of an exact least-squares V and `pg_steps`
    projected-gradient steps on U, with step sizes falling from 1 to 0.01 (cosine) times 1/‖V Vᵀ‖₂, the
    gradient's Lipschitz constant (Bhagat et al. fall from 0.1 to 0.001 in their own units). The problem is
    not convex and neither start always wins: at M = 0 the NMF start finds the 50 exact features, at
    σ = 0.024 it stops at ‖UV − (I + M)‖_F = 7.2 where random starts reach 5.7."""
    target = target_FxF.astype(np.float64)
    starts = [rng.generator(seed).random((target.shape[0], rank))]
    try:
        from sklearn.decomposition import NMF
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # a start needs no exact NMF
            starts.append(
                NMF(n_components=rank, init="nndsvda", max_iter=1000, random_state=seed).fit_transform(
                    np.abs(target)
                )
            )
    except ImportError:
        pass
    solutions = [_semi_nmf_from(U.astype(np.float64), target, rounds, pg_steps) for U in starts]
    return min(solutions, key=lambda s: np.linalg.norm(s[0] @ s[1] - target))


def _semi_nmf_from(
    U: np.ndarray, target: np.ndarray, rounds: int, pg_steps: int
) -> tuple[np.ndarray, np.ndarray]:
    for r in range(rounds):
        V = np.linalg.lstsq(U, target, rcond=None)[0]
        step = 0.01 + 0.5 * (1.0 - 0.01) * (1 + np.cos(np.pi * r / max(rounds - 1, 1)))
        lipschitz = max(np.linalg.norm(V @ V.T, 2), 1e-12)
        for _ in range(pg_steps):
            U = np.maximum(U - step / lipschitz * (U @ V - target) @ V.T, 0.0)
    return U, np.linalg.lstsq(U, target, rcond=None)[0]


def semi_nmf_prediction(x_BxF: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
    return np.maximum(x_BxF @ U, 0) @ V


def off_diagonal_std(M: np.ndarray) -> float:
    """The size of a mixing matrix: the standard deviation of its off-diagonal entries."""
    return float(M[~np.eye(len(M), dtype=bool)].std())

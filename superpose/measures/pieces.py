"""Scoring a parameter decomposition against the truth (Bushnaq, Braun & Sharkey 2025; Braun et al. 2025).

A decomposition of a d_out x d_in matrix ``W`` is given as its pieces per column,
``pieces_PxOxJ[c, :, j]`` (for SPD: ``u_c · v_c[j]``; for APD: column j of component c's
matrix). The truth of a TMS target is one piece per column, so

* MMCS = mean over columns j of max_c cos(piece_cj, W_j): a *signed* cosine, a flipped piece
  scores −1;
* ML2R = mean over columns of ‖piece_{c*j}‖ / ‖W_j‖ at the maximising c* (1: no shrinkage).

Causal-importance patterns are scored on one-hot inputs, a features x C matrix of
importances: `identity_ci_error` counts how far it is from a permuted identity (each feature
has its own subcomponent), `dense_ci_error` how far from k always-on columns (a piece of rank k
that must fire as a whole, like a hidden identity).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

EPS = 1e-12


def spd_pieces(U_PxO: np.ndarray, V_JxP: np.ndarray) -> np.ndarray:
    """pieces[c, :, j] = u_c v_c[j] of an SPD layer (U: C x d_out, V: d_in x C)."""
    return U_PxO[:, :, None] * V_JxP.T[:, None, :]


def mmcs_ml2r(W_OxJ: np.ndarray, pieces_PxOxJ: np.ndarray) -> tuple[float, float]:
    """(MMCS, ML2R) of the pieces against the columns of W (module doc)."""
    W = np.asarray(W_OxJ, np.float64)
    pieces = np.asarray(pieces_PxOxJ, np.float64)
    norm_w = np.linalg.norm(W, axis=0)
    norm_p = np.linalg.norm(pieces, axis=1)
    cos_PxJ = np.einsum("coj,oj->cj", pieces, W) / (norm_p * norm_w + EPS)
    best = np.argmax(cos_PxJ, axis=0)
    cols = np.arange(W.shape[1])
    return float(cos_PxJ[best, cols].mean()), float((norm_p[best, cols] / (norm_w + EPS)).mean())


def identity_ci_error(ci_FxP: np.ndarray, tau: float = 0.1) -> int:
    """#{off-diagonal > τ} + #{diagonal < 1 − τ} after the column permutation that best fits the diagonal
    (Hungarian; greedy when both sides are ≥ 500). Columns left unmatched count as off-diagonal."""
    ci = np.asarray(ci_FxP, np.float64)
    n_f = ci.shape[0]
    rows, cols = _assign(ci)
    diagonal = np.zeros_like(ci, bool)
    diagonal[rows, cols] = True
    missing = n_f - len(rows)  # more features than columns: those features have no diagonal entry at all
    return int(np.sum(ci[~diagonal] > tau) + np.sum(ci[diagonal] < 1 - tau) + missing)


def _assign(ci: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if min(ci.shape) < 500:
        return linear_sum_assignment(ci, maximize=True)
    rows, cols, used_r, used_c = [], [], set(), set()
    for flat in np.argsort(-ci, axis=None):
        r, c = divmod(int(flat), ci.shape[1])
        if r not in used_r and c not in used_c:
            rows.append(r), cols.append(c), used_r.add(r), used_c.add(c)
    return np.asarray(rows), np.asarray(cols)


def dense_ci_error(ci_FxP: np.ndarray, k: int, tau: float = 0.1) -> int:
    """Columns sorted by total importance: each of the first k needs an entry ≥ 1 − τ (else it counts 1);
    every entry > τ in the other columns counts 1."""
    ci = np.asarray(ci_FxP, np.float64)
    order = np.argsort(-ci.sum(axis=0), kind="stable")
    strong, rest = ci[:, order[:k]], ci[:, order[k:]]
    return int(np.sum(strong.max(axis=0) < 1 - tau) + np.sum(rest > tau))


def ci_l0(ci_BxP: np.ndarray, threshold: float = 0.1) -> float:
    """Mean number of subcomponents per input with importance above `threshold`."""
    return float(np.mean(np.sum(np.asarray(ci_BxP) > threshold, axis=-1)))


def neuron_contributions(W_E: np.ndarray, W_in_MxD: np.ndarray, W_out_DxM: np.ndarray) -> np.ndarray:
    """NC[i] = (W_outᵀ e_i) ⊙ (W_in e_i) for each feature's embedding e_i = W_E[i]: features x neurons."""
    return (W_E @ W_out_DxM) * (W_E @ W_in_MxD.T)

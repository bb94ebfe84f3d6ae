"""How well a learned dictionary recovers known features.

Directions are compared by |cosine| (a decoder row and a true feature that
differ in sign or scale are the same feature). With C the G x L matrix of
|cos| between true features (rows) and learned directions (columns):

  mmcs_true      mean over true features of their best |cos| with any learned direction
                 ("recall"; Sharkey et al. 2022's MMCS)
  mmcs_learned   mean over learned directions of their best |cos| with any true feature ("precision")
  mcc            Hungarian (one-to-one) matching; the mean over true features of their partner's |cos|,
                 0 for a true feature left without a partner when L < G (32 ICA directions cannot score
                 0.9 on 128 features)
  mcc_matched_pairs  the same matching averaged over the min(G, L) matched pairs instead: SAELens's and
                 SynthSAEBench's `mcc`. Equal to mcc when L ≥ G.
  recovered_90/99  fraction of true features whose best |cos| exceeds 0.9 / 0.99

Pure functions of numpy arrays (superpose.sae.evaluation adds the activation metrics of an SAE).
"""

from __future__ import annotations

import numpy as np
import scipy.optimize


def cosine_matrix(true_GxD: np.ndarray, learned_LxD: np.ndarray) -> np.ndarray:
    """|cos| between every true feature (rows) and learned direction (columns)."""
    a = true_GxD / np.maximum(np.linalg.norm(true_GxD, axis=1, keepdims=True), 1e-12)
    b = learned_LxD / np.maximum(np.linalg.norm(learned_LxD, axis=1, keepdims=True), 1e-12)
    return np.abs(a @ b.T)


def mmcs_true(cos_GxL: np.ndarray) -> float:
    return float(cos_GxL.max(axis=1).mean())


def mmcs_learned(cos_GxL: np.ndarray) -> float:
    return float(cos_GxL.max(axis=0).mean())


def matching(cos_GxL: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hungarian matching maximising the total |cos|: (true indices, learned indices)."""
    return scipy.optimize.linear_sum_assignment(cos_GxL, maximize=True)


def mcc(cos_GxL: np.ndarray) -> float:
    rows, cols = matching(cos_GxL)
    return float(cos_GxL[rows, cols].sum() / cos_GxL.shape[0])


def mcc_matched_pairs(cos_GxL: np.ndarray) -> float:
    rows, cols = matching(cos_GxL)
    return float(cos_GxL[rows, cols].mean())


def fraction_recovered(cos_GxL: np.ndarray, threshold: float) -> float:
    return float((cos_GxL.max(axis=1) > threshold).mean())


def direction_metrics(true_GxD: np.ndarray, learned_LxD: np.ndarray) -> dict[str, float]:
    cos = cosine_matrix(true_GxD, learned_LxD)
    return {
        "mmcs_true": mmcs_true(cos),
        "mmcs_learned": mmcs_learned(cos),
        "mcc": mcc(cos),
        "mcc_matched_pairs": mcc_matched_pairs(cos),
        "recovered_90": fraction_recovered(cos, 0.9),
        "recovered_99": fraction_recovered(cos, 0.99),
    }


def ordered_by_matching(cos_GxL: np.ndarray) -> np.ndarray:
    """Columns reordered so that each true feature's matched latent sits on the diagonal (unmatched last)."""
    rows, cols = matching(cos_GxL)
    order = list(cols[np.argsort(rows)])
    order += [c for c in range(cos_GxL.shape[1]) if c not in set(order)]
    return cos_GxL[:, order]

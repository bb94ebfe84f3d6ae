"""Steering a toy model through an SAE latent (the "Golden Gate" demo on known features).

The SAE reads the toy model's hidden layer h = x W. To steer with latent l we
encode a batch, keep the samples in which l is silent (so that clamping can
only add the concept), clamp f_l to a value, decode, and run the toy model's
own readout on the result (ReLU(W ĥ + b) for the ReLU-output model). The output change per feature is averaged
over those samples:

    Δ_F = mean(out(clamped) − out(unclamped))
    selectivity_l = Δ_g / Σ_i |Δ_i|,   g = the true feature matched to latent l

Selectivity 1 means the clamp moves only its own feature's output.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from superpose.sae.model import SAE
from superpose.toy.models import ToyModel


def output_change(
    toy: ToyModel, sae: SAE, h_BxH: np.ndarray, latent: int, value: float, threshold: float = 0.0,
) -> np.ndarray:
    """Δ_F: mean change of the toy model's outputs when latent `latent` of the SAE on its hidden layer
    is clamped to `value` (the SAE's reconstruction goes through the model's own readout)."""
    f, _ = sae.encode(jnp.asarray(h_BxH), training=False, threshold=threshold)
    f = f[np.asarray(f[:, latent]) == 0]
    clamped = f.at[:, latent].set(value)

    def out(codes):
        return toy.readout(sae.decode(codes).T)

    return np.asarray(jnp.mean(out(clamped) - out(f), axis=1))


def selectivity(delta_F: np.ndarray, feature: int) -> float:
    total = np.abs(delta_F).sum()
    return float(delta_F[feature] / total) if total > 0 else 0.0

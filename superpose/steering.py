"""Steering a toy model through an SAE latent (the "Golden Gate" demo on known features).

The SAE reads the toy model's hidden layer h = x W. To steer with latent l we
encode a batch, keep the samples in which l is silent (so that clamping can
only add the concept), clamp f_l to a value, decode, and run the toy model's
output layer ReLU(ĥ Wᵀ + b). The output change per feature is averaged over
those samples:

    Δ_F = mean(out(clamped) − out(unclamped))
    selectivity_l = Δ_g / Σ_i |Δ_i|,   g = the true feature matched to latent l

Selectivity 1 means the clamp moves only its own feature's output.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from superpose import sae as sae_lib


def output_change(
    W_FxH: np.ndarray, b_F: np.ndarray, params: sae_lib.SAEParams, config: sae_lib.SAEConfig,
    h_BxH: np.ndarray, latent: int, value: float, threshold: float = 0.0,
) -> np.ndarray:
    """Δ_F: mean change of the toy model's outputs when latent `latent` is clamped to `value`."""
    f, _ = sae_lib.encode(params, jnp.asarray(h_BxH), config, threshold, training=False)
    f = f[np.asarray(f[:, latent]) == 0]
    clamped = f.at[:, latent].set(value)

    def out(codes):
        return jnp.maximum(sae_lib.decode(params, codes) @ jnp.asarray(W_FxH).T + jnp.asarray(b_F), 0.0)

    return np.asarray(jnp.mean(out(clamped) - out(f), axis=0))


def selectivity(delta_F: np.ndarray, feature: int) -> float:
    total = np.abs(delta_F).sum()
    return float(delta_F[feature] / total) if total > 0 else 0.0

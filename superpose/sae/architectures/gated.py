"""Gated: f = H(π_gate)·ReLU(π_mag); penalty λ Σ ReLU(π_gate)‖W_dec‖ + the MSE of the gate path through a
frozen decoder (Rajamanoharan et al. 2024)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.sae.model import SAE, SAEConfig, decoder_norm_L, mse, saelens_common, saelens_weights


class Gated(SAE, name="gated"):
    saelens_reads = "gated"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        weights = saelens_weights(params)
        weights["b_gate"] = weights.pop("b_enc")
        return "gated", weights | {"r_mag": params["r_mag_L"], "b_mag": params["b_mag_L"]}, {}

    @classmethod
    def from_saelens(cls, cfg, tensors, shift):
        options = cls.saelens_config(tensors)
        params = saelens_common(tensors, shift, b_enc="b_gate")
        b_mag = tensors["b_mag"] + shift * tensors["b_dec"] @ (tensors["W_enc"] * np.exp(tensors["r_mag"]))
        return options, params | {"r_mag_L": tensors["r_mag"], "b_mag_L": b_mag}

    def __init__(self, config: SAEConfig, n_dims: int, key: jax.Array):
        super().__init__(config, n_dims, key)
        self.r_mag_L = nnx.Param(jnp.zeros(config.n_latents), latent_axis=0)
        """The magnitude path's encoder is exp(r_mag) ⊙ W_enc."""
        self.b_mag_L = nnx.Param(jnp.zeros(config.n_latents), latent_axis=0)

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        centred = x_BxD - self.b_dec_D[...]
        magnitude = centred @ (self.W_enc_DxL[...] * jnp.exp(self.r_mag_L[...])) + self.b_mag_L[...]
        return jnp.where(h > 0, jax.nn.relu(magnitude), 0.0), h

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        gate = jax.nn.relu(h_BxL)
        W_dec, b_dec = jax.lax.stop_gradient(self.W_dec_LxD[...]), jax.lax.stop_gradient(self.b_dec_D[...])
        return [
            coefficient * jnp.mean(jnp.sum(gate * decoder_norm_L(self), axis=1)),
            mse(x_BxD, gate @ W_dec + b_dec),
        ]

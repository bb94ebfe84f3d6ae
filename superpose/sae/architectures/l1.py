"""L1: f = ReLU(h); penalty λ Σ_l f_l ‖W_dec,l‖ (Bricken et al. 2023, with the decoder-norm-weighted penalty
of Anthropic's April 2024 update)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from superpose.sae.model import SAE, decoder_norm_L, saelens_weights


class L1(SAE, name="l1"):
    saelens_reads = "standard"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        return "standard", saelens_weights(params), {}

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        return jax.nn.relu(h), h

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        return [coefficient * jnp.mean(jnp.sum(f_BxL * decoder_norm_L(self), axis=1))]

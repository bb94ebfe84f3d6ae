"""JumpReLU: f = h·H(h − θ); penalty λ Σ_l H(h_l − θ_l) with straight-through pseudo-derivatives for θ
(rectangle kernel, bandwidth ε; Rajamanoharan et al. 2024)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.activations import jump_relu, step_function
from superpose.sae.model import SAE, SAEConfig, saelens_weights
from superpose.validate import ResultError


class JumpReLU(SAE, name="jumprelu"):
    saelens_reads = "jumprelu"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        return "jumprelu", saelens_weights(params) | {"threshold": np.exp(params["log_threshold_L"])}, {}

    @classmethod
    def from_saelens(cls, cfg, tensors, shift):
        options, params = super().from_saelens(cfg, tensors, shift)
        if np.any(tensors["threshold"] <= 0):
            raise ResultError("a JumpReLU threshold ≤ 0 has no log (superpose stores log θ)")
        return options, params | {"log_threshold_L": np.log(tensors["threshold"])}

    def __init__(self, config: SAEConfig, n_dims: int, key: jax.Array):
        super().__init__(config, n_dims, key)
        self.log_threshold_L = nnx.Param(
            jnp.full(config.n_latents, np.log(config.initial_threshold), jnp.float32), latent_axis=0
        )
        """θ = exp(log_threshold)."""

    def _theta(self, h_BxL):
        return jnp.broadcast_to(jnp.exp(self.log_threshold_L[...]), h_BxL.shape)

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        return jump_relu(h, self._theta(h), self.config.bandwidth), h

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        active = step_function(h_BxL, self._theta(h_BxL), self.config.bandwidth)
        return [coefficient * jnp.mean(jnp.sum(active, axis=1))]

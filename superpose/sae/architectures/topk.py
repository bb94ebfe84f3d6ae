"""TopK: f = ReLU(TopK_k(h)); penalty α·AuxK (Gao et al. 2024). For k ≤ SPARSE_MAX_K training decodes
sparsely (only each sample's k decoder rows), and AuxK runs only while some SAE of the step's group has a dead
latent."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from superpose.activations import SPARSE_MAX_K, sparse_decode, top_k, top_k_mask
from superpose.sae.model import SAE, SAEConfig, mse, saelens_weights, unit_rows
from superpose.train.learner import any_instance
from superpose.validate import ConfigError


class TopK(SAE, name="topk"):
    saelens_reads = "topk"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        return "topk", saelens_weights(params), {"k": config.k}

    @classmethod
    def from_saelens(cls, cfg, tensors, shift):
        options, params = super().from_saelens(cfg, tensors, shift)
        return options | {"k": int(cfg["k"])}, params

    @classmethod
    def check(cls, config: SAEConfig) -> None:
        if config.k > config.n_latents:
            raise ConfigError(f"k ({config.k}) cannot exceed n_latents ({config.n_latents})")

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        return jnp.where(top_k_mask(h, self.config.k), jax.nn.relu(h), 0.0), h

    def loss(self, x_BxD, coefficient, dead_L):
        """As `SAE.loss`, decoding sparsely for k ≤ SPARSE_MAX_K (the same loss and gradient up to
        round-off)."""
        if self.config.k > SPARSE_MAX_K:
            return super().loss(x_BxD, coefficient, dead_L)
        if self.config.unit_norm_decoder:
            self.W_dec_LxD[...] = unit_rows(self.W_dec_LxD[...])
        W_enc = self.W_enc_DxL[...]
        # (x − b_dec)·W_enc + b_enc with b_dec moved onto the biases: the gradient of b_dec then costs D·L,
        # not a B x D x L product back through the inputs
        h = x_BxD @ W_enc + (self.b_enc_L[...] - self.b_dec_D[...] @ W_enc)
        values, indices = top_k(h, self.config.k)
        x_hat = sparse_decode(values, indices, self.W_dec_LxD[...]) + self.b_dec_D[...]
        fired_L = jnp.zeros(h.shape[-1]).at[indices].max(values) > 0
        total = mse(x_BxD, x_hat) + self.penalties(x_BxD, h, None, x_hat, coefficient, dead_L)[0]
        return total, (fired_L, x_hat, self.batch_threshold(h))

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        return [self.config.aux_coefficient * self.aux_k_loss(x_BxD, x_hat_BxD, h_BxL, dead_L)]

    def aux_k_loss(self, x_BxD, x_hat_BxD, h_BxL, dead_L):
        """OpenAI's AuxK: the dead latents' top-k_aux reconstruct the residual; scaled by min(n_dead / k_aux,
        1). Zero without dead latents, so it is computed only when some SAE of the group has one
        (`any_instance`)."""
        W_dec = self.W_dec_LxD[...]
        n_latents, n_dims = W_dec.shape
        k_aux = min(self.config.aux_k or max(n_dims // 2, 1), n_latents)
        n_dead = dead_L.sum()

        def aux(_):
            h_dead = jnp.where(dead_L, h_BxL, 0.0)
            f_aux = jnp.where(top_k_mask(h_dead, k_aux), jax.nn.relu(h_dead), 0.0)
            residual = jax.lax.stop_gradient(x_BxD - x_hat_BxD)
            return jnp.minimum(n_dead / k_aux, 1.0) * mse(residual, f_aux @ W_dec)

        return jax.lax.cond(any_instance(n_dead > 0), aux, lambda _: jnp.zeros((), x_BxD.dtype), None)

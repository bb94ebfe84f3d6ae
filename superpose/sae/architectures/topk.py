"""TopK: f = ReLU(TopK_k(h)); penalty α·AuxK (Gao et al. 2024). For k ≤ SPARSE_MAX_K training decodes
sparsely (only each sample's k decoder rows), and AuxK runs only while some SAE of the step's group has a dead
latent."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from superpose.activations import SPARSE_MAX_K, sparse_decode, top_k, top_k_mask
from superpose.sae.model import (
    SAE,
    SAEConfig,
    decoder_norm_L,
    mse,
    reconstruction_error,
    saelens_weights,
    unit_rows,
)
from superpose.train.learner import any_instance
from superpose.validate import ConfigError

SAELENS_AUX_WEIGHT = 1.0
"""recipe `saelens`: the weight of the AuxK loss (superpose's recipe: `aux_coefficient`, OpenAI's 1/32)."""


class TopK(SAE, name="topk"):
    saelens_reads = "topk"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        rescaled = {"rescale_acts_by_decoder_norm": True} if config.recipe == "saelens" else {}
        return "topk", saelens_weights(params), {"k": config.k} | rescaled

    @classmethod
    def from_saelens(cls, cfg, tensors, shift):
        options, params = super().from_saelens(cfg, tensors, shift)
        recipe = {"recipe": "saelens"} if cfg.get("rescale_acts_by_decoder_norm") else {}
        return options | {"k": int(cfg["k"])} | recipe, params

    @classmethod
    def check(cls, config: SAEConfig) -> None:  # every recipe applies (SAE.check refuses the others)
        if config.k > config.n_latents:
            raise ConfigError(f"k ({config.k}) cannot exceed n_latents ({config.n_latents})")

    def scores(self, a_BxL: jax.Array) -> jax.Array:
        """What the top k is taken of: the activations ReLU(h), or with recipe `saelens` ReLU(h)·‖W_dec,l‖
        (SAELens's selection when decoder rows are free: the latents that move the output most)."""
        return a_BxL * decoder_norm_L(self) if self.config.recipe == "saelens" else a_BxL

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        if self.config.recipe == "saelens":
            a = jax.nn.relu(h)
            return jnp.where(top_k_mask(self.scores(a), self.config.k), a, 0.0), h
        return jnp.where(top_k_mask(h, self.config.k), jax.nn.relu(h), 0.0), h

    def loss(self, x_BxD, coefficient, dead_L):
        """As `SAE.loss`, decoding sparsely for k ≤ SPARSE_MAX_K (the same loss and gradient up to
        round-off) with superpose's recipe."""
        if self.config.k > SPARSE_MAX_K or self.config.recipe != "superpose":
            return super().loss(x_BxD, coefficient, dead_L)
        if self.config.renormalises:
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
        weight = SAELENS_AUX_WEIGHT if self.config.recipe == "saelens" else self.config.aux_coefficient
        return [weight * self.aux_k_loss(x_BxD, x_hat_BxD, h_BxL, dead_L)]

    def aux_k_loss(self, x_BxD, x_hat_BxD, h_BxL, dead_L):
        """OpenAI's AuxK: the dead latents' top-k_aux reconstruct the residual; scaled by min(n_dead / k_aux,
        1). Zero without dead latents, so it is computed only when some SAE of the group has one
        (`any_instance`). superpose's recipe keeps ReLU of the dead latents' pre-activations; `saelens` keeps
        the raw pre-activations (negative ones too) and sums the squared error over dimensions."""
        saelens = self.config.recipe == "saelens"
        W_dec = self.W_dec_LxD[...]
        n_latents, n_dims = W_dec.shape
        k_aux = min(self.config.aux_k or max(n_dims // 2, 1), n_latents)
        n_dead = dead_L.sum()

        def aux(_):
            residual = jax.lax.stop_gradient(x_BxD - x_hat_BxD)
            if saelens:
                _, chosen = jax.lax.top_k(jnp.where(dead_L, h_BxL, -jnp.inf), k_aux)  # any sign
                rows = jnp.arange(h_BxL.shape[0])[:, None]
                keep = jnp.zeros(h_BxL.shape, bool).at[rows, chosen].set(True) & dead_L
                f_aux = jnp.where(keep, h_BxL, 0.0)
            else:
                h_dead = jnp.where(dead_L, h_BxL, 0.0)
                f_aux = jnp.where(top_k_mask(h_dead, k_aux), jax.nn.relu(h_dead), 0.0)
            error = reconstruction_error(self.config, residual, f_aux @ W_dec)
            return jnp.minimum(n_dead / k_aux, 1.0) * error

        return jax.lax.cond(any_instance(n_dead > 0), aux, lambda _: jnp.zeros((), x_BxD.dtype), None)

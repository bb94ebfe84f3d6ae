"""The built-in SAE architectures, one class each (superpose.sae.model explains the contract).

With h the pre-activations and ‖W_dec,l‖ the decoder row norms:

  l1          f = ReLU(h); penalty λ Σ_l f_l ‖W_dec,l‖ (Bricken et al. 2023, with the decoder-norm-weighted
              penalty of Anthropic's April 2024 update)
  topk        f = ReLU(TopK_k(h)); penalty α·AuxK (Gao et al. 2024). For k ≤ SPARSE_MAX_K training decodes
              sparsely (only each sample's k decoder rows), and AuxK runs only while some SAE of the
              step's group has a dead latent
  batchtopk   keep the B·k largest ReLU(h) of the batch; inference uses the running threshold θ
              (EMA of the smallest kept value; Bussmann et al. 2024); penalty as topk
  jumprelu    f = h·H(h − θ); penalty λ Σ_l H(h_l − θ_l) with straight-through pseudo-derivatives for θ
              (rectangle kernel, bandwidth ε; Rajamanoharan et al. 2024)
  gated       f = H(π_gate)·ReLU(π_mag); penalty λ Σ ReLU(π_gate)‖W_dec‖ + the MSE of the gate path through a
              frozen decoder (Rajamanoharan et al. 2024)
  matryoshka  batchtopk plus the MSE of every nested prefix of latents (Bussmann et al. 2025)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.activations import (
    SPARSE_MAX_K,
    batch_top_k_mask,
    jump_relu,
    sparse_decode,
    step_function,
    top_k,
    top_k_mask,
)
from superpose.sae.model import SAE, SAEConfig, mse, saelens_common, saelens_weights, unit_rows
from superpose.train.learner import any_instance
from superpose.validate import ConfigError, ResultError


def _decoder_norm_L(sae: SAE) -> jax.Array:
    return jnp.linalg.norm(sae.W_dec_LxD[...], axis=1)


class L1(SAE, name="l1"):
    saelens_reads = "standard"

    @classmethod
    def to_saelens(cls, config, params, threshold):
        return "standard", saelens_weights(params), {}

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        return jax.nn.relu(h), h

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        return [coefficient * jnp.mean(jnp.sum(f_BxL * _decoder_norm_L(self), axis=1))]


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


class BatchTopK(TopK, name="batchtopk"):
    loss = SAE.loss  # a batch's kept latents vary per sample: decoded densely
    saelens_reads = None  # exported as the JumpReLU it is at inference, and read back as one

    @classmethod
    def to_saelens(cls, config, params, threshold):
        if threshold is None:
            raise ResultError(f"a {config.architecture} SAE needs its running threshold to become a JumpReLU")
        weights = saelens_weights(params)
        return "jumprelu", weights | {"threshold": np.full(weights["b_enc"].shape[0], threshold)}, {}

    def encode(self, x_BxD, *, training=True, threshold=None):
        h = self.pre_activations(x_BxD)
        a = jax.nn.relu(h)
        keep = batch_top_k_mask(a, self.config.k)[0] if training else a > threshold
        return jnp.where(keep, a, 0.0), h

    def batch_threshold(self, h_BxL):
        return batch_top_k_mask(jax.nn.relu(h_BxL), self.config.k)[1]


class Matryoshka(BatchTopK, name="matryoshka"):
    @classmethod
    def check(cls, config: SAEConfig) -> None:
        super().check(config)
        widths = config.widths()
        if list(widths) != sorted(set(widths)) or widths[0] < 1:
            raise ConfigError(f"matryoshka_widths must increase strictly within (0, {config.n_latents}), got "
                              f"{config.matryoshka_widths}")

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L):
        W_dec, b_dec = self.W_dec_LxD[...], self.b_dec_D[...]
        return super().penalties(x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L) + [
            mse(x_BxD, f_BxL[:, :width] @ W_dec[:width] + b_dec) for width in self.config.widths()[:-1]
        ]


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
            coefficient * jnp.mean(jnp.sum(gate * _decoder_norm_L(self), axis=1)),
            mse(x_BxD, gate @ W_dec + b_dec),
        ]

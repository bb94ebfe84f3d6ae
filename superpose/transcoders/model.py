"""Replacements of a model's MLPs: per-layer transcoders, skip transcoders and cross-layer transcoders.

One `Replacement` is ONE instance (the trainer vmaps it over seeds and coefficients). For a residual
target (superpose.targets.residual.ResidualTarget) with L MLP layers reading and writing a residual
stream of width D, it holds N latents per layer:

  a^l   = σ(W_enc^l r^l + b_enc^l)                           latents of layer l, reading the MLP's input
  ŷ^l   = Σ_{s ∈ S(l)} W_dec^{s→l} a^s + b_dec^l [+ W_skip^l r^l]

with S(l) = {l} for a per-layer transcoder (`plt`, Dunefsky et al. 2024) and a skip transcoder (`skip`,
Paulo et al. 2025: plus an affine skip path that starts at zero), and S(l) = {s ≤ l} for a cross-layer
transcoder (`clt`, Ameisen et al. 2025), whose layer-s latents may write to every later layer. σ is
JumpReLU (θ = exp(log θ), straight-through rectangle-kernel gradients; superpose.activations),
ReLU, or TopK (the k largest per layer and sample, as the SAE architecture of that name and sparsify's
skip transcoders).

Loss (every layer trained jointly, each on the true model's MLP input and output, "open loop"):

  Σ_l E‖ŷ^l − y^l‖²  +  λ Σ_l Σ_i E tanh(c · a_i^l · ‖W_dec,i^l‖)   [`sparsity="tanh"`, Anthropic]
                        (or λ Σ E a_i^l ‖W_dec,i^l‖, `sparsity="l1"`)
                     +  μ E‖J_rep(x)ᵀu − J_model(x)ᵀu‖²               [Jacobian matching, μ > 0]
                     +  ν Σ_l Σ_i E ReLU(θ_i^l − u_i^l) ‖W_dec,i^l‖  [latents silent in the batch only]

where ‖W_dec,i^l‖ is the norm of all of latent i's decoder vectors together (every layer it writes to),
the last term (Anthropic's pre-activation loss, applied as in SAELens to dead latents only, here those
that did not fire anywhere in the batch) lifts dead latents back towards firing, and the Jacobian term
compares the whole input-to-output map of the model with that of the model whose
MLPs are all replaced ("closed loop"), through a Gaussian probe u per sample (E_u ‖Aᵀu‖² = ‖A‖_F²), in the
input coordinates where the model is differentiable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose import targets as targets_lib
from superpose.activations import jump_relu, top_k_mask
from superpose.decomposition.training import train_group
from superpose.registry import Registered, Registry
from superpose.targets import TargetConfig
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import InstanceConfig, per_instance
from superpose.validate import MAX_SEED, ConfigError, check_choice, check_float, check_int

ACTIVATIONS = ("jumprelu", "relu", "topk")
SPARSITIES = ("tanh", "l1")


@dataclasses.dataclass(frozen=True, kw_only=True)
class TranscoderConfig(InstanceConfig):
    """One replacement and its training recipe. Fields in `PER_INSTANCE` may differ within one program."""

    kind: str = "plt"
    """`plt` (per-layer transcoder), `skip` (with an affine skip path) or `clt` (cross-layer)."""
    n_latents: int = 8
    """Latents per layer."""
    activation: str = "jumprelu"
    """`jumprelu`, `relu` or `topk`."""
    k: int = 2
    """topk: active latents per layer and sample."""
    sparsity: str = "tanh"
    """The sparsity penalty: `tanh` (λ Σ tanh(c · a‖W_dec‖), SAELens') or `l1` (λ Σ a‖W_dec‖)."""
    sparsity_coefficient: float = per_instance(1e-2)
    """λ."""
    tanh_scale: float = 4.0
    """c of the tanh penalty (SAELens' default)."""
    jacobian_coefficient: float = per_instance(0.0)
    """μ of the Jacobian-matching term (0: off)."""
    preactivation_coefficient: float = 1e-2
    """ν of the dead-latent pre-activation loss (0: off)."""
    initial_threshold: float = 0.1
    """jumprelu: the initial threshold θ of every latent."""
    bandwidth: float = 0.05
    """jumprelu: the rectangle kernel's bandwidth ε of the pseudo-derivatives."""
    steps: int = 10_000
    """Training steps."""
    batch_size: int = 512
    """Inputs per step."""
    learning_rate: float = per_instance(3e-3)
    """Adam's learning rate."""
    seed: int = per_instance(0)
    """The run's random stream: initialisation, data and Jacobian probes."""
    log_every: int = 500
    """Steps per compiled chunk."""

    def __post_init__(self):
        check_choice("kind", self.kind, REPLACEMENTS.names())
        check_choice("activation", self.activation, ACTIVATIONS)
        check_choice("sparsity", self.sparsity, SPARSITIES)
        for name in ("n_latents", "k", "steps", "batch_size", "log_every"):
            check_int(name, getattr(self, name), minimum=1)
        if self.activation == "topk" and self.k > self.n_latents:
            raise ConfigError(f"k ({self.k}) cannot exceed n_latents ({self.n_latents})")
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        for name in (
            "sparsity_coefficient",
            "jacobian_coefficient",
            "tanh_scale",
            "preactivation_coefficient",
        ):
            check_float(name, getattr(self, name), lower=0.0)
        for name in ("learning_rate", "initial_threshold", "bandwidth"):
            check_float(name, getattr(self, name), lower=0.0, open_lower=True)


def residual_shape(target: TargetConfig) -> tuple[int, int]:
    """(MLP layers, residual width) of a residual target."""
    cls = targets_lib.TARGETS.get(target.kind)
    if not issubclass(cls, targets_lib.ResidualTarget):
        raise ConfigError(f"a transcoder replaces the MLPs of a residual target, not of '{target.kind}'")
    return target.n_layers, target.d_resid


REPLACEMENTS = Registry("transcoder kind", required=())
"""Every kind of replacement by name (`TranscoderConfig.kind`)."""


class Replacement(nnx.Module, Registered):
    """The latents of every layer and their decoders (module doc), for ONE instance. The base class is the
    per-layer transcoder; a kind is a subclass that names itself (`class Skip(Replacement, name="skip")`)
    and changes what it must: its parameters, which layers a latent writes to (`writes`, `decoder`), its
    output."""

    registry = REPLACEMENTS
    W_skip: ClassVar[None] = None
    """The affine skip path, L x D x D, of the kinds that have one (`Skip`)."""

    def __init__(self, config: TranscoderConfig, n_layers: int, d_resid: int, key: jax.Array):
        L, N, D = n_layers, config.n_latents, d_resid
        k_enc, k_dec = jax.random.split(key)
        self.config = config
        self.W_enc = nnx.Param(jax.random.uniform(k_enc, (L, N, D), jnp.float32, -1, 1) / math.sqrt(D))
        self.b_enc = nnx.Param(jnp.zeros((L, N), jnp.float32))
        self.W_dec = nnx.Param(
            jax.random.uniform(k_dec, self.decoder_shape(L, N, D), jnp.float32, -1, 1) / math.sqrt(N)
        )
        self.b_dec = nnx.Param(jnp.zeros((L, D), jnp.float32))
        self.log_threshold = (
            nnx.Param(jnp.full((L, N), math.log(config.initial_threshold), jnp.float32))
            if config.activation == "jumprelu"
            else None
        )

    @classmethod
    def decoder_shape(cls, n_layers: int, n_latents: int, d_resid: int) -> tuple[int, ...]:
        """W_dec's shape: one decoder per layer's latents, L x N x D."""
        return n_layers, n_latents, d_resid

    @classmethod
    def parameter_count(cls, n_layers: int, n_latents: int, d_resid: int) -> int:
        """Parameters of the encoders and decoders (for memory estimates; biases left out)."""
        return n_layers * n_latents * d_resid * 3

    @classmethod
    def build(cls, config: TranscoderConfig, n_layers: int, d_resid: int, key: jax.Array) -> Replacement:
        """The replacement of `config.kind`."""
        return REPLACEMENTS.get(config.kind)(config, n_layers, d_resid, key)

    @property
    def n_layers(self) -> int:
        return self.W_enc.shape[0]

    def decoder(self, source: int, layer: int) -> jax.Array:
        """W_dec^{source→layer} (N x D); zero where latents cannot write."""
        return self.W_dec[layer] if source == layer else jnp.zeros_like(self.W_dec[layer])

    def writes(self) -> jax.Array:
        """Which (source, layer) pairs a latent may write to, L x L."""
        return jnp.eye(self.n_layers)

    def decoder_norms(self) -> jax.Array:
        """‖W_dec,i^s‖ over every layer latent i of layer s writes to, L x N."""
        return jnp.linalg.norm(self.W_dec[...], axis=-1)

    def pre_activations(self, layer: int, r_BxD: jax.Array) -> jax.Array:
        return r_BxD @ self.W_enc[layer].T + self.b_enc[layer]

    def activate(self, layer: int, u_BxN: jax.Array) -> jax.Array:
        if self.config.activation == "topk":
            return jnp.where(top_k_mask(u_BxN, self.config.k), jax.nn.relu(u_BxN), 0.0)
        if self.log_threshold is None:
            return jax.nn.relu(u_BxN)
        theta = jnp.broadcast_to(jnp.exp(self.log_threshold[layer]), u_BxN.shape)
        return jump_relu(u_BxN, theta, self.config.bandwidth)

    def encode(self, layer: int, r_BxD: jax.Array) -> jax.Array:
        return self.activate(layer, self.pre_activations(layer, r_BxD))

    def threshold(self, layer: int) -> jax.Array:
        return jnp.exp(self.log_threshold[layer]) if self.log_threshold is not None else jnp.zeros(())

    def output(self, layer: int, acts: Sequence[jax.Array], r_BxD: jax.Array) -> jax.Array:
        """ŷ^layer from the latents of layers 0..layer (`acts`) and the layer's input r."""
        out = self.b_dec[layer] + sum(acts[s] @ self.decoder(s, layer) for s in range(layer + 1))
        if self.W_skip is not None:
            out = out + r_BxD @ self.W_skip[layer].T
        return out

    def open_loop(self, ins_LxBxD: jax.Array) -> tuple[jax.Array, list[jax.Array], list[jax.Array]]:
        """Outputs (L x B x D), latents and pre-activations of every layer, each layer reading the true
        model's MLP input."""
        pre = [self.pre_activations(layer, ins_LxBxD[layer]) for layer in range(self.n_layers)]
        acts = [self.activate(layer, u) for layer, u in enumerate(pre)]
        return (
            jnp.stack([self.output(layer, acts, ins_LxBxD[layer]) for layer in range(self.n_layers)]),
            acts,
            pre,
        )

    def closed_loop(
        self, target: targets_lib.ResidualTarget, x_BxF: jax.Array, edit=None
    ) -> tuple[jax.Array, list[jax.Array]]:
        """The target's output with every MLP replaced, and the latents. `edit(layer, r)` may change the
        residual stream before each layer reads it (for ablations)."""
        r0 = r = target.embed(x_BxF)
        acts = []
        for layer in range(self.n_layers):
            if edit is not None:
                r = edit(layer, r)
            acts.append(self.encode(layer, r))
            r = r + self.output(layer, acts, r)
        return target.unembed(r, r0), acts


class PerLayer(Replacement, name="plt"):
    """A per-layer transcoder (Dunefsky et al. 2024): the latents of layer l write to layer l only."""


class Skip(Replacement, name="skip"):
    """A skip transcoder (Paulo et al. 2025): a per-layer transcoder plus an affine skip path W_skip^l r^l
    that starts at zero."""

    def __init__(self, config: TranscoderConfig, n_layers: int, d_resid: int, key: jax.Array):
        super().__init__(config, n_layers, d_resid, key)
        self.W_skip = nnx.Param(jnp.zeros((n_layers, d_resid, d_resid), jnp.float32))

    @classmethod
    def parameter_count(cls, n_layers, n_latents, d_resid):
        return super().parameter_count(n_layers, n_latents, d_resid) + n_layers * d_resid * d_resid


class CrossLayer(Replacement, name="clt"):
    """A cross-layer transcoder (Ameisen et al. 2025): the latents of layer s write to every layer l ≥ s."""

    @classmethod
    def decoder_shape(cls, n_layers, n_latents, d_resid):
        return n_layers, n_layers, n_latents, d_resid

    @classmethod
    def parameter_count(cls, n_layers, n_latents, d_resid):
        return n_layers * n_latents * d_resid * (2 + n_layers)

    def decoder(self, source, layer):
        return self.W_dec[source, layer] if source <= layer else jnp.zeros_like(self.W_dec[source, layer])

    def writes(self):
        L = self.n_layers
        return jnp.triu(jnp.ones((L, L)))

    def decoder_norms(self):
        sq = jnp.sum(self.W_dec[...] ** 2, axis=-1) * self.writes()[:, :, None]
        return jnp.sqrt(jnp.sum(sq, axis=1))


def target_model_output(target: targets_lib.ResidualTarget, x_BxF: jax.Array, edit=None) -> jax.Array:
    """The target's own output, with `edit(layer, r)` applied to the residual before each MLP."""
    r0 = r = target.embed(x_BxF)
    for layer in range(target.n_mlp):
        if edit is not None:
            r = edit(layer, r)
        r = r + target.mlp(layer, r)
    return target.unembed(r, r0)


def sparsity_penalty(model: Replacement, acts: Sequence[jax.Array]) -> jax.Array:
    """λ-free penalty, mean over the batch: Σ tanh(c·a·‖W_dec‖) or Σ a·‖W_dec‖."""
    norms = model.decoder_norms()
    total = 0.0
    for layer, a in enumerate(acts):
        scaled = a * norms[layer]
        term = jnp.tanh(model.config.tanh_scale * scaled) if model.config.sparsity == "tanh" else scaled
        total = total + jnp.mean(jnp.sum(term, axis=-1))
    return total


def preactivation_penalty(
    model: Replacement, acts: Sequence[jax.Array], pre: Sequence[jax.Array]
) -> jax.Array:
    """Σ over latents silent in the whole batch of E ReLU(θ − u)·‖W_dec‖ (ν-free)."""
    norms = model.decoder_norms()
    total = 0.0
    for layer, (a, u) in enumerate(zip(acts, pre)):
        dead = jax.lax.stop_gradient(jnp.all(a == 0, axis=0))
        below = jnp.mean(jax.nn.relu(model.threshold(layer) - u), axis=0)
        total = total + jnp.sum(jnp.where(dead, below * norms[layer], 0.0))
    return total


def jacobian_mismatch(
    model: Replacement, target: targets_lib.ResidualTarget, x_BxF: jax.Array, probe: jax.Array
) -> jax.Array:
    """E‖J_rep(x)ᵀu − J_model(x)ᵀu‖² (sum over inputs, mean over the batch) for probes u (B x outputs), over
    the input coordinates where the model is differentiable (not at a ReLU's kink: |x| at an inactive
    feature)."""
    _, rep_vjp = jax.vjp(lambda x: model.closed_loop(target, x)[0], x_BxF)
    _, model_vjp = jax.vjp(lambda x: target_model_output(target, x), x_BxF)
    difference = rep_vjp(probe)[0] - jax.lax.stop_gradient(model_vjp(probe)[0])
    difference = jnp.where(type(target).differentiable(x_BxF), difference, 0.0)
    return jnp.mean(jnp.sum(difference**2, axis=-1))


class Hyper(NamedTuple):
    sparsity_coefficient: jax.Array
    jacobian_coefficient: jax.Array
    learning_rate: jax.Array


class Losses(NamedTuple):
    reconstruction: jax.Array
    sparsity: jax.Array
    jacobian: jax.Array
    preactivation: jax.Array


@dataclasses.dataclass(frozen=True)
class TranscoderLearner(Learner):
    """One replacement of one target's MLPs (superpose.train.learner); `data` holds each instance's target.
    `jacobian` (static): compute the Jacobian term at all (some instance has μ > 0)."""

    config: TranscoderConfig
    target: TargetConfig
    jacobian: bool = False
    data_per_instance = True

    def init(self, seed, hyper: Hyper):
        init_key, data_key = jax.random.split(rng.key(seed))
        return Replacement.build(self.config, *residual_shape(self.target), init_key), data_key

    def optimizer(self, hyper: Hyper):
        return optax.adam(hyper.learning_rate)

    def batch(self, data_key, hyper, data, t):
        key = jax.random.fold_in(data_key, t)
        k_x, k_probe = jax.random.split(key)
        x = targets_lib.TARGETS.get(self.target.kind).draw(
            self.target, k_x, data["feature_probability"], self.config.batch_size
        )
        return x, k_probe, data["params"]

    def loss(self, model: Replacement, batch, hyper: Hyper, carry):
        x, probe_key, params = batch
        target = targets_lib.from_arrays(self.target, params)
        ins, outs = jax.lax.stop_gradient(target.mlp_io(x))
        predicted, acts, pre = model.open_loop(ins)
        reconstruction = jnp.sum(jnp.mean(jnp.sum((predicted - outs) ** 2, axis=-1), axis=-1))
        sparsity = sparsity_penalty(model, acts)
        preactivation = preactivation_penalty(model, acts, pre)
        jacobian = jnp.zeros(())
        if self.jacobian:
            y = target_model_output(target, x)
            jacobian = jacobian_mismatch(model, target, x, jax.random.normal(probe_key, y.shape, y.dtype))
        total = (
            reconstruction
            + hyper.sparsity_coefficient * sparsity
            + hyper.jacobian_coefficient * jacobian
            + self.config.preactivation_coefficient * preactivation
        )
        return total, Losses(reconstruction, sparsity, jacobian, preactivation)

    def bytes_per_instance(self) -> int:
        L, D = residual_shape(self.target)
        N, B = self.config.n_latents, self.config.batch_size
        n_params = REPLACEMENTS.get(self.config.kind).parameter_count(L, N, D)
        return int(4 * (4 * n_params + 8 * B * L * (N + 3 * D) * (3 if self.jacobian else 1)))


def train(
    configs: Sequence[TranscoderConfig],
    target_configs: Sequence[TargetConfig],
    target_params: Sequence[dict[str, np.ndarray]],
    *,
    progress: bool = True,
    desc: str = "transcoders",
    checkpoint=None,
) -> trainer.Trained:
    """Replace the MLPs of one target per instance, all in one program (shared static fields)."""
    jacobian = any(c.jacobian_coefficient > 0 for c in configs)

    def learner(config, target):
        residual_shape(target)
        return TranscoderLearner(config, target, jacobian)

    return train_group(
        "transcoder",
        learner,
        Hyper,
        configs,
        target_configs,
        target_params,
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )


def from_arrays(config: TranscoderConfig, target: TargetConfig, params: dict[str, Any]) -> Replacement:
    """The replacement `config` describes for `target`, holding `params` (one instance)."""
    return trainer.module_from_arrays(
        lambda: Replacement.build(config, *residual_shape(target), jax.random.key(0)), params
    )

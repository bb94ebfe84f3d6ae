"""Sparse autoencoders: the config, the `SAE` base module, and training many at once.

An SAE architecture is one flax NNX module class for ONE SAE, registered by name
(superpose.sae.architectures holds the built-in ones):

    class MySAE(SAE, name="my_sae"):
        def encode(self, x_BxD, *, training=True, threshold=None): ...   # required: (f_BxL, h_BxL)
        def penalties(self, x, h, f, x_hat, coefficient, dead_L): ...    # required: loss terms

The base class holds the encoder W_enc_DxL, b_enc_L, the decoder W_dec_LxD, b_dec_D, the
pre-activations ``h = (x − b_dec) W_enc + b_enc`` and ``x̂ = f W_dec + b_dec``; the loss is
MSE (mean over batch and dimensions of (x − x̂)²) plus the architecture's penalty terms,
added in order. Parameters an architecture adds are per-latent: give them
``latent_axis=0`` so dead-latent resampling resets their optimiser moments.

Training (`SAELearner`, run by superpose.train.trainer): Adam; decoder rows renormalised to
unit length after every step when `unit_norm_decoder` (and inside the loss, so the
gradient has no component along them); dead latents (silent for `resample_window`
steps) can be resampled every `resample_every` steps, with their Adam moments reset:
`random` gives a random unit direction (encoder 0.5× it, bias 0), `inputs` the direction
of an input drawn with probability ∝ its squared loss (Anthropic 2023). A running
threshold (EMA of the smallest batch-top-k value; Bussmann et al. 2024) is kept for
inference.

Array names end in their axes (``W_enc_DxL``): superpose.dimensions is the alphabet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose.data import groundtruth, user_arrays
from superpose.registry import Registered, Registry
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import InstanceConfig, added_field, per_instance, shared_static
from superpose.validate import (
    MAX_SEED,
    ConfigError,
    ResultError,
    check_choice,
    check_float,
    check_int,
    check_known_key,
)

ARCHITECTURES = Registry("SAE architecture", required=("encode", "penalties"))
RESAMPLE = ("none", "random", "inputs")
RECIPES = ("superpose", "saelens")


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def architectures() -> tuple[str, ...]:
    """The registered architecture names (superpose.sae registers the built-in ones on import)."""
    return ARCHITECTURES.names()


@dataclasses.dataclass(frozen=True, kw_only=True)
class SAEConfig(InstanceConfig):
    """One sparse autoencoder and its training recipe. Every field but the per-instance ones
    (superpose.train.per_instance) is static: SAEs that share them train in one compiled program."""

    architecture: str = "l1"
    """A registered architecture (superpose.sae.architectures): `l1`, `topk`, `batchtopk`, `jumprelu`,
    `gated`, `matryoshka`, or one of your own."""
    n_latents: int = 16
    """L, the dictionary size."""
    sparsity_coefficient: float = per_instance(0.2)
    """λ of the l1, jumprelu and gated penalties (ignored by the top-k family)."""
    k: int = 4
    """Active latents per sample (topk) or on average (batchtopk, matryoshka)."""
    steps: int = 10_000
    """Training steps."""
    batch_size: int = 1024
    """Samples per step."""
    learning_rate: float = per_instance(1e-3)
    """Adam's learning rate (constant)."""
    seed: int = per_instance(0)
    """The SAE's random stream: initial weights and resampling (the group's `data_seed` draws the data)."""
    unit_norm_decoder: bool = True
    """Renormalise the decoder rows to unit length after every step (and inside the loss)."""
    tied_init: bool = True
    """True: encoder = decoder transpose (Gao et al.); False: independent Kaiming-uniform encoder and decoder
    (the ARENA toy SAE; check 13 of docs/checks.md)."""
    resample: str = "none"
    """Dead-latent resampling: `none`, `random` (a random unit direction) or `inputs` (an input drawn with
    probability ∝ its squared loss; Anthropic 2023)."""
    resample_every: int = 2500
    """Steps between resamplings."""
    resample_window: int = 500
    """A latent silent for this many steps before a resampling is dead."""
    dead_window: int = 1000
    """AuxK: a latent silent for this many steps is dead."""
    aux_k: int = 0
    """AuxK: latents the auxiliary loss may use (0: D // 2, the OpenAI heuristic)."""
    aux_coefficient: float = 1 / 32
    """AuxK: the coefficient of the auxiliary loss (OpenAI's 1/32)."""
    bandwidth: float = 0.05
    """jumprelu: the rectangle kernel's bandwidth ε of the pseudo-derivatives (Rajamanoharan et al. 2024)."""
    initial_threshold: float = 0.1
    """jumprelu: kernel bandwidth ε and initial θ (SAELens uses 0.05 and 0.01 for activations normalised to
    norm √d, Gemma Scope 0.001 and 0.001; ours suit features of magnitude about 1)."""
    matryoshka_widths: tuple[int, ...] = ()
    """Nested prefix widths below n_latents (empty: n_latents // 4 and // 2; with recipe `saelens`:
    n_latents // 32, // 8 and // 2, SAELens's 128, 512 and 2048 of 4096)."""
    recipe: str = added_field("superpose")
    """How the top-k family (topk, batchtopk, matryoshka) trains. `superpose`: unit-norm decoder rows, the top
    k of ReLU(h), AuxK on ReLU of the dead latents' pre-activations with `aux_coefficient`, the MSE averaged
    over dimensions. `saelens`: SAELens's recipe behind SynthSAEBench: decoder rows initialised at norm 0.1
    with W_enc = W_decᵀ and never renormalised (`unit_norm_decoder` is then ignored), the top k of
    ReLU(h)·‖W_dec,l‖, AuxK with weight 1 on the raw pre-activations of the dead latents, the squared error
    summed over dimensions, and SAELens's Matryoshka widths (below)."""
    options: tuple[tuple[str, Any], ...] = ()
    """Options of the architecture's own, as (name, value) pairs (a dict is accepted): the names its class
    declares in `SAE.options`, whose defaults apply where a name is left out. Read with `option(name)`."""
    log_every: int = 500
    """Steps per compiled chunk: the host sees the program (loss, progress, checkpoints) only this often."""

    def __post_init__(self):
        if isinstance(self.matryoshka_widths, list):
            object.__setattr__(self, "matryoshka_widths", tuple(self.matryoshka_widths))
        options = dict(self.options.items() if isinstance(self.options, dict) else self.options)
        object.__setattr__(self, "options", tuple(sorted((k, _hashable(v)) for k, v in options.items())))
        check_choice("architecture", self.architecture, architectures())
        declared = ARCHITECTURES.get(self.architecture).options
        for name, _ in self.options:
            check_known_key(name, declared, f"option of the {self.architecture} architecture")
        check_choice("resample", self.resample, RESAMPLE)
        check_choice("recipe", self.recipe, RECIPES)
        for name in (
            "n_latents",
            "k",
            "steps",
            "batch_size",
            "resample_every",
            "resample_window",
            "dead_window",
            "log_every",
        ):
            check_int(name, getattr(self, name), minimum=1)
        check_int("aux_k", self.aux_k, minimum=0)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        for name in ("sparsity_coefficient", "aux_coefficient"):
            check_float(name, getattr(self, name), lower=0.0)
        for name in ("learning_rate", "bandwidth", "initial_threshold"):
            check_float(name, getattr(self, name), lower=0.0, open_lower=True)
        ARCHITECTURES.get(self.architecture).check(self)

    def widths(self) -> tuple[int, ...]:
        """Prefix widths of the matryoshka loss, ending with n_latents."""
        if self.recipe == "saelens":  # SAELens's 128, 512, 2048 of 4096, as fractions of any width
            default = tuple(w for w in (self.n_latents // d for d in (32, 8, 2)) if w > 0)
        else:
            default = tuple(w for w in (self.n_latents // 4, self.n_latents // 2) if w > 0)
        inner = self.matryoshka_widths or default
        return tuple(inner) + (self.n_latents,) if not inner or inner[-1] != self.n_latents else tuple(inner)

    @property
    def renormalises(self) -> bool:
        """Whether decoder rows are held at unit norm: `unit_norm_decoder`, unless the recipe is `saelens`."""
        return self.unit_norm_decoder and self.recipe != "saelens"

    def option(self, name: str):
        """The value of the architecture's own option `name` (its default where the config leaves it out)."""
        return dict(self.options).get(name, ARCHITECTURES.get(self.architecture).options[name])


def sae_replace(config: SAEConfig, **changes) -> SAEConfig:
    for key in changes:
        check_known_key(key, [f.name for f in dataclasses.fields(SAEConfig)], kind="SAE config")
    return dataclasses.replace(config, **changes)


def saelens_common(tensors: dict[str, np.ndarray], shift: float, b_enc: str = "b_enc"
                   ) -> dict[str, np.ndarray]:
    """The weights every SAELens SAE has, by superpose name (the encoder bias read from `b_enc`)."""
    return {"W_enc_DxL": tensors["W_enc"],
            "b_enc_L": tensors[b_enc] + shift * tensors["b_dec"] @ tensors["W_enc"],
            "W_dec_LxD": tensors["W_dec"], "b_dec_D": tensors["b_dec"]}


def saelens_weights(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The weights every SAELens SAE has, by SAELens name."""
    return {"W_enc": params["W_enc_DxL"], "b_enc": params["b_enc_L"], "W_dec": params["W_dec_LxD"],
            "b_dec": params["b_dec_D"]}


def decoder_norm_L(sae: SAE) -> jax.Array:
    """‖W_dec,l‖, the decoder row norms (the weights of the L1 and gated penalties)."""
    return jnp.linalg.norm(sae.W_dec_LxD[...], axis=1)


def unit_rows(W):
    return W / jnp.maximum(jnp.linalg.norm(W, axis=1, keepdims=True), 1e-8)


def mse(x, x_hat):
    return jnp.mean((x - x_hat) ** 2)


def reconstruction_error(config: SAEConfig, x, x_hat):
    """The reconstruction term of the loss: the MSE, or with recipe `saelens` the squared error summed over
    dimensions and averaged over the batch (D times the MSE)."""
    if config.recipe == "saelens":
        return jnp.mean(jnp.sum((x - x_hat) ** 2, axis=-1))
    return mse(x, x_hat)


SAELENS_DECODER_NORM = 0.1
"""recipe `saelens`: the norm of every decoder row at initialisation."""


# --- the module
# -----------------------------------------------------------------------------------------------


class SAE(nnx.Module, Registered):
    """The parts every architecture shares (module doc); subclasses register by `name`."""

    registry = ARCHITECTURES
    options: ClassVar[dict[str, Any]] = {}
    """The architecture's own options and their defaults (`SAEConfig.options`, read with `config.option`)."""
    saelens_reads: ClassVar[str | None] = None
    """The SAELens architecture that reads back as this one (superpose.sae.saelens), or None."""

    @classmethod
    def to_saelens(cls, config: SAEConfig, params: dict[str, np.ndarray], threshold: float | None
                   ) -> tuple[str, dict[str, np.ndarray], dict[str, Any]]:
        """(SAELens architecture, its weights by SAELens name, further cfg.json keys) of one SAE, equal at
        inference (`params` without the instance axis; `threshold` the running inference threshold)."""
        raise ResultError(f"architecture '{config.architecture}' has no SAELens counterpart")

    @classmethod
    def from_saelens(cls, cfg: dict, tensors: dict[str, np.ndarray], shift: float
                     ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """(SAEConfig fields, params by superpose name) of a SAELens SAE of `saelens_reads`; `shift` is 1 when
        its encoder reads x rather than x − b_dec (then b_dec·W_enc is folded into the encoder biases)."""
        return cls.saelens_config(tensors), saelens_common(tensors, shift)

    @classmethod
    def saelens_config(cls, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
        """The SAEConfig fields every SAE read from SAELens has: this architecture, its width, and decoder
        rows left at the norms they were saved with."""
        return {"architecture": cls.name, "n_latents": int(tensors["W_dec"].shape[0]),
                "unit_norm_decoder": False}

    def __init__(self, config: SAEConfig, n_dims: int, key: jax.Array):
        """Unit random decoder rows; encoder = decoder transpose (`tied_init`) or Kaiming-uniform; zero
        biases."""
        self.config = config
        n_latents = config.n_latents
        dec_key, enc_key = jax.random.split(key)
        if config.recipe == "saelens":
            W_dec = SAELENS_DECODER_NORM * unit_rows(jax.random.normal(dec_key, (n_latents, n_dims)))
            W_enc = W_dec.T
        elif config.tied_init:
            W_dec = unit_rows(jax.random.normal(dec_key, (n_latents, n_dims)))
            W_enc = W_dec.T
        else:  # PyTorch kaiming_uniform_: bound sqrt(6 / fan_in), fan_in = size(1)
            W_dec = unit_rows(
                jax.random.uniform(dec_key, (n_latents, n_dims), minval=-1) * np.sqrt(6 / n_dims)
            )
            W_enc = jax.random.uniform(enc_key, (n_dims, n_latents), minval=-1) * np.sqrt(6 / n_latents)
        self.W_enc_DxL = nnx.Param(W_enc, latent_axis=1)
        self.b_enc_L = nnx.Param(jnp.zeros(n_latents), latent_axis=0)
        self.W_dec_LxD = nnx.Param(W_dec, latent_axis=0)
        self.b_dec_D = nnx.Param(jnp.zeros(n_dims))

    @classmethod
    def check(cls, config: SAEConfig) -> None:
        """Raise a ConfigError for settings this architecture cannot train with (here: a recipe other than
        superpose's, which only the top-k family knows)."""
        if config.recipe != "superpose":
            raise ConfigError(f"recipe '{config.recipe}' applies to the top-k family (topk, batchtopk, "
                              f"matryoshka), not to {config.architecture}")

    def pre_activations(self, x_BxD: jax.Array) -> jax.Array:
        return (x_BxD - self.b_dec_D[...]) @ self.W_enc_DxL[...] + self.b_enc_L[...]

    def encode(
        self, x_BxD: jax.Array, *, training: bool = True, threshold=None
    ) -> tuple[jax.Array, jax.Array]:
        """Latent activations f_BxL and pre-activations h_BxL. `threshold` is the running inference
        threshold, for architectures that use one when not `training`."""
        raise NotImplementedError

    def decode(self, f_BxL: jax.Array) -> jax.Array:
        return f_BxL @ self.W_dec_LxD[...] + self.b_dec_D[...]

    def penalties(self, x_BxD, h_BxL, f_BxL, x_hat_BxD, coefficient, dead_L) -> list[jax.Array]:
        """The loss terms beyond the reconstruction MSE, in the order they are added."""
        raise NotImplementedError

    def batch_threshold(self, h_BxL: jax.Array) -> jax.Array:
        """The smallest activation a batch-level sparsity kept (its EMA is the inference threshold); 0 if
        none."""
        return jnp.asarray(0.0)

    def loss(self, x_BxD, coefficient, dead_L):
        """Training loss on one batch, and (which latents fired in it, x̂, `batch_threshold`). With
        `unit_norm_decoder` the decoder
        rows are normalised first, so the gradient has no component along them (the projection SAELens and
        sparsify apply by hand)."""
        if self.config.renormalises:
            self.W_dec_LxD[...] = unit_rows(self.W_dec_LxD[...])
        f, h = self.encode(x_BxD)
        x_hat = self.decode(f)
        total = reconstruction_error(self.config, x_BxD, x_hat)
        for term in self.penalties(x_BxD, h, f, x_hat, coefficient, dead_L):
            total = total + term
        return total, (jnp.any(f > 0, axis=0), x_hat, self.batch_threshold(h))


def model(config: SAEConfig, params: Mapping[str, Any] | Callable[[str], Any]) -> SAE:
    """The SAE module of `config` holding `params` (arrays by name, or a function of the name; one SAE, no
    instance axis)."""
    lookup = params.__getitem__ if isinstance(params, Mapping) else params
    n_dims = np.shape(lookup("b_dec_D"))[-1]
    cls = ARCHITECTURES.get(config.architecture)
    return trainer.module_from_arrays(lambda: cls(config, n_dims, jax.random.key(0)), lookup)


# --- training
# -------------------------------------------------------------------------------------------------


class Hyper(NamedTuple):
    sparsity_coefficient: jax.Array
    learning_rate: jax.Array


class Carry(NamedTuple):
    data_key: jax.Array
    silent_steps_L: jax.Array
    """Steps since each latent last fired."""
    threshold: jax.Array
    """Running inference threshold θ (EMA of `batch_threshold`)."""


@dataclasses.dataclass(frozen=True)
class SAELearner(Learner):
    """SAEs of one static config on `n_dims`-dimensional activations (superpose.train.learner).

    Data: `(source, data_seed)` shared by every SAE (one batch per step for all, from `data_seed`), or,
    with `data_per_instance`, one `FeatureSource` per SAE stacked on a leading axis, each SAE drawing
    its batches from its own seed, or, `streamed`, a chunk's batches read on the host (`BatchStream`)."""

    config: SAEConfig
    n_dims: int
    data_per_instance: bool = False
    streamed: bool = False

    def init(self, seed, hyper: Hyper):
        init_key, data_key = jax.random.split(rng.key(seed, "hash"))
        sae = ARCHITECTURES.get(self.config.architecture)(self.config, self.n_dims, init_key)
        return sae, Carry(data_key, jnp.zeros(self.config.n_latents, jnp.int32), jnp.asarray(0.0))

    def optimizer(self, hyper: Hyper):
        return optax.adam(hyper.learning_rate)

    def batch(self, carry: Carry, hyper: Hyper, data, t):
        if self.streamed:
            batches_TxBxD, t0 = data
            return batches_TxBxD[t - t0]
        if self.data_per_instance:
            source, key = data, jax.random.fold_in(carry.data_key, t)
        else:
            source, data_seed = data
            key = jax.random.fold_in(rng.key(data_seed, "hash"), t)
        return groundtruth.sample(source, key, self.config.batch_size)[1]

    def loss(self, sae: SAE, x_BxD, hyper: Hyper, carry: Carry):
        return sae.loss(x_BxD, hyper.sparsity_coefficient, carry.silent_steps_L >= self.config.dead_window)

    def after_update(self, sae: SAE, opt_state, carry: Carry, aux, x_BxD, hyper: Hyper, t):
        fired, x_hat, smallest = aux
        c = self.config
        if c.renormalises:
            sae.W_dec_LxD[...] = unit_rows(sae.W_dec_LxD[...])
        carry = carry._replace(
            silent_steps_L=jnp.where(fired, 0, carry.silent_steps_L + 1),
            threshold=jnp.where(t == 0, smallest, 0.99 * carry.threshold + 0.01 * smallest),
        )
        if c.resample != "none":
            due = ((t + 1) % c.resample_every == 0) & (t + 1 < c.steps)
            key = jax.random.fold_in(jax.random.fold_in(carry.data_key, t), 1)
            opt_state, silent = self._resample(sae, opt_state, carry.silent_steps_L, x_BxD, x_hat, key, due)
            carry = carry._replace(silent_steps_L=silent)
        return opt_state, carry

    def _resample(self, sae: SAE, opt_state, silent_L, x_BxD, x_hat, key, due):
        """Re-initialise dead latents (module doc) and zero their Adam moments, where `due`."""
        dead = silent_L >= self.config.resample_window
        W_dec, W_enc = sae.W_dec_LxD[...], sae.W_enc_DxL[...]
        n_latents, n_dims = W_dec.shape
        if self.config.resample == "random":
            direction = unit_rows(jax.random.normal(key, (n_latents, n_dims)))
            encoder_scale = 0.5
        else:
            error_B = jnp.sum((x_BxD - x_hat) ** 2, axis=1)
            pick = jax.random.categorical(key, 2 * jnp.log(error_B + 1e-30), shape=(n_latents,))
            direction = unit_rows(x_BxD[pick] - sae.b_dec_D[...])
            alive_norm = jnp.linalg.norm(W_enc, axis=0)
            encoder_scale = 0.2 * jnp.sum(alive_norm * ~dead) / jnp.maximum(jnp.sum(~dead), 1)
        fresh = {
            "W_enc_DxL": direction.T * encoder_scale,
            "b_enc_L": jnp.zeros(n_latents),
            "W_dec_LxD": direction,
        }
        params = nnx.state(sae)
        keep = jax.tree.map(lambda v: v.replace(_keep_mask(v, ~dead)), params, is_leaf=_is_variable)
        for name, value in fresh.items():
            variable = getattr(sae, name)
            variable[...] = jnp.where(due, jnp.where(keep[name][...], variable[...], value), variable[...])
        reset = optax.tree_utils.tree_map_params(
            optax.adam(0.0),
            lambda leaf, k: jnp.where(k, leaf, 0.0),
            opt_state,
            keep,
            transform_non_params=lambda leaf: leaf,
        )
        opt_state = jax.tree.map(lambda a, b: jnp.where(due, a, b), reset, opt_state)
        return opt_state, jnp.where(due, jnp.where(dead, 0, silent_L), silent_L)

    def bytes_per_instance(self) -> int:
        """Float32: parameters with two Adam moments and gradient, about eight B x (L + D) buffers of one
        step."""
        n_latents, d, b = self.config.n_latents, self.n_dims, self.config.batch_size
        return 4 * (4 * (2 * d * n_latents + n_latents + d) + 8 * b * (n_latents + d))


def _is_variable(x) -> bool:
    return isinstance(x, nnx.Variable)


def _keep_mask(variable: nnx.Variable, alive_L: jax.Array) -> jax.Array:
    """True where a parameter is untouched by resampling: all of it without a `latent_axis`, else alive
    latents."""
    shape = variable[...].shape
    axis = variable.get_metadata().get("latent_axis")
    if axis is None:
        return jnp.ones(shape, bool)
    return jnp.broadcast_to(jnp.expand_dims(alive_L, [a for a in range(len(shape)) if a != axis]), shape)


class SAEResult(NamedTuple):
    params: dict[str, np.ndarray]
    """Parameters by name (W_enc_DxL, b_enc_L, W_dec_LxD, b_dec_D and any the architecture adds), numpy,
    instance axis first."""
    threshold_I: np.ndarray
    loss_IxC: np.ndarray
    loss_steps_C: np.ndarray
    diverged_step_I: np.ndarray

    def model(self, config: SAEConfig, i: int) -> SAE:
        """SAE `i` as its module."""
        return model(config, {name: value[i] for name, value in self.params.items()})


def static_config(configs: Sequence[SAEConfig]) -> SAEConfig:
    """The shared static part of a group (per-instance fields at their defaults)."""
    return shared_static(configs, "SAEs")


@dataclasses.dataclass(frozen=True)
class BatchStream(trainer.Stream):
    """The batches of an array source (superpose.data.user_arrays), read on the host one chunk at a time."""

    source: Any
    batch_size: int

    def chunk(self, t0: int, n_steps: int):
        return self.source.chunk(t0, n_steps, self.batch_size), np.int32(t0)

    def fingerprint(self):
        return self.source.fingerprint()


def train(
    configs: Sequence[SAEConfig],
    source: groundtruth.FeatureSource | Any,
    *,
    data_seed: int = 0,
    progress: bool = True,
    desc: str = "SAEs",
    checkpoint: Path | None = None,
) -> SAEResult:
    """Train one group of SAEs together (superpose.train.trainer.train does the work).

    Args:
      configs: one `SAEConfig` per SAE; all fields but the per-instance ones agree.
      source: the data. Unstacked, all SAEs see the same batches (drawn from `data_seed`);
        stacked with `groundtruth.stack`, SAE i trains on source i with batches from its own seed;
        an `user_arrays.ArraySource`: all SAEs see the same batches of its rows, streamed from the host.
      checkpoint: where to keep a mid-run checkpoint; a usable one is resumed from.
        The caller removes it once the result is saved.
    """
    static = static_config(configs)
    streamed = isinstance(source, user_arrays.ArraySource)
    per_instance = not streamed and source.directions_GxD.ndim == 3
    learner = SAELearner(static, source.n_dims, per_instance, streamed)
    if streamed:
        data = BatchStream(source, static.batch_size)
    else:
        data = source if per_instance else (source, np.uint32(data_seed))
    hyper = Hyper(
        sparsity_coefficient=jnp.asarray([c.sparsity_coefficient for c in configs], jnp.float32),
        learning_rate=jnp.asarray([c.learning_rate for c in configs], jnp.float32),
    )
    trained = trainer.train(
        learner,
        hyper,
        [c.seed for c in configs],
        data=data,
        configs=[c.to_dict() for c in configs],
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )
    return SAEResult(
        params=trained.params,
        threshold_I=trained.carry.threshold,
        loss_IxC=trained.loss_IxC,
        loss_steps_C=trained.loss_steps_C,
        diverged_step_I=trained.diverged_step_I,
    )

"""Sparse autoencoders, written for ONE SAE and trained many at once.

Architectures (SAE_REFERENCE.md §2–3; h are the pre-activations
``(x − b_dec) W_enc + b_enc`` and ``x̂ = f W_dec + b_dec``):

  l1          f = ReLU(h); loss = MSE + λ Σ_l f_l ‖W_dec,l‖ (Bricken et al. 2023 with the
              decoder-norm-weighted penalty of the April 2024 update)
  topk        f = ReLU(TopK_k(h)); loss = MSE + α·AuxK (Gao et al. 2024)
  batchtopk   keep the B·k largest ReLU(h) of the batch; inference uses the running threshold θ
              (EMA of the smallest kept value; Bussmann et al. 2024); loss as topk
  jumprelu    f = h·H(h − θ); loss = MSE + λ Σ_l H(h_l − θ_l) with straight-through
              pseudo-derivatives for θ (rectangle kernel, bandwidth ε; Rajamanoharan et al. 2024)
  gated       f = H(π_gate)·ReLU(π_mag); loss = MSE + λ Σ ReLU(π_gate)‖W_dec‖ + MSE of the gate path
              through a frozen decoder (Rajamanoharan et al. 2024)
  matryoshka  batchtopk plus the MSE of every nested prefix of latents (Bussmann et al. 2025)

MSE is the mean over batch and dimensions of (x − x̂)². Decoder rows are
renormalised to unit length after every step when `unit_norm_decoder`.
Dead latents (silent for `resample_window` steps) can be resampled every
`resample_every` steps, with their Adam moments reset: `random` gives a random
unit direction (encoder 0.5× it, bias 0; REFERENCE.md §6 "simple"), `inputs`
the direction of an input drawn with probability ∝ its squared loss (Anthropic
2023).

Dimension alphabet: I instances, B batch, D input dims, L latents, G true features.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose import checkpoint as checkpoint_lib
from superpose import groundtruth, loop, rng
from superpose.config import ConfigError, _check_choice, _check_float, _check_int, check_known_key

ARCHITECTURES = ("l1", "topk", "batchtopk", "jumprelu", "gated", "matryoshka")
TOP_K_FAMILY = ("topk", "batchtopk", "matryoshka")
RESAMPLE = ("none", "random", "inputs")
PER_INSTANCE_FIELDS = ("sparsity_coefficient", "learning_rate", "seed")
RESAMPLED = ("params", "opt_state", "silent_steps_L")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SAEConfig:
    """One sparse autoencoder and its training recipe. All fields but `PER_INSTANCE_FIELDS` are static:
    SAEs that share them train in one compiled program."""

    architecture: str = "l1"
    n_latents: int = 16
    sparsity_coefficient: float = 0.2
    """λ of the l1, jumprelu and gated penalties (ignored by the top-k family)."""
    k: int = 4
    """Active latents per sample (topk) or on average (batchtopk, matryoshka)."""
    steps: int = 10_000
    batch_size: int = 1024
    learning_rate: float = 1e-3
    seed: int = 0
    unit_norm_decoder: bool = True
    tied_init: bool = True
    """True: encoder = decoder transpose (Gao et al.); False: independent Kaiming-uniform encoder and decoder
    (the ARENA toy SAE of REFERENCE.md §6)."""
    resample: str = "none"
    resample_every: int = 2500
    resample_window: int = 500
    dead_window: int = 1000
    """AuxK: a latent silent for this many steps is dead."""
    aux_k: int = 0
    """AuxK: latents the auxiliary loss may use (0: D // 2, the OpenAI heuristic)."""
    aux_coefficient: float = 1 / 32
    bandwidth: float = 0.05
    initial_threshold: float = 0.1
    """jumprelu: kernel bandwidth ε and initial θ (SAELens uses 0.05 and 0.01 for activations normalised to norm √d, Gemma Scope 0.001 and 0.001; ours suit features of magnitude about 1)."""
    matryoshka_widths: tuple[int, ...] = ()
    """Nested prefix widths below n_latents (empty: n_latents // 4 and // 2)."""
    log_every: int = 500

    def __post_init__(self):
        if isinstance(self.matryoshka_widths, list):
            object.__setattr__(self, "matryoshka_widths", tuple(self.matryoshka_widths))
        _check_choice("architecture", self.architecture, ARCHITECTURES)
        _check_choice("resample", self.resample, RESAMPLE)
        for name in ("n_latents", "k", "steps", "batch_size", "resample_every", "resample_window",
                     "dead_window", "log_every"):
            _check_int(name, getattr(self, name), minimum=1)
        _check_int("aux_k", self.aux_k, minimum=0)
        _check_int("seed", self.seed, minimum=0)
        if self.architecture in TOP_K_FAMILY and self.k > self.n_latents:
            raise ConfigError(f"k ({self.k}) cannot exceed n_latents ({self.n_latents})")
        for name in ("sparsity_coefficient", "aux_coefficient"):
            _check_float(name, getattr(self, name), lower=0.0)
        for name in ("learning_rate", "bandwidth", "initial_threshold"):
            _check_float(name, getattr(self, name), lower=0.0, open_lower=True)
        widths = self.widths()
        if self.architecture == "matryoshka" and list(widths) != sorted(set(widths)) or widths[0] < 1:
            raise ConfigError(f"matryoshka_widths must increase strictly within (0, {self.n_latents}), got "
                              f"{self.matryoshka_widths}")

    def widths(self) -> tuple[int, ...]:
        """Prefix widths of the matryoshka loss, ending with n_latents."""
        inner = self.matryoshka_widths or tuple(w for w in (self.n_latents // 4, self.n_latents // 2) if w > 0)
        return tuple(inner) + (self.n_latents,) if not inner or inner[-1] != self.n_latents else tuple(inner)

    def static_key(self) -> tuple:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in PER_INSTANCE_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def sae_replace(config: SAEConfig, **changes) -> SAEConfig:
    for key in changes:
        check_known_key(key, [f.name for f in dataclasses.fields(SAEConfig)], kind="SAE config")
    return dataclasses.replace(config, **changes)


class SAEParams(NamedTuple):
    W_enc_DxL: jax.Array
    b_enc_L: jax.Array
    W_dec_LxD: jax.Array
    b_dec_D: jax.Array
    log_threshold_L: jax.Array | None = None
    """jumprelu: θ = exp(log_threshold)."""
    r_mag_L: jax.Array | None = None
    """gated: the magnitude path's encoder is exp(r_mag) ⊙ W_enc."""
    b_mag_L: jax.Array | None = None


class SAEState(NamedTuple):
    params: SAEParams
    opt_state: optax.OptState
    data_key: jax.Array
    silent_steps_L: jax.Array
    """Steps since each latent last fired."""
    threshold: jax.Array
    """batchtopk / matryoshka: running inference threshold θ."""


class Hyper(NamedTuple):
    sparsity_coefficient: jax.Array
    learning_rate: jax.Array


# --- the model ----------------------------------------------------------------------------------------------


def init_params(key: jax.Array, n_dims: int, config: SAEConfig) -> SAEParams:
    """Unit random decoder rows; encoder = decoder transpose (`tied_init`) or Kaiming-uniform; zero biases."""
    n_latents = config.n_latents
    dec_key, enc_key = jax.random.split(key)
    if config.tied_init:
        W_dec = _unit_rows(jax.random.normal(dec_key, (n_latents, n_dims)))
        W_enc = W_dec.T
    else:  # PyTorch kaiming_uniform_: bound sqrt(6 / fan_in), fan_in = size(1)
        W_dec = _unit_rows(jax.random.uniform(dec_key, (n_latents, n_dims), minval=-1) * np.sqrt(6 / n_dims))
        W_enc = jax.random.uniform(enc_key, (n_dims, n_latents), minval=-1) * np.sqrt(6 / n_latents)
    zeros = jnp.zeros(n_latents)
    return SAEParams(
        W_enc_DxL=W_enc,
        b_enc_L=zeros,
        W_dec_LxD=W_dec,
        b_dec_D=jnp.zeros(n_dims),
        log_threshold_L=(jnp.full(config.n_latents, np.log(config.initial_threshold), jnp.float32)
                         if config.architecture == "jumprelu" else None),
        r_mag_L=zeros if config.architecture == "gated" else None,
        b_mag_L=zeros if config.architecture == "gated" else None,
    )


def _rectangle(u):
    return (jnp.abs(u) < 0.5).astype(u.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def jump_relu(h, threshold, bandwidth):
    """h·H(h − θ); ∂/∂h = H(h − θ), ∂/∂θ = −(θ/ε)·K((h − θ)/ε) with the rectangle kernel K."""
    return h * (h > threshold)


def _jump_relu_fwd(h, threshold, bandwidth):
    return jump_relu(h, threshold, bandwidth), (h, threshold)


def _jump_relu_bwd(bandwidth, residual, g):
    h, threshold = residual
    return g * (h > threshold), -g * (threshold / bandwidth) * _rectangle((h - threshold) / bandwidth)


jump_relu.defvjp(_jump_relu_fwd, _jump_relu_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def step_function(h, threshold, bandwidth):
    """H(h − θ); ∂/∂h = 0, ∂/∂θ = −(1/ε)·K((h − θ)/ε)."""
    return (h > threshold).astype(h.dtype)


def _step_fwd(h, threshold, bandwidth):
    return step_function(h, threshold, bandwidth), (h, threshold)


def _step_bwd(bandwidth, residual, g):
    h, threshold = residual
    return jnp.zeros_like(h), -g / bandwidth * _rectangle((h - threshold) / bandwidth)


step_function.defvjp(_step_fwd, _step_bwd)


def pre_activations(params: SAEParams, x_BxD: jax.Array) -> jax.Array:
    return (x_BxD - params.b_dec_D) @ params.W_enc_DxL + params.b_enc_L


def _kth_largest(a, k: int, axis):
    """Per slice along `axis` (all of `a` when None), the largest t ≥ 0 with count(a ≥ t) ≥ k, for a ≥ 0.

    32 rounds of bisection on [0, max]: each is one pass over `a`, so this is far cheaper on CPU than
    `lax.top_k`, which sorts (10x for TopK, 30x for BatchTopK at B·L = 131k). The result is exact up to
    values closer than max·2⁻³² to the k-th largest.
    """
    a = jax.lax.stop_gradient(a)
    hi = jnp.max(a, axis=axis, keepdims=axis is not None)
    lo = jnp.zeros_like(hi)

    def halve(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        enough = jnp.sum(a >= mid, axis=axis, keepdims=axis is not None) >= k
        return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid)

    return jax.lax.fori_loop(0, 32, halve, (lo, hi))[0]


def top_k_mask(h_BxL: jax.Array, k: int) -> jax.Array:
    """True at each row's k largest positive entries (what survives ReLU(TopK(h)))."""
    a = jax.nn.relu(h_BxL)
    return (a >= _kth_largest(a, k, axis=-1)) & (a > 0)


def batch_top_k_mask(a_BxL: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """True at the B·k largest entries of the batch (non-negative a); also the smallest kept value."""
    keep = (a_BxL >= _kth_largest(a_BxL, a_BxL.shape[0] * k, axis=None)) & (a_BxL > 0)
    smallest = jnp.min(jnp.where(keep, a_BxL, jnp.inf))
    return keep, jnp.where(jnp.isfinite(smallest), smallest, 0.0)


def encode(params: SAEParams, x_BxD: jax.Array, config: SAEConfig, threshold=None, *, training: bool = True):
    """Latent activations f_BxL (and the pre-activations h_BxL).

    `threshold` is the batchtopk/matryoshka inference threshold θ, used when not `training`.
    """
    h = pre_activations(params, x_BxD)
    arch = config.architecture
    if arch == "l1":
        f = jax.nn.relu(h)
    elif arch == "topk":
        f = jnp.where(top_k_mask(h, config.k), jax.nn.relu(h), 0.0)
    elif arch in ("batchtopk", "matryoshka"):
        a = jax.nn.relu(h)
        keep = batch_top_k_mask(a, config.k)[0] if training else a > threshold
        f = jnp.where(keep, a, 0.0)
    elif arch == "jumprelu":
        theta = jnp.broadcast_to(jnp.exp(params.log_threshold_L), h.shape)
        f = jump_relu(h, theta, config.bandwidth)
    else:  # gated
        gate = h > 0
        magnitude = (x_BxD - params.b_dec_D) @ (params.W_enc_DxL * jnp.exp(params.r_mag_L)) + params.b_mag_L
        f = jnp.where(gate, jax.nn.relu(magnitude), 0.0)
    return f, h


def decode(params: SAEParams, f_BxL: jax.Array) -> jax.Array:
    return f_BxL @ params.W_dec_LxD + params.b_dec_D


def _mse(x, x_hat):
    return jnp.mean((x - x_hat) ** 2)


def _aux_k_loss(params, x, x_hat, h, dead_L, config):
    """OpenAI's AuxK: the dead latents' top-k_aux reconstruct the residual; scaled by min(n_dead / k_aux, 1)."""
    n_latents, n_dims = params.W_dec_LxD.shape
    k_aux = min(config.aux_k or max(n_dims // 2, 1), n_latents)
    h_dead = jnp.where(dead_L, h, 0.0)
    f_aux = jnp.where(top_k_mask(h_dead, k_aux), jax.nn.relu(h_dead), 0.0)
    residual = jax.lax.stop_gradient(x - x_hat)
    scale = jnp.minimum(dead_L.sum() / k_aux, 1.0)
    return scale * _mse(residual, f_aux @ params.W_dec_LxD)


def loss(params: SAEParams, x_BxD, coefficient, dead_L, config: SAEConfig):
    """Training loss of one SAE on one batch; also returns (f, x̂, smallest kept batchtopk value).

    With `unit_norm_decoder` the decoder rows are normalised inside the loss, so the gradient has no
    component along them (the projection SAELens and sparsify apply by hand)."""
    if config.unit_norm_decoder:
        params = params._replace(W_dec_LxD=_unit_rows(params.W_dec_LxD))
    f, h = encode(params, x_BxD, config)
    x_hat = decode(params, f)
    reconstruction = _mse(x_BxD, x_hat)
    decoder_norm_L = jnp.linalg.norm(params.W_dec_LxD, axis=1)
    arch = config.architecture
    smallest = jnp.asarray(0.0)
    if arch == "l1":
        total = reconstruction + coefficient * jnp.mean(jnp.sum(f * decoder_norm_L, axis=1))
    elif arch == "jumprelu":
        theta = jnp.broadcast_to(jnp.exp(params.log_threshold_L), h.shape)
        total = reconstruction + coefficient * jnp.mean(jnp.sum(step_function(h, theta, config.bandwidth), axis=1))
    elif arch == "gated":
        gate = jax.nn.relu(h)
        frozen = jax.lax.stop_gradient(params)
        gate_reconstruction = _mse(x_BxD, gate @ frozen.W_dec_LxD + frozen.b_dec_D)
        total = reconstruction + coefficient * jnp.mean(jnp.sum(gate * decoder_norm_L, axis=1)) + gate_reconstruction
    else:  # top-k family
        total = reconstruction + config.aux_coefficient * _aux_k_loss(params, x_BxD, x_hat, h, dead_L, config)
        if arch != "topk":
            smallest = batch_top_k_mask(jax.nn.relu(h), config.k)[1]
        if arch == "matryoshka":
            for width in config.widths()[:-1]:
                total = total + _mse(x_BxD, f[:, :width] @ params.W_dec_LxD[:width] + params.b_dec_D)
    return total, (f, x_hat, smallest)


# --- training -----------------------------------------------------------------------------------------------


def _optimizer(learning_rate):
    return optax.adam(learning_rate)


def _unit_rows(W):
    return W / jnp.maximum(jnp.linalg.norm(W, axis=1, keepdims=True), 1e-8)


def _resample(state: SAEState, x_BxD, x_hat, key, config: SAEConfig) -> SAEState:
    """Re-initialise dead latents (module doc) and zero their Adam moments."""
    params = state.params
    dead = state.silent_steps_L >= config.resample_window
    n_latents, n_dims = params.W_dec_LxD.shape
    if config.resample == "random":
        direction = _unit_rows(jax.random.normal(key, (n_latents, n_dims)))
        encoder_scale = 0.5
    else:
        error_B = jnp.sum((x_BxD - x_hat) ** 2, axis=1)
        pick = jax.random.categorical(key, 2 * jnp.log(error_B + 1e-30), shape=(n_latents,))
        direction = _unit_rows(x_BxD[pick] - params.b_dec_D)
        alive_norm = jnp.linalg.norm(params.W_enc_DxL, axis=0)
        encoder_scale = 0.2 * jnp.sum(alive_norm * ~dead) / jnp.maximum(jnp.sum(~dead), 1)
    keep = SAEParams(
        W_enc_DxL=jnp.broadcast_to(~dead[None, :], params.W_enc_DxL.shape),
        b_enc_L=~dead,
        W_dec_LxD=jnp.broadcast_to(~dead[:, None], params.W_dec_LxD.shape),
        b_dec_D=jnp.ones_like(params.b_dec_D, bool),
        log_threshold_L=None if params.log_threshold_L is None else ~dead,
        r_mag_L=None if params.r_mag_L is None else ~dead,
        b_mag_L=None if params.b_mag_L is None else ~dead,
    )
    fresh = params._replace(
        W_enc_DxL=direction.T * encoder_scale,
        b_enc_L=jnp.zeros_like(params.b_enc_L),
        W_dec_LxD=direction,
    )
    new_params = jax.tree.map(jnp.where, keep, params, fresh)
    opt_state = optax.tree_utils.tree_map_params(
        _optimizer(0.0), lambda leaf, k: jnp.where(k, leaf, 0.0), state.opt_state, keep,
        transform_non_params=lambda leaf: leaf,
    )
    return state._replace(
        params=new_params, opt_state=opt_state, silent_steps_L=jnp.where(dead, 0, state.silent_steps_L)
    )


def _init_one(config: SAEConfig, n_dims: int, seed, hyper: Hyper) -> SAEState:
    init_key, data_key = jax.random.split(rng.key(seed, "hash"))
    params = init_params(init_key, n_dims, config)
    return SAEState(
        params=params,
        opt_state=_optimizer(hyper.learning_rate).init(params),
        data_key=data_key,
        silent_steps_L=jnp.zeros(config.n_latents, jnp.int32),
        threshold=jnp.asarray(0.0),
    )


def _train_step(config: SAEConfig, state: SAEState, hyper: Hyper, x_BxD, t):
    dead_L = state.silent_steps_L >= config.dead_window
    (value, (f, x_hat, smallest)), grads = jax.value_and_grad(loss, has_aux=True)(
        state.params, x_BxD, hyper.sparsity_coefficient, dead_L, config
    )
    tx = _optimizer(hyper.learning_rate)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if config.unit_norm_decoder:
        params = params._replace(W_dec_LxD=_unit_rows(params.W_dec_LxD))
    fired = jnp.any(f > 0, axis=0)
    threshold = jnp.where(t == 0, smallest, 0.99 * state.threshold + 0.01 * smallest)
    state = state._replace(
        params=params, opt_state=opt_state, silent_steps_L=jnp.where(fired, 0, state.silent_steps_L + 1),
        threshold=threshold,
    )
    if config.resample != "none":
        due = ((t + 1) % config.resample_every == 0) & (t + 1 < config.steps)
        key = jax.random.fold_in(jax.random.fold_in(state.data_key, t), 1)
        resampled = _resample(state, x_BxD, x_hat, key, config)
        state = state._replace(**{
            name: jax.tree.map(lambda a, b: jnp.where(due, a, b), getattr(resampled, name), getattr(state, name))
            for name in RESAMPLED
        })
    return state, value


@functools.lru_cache(maxsize=64)
def _compiled_init(config: SAEConfig, n_dims: int):
    return jax.jit(jax.vmap(functools.partial(_init_one, config, n_dims)))


@functools.lru_cache(maxsize=64)
def _compiled_chunk(config: SAEConfig, n_steps: int, shared_source: bool):
    """jit(scan over steps(vmap over SAEs(step))). A shared source draws one batch per step for all SAEs."""
    step_I = jax.vmap(functools.partial(_train_step, config), in_axes=(0, 0, None if shared_source else 0, None))
    sample_I = functools.partial(groundtruth.sample, batch_size=config.batch_size)
    if not shared_source:
        sample_I = jax.vmap(sample_I)

    def chunk(state_I: SAEState, hyper_I: Hyper, source, shared_key, t0):
        def body(state_I, t):
            key = jax.random.fold_in(shared_key, t) if shared_source else jax.vmap(
                lambda k: jax.random.fold_in(k, t))(state_I.data_key)
            _, x = sample_I(source, key)
            return step_I(state_I, hyper_I, x, t)

        state_I, loss_TxI = jax.lax.scan(body, state_I, t0 + jnp.arange(n_steps))
        return state_I, loss_TxI.mean(axis=0)

    return jax.jit(chunk, donate_argnums=0)


class SAEResult(NamedTuple):
    params: SAEParams
    """numpy arrays, instance axis first."""
    threshold_I: np.ndarray
    loss_IxC: np.ndarray
    loss_steps_C: np.ndarray
    diverged_step_I: np.ndarray


def static_config(configs: Sequence[SAEConfig]) -> SAEConfig:
    if not configs:
        raise ConfigError("an SAE group needs at least one instance")
    if len({c.static_key() for c in configs}) != 1:
        raise ConfigError("SAEs trained together must share every field but sparsity_coefficient, "
                          "learning_rate and seed")
    return dataclasses.replace(configs[0], sparsity_coefficient=0.0, learning_rate=1.0, seed=0)


def train(
    configs: Sequence[SAEConfig],
    source: groundtruth.FeatureSource,
    *,
    data_seed: int = 0,
    progress: bool = True,
    desc: str = "SAEs",
    checkpoint: Path | None = None,
) -> SAEResult:
    """Train one group of SAEs together.

    Args:
      configs: one `SAEConfig` per SAE; all fields but the per-instance ones agree.
      source: the data. Unstacked, all SAEs see the same batches (drawn from `data_seed`);
        stacked with `groundtruth.stack`, SAE i trains on source i with batches from its own seed.
      checkpoint: where to keep a mid-run checkpoint (superpose.loop); a usable one is resumed from.
        The caller removes it once the result is saved.
    """
    static = static_config(configs)
    shared = source.directions_GxD.ndim == 2
    if not shared and source.directions_GxD.shape[0] != len(configs):
        raise ConfigError(f"{source.directions_GxD.shape[0]} sources for {len(configs)} SAEs")
    n_dims = source.n_dims
    hyper = Hyper(
        sparsity_coefficient=jnp.asarray([c.sparsity_coefficient for c in configs], jnp.float32),
        learning_rate=jnp.asarray([c.learning_rate for c in configs], jnp.float32),
    )
    state = _compiled_init(static, n_dims)(jnp.asarray([c.seed for c in configs], jnp.uint32), hyper)
    shared_key = rng.key(data_seed, "hash")
    stamp = ""
    if checkpoint:
        stamp = checkpoint_lib.fingerprint([c.to_dict() for c in configs] + [{"data_seed": data_seed}],
                                           arrays=jax.tree.leaves(source))
    state, history = loop.run_chunks(
        lambda state, t, n: _compiled_chunk(static, n, shared)(state, hyper, source, shared_key,
                                                                jnp.asarray(t, jnp.int32)),
        state,
        total_steps=static.steps,
        chunk_steps=min(static.log_every, static.steps),
        n_instances=len(configs),
        checkpoint=checkpoint,
        fingerprint=stamp,
        progress=progress,
        desc=desc,
    )
    return SAEResult(
        params=jax.tree.map(np.asarray, state.params),
        threshold_I=np.asarray(state.threshold),
        loss_IxC=history.loss_IxC,
        loss_steps_C=history.steps_C,
        diverged_step_I=history.diverged_step_I,
    )

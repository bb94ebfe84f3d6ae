"""The training engine: many toy-model instances in one compiled program.

    run_chunk = jit(scan over steps (vmap over instances (step)))

On CPU, a group of many small instances runs in cache-sized blocks instead,
each block taking all the chunk's steps before the next starts:

    run_chunk = jit(map over blocks (scan over steps (vmap over the block (step))))

The vmapped step streams its batch, activations and gradients through memory
several times; with all 1,600 instances of a 40 x 40 phase grid that is
13 MB per pass, and the step is memory-bound. A block of ~160 instances keeps
them in cache and runs 2.2x to 2.5x faster (benchmarks/README.md). Each instance's
random numbers depend only on its own key and step, so blocking changes
nothing but float round-off.

`step` is written for one instance. Everything that may differ between
instances without changing shapes (feature probability, importance,
learning rate, weight decay, seed) is an array argument, so a new sparsity
reuses the compiled program. The host sees the program once per chunk of
`log_every` steps: progress bar, loss curve and divergence check.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from superpose import checkpoint as checkpoint_lib
from superpose import loop, models, rng
from superpose.config import STATIC_FIELDS, ConfigError, ToyConfig, env_number
from superpose.data import sample_structured
from superpose.sharding import instance_sharding, padded_size, to_host


class Hyper(NamedTuple):
    """Per-instance hyperparameters (leading axis I inside the program)."""

    probability_F: jax.Array
    importance_F: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array


class TrainState(NamedTuple):
    params: models.ToyParams
    opt_state: optax.OptState
    data_key: jax.Array
    train_x_FxT: jax.Array | None = None
    """The fixed training set when `n_train` > 0 (drawn once, at init, from the data key)."""


class TrainResult(NamedTuple):
    """Host-side results; every array has the instance axis first."""

    W_IxFxH: np.ndarray
    b_IxF: np.ndarray
    loss_IxC: np.ndarray
    """Mean training loss of each chunk of `log_every` steps."""
    loss_steps_C: np.ndarray
    """The step count at the end of each chunk."""
    diverged_step_I: np.ndarray
    """Step at whose chunk the loss first became non-finite, -1 if never."""
    W_out_IxFxH: np.ndarray | None = None
    """Untied output weights of the `abs` model."""
    W_history_IxCxFxH: np.ndarray | None = None
    """W at the end of every chunk, when the config asks for `snapshots`."""


def _optimizer(config: ToyConfig, learning_rate: jax.Array, weight_decay: jax.Array):
    if config.schedule == "warmup_cosine":
        shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, config.warmup_steps, config.steps, 0.0)
    else:
        shape = optax.constant_schedule(1.0)
    return optax.adamw(lambda count: learning_rate * shape(count), weight_decay=weight_decay)


def _keys(config: ToyConfig, seed) -> tuple[jax.Array, jax.Array]:
    """(init_key, data_key) of an instance: every random number of a run derives from its seed."""
    init_key, data_key = jax.random.split(rng.key(seed, config.prng))
    return init_key, data_key


def _sample(config: ToyConfig, key: jax.Array, probability_F: jax.Array) -> jax.Array:
    """One batch of the config's data (a training set of `n_train` points, or `batch_size` fresh ones)."""
    x_FxB = sample_structured(
        key, probability_F, config.batch(), kind=config.data, set_size=config.set_size, signed=config.model == "abs"
    )
    if config.normalize:
        x_FxB = x_FxB / jnp.maximum(jnp.linalg.norm(x_FxB, axis=0, keepdims=True), 1e-12)
    return x_FxB


def training_set(config: ToyConfig) -> np.ndarray:
    """The fixed training set x_FxT of a run with `n_train` > 0, regenerated from its seed."""
    if config.n_train <= 0:
        raise ConfigError("training_set needs n_train > 0")
    _, data_key = _keys(config, config.seed)
    return np.asarray(_sample(config, data_key, jnp.asarray(config.probability_F())))


def _init_one(config: ToyConfig, seed: jax.Array, hyper: Hyper) -> TrainState:
    init_key, data_key = _keys(config, seed)
    params = models.init_params(init_key, config.n_features, config.n_hidden, config.model)
    opt_state = _optimizer(config, hyper.learning_rate, hyper.weight_decay).init(params)
    train_x = _sample(config, data_key, hyper.probability_F) if config.n_train > 0 else None
    return TrainState(params, opt_state, data_key, train_x)


def _step_one(config: ToyConfig, state: TrainState, hyper: Hyper, t: jax.Array):
    if config.n_train > 0:
        x_FxB = state.train_x_FxT
    else:
        x_FxB = _sample(config, jax.random.fold_in(state.data_key, t), hyper.probability_F)
    loss, grads = jax.value_and_grad(models.loss)(state.params, x_FxB, hyper.importance_F, config.model)
    tx = _optimizer(config, hyper.learning_rate, hyper.weight_decay)
    updates, opt_state = tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    return state._replace(params=params, opt_state=opt_state), loss


@functools.lru_cache(maxsize=64)
def compiled_init(static: ToyConfig):
    """vmap(init) over seeds. With several devices its output is sharded like the chunk's (without
    `out_shardings`, constant leaves such as Adam's zero moments come out replicated, and the first
    chunk would compile a second time for the sharded state it returns)."""
    return jax.jit(jax.vmap(functools.partial(_init_one, static)), out_shardings=instance_sharding())


@functools.lru_cache(maxsize=64)
def compiled_chunk(static: ToyConfig, n_steps: int, block: int | None = None):
    """jit(scan(vmap(step))) over `n_steps` steps; one compile per shape group.

    With `block`, instances run `block` at a time, each block through all the steps (a remainder
    block runs last). With several devices each runs its own share (`shard_map`), blocked alike.
    """
    step = functools.partial(_step_one, static)
    step_I = jax.vmap(step, in_axes=(0, 0, None))

    def chunk(state_I: TrainState, hyper_I: Hyper, t0: jax.Array):
        steps_T = t0 + jnp.arange(n_steps)
        if block is None or hyper_I.learning_rate.shape[0] <= block:
            state_I, loss_TxI = jax.lax.scan(lambda s, t: step_I(s, hyper_I, t), state_I, steps_T)
            return state_I, loss_TxI.mean(axis=0)

        def one_instance(state_and_hyper):
            state, hyper = state_and_hyper
            state, loss_T = jax.lax.scan(lambda s, t: step(s, hyper, t), state, steps_T)
            return state, loss_T.mean()

        return jax.lax.map(one_instance, (state_I, hyper_I), batch_size=block)

    sharding = instance_sharding()
    if sharding is not None:
        spec = sharding.spec
        chunk = jax.shard_map(chunk, mesh=sharding.mesh, in_specs=(spec, spec, PartitionSpec()),
                              out_specs=(spec, spec))
    return jax.jit(chunk, donate_argnums=0)


CACHE_BYTES = 16 * 2**20
"""A block's working set on CPU: half the 32 MiB L3 of the machines this was tuned on."""
MIN_BLOCK = 8
"""Fewer instances per block than this: each is big enough that XLA's own loops use the cache well."""


def block_size(static: ToyConfig) -> int | None:
    """Instances per block of the compiled chunk ($SUPERPOSE_BLOCK_INSTANCES; 0 for no blocks).

    Default: on CPU, as many as fit `CACHE_BYTES` by `bytes_per_instance`, when that is at least
    `MIN_BLOCK`; otherwise (and on accelerators, which want the whole group at once) no blocks.
    """
    if "SUPERPOSE_BLOCK_INSTANCES" in os.environ:
        return int(env_number("SUPERPOSE_BLOCK_INSTANCES", 0)) or None
    if jax.devices()[0].platform != "cpu":
        return None
    n = CACHE_BYTES // bytes_per_instance(static)
    return n if n >= MIN_BLOCK else None


def static_config(configs: Sequence[ToyConfig]) -> ToyConfig:
    """The shared static part of a group, with per-instance fields reset to defaults."""
    if not configs:
        raise ConfigError("a training group needs at least one instance")
    keys = {c.static_key() for c in configs}
    if len(keys) != 1:
        raise ConfigError("instances trained together must share model, sizes, steps and schedule")
    c = configs[0]
    return ToyConfig(**{name: getattr(c, name) for name in STATIC_FIELDS})


def hyper_arrays(configs: Sequence[ToyConfig]) -> Hyper:
    return Hyper(
        probability_F=jnp.asarray(np.stack([c.probability_F() for c in configs])),
        importance_F=jnp.asarray(np.stack([c.importance_F() for c in configs])),
        learning_rate=jnp.asarray([c.learning_rate for c in configs], jnp.float32),
        weight_decay=jnp.asarray([c.weight_decay for c in configs], jnp.float32),
    )


def bytes_per_instance(static: ToyConfig) -> int:
    """Device memory one instance needs inside the compiled chunk, float32: parameters with their two
    Adam moments and gradient, about eight (F + H) x B activation buffers of one step, the training set."""
    f, h, b = static.n_features, static.n_hidden, static.batch()
    n_params = f * h * (2 if static.model == "abs" else 1) + f
    return 4 * (4 * n_params + 8 * b * (f + h) + f * static.n_train)


def memory_budget() -> int:
    """Bytes a program may use: $SUPERPOSE_MEMORY_BUDGET_GB, else half of the device's memory limit
    (accelerators) or half of the host's available memory (CPU)."""
    if "SUPERPOSE_MEMORY_BUDGET_GB" in os.environ:
        return int(env_number("SUPERPOSE_MEMORY_BUDGET_GB", 0) * 2**30)
    stats = jax.devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        return stats["bytes_limit"] // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") // 2


def train(
    configs: Sequence[ToyConfig],
    *,
    progress: bool = True,
    desc: str = "train",
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train a group of same-shape instances, in as few compiled programs as memory allows.

    A group whose instances need more than `memory_budget()` (by `bytes_per_instance`) is trained
    in consecutive pieces of equal size (the last may be smaller); results are concatenated and
    equal the one-program run up to float round-off (each instance's random numbers come from its seed).
    """
    static = static_config(configs)
    per_program = max(1, memory_budget() // bytes_per_instance(static))
    if len(configs) <= per_program:
        return _train_program(configs, progress=progress, desc=desc, checkpoint=checkpoint)
    pieces = [configs[i : i + per_program] for i in range(0, len(configs), per_program)]
    parts = [_train_program(p, progress=progress, desc=f"{desc} [{k + 1}/{len(pieces)}]",
                            checkpoint=checkpoint and checkpoint.with_name(f"{checkpoint.name}.{k}"))
             for k, p in enumerate(pieces)]
    return TrainResult(*[
        None if getattr(parts[0], name) is None
        else getattr(parts[0], name) if name == "loss_steps_C"
        else np.concatenate([getattr(p, name) for p in parts])
        for name in TrainResult._fields
    ])


def _train_program(
    configs: Sequence[ToyConfig],
    *,
    progress: bool = True,
    desc: str = "train",
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train one group of same-shape instances together.

    Args:
      configs: one `ToyConfig` per instance; static fields must agree.
      progress: show a progress bar refreshed once per chunk.
      desc: progress-bar label.
      checkpoint: where to keep a mid-run checkpoint (superpose.checkpoint); a usable one found there
        is resumed from. The caller removes it once the result is saved.

    With several devices the instance axis is sharded over all of them
    (superpose.sharding), padded with copies of the last instance to a
    multiple of the device count.

    Returns:
      A `TrainResult` of numpy arrays, instance axis first.
    """
    static = static_config(configs)
    n_instances = len(configs)
    sharding = instance_sharding()
    configs = list(configs) + [configs[-1]] * (padded_size(n_instances, sharding) - n_instances)
    hyper = hyper_arrays(configs)
    seeds = jnp.asarray([c.seed for c in configs], jnp.uint32)
    if sharding is not None:
        hyper, seeds = jax.device_put((hyper, seeds), sharding)
    state = compiled_init(static)(seeds, hyper)

    block = block_size(static)
    state, history = loop.run_chunks(
        lambda state, t, n: compiled_chunk(static, n, block)(state, hyper, jnp.asarray(t, jnp.int32)),
        state,
        total_steps=static.steps,
        chunk_steps=min(static.log_every, static.steps),
        n_instances=n_instances,
        checkpoint=checkpoint,
        fingerprint=checkpoint_lib.fingerprint([c.to_dict() for c in configs]) if checkpoint else "",
        snapshot=(lambda state: state.params.W_FxH) if static.snapshots else None,
        progress=progress,
        desc=desc,
    )
    return TrainResult(
        W_IxFxH=to_host(state.params.W_FxH)[:n_instances],
        b_IxF=to_host(state.params.b_F)[:n_instances],
        loss_IxC=history.loss_IxC,
        loss_steps_C=history.steps_C,
        diverged_step_I=history.diverged_step_I,
        W_out_IxFxH=None if state.params.W_out_FxH is None else to_host(state.params.W_out_FxH)[:n_instances],
        W_history_IxCxFxH=history.snapshots_IxC,
    )

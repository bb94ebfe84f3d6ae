"""The trainer: many instances of any `Learner` in one compiled program.

    run_chunk = jit(scan over steps (vmap over instances (step)))

`step` is the learner's, written for ONE instance (superpose.train.learner). The model
is a flax NNX module: the trainer calls `nnx.split` once per group, so the graph
definition is static and the `State` (a pytree of arrays) is what is vmapped, sharded and
checkpointed; inside the step `nnx.merge` rebuilds the module at trace time only, so it
costs nothing per step (benchmarks/README.md). Only `nnx.Param` variables are optimised;
any other `nnx.Variable` of the model (a frozen identity, a fixed embedding) is carried
along unchanged, and saved with the parameters.

On CPU, a group of many small instances runs in cache-sized blocks instead, each block
taking all the chunk's steps before the next starts:

    run_chunk = jit(map over blocks (scan over steps (vmap over the block (step))))

The vmapped step streams its batch, activations and gradients through memory several
times; with all 1,600 instances of a 40 x 40 phase grid that is 13 MB per pass and the
step is memory-bound. A block of ~160 instances keeps them in cache and runs 2.2x to 2.5x
faster (benchmarks/README.md). With several devices the instance axis is sharded over all
of them (`shard_map`), each device blocking its own share. A group whose instances need
more memory than `memory_budget()` trains in consecutive pieces. Each instance's random
numbers depend only on its own seed and step, so blocks, devices and pieces change
nothing but float round-off.

The host sees the program once per chunk of `log_every` steps (superpose.train.loop):
progress bar, loss curve, divergence check, snapshots and checkpoints. Shared data too large
for memory comes as a `Stream`: the host hands the program one chunk's data at a time.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import PartitionSpec

from superpose.train import checkpoint as checkpoint_lib
from superpose.train import loop, processes
from superpose.train.learner import INSTANCES, Learner
from superpose.train.sharding import instance_sharding, padded_size, to_host
from superpose.validate import ConfigError, env_number


class TrainState(NamedTuple):
    """One instance's state inside the program (instance axis first once vmapped)."""

    params: nnx.State
    """The model's `nnx.Param`s: what the optimiser trains."""
    opt_state: optax.OptState
    carry: Any
    """The learner's own state (data key, counters, a fixed training set)."""
    frozen: nnx.State
    """The model's other variables, never optimised (empty for most models)."""


class Trained(NamedTuple):
    """Host-side results; every array has the instance axis first."""

    params: dict[str, np.ndarray]
    """The model's variables (its parameters and any frozen ones) by attribute path ('/'-joined for nested
    modules)."""
    carry: Any
    """The learner's final carry, numpy (PRNG keys as their key data)."""
    loss_IxC: np.ndarray
    """Mean training loss of each chunk of `log_every` steps."""
    loss_steps_C: np.ndarray
    """The step count at the end of each chunk."""
    diverged_step_I: np.ndarray
    """Step at whose chunk the loss first became non-finite, -1 if never."""
    snapshots_IxC: np.ndarray | None
    """`snapshot(params)` at the end of every chunk, when asked for."""


CACHE_BYTES = 16 * 2**20
"""A block's working set on CPU: half the 32 MiB L3 of the machines this was tuned on."""
MIN_BLOCK = 8
"""Fewer instances per block than this: each is big enough that XLA's own loops use the cache well."""
CPU_COMPILER_OPTIONS = {"xla_cpu_prefer_vector_width": "512"}
"""XLA options for every compiled chunk on CPU, under the learner's own (`Learner.cpu_compiler_options`).
512-bit vectors where the CPU has them (XLA's default is 256): the toy step's data drawing (integer hashing)
runs twice as wide; benchmark (a) went from 84k to 113k model-steps/s and (c) from 2.6k to 3.0k (2 cores,
AVX-512), with results bit for bit those of the default. A CPU without AVX-512 ignores it."""
YNN_DOTS_ONLY = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"}
"""XLA CPU options for learners of small arrays: YNNPACK for single matrix products only, XLA's own code for
the rest. XLA's CPU default also hands reductions and element-wise chains to YNNPACK, whose per-call cost
dominates small programs: SPD's importance MLPs' weight gradients (B x C x d_gate reduced over the batch) took
4.6 of the 6.4 ms of a one-instance TMS 5-2 step (batch 512), 1.15 ms without; the 10-instance intro sweep
(F=5, H=2, benchmark (a)) runs 1.35x faster (148k against 110k model-steps/s), while the blocked 40 x 40 phase
grid (b) and the n=200 geometry sweep (c) run 3-4% slower (2 cores). Results differ from the default's in the
last bits (another summation order)."""


class Stream:
    """Shared data read on the host one chunk at a time (e.g. activations from disk): `train` calls
    `chunk(t0, n_steps)` before each chunk and hands its result to the program as `data`."""

    def chunk(self, t0: int, n_steps: int) -> Any:
        raise NotImplementedError

    def fingerprint(self) -> list[np.ndarray]:
        """Arrays a checkpoint trained on this stream must match."""
        raise NotImplementedError


def block_size(learner: Learner) -> int | None:
    """Instances per block of the compiled chunk ($SUPERPOSE_BLOCK_INSTANCES; 0 for no blocks).

    Default: on CPU, as many as fit `CACHE_BYTES` by `bytes_per_instance`, when that is at least
    `MIN_BLOCK`; otherwise (and on accelerators, which want the whole group at once) no blocks.
    """
    if "SUPERPOSE_BLOCK_INSTANCES" in os.environ:
        return int(env_number("SUPERPOSE_BLOCK_INSTANCES", 0)) or None
    if jax.devices()[0].platform != "cpu":
        return None
    n = CACHE_BYTES // learner.bytes_per_instance()
    return n if n >= MIN_BLOCK else None


def memory_budget() -> int:
    """Bytes a program may use: $SUPERPOSE_MEMORY_BUDGET_GB, else half of the device's memory limit
    (accelerators) or half of the host's available memory (CPU); on several processes the least of theirs,
    so that all cut a large group into the same pieces."""
    if "SUPERPOSE_MEMORY_BUDGET_GB" in os.environ:
        return int(env_number("SUPERPOSE_MEMORY_BUDGET_GB", 0) * 2**30)
    stats = jax.local_devices()[0].memory_stats() or {}
    if "bytes_limit" in stats:
        own = stats["bytes_limit"] // 2
    else:
        own = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES") // 2
    return processes.least(own // 2**20) * 2**20  # in MiB: JAX's integers are 32-bit


def check_fits(learner: Learner) -> None:
    """A ConfigError, before anything runs, when one instance alone needs more than `memory_budget()`."""
    need, budget = learner.bytes_per_instance(), memory_budget()
    if need > budget:
        raise ConfigError(f"one instance needs {need / 2**30:.3g} GiB, more than the memory budget of "
                          f"{budget / 2**30:.3g} GiB (sizes too large? $SUPERPOSE_MEMORY_BUDGET_GB sets the "
                          "budget)")


def graphdef(learner: Learner, seed: jax.Array, hyper: Any) -> nnx.GraphDef:
    """The static graph definition of the learner's model (traced abstractly, nothing computed)."""
    found = []

    def probe(seed, hyper):
        model, _ = learner.init(seed, hyper)
        definition, *states = nnx.split(model, nnx.Param, ...)
        found.append(definition)
        return states

    jax.eval_shape(probe, seed, hyper)
    return found[0]


def _init_one(learner: Learner, seed, hyper) -> TrainState:
    model, carry = learner.init(seed, hyper)
    _, params, frozen = nnx.split(model, nnx.Param, ...)
    return TrainState(params, learner.optimizer(hyper).init(params), carry, frozen)


def _step_one(learner: Learner, definition: nnx.GraphDef, state: TrainState, hyper, data, t):
    return update_step(learner, definition, state, hyper, learner.batch(state.carry, hyper, data, t), t)


def update_step(learner: Learner, definition: nnx.GraphDef, state: TrainState, hyper, batch, t):
    """One instance's step on a given batch: loss, gradient, optimiser update, the learner's after-update."""
    (loss, aux), grads = jax.value_and_grad(
        lambda params: learner.loss(nnx.merge(definition, params, state.frozen), batch, hyper, state.carry),
        has_aux=True,
    )(state.params)
    updates, opt_state = learner.optimizer(hyper).update(grads, state.opt_state, state.params)
    model = nnx.merge(definition, optax.apply_updates(state.params, updates), state.frozen)
    opt_state, carry = learner.after_update(model, opt_state, state.carry, aux, batch, hyper, t)
    _, params, frozen = nnx.split(model, nnx.Param, ...)
    return TrainState(params, opt_state, carry, frozen), loss


@functools.lru_cache(maxsize=64)
def compiled_init(learner: Learner):
    """vmap(init) over seeds. With several devices its output is sharded like the chunk's (without
    `out_shardings`, constant leaves such as Adam's zero moments come out replicated, and the first
    chunk would compile a second time for the sharded state it returns)."""
    return jax.jit(jax.vmap(functools.partial(_init_one, learner)), out_shardings=instance_sharding())


@functools.lru_cache(maxsize=64)
def compiled_chunk(learner: Learner, definition: nnx.GraphDef, n_steps: int, block: int | None = None):
    """jit(scan(vmap(step))) over `n_steps` steps; one compile per learner (shape group).

    With `block`, instances run `block` at a time, each block through all the steps (a remainder
    block runs last). With several devices each runs its own share (`shard_map`), blocked alike.
    """
    step = functools.partial(_step_one, learner, definition)
    per_instance = learner.data_per_instance
    step_I = jax.vmap(step, in_axes=(0, 0, 0 if per_instance else None, None), axis_name=INSTANCES)

    def chunk(state_I: TrainState, hyper_I, data, t0: jax.Array):
        steps_T = t0 + jnp.arange(n_steps)
        n_instances = jax.tree.leaves(hyper_I)[0].shape[0]
        if block is None or n_instances <= block:
            state_I, loss_TxI = jax.lax.scan(lambda s, t: step_I(s, hyper_I, data, t), state_I, steps_T)
            return state_I, loss_TxI.mean(axis=0)

        def one_instance(mapped):
            state, hyper, own_data = mapped
            own_data = own_data if per_instance else data
            state, loss_T = jax.lax.scan(lambda s, t: step(s, hyper, own_data, t), state, steps_T)
            return state, loss_T.mean()

        return jax.lax.map(one_instance, (state_I, hyper_I, data if per_instance else None), batch_size=block)

    sharding = instance_sharding()
    if sharding is not None:
        spec = sharding.spec
        # check_vma=False: JAX 0.10's varying-axes check asserts on a collective over the vmap axis inside
        # shard_map (learner.any_instance); no collective here spans devices.
        chunk = jax.shard_map(
            chunk,
            mesh=sharding.mesh,
            check_vma=False,
            in_specs=(spec, spec, spec if per_instance else PartitionSpec(), PartitionSpec()),
            out_specs=(spec, spec),
        )
    return jax.jit(chunk, donate_argnums=0, compiler_options=compiler_options(learner))


def compiler_options(learner: Learner) -> dict[str, str] | None:
    """The XLA options `learner`'s programs compile with: on CPU `CPU_COMPILER_OPTIONS` and the learner's own;
    none on accelerators."""
    if jax.default_backend() != "cpu":
        return None
    return {**CPU_COMPILER_OPTIONS, **learner.cpu_compiler_options}


def train(
    learner: Learner,
    hyper: Any,
    seeds: Sequence[int],
    *,
    data: Any = None,
    configs: Sequence[dict] = (),
    snapshot: Callable[[nnx.State], jax.Array] | None = None,
    progress: bool = True,
    desc: str = "train",
    checkpoint: Path | None = None,
) -> Trained:
    """Train a group of instances of one learner, in as few compiled programs as memory allows.

    Args:
      learner: what every instance is (its shape-fixing fields).
      hyper: per-instance hyperparameters, a pytree of arrays with the instance axis first.
      seeds: one seed per instance; every random number of an instance derives from it.
      data: input handed to every step (e.g. a feature source): one for all instances, or one per
        instance stacked on a leading axis when `learner.data_per_instance`, or a `Stream` of shared
        data read one chunk at a time.
      configs: the instances' configs as dicts, for the checkpoint's fingerprint.
      snapshot: `snapshot(params)` is kept at the end of every chunk (e.g. a weight matrix).
      checkpoint: where to keep a mid-run checkpoint (superpose.train.checkpoint); a usable one is
        resumed from. The caller removes it once the result is saved.

    A group whose instances need more than `memory_budget()` is trained in consecutive pieces of equal
    size (the last may be smaller; piece k keeps its checkpoint at `checkpoint` + `.k`); results are
    concatenated and equal the one-program run up to float round-off.
    """
    seeds = np.asarray(seeds, np.uint32)
    hyper = jax.tree.map(
        np.asarray, hyper
    )  # on the host until placed: slicing device arrays compiles each slice
    n = seeds.shape[0]
    if n == 0:
        raise ConfigError("a training group needs at least one instance")
    per_instance = learner.data_per_instance
    if per_instance and jax.tree.leaves(data)[0].shape[0] != n:
        raise ConfigError(f"{jax.tree.leaves(data)[0].shape[0]} data sources for {n} instances")
    check_fits(learner)
    per_program = max(1, memory_budget() // learner.bytes_per_instance())
    if n <= per_program:
        return _train_program(learner, hyper, seeds, data, configs, snapshot, progress, desc, checkpoint)
    cuts = range(0, n, per_program)
    parts = [
        _train_program(
            learner,
            _take_instances(hyper, i, per_program),
            seeds[i : i + per_program],
            _take_instances(data, i, per_program) if per_instance else data,
            list(configs)[i : i + per_program],
            snapshot,
            progress,
            f"{desc} [{k + 1}/{len(cuts)}]",
            checkpoint and checkpoint.with_name(f"{checkpoint.name}.{k}"),
        )
        for k, i in enumerate(cuts)
    ]
    join = functools.partial(jax.tree.map, lambda *a: np.concatenate(a))
    return Trained(
        params=join(*[p.params for p in parts]),
        carry=join(*[p.carry for p in parts]),
        loss_IxC=np.concatenate([p.loss_IxC for p in parts]),
        loss_steps_C=parts[0].loss_steps_C,
        diverged_step_I=np.concatenate([p.diverged_step_I for p in parts]),
        snapshots_IxC=None
        if parts[0].snapshots_IxC is None
        else np.concatenate([p.snapshots_IxC for p in parts]),
    )


def _take_instances(tree, start: int, size: int):
    return jax.tree.map(lambda a: a[start : start + size], tree)


def _pad_instances(tree, n_padded: int):
    """Pads the leading axis with copies of the last instance (numpy arrays stay on the host)."""

    def pad(a):
        xp = np if isinstance(a, np.ndarray) else jnp
        a = xp.asarray(a)
        return (
            xp.concatenate([a, xp.repeat(a[-1:], n_padded - a.shape[0], axis=0)])
            if n_padded > a.shape[0]
            else a
        )

    return jax.tree.map(pad, tree)


def _train_program(learner, hyper, seeds, data, configs, snapshot, progress, desc, checkpoint) -> Trained:
    """Train one group together in one compiled program, padded to a multiple of the device count."""
    n_instances = seeds.shape[0]
    sharding = instance_sharding()
    n_padded = padded_size(n_instances, sharding)
    hyper, seeds = _pad_instances(hyper, n_padded), _pad_instances(seeds, n_padded)
    if learner.data_per_instance:
        data = _pad_instances(data, n_padded)
    stamp = ""  # before the data is placed: a multi-process array cannot be read whole
    if checkpoint or processes.count() > 1:
        stamp = checkpoint_lib.fingerprint(
            [dict(c) for c in configs] + [learner.fingerprint()],
            arrays=data.fingerprint() if isinstance(data, Stream) else jax.tree.leaves(data),
        )
        processes.check_same(stamp, f"the instances or the data of {desc}")
    definition = graphdef(learner, seeds[0], jax.tree.map(lambda a: a[0], hyper))
    hyper, seeds = jax.device_put((hyper, seeds), sharding)  # sharding None: the default device
    if sharding is not None and learner.data_per_instance:
        data = jax.device_put(data, sharding)
    state = compiled_init(learner)(seeds, hyper)
    block = block_size(learner)
    state, history = loop.run_chunks(
        lambda state, t, n: compiled_chunk(learner, definition, n, block)(
            state, hyper, data.chunk(t, n) if isinstance(data, Stream) else data, np.int32(t)
        ),
        state,
        total_steps=learner.steps,
        chunk_steps=min(learner.log_every, learner.steps),
        n_instances=n_instances,
        checkpoint=checkpoint,
        fingerprint=stamp,
        snapshot=None if snapshot is None else (lambda state: snapshot(state.params)),
        progress=progress,
        desc=desc,
    )
    return Trained(
        params={
            "/".join(map(str, path)): to_host(variable[...])[:n_instances]
            for part in (state.params, state.frozen)
            for path, variable in nnx.to_flat_state(part)
        },
        carry=jax.tree.map(lambda a: to_host(_key_data(a))[:n_instances], state.carry),
        loss_IxC=history.loss_IxC,
        loss_steps_C=history.steps_C,
        diverged_step_I=history.diverged_step_I,
        snapshots_IxC=history.snapshots_IxC,
    )


def _key_data(a):
    return jax.random.key_data(a) if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key) else a


def module_from_arrays(
    make: Callable[[], nnx.Module], arrays: Mapping[str, Any] | Callable[[str], Any]
) -> nnx.Module:
    """The module `make()` builds, holding given arrays instead of fresh ones: each of its variables is looked
    up by its '/'-joined path (as `Trained.params` names them) in `arrays`, a mapping or a function of the
    path. `make` is only traced, never run; works under `jit` and `vmap`."""
    lookup = arrays.__getitem__ if isinstance(arrays, Mapping) else arrays
    definition, state = nnx.split(nnx.eval_shape(make))
    nested: dict[str, Any] = {}
    for path, _ in nnx.to_flat_state(state):
        node = nested
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = jnp.asarray(lookup("/".join(map(str, path))))
    nnx.replace_by_pure_dict(state, nested)
    return nnx.merge(definition, state)

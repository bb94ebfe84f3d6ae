"""Speed of the four workloads of the speed issue, each against its baselines in the same run.

    python benchmarks/run.py [--only a,b,c,d] [--scale 1.0]

(a) the intro sweep: 10 instances, F=5, H=2, batch 1024, 10k steps
(b) a 40 x 40 phase-diagram grid, n=2, m=1: 1,600 instances, 10k steps (timed end to end with
    superpose.engine.train; the baselines are timed on fewer steps and scaled)
(c) the geometry sweep, n=200, m=20: 8 of its densities, batch 1024
(d) 16 L1 SAEs on the Sharkey preset (d=256, G=512, 512 latents), batch 256

Rows per workload:
  engine     superpose's jit(scan(vmap(step))) in chunks of log_every steps; on CPU, many small
             instances run in cache-sized blocks (superpose.engine.block_size); (b) also without
  per-step   the same step, one jitted call per Python iteration
  (a) also: the per-step loop with JAX's default threefry generator, and a textbook port of the
             official notebook (two threefry draws per batch, einsum model, optax.adamw, one jitted
             step per iteration): the "straightforward baseline" a researcher would write
  floor      the gradient step alone, scanned, on one fixed pre-generated batch, blocked like the engine
Ratios: engine speed over per-step speed, and engine time over floor time. Compile time is
excluded (one warm-up chunk) except in (b)'s end-to-end wall time. Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose import engine, groundtruth, models, rng
from superpose import sae as sae_lib
from superpose.config import ToyConfig
from superpose.data import density_sweep
from superpose.sharding import instance_sharding, use_every_cpu_core


def _seconds(advance, state, starts) -> float:
    """Wall time of `advance(state, t) -> (state, loss)` for each t in `starts`, after one untimed
    call (the compile); each call waits for its loss, so no work is left queued."""
    state, loss = advance(state, 0)
    jax.block_until_ready(loss)
    start = time.perf_counter()
    for t in starts:
        state, loss = advance(state, t)
        jax.block_until_ready(loss)
    return time.perf_counter() - start


def _toy_state(configs):
    """As superpose.engine.train sets up a group: instances sharded over the devices (their count
    divides every workload's instance count here)."""
    static = engine.static_config(configs)
    hyper = engine.hyper_arrays(configs)
    seeds = jnp.arange(len(configs), dtype=jnp.uint32)
    if (sharding := instance_sharding()) is not None:
        hyper, seeds = jax.device_put((hyper, seeds), sharding)
    return static, hyper, engine.compiled_init(static)(seeds, hyper)


def toy_engine(configs, steps, blocks=True):
    static, hyper, state = _toy_state(configs)
    chunk = engine.compiled_chunk(static, static.log_every, engine.block_size(static) if blocks else None)
    return _seconds(lambda s, t: chunk(s, hyper, jnp.int32(t)), state, range(0, steps, static.log_every))


def toy_per_step(configs, steps):
    static, hyper, state = _toy_state(configs)
    step = jax.jit(jax.vmap(functools.partial(engine._step_one, static), in_axes=(0, 0, None)))
    return _seconds(lambda s, t: step(s, hyper, jnp.int32(t)), state, range(steps))


def toy_floor(configs, steps):
    static, hyper, state = _toy_state(configs)
    keys = jax.random.split(jax.random.key(0), len(configs))
    x_IxFxB = jax.vmap(lambda p, k: engine._sample(static, k, p))(hyper.probability_F, keys)

    def one(state, hyper, x_FxB):
        loss, grads = jax.value_and_grad(models.loss)(state.params, x_FxB, hyper.importance_F, static.model)
        tx = engine._optimizer(static, hyper.learning_rate, hyper.weight_decay)
        updates, opt_state = tx.update(grads, state.opt_state, state.params)
        return state._replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state), loss

    def instance(args):  # one instance's chunk of steps
        state, hyper, x_FxB = args
        state, loss = jax.lax.scan(lambda s, _: one(s, hyper, x_FxB), state, None, length=static.log_every)
        return state, loss.mean()

    def chunk(state, hyper, x_IxFxB):  # blocked and sharded like the engine (superpose.engine.compiled_chunk)
        block = engine.block_size(static) or len(configs)
        return jax.lax.map(instance, (state, hyper, x_IxFxB), batch_size=min(block, len(x_IxFxB)))

    sharding = instance_sharding()
    if sharding is not None:
        chunk = jax.shard_map(chunk, mesh=sharding.mesh, in_specs=sharding.spec, out_specs=sharding.spec)

    chunk = jax.jit(chunk)
    return _seconds(lambda s, _: chunk(s, hyper, x_IxFxB), state, range(0, steps, static.log_every))


def time_notebook_style(configs, steps: int) -> float:
    n_inst = len(configs)
    prob_Ix1x1 = jnp.asarray([c.feature_probability for c in configs])[:, None, None]
    importance_F = jnp.asarray(configs[0].importance_F())
    W = jax.random.normal(jax.random.key(0), (n_inst, 5, 2)) * np.sqrt(2 / 7)
    params = {"W": W, "b": jnp.zeros((n_inst, 5))}
    tx = optax.adamw(1e-3, weight_decay=0.01)

    def loss_fn(params, x):
        h = jnp.einsum("ibf,ifh->ibh", x, params["W"])
        out = jax.nn.relu(jnp.einsum("ibh,ifh->ibf", h, params["W"]) + params["b"][:, None, :])
        return (importance_F * (x - out) ** 2).mean(axis=(1, 2)).sum()

    @jax.jit
    def step(params_and_opt_state, key):
        params, opt_state = params_and_opt_state
        k_mask, k_value = jax.random.split(key)
        shape = (n_inst, 1024, 5)
        x = jnp.where(jax.random.uniform(k_mask, shape) <= prob_Ix1x1, jax.random.uniform(k_value, shape), 0.0)
        loss, grads = jax.value_and_grad(loss_fn)(params, x)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    key = jax.random.key(0)
    return _seconds(lambda s, t: step(s, jax.random.fold_in(key, t)), (params, tx.init(params)), range(steps))


def sae_setup(n_saes=16):
    source = groundtruth.sharkey_source()
    configs = [sae_lib.SAEConfig(architecture="l1", n_latents=512, sparsity_coefficient=c / 256, batch_size=256,
                                 steps=10_000, log_every=100, seed=i)
               for i, c in enumerate(np.logspace(-1.5, 0.5, n_saes))]
    static = sae_lib.static_config(configs)
    hyper = sae_lib.Hyper(jnp.asarray([c.sparsity_coefficient for c in configs], jnp.float32),
                          jnp.asarray([c.learning_rate for c in configs], jnp.float32))
    state = sae_lib._compiled_init(static, 256)(jnp.arange(n_saes, dtype=jnp.uint32), hyper)
    return source, static, hyper, state


def sae_engine(steps):
    source, static, hyper, state = sae_setup()
    chunk = sae_lib._compiled_chunk(static, static.log_every, True)
    key = rng.key(0, "hash")
    return _seconds(lambda s, t: chunk(s, hyper, source, key, jnp.int32(t)), state, range(0, steps, static.log_every))


def sae_per_step(steps):
    source, static, hyper, state = sae_setup()
    step_I = jax.vmap(functools.partial(sae_lib._train_step, static), in_axes=(0, 0, None, None))

    @jax.jit
    def step(state, key, t):
        _, x = groundtruth.sample(source, jax.random.fold_in(key, t), static.batch_size)
        return step_I(state, hyper, x, t)

    key = rng.key(0, "hash")
    return _seconds(lambda s, t: step(s, key, jnp.int32(t)), state, range(steps))


def sae_floor(steps):
    source, static, hyper, state = sae_setup()
    _, x = groundtruth.sample(source, rng.key(0, "hash"), static.batch_size)
    step_I = jax.vmap(functools.partial(sae_lib._train_step, static), in_axes=(0, 0, None, None))

    @jax.jit
    def chunk(state, t0):
        state, loss = jax.lax.scan(lambda s, t: step_I(s, hyper, x, t), state, t0 + jnp.arange(static.log_every))
        return state, loss.mean(0)

    return _seconds(lambda s, t: chunk(s, jnp.int32(t)), state, range(0, steps, static.log_every))


def report(title, n_instances, rows):
    """rows: (name, seconds, steps timed, steps the workload needs)."""
    print(f"\n{title}")
    print(f"  {'':30s} {'model-steps/s':>14s} {'ms/step':>9s} {'workload time':>14s} {'engine speed-up':>16s}")
    rates = {name: n_instances * timed / seconds for name, seconds, timed, _ in rows}
    for name, seconds, timed, needed in rows:
        print(f"  {name:30s} {rates[name]:14,.0f} {1e3 * seconds / timed:9.2f} {seconds * needed / timed:12.1f} s "
              f"{rates['engine'] / rates[name]:15.2f}x")
    print(f"  engine time / floor time: {rates['floor'] / rates['engine']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c,d")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the timed step counts")
    args = parser.parse_args()
    use_every_cpu_core()  # as the command line does
    s = lambda n: max(100, int(n * args.scale) // 100 * 100)
    print(f"devices: {jax.devices()[0].device_kind} x {jax.device_count()}, {os.cpu_count()} CPU cores")
    if "a" in args.only:
        configs = [ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9, feature_probability=float(p))
                   for p in density_sweep(10, span=1.5)]
        threefry = [dataclasses.replace(c, prng="threefry") for c in configs]
        report("(a) intro sweep: 10 instances, F=5, H=2, batch 1024", 10, [
            ("engine", toy_engine(configs, s(10_000)), s(10_000), 10_000),
            ("per-step", toy_per_step(configs, s(2_000)), s(2_000), 10_000),
            ("per-step, JAX's default PRNG", toy_per_step(threefry, s(2_000)), s(2_000), 10_000),
            ("notebook-style", time_notebook_style(threefry, s(2_000)), s(2_000), 10_000),
            ("floor", toy_floor(configs, s(10_000)), s(10_000), 10_000),
        ])
    if "b" in args.only:
        configs = [ToyConfig(n_features=2, n_hidden=1, feature_probability=float(p), importance=(1.0, float(r)))
                   for p in np.logspace(0, -2, 40) for r in np.logspace(-1, 1, 40)]
        start = time.perf_counter()
        engine.train(configs, progress=False)
        wall = time.perf_counter() - start
        report("(b) 40 x 40 phase grid, n=2, m=1: 1,600 instances, batch 1024", 1600, [
            ("engine", toy_engine(configs, s(2_000)), s(2_000), 10_000),
            ("engine, one vmap (no blocks)", toy_engine(configs, s(2_000), blocks=False), s(2_000), 10_000),
            ("per-step", toy_per_step(configs, s(300)), s(300), 10_000),
            ("floor", toy_floor(configs, s(2_000)), s(2_000), 10_000),
        ])
        print(f"  end to end (engine.train, 10,000 steps, compile included): {wall:.1f} s")
    if "c" in args.only:
        configs = [ToyConfig(n_features=200, n_hidden=20, feature_probability=float(p))
                   for p in np.logspace(0, -2, 8)]
        report("(c) geometry sweep, n=200, m=20: 8 densities, batch 1024", 8, [
            ("engine", toy_engine(configs, s(1_000)), s(1_000), 10_000),
            ("per-step", toy_per_step(configs, s(300)), s(300), 10_000),
            ("floor", toy_floor(configs, s(1_000)), s(1_000), 10_000),
        ])
    if "d" in args.only:
        report("(d) 16 L1 SAEs on the Sharkey preset (d=256, G=512, 512 latents), batch 256", 16, [
            ("engine", sae_engine(s(500)), s(500), 10_000),
            ("per-step", sae_per_step(s(200)), s(200), 10_000),
            ("floor", sae_floor(s(500)), s(500), 10_000),
        ])
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

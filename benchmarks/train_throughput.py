"""Model-steps per second of the intro sweep: compiled engine vs per-step baselines.

    python benchmarks/train_throughput.py [--instances 10] [--steps 10000] [--baseline-steps 2000]

Rows, all measured in this one run on the same sweep (F=5, H=2, batch 1024):
  engine (hash PRNG)       superpose.engine: jit(scan(vmap(step))), chunks of log_every steps
  engine (threefry PRNG)   the same program with JAX's default generator
  per-step baseline        one jitted vmap(step) dispatched per Python iteration (threefry),
                           the way a PyTorch-notebook-style loop runs
  notebook-style baseline  a textbook port of the official notebook: (I, B, F) batches, two
                           threefry draws (mask, magnitude), einsum model, optax.adamw,
                           one jitted step per Python iteration
  floor                    the gradient + AdamW step alone on one fixed pre-generated batch
Ratios are against the notebook-style baseline; compile time is excluded (one warm-up chunk).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose import models
from superpose.config import ToyConfig
from superpose.data import density_sweep
from superpose.engine import _optimizer, _step_one, compiled_chunk, compiled_init, hyper_arrays


def sweep_configs(n_instances: int, steps: int, prng: str) -> list[ToyConfig]:
    return [
        ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9, feature_probability=float(p), steps=steps, prng=prng)
        for p in density_sweep(n_instances, span=1.5)
    ]


def _init(configs):
    static = dataclasses.replace(configs[0], feature_probability=1.0)
    hyper = hyper_arrays(configs)
    seeds = jnp.arange(len(configs), dtype=jnp.uint32)
    return static, hyper, compiled_init(static)(seeds, hyper)


def time_engine(configs, steps: int) -> float:
    static, hyper, state = _init(configs)
    chunk = compiled_chunk(static, static.log_every)
    state, _ = chunk(state, hyper, jnp.int32(0))  # compile + warm up
    jax.block_until_ready(state)
    start = time.perf_counter()
    for t in range(0, steps, static.log_every):
        state, loss = chunk(state, hyper, jnp.int32(t))
        np.asarray(loss)  # the engine syncs once per chunk for the progress bar
    return time.perf_counter() - start


def time_per_step(configs, steps: int) -> float:
    static, hyper, state = _init(configs)
    step = jax.jit(jax.vmap(functools.partial(_step_one, static), in_axes=(0, 0, None)))
    state, loss = step(state, hyper, jnp.int32(0))
    jax.block_until_ready(state)
    start = time.perf_counter()
    for t in range(steps):
        state, loss = step(state, hyper, jnp.int32(t))
        loss.block_until_ready()  # an eager loop reads the loss each step
    return time.perf_counter() - start


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
    def step(params, opt_state, key):
        k_mask, k_value = jax.random.split(key)
        shape = (n_inst, 1024, 5)
        x = jnp.where(jax.random.uniform(k_mask, shape) <= prob_Ix1x1, jax.random.uniform(k_value, shape), 0.0)
        loss, grads = jax.value_and_grad(loss_fn)(params, x)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    opt_state = tx.init(params)
    key = jax.random.key(0)
    params, opt_state, loss = step(params, opt_state, key)
    loss.block_until_ready()
    start = time.perf_counter()
    for t in range(steps):
        params, opt_state, loss = step(params, opt_state, jax.random.fold_in(key, t))
        loss.block_until_ready()
    return time.perf_counter() - start


def time_floor(configs, steps: int) -> float:
    static, hyper, state = _init(configs)
    x_IxFxB = jax.vmap(lambda p, k: jnp.where(jax.random.uniform(k, (5, 1024)) < p[:, None], 0.5, 0.0))(
        hyper.probability_F, jax.random.split(jax.random.key(0), len(configs))
    )

    def one(state, hyper, x_FxB):
        loss, grads = jax.value_and_grad(models.loss)(state.params, x_FxB, hyper.importance_F, static.model)
        updates, opt_state = _optimizer(static, hyper.learning_rate, hyper.weight_decay).update(
            grads, state.opt_state, state.params
        )
        return state._replace(params=optax.apply_updates(state.params, updates), opt_state=opt_state), loss

    @jax.jit
    def chunk(state):
        body = lambda s, _: jax.vmap(one)(s, hyper, x_IxFxB)
        state, loss = jax.lax.scan(body, state, None, length=static.log_every)
        return state, loss.mean(0)

    state, _ = chunk(state)
    jax.block_until_ready(state)
    start = time.perf_counter()
    for _ in range(0, steps, static.log_every):
        state, loss = chunk(state)
        np.asarray(loss)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--baseline-steps", type=int, default=2_000, help="steps timed for the per-step baseline")
    args = parser.parse_args()
    I = args.instances
    rows = [
        ("engine (hash PRNG)", time_engine(sweep_configs(I, args.steps, "hash"), args.steps), args.steps),
        ("engine (threefry PRNG)", time_engine(sweep_configs(I, args.steps, "threefry"), args.steps), args.steps),
        (
            "per-step baseline (threefry)",
            time_per_step(sweep_configs(I, args.steps, "threefry"), args.baseline_steps),
            args.baseline_steps,
        ),
        (
            "notebook-style baseline",
            time_notebook_style(sweep_configs(I, args.steps, "threefry"), args.baseline_steps),
            args.baseline_steps,
        ),
        ("floor: step on a fixed batch", time_floor(sweep_configs(I, args.steps, "hash"), args.steps), args.steps),
    ]
    rates = {name: I * steps / seconds for name, seconds, steps in rows}
    base = rates["notebook-style baseline"]
    print(f"intro sweep: {I} instances, F=5, H=2, batch 1024; {jax.devices()[0].device_kind}")
    print(f"{'':32s} {'model-steps/s':>14s} {'ms/step':>9s} {'vs notebook':>12s} {'vs floor':>9s}")
    for name, seconds, steps in rows:
        ms = 1e3 * seconds / steps
        print(f"{name:32s} {rates[name]:14,.0f} {ms:9.3f} {rates[name] / base:11.2f}x "
              f"{rates['floor: step on a fixed batch'] / rates[name]:8.2f}x")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

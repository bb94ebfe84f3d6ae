"""Speed of superpose's workloads, each against its baselines in the same run.

    python benchmarks/run.py [--only a,b,c,d,e,f,g,h,i,j] [--scale 1.0] [--torch-python PYTHON]

(a) the intro sweep: 10 instances, F=5, H=2, batch 1024, 10k steps
(b) a 40 x 40 phase-diagram grid, n=2, m=1: 1,600 instances, 10k steps (timed end to end with
    superpose.toy.training.train; the baselines are timed on fewer steps and scaled)
(c) the geometry sweep, n=200, m=20: 8 of its densities, batch 1024
(d) 16 L1 SAEs on the Sharkey preset (d=256, G=512, 512 latents), batch 256
(f) an SPD sweep on TMS 5-2: 4 seeds x 4 importance-minimality coefficients, batch 512, against the
    same decompositions trained one at a time (the authors' code trains one per process)
(g) a transcoder sweep: 16 cross-layer transcoders on the planted two-hop circuit (4 sparsity coefficients x
    Jacobian matching on/off x 2 seeds), batch 512, against the same transcoders one at a time
(h) 8 TopK SAEs (k=4, 256 latents) on 256 Zipf-firing features in 64 dimensions, batch 1024, 5M samples each,
    end to end against SAELens's MultiSAETrainer on the same world (benchmarks/saelens_sweep.py, skipped
    without sae-lens), with the trainer's floor and the matrix-multiply floor
(i) the scaling experiment's quick sweep (30 models of Liu, Liu & Gore 2025) as a whole process, against their
    loop of one model at a time in PyTorch (benchmarks/scaling_torch.py, skipped without torch)
(e) the 10-instance study as a whole process (cold and warm compilation cache, and without figures) against a
PyTorch
    eager loop (benchmarks/torch_study.py, skipped without torch), and `superpose list`

Rows per workload:
  engine     superpose's trainer, jit(scan(vmap(step))) in chunks of log_every steps; on CPU, many small
             instances run in cache-sized blocks (superpose.train.trainer.block_size); (b) also without
  per-step   the same step, one jitted call per Python iteration
  (a) also: the per-step loop with JAX's default threefry generator, and a textbook port of the
             official notebook (two threefry draws per batch, einsum model, optax.adamw, one jitted
             step per iteration): the "straightforward baseline" a researcher would write
  floor      the trainer's step without drawing data, scanned, on one fixed pre-generated batch, blocked like
             the engine
  (h) also: matmul floor, the two products no top-k trick avoids (encoder forward x·W_enc and its weight
             gradient xᵀ·g, 2·B·D·L multiply-adds each), scanned and sharded like the engine
  (d) also: the engine on one device (no sharding), as SAE groups ran before they went through the trainer
  (f), (g) also: one-at-a-time, the engine on a single decomposition (transcoder), once per run
Ratios: engine speed over per-step speed, and engine time over floor time. Compile time is
excluded (one warm-up chunk) except in (b)'s end-to-end wall time. Peak RSS is the process's.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose.data import groundtruth
from superpose.data.sparse_features import density_sweep
from superpose.sae import model as sae_lib
from superpose.toy import training
from superpose.toy.config import ToyConfig
from superpose.train import trainer
from superpose.train.learner import INSTANCES
from superpose.train.sharding import use_every_cpu_core


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


@contextlib.contextmanager
def one_device():
    """The trainer as it runs without sharding (everything on the first device), for comparison rows."""
    real = trainer.instance_sharding
    trainer.instance_sharding = lambda: None
    trainer.compiled_init.cache_clear()  # compiled for the sharded layout
    trainer.compiled_chunk.cache_clear()
    try:
        yield
    finally:
        trainer.instance_sharding = real
        trainer.compiled_init.cache_clear()
        trainer.compiled_chunk.cache_clear()


def _group(learner, hyper, data=None):
    """As superpose.train.trainer.train sets up a group: instances sharded over the devices (their count
    divides every workload's instance count here). Returns (graph definition, hyper, data, state)."""
    n = jax.tree.leaves(hyper)[0].shape[0]
    seeds = jnp.arange(n, dtype=jnp.uint32)
    definition = trainer.graphdef(learner, seeds[0], jax.tree.map(lambda a: a[0], hyper))
    if (sharding := trainer.instance_sharding()) is not None:
        hyper, seeds = jax.device_put((hyper, seeds), sharding)
    return definition, hyper, data, trainer.compiled_init(learner)(seeds, hyper)


def engine(learner, hyper, steps, data=None, blocks=True):
    definition, hyper, data, state = _group(learner, hyper, data)
    chunk = trainer.compiled_chunk(learner, definition, learner.log_every,
                                   trainer.block_size(learner) if blocks else None)
    return _seconds(
        lambda s, t: chunk(s, hyper, data, jnp.int32(t)), state, range(0, steps, learner.log_every)
    )


def per_step(learner, hyper, steps, data=None):
    definition, hyper, data, state = _group(learner, hyper, data)
    step = jax.jit(
        jax.vmap(
            functools.partial(trainer._step_one, learner, definition),
            in_axes=(0, 0, None, None),
            axis_name=INSTANCES,
        ),
        compiler_options=trainer.compiler_options(learner),
    )
    return _seconds(lambda s, t: step(s, hyper, data, jnp.int32(t)), state, range(steps))


def floor(learner, hyper, steps, data=None):
    """The trainer's step without drawing data: every instance reuses one pre-generated batch (its own,
    or the shared one), blocked and sharded like the engine."""
    definition, hyper, data, state = _group(learner, hyper, data)
    shared = not learner.data_per_instance and data is not None
    if shared:
        carry0 = jax.tree.map(lambda a: a[0], state.carry)
        batch = learner.batch(carry0, jax.tree.map(lambda a: a[0], hyper), data, 0)
    else:
        batch = jax.vmap(
            lambda c, h, d: learner.batch(c, h, d, 0),
            in_axes=(0, 0, 0 if learner.data_per_instance else None),
        )(state.carry, hyper, data)

    one = functools.partial(trainer.update_step, learner, definition)

    def instance(args):  # one instance's chunk of steps
        state, hyper, own = args
        own = batch if shared else own
        state, loss = jax.lax.scan(lambda s, t: one(s, hyper, own, t), state, jnp.arange(learner.log_every))
        return state, loss.mean()

    def chunk(state, hyper, batch_I):  # blocked and sharded like the engine (trainer.compiled_chunk)
        n = jax.tree.leaves(hyper)[0].shape[0]
        block = trainer.block_size(learner) or n
        if block >= n:  # one vmap, its axis named as the trainer names it (learner.any_instance)
            return jax.vmap(instance, axis_name=INSTANCES)((state, hyper, None if shared else batch_I))
        return jax.lax.map(instance, (state, hyper, None if shared else batch_I), batch_size=block)

    sharding = trainer.instance_sharding()
    if sharding is not None:
        chunk = jax.shard_map(
            chunk, mesh=sharding.mesh, check_vma=False, in_specs=sharding.spec, out_specs=sharding.spec
        )
    chunk = jax.jit(chunk, compiler_options=trainer.compiler_options(learner))
    return _seconds(
        lambda s, _: chunk(s, hyper, None if shared else batch), state, range(0, steps, learner.log_every)
    )


def toy(configs):
    return training.learner(configs), training.hyper_arrays(configs)


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
        x = jnp.where(
            jax.random.uniform(k_mask, shape) <= prob_Ix1x1, jax.random.uniform(k_value, shape), 0.0
        )
        loss, grads = jax.value_and_grad(loss_fn)(params, x)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    key = jax.random.key(0)
    return _seconds(lambda s, t: step(s, jax.random.fold_in(key, t)), (params, tx.init(params)), range(steps))


def sae_group(n_saes=16):
    """(learner, hyper, data) of workload (d): L1 SAEs over a range of coefficients on one shared source."""
    configs = [
        sae_lib.SAEConfig(
            architecture="l1",
            n_latents=512,
            sparsity_coefficient=c / 256,
            batch_size=256,
            steps=10_000,
            log_every=100,
            seed=i,
        )
        for i, c in enumerate(np.logspace(-1.5, 0.5, n_saes))
    ]
    hyper = sae_lib.Hyper(
        jnp.asarray([c.sparsity_coefficient for c in configs], jnp.float32),
        jnp.asarray([c.learning_rate for c in configs], jnp.float32),
    )
    learner = sae_lib.SAELearner(sae_lib.static_config(configs), 256)
    return learner, hyper, (groundtruth.sharkey_source(), np.uint32(0))


TOPK_STEPS = 4883
"""5M samples per SAE at batch 1024."""


def topk_sweep(steps=TOPK_STEPS, n_saes=8):
    """(configs, source) of workload (h): 8 seeds of a TopK SAE on a Zipf world, magnitudes U(0, 1]."""
    configs = [
        sae_lib.SAEConfig(
            architecture="topk",
            n_latents=256,
            k=4,
            batch_size=1024,
            learning_rate=3e-4,
            steps=steps,
            log_every=100,
            seed=i,
        )
        for i in range(n_saes)
    ]
    world = groundtruth.synthetic_source(
        groundtruth.random_directions(256, 64, 0), groundtruth.zipf_probabilities(256, expected_l0=4.0)
    )
    return configs, world


def _learner_and_hyper(configs, n_dims):
    hyper = sae_lib.Hyper(
        jnp.asarray([c.sparsity_coefficient for c in configs], jnp.float32),
        jnp.asarray([c.learning_rate for c in configs], jnp.float32),
    )
    return sae_lib.SAELearner(sae_lib.static_config(configs), n_dims), hyper


def matmul_floor(configs, n_dims, steps):
    """Seconds for `steps` steps of only x·W_enc and xᵀ·g per SAE (the encoder's forward product and its
    weight gradient), one shared batch, vmapped over the SAEs and sharded like the engine."""
    c = configs[0]
    x = jax.random.normal(jax.random.key(0), (c.batch_size, n_dims))
    W = jax.random.normal(jax.random.key(1), (len(configs), n_dims, c.n_latents)) * 0.1

    def one(W):
        def step(W, _):
            g = x @ W
            return W - 1e-9 * (x.T @ g), None

        return jax.lax.scan(step, W, None, length=100)[0]

    chunk = jax.vmap(one)
    sharding = trainer.instance_sharding()
    if sharding is not None:
        W = jax.device_put(W, sharding)
        chunk = jax.shard_map(chunk, mesh=sharding.mesh, in_specs=sharding.spec, out_specs=sharding.spec)
    chunk = jax.jit(chunk)

    def advance(W, _):
        W = chunk(W)
        return W, W

    return _seconds(advance, W, range(0, steps, 100))


def topk_peer(torch_python: str, world, configs) -> tuple[float, np.ndarray] | None:
    """(training seconds, decoders) of SAELens's MultiSAETrainer on the same world, or None without
    sae-lens."""
    probe = subprocess.run([torch_python, "-c", "import sae_lens"], capture_output=True, check=False)
    if probe.returncode != 0:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(
            f"{tmp}/world.npz",
            directions=np.asarray(world.directions_GxD),
            probability=np.asarray(world.probability_G),
        )
        out = subprocess.run(
            [
                torch_python,
                str(Path(__file__).with_name("saelens_sweep.py")),
                f"{tmp}/world.npz",
                f"{tmp}/out.npz",
                "--saes",
                str(len(configs)),
                "--samples",
                str(configs[0].steps * configs[0].batch_size),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "TQDM_DISABLE": "1"},
        )
        return float(out.stdout.split()[-1]), np.load(f"{tmp}/out.npz")["W_dec"]


def topk_benchmark(steps: int, timed: int, torch_python: str) -> None:
    from superpose.measures import recovery

    configs, world = topk_sweep(steps)
    learner, hyper = _learner_and_hyper(configs, 64)
    data = (world, np.uint32(0))
    rows = [
        ("engine", engine(learner, hyper, timed, data=data), timed, steps),
        ("per-step", per_step(learner, hyper, timed // 5, data=data), timed // 5, steps),
        ("floor", floor(learner, hyper, timed, data=data), timed, steps),
        ("matmul floor", matmul_floor(configs, 64, timed), timed, steps),
    ]
    report(
        f"(h) 8 TopK SAEs (k=4, 256 latents), 256 Zipf features in 64 dims, batch 1024, {steps:,} steps",
        8,
        rows,
    )
    rates = {name: timed_steps / seconds for name, seconds, timed_steps, _ in rows}
    print(f"  engine time / matmul floor time: {rates['matmul floor'] / rates['engine']:.2f}")
    start = time.perf_counter()
    trained = sae_lib.train(configs, world, progress=False)
    wall = time.perf_counter() - start
    truth = np.asarray(world.directions_GxD)
    mcc = [recovery.mcc(recovery.cosine_matrix(truth, W)) for W in trained.params["W_dec_LxD"]]
    print(
        f"  end to end, {len(configs)} SAEs x {steps * 1024:,} samples (sae.train, compile included): "
        f"{wall:.1f} s, MCC {np.mean(mcc):.3f} ± {np.std(mcc):.3f}"
    )
    peer = topk_peer(torch_python, world, configs)
    if peer is None:
        print(f"  SAELens row skipped: {torch_python} cannot import sae_lens (pass --torch-python)")
        return
    seconds, W_dec = peer
    mcc = [recovery.mcc(recovery.cosine_matrix(truth, W)) for W in W_dec]
    print(
        f"  SAELens MultiSAETrainer, same samples (training only): {seconds:.1f} s, MCC {np.mean(mcc):.3f} ± "
        f"{np.std(mcc):.3f}; superpose is {seconds / wall:.2f}x faster"
    )


def spd_sweep():
    """(learner, hyper, data) of 16 SPD runs on one trained TMS 5-2 target."""
    from superpose import targets
    from superpose.decomposition import spd
    from superpose.decomposition.training import target_data
    from superpose.train.per_instance import hyper_arrays

    target = targets.PRESETS["tms_5-2"]
    trained = targets.train([target], progress=False)
    params = {k: v[0] for k, v in trained.params.items()}
    base = dataclasses.replace(spd.PRESETS["tms_5-2"], batch_size=512, log_every=100)
    configs = [
        dataclasses.replace(base, seed=s, importance_minimality=b)
        for s in range(4)
        for b in (1e-3, 3e-3, 1e-2, 3e-2)
    ]
    learner = spd.SPDLearner(base.static(), target.static())
    return learner, hyper_arrays(configs, spd.Hyper), target_data([target] * 16, [params] * 16)


def transcoder_sweep():
    """(learner, hyper, data) of 16 cross-layer transcoders on the planted two-hop circuit: 4 sparsity
    coefficients x Jacobian matching on/off x 2 seeds (circuits-faithfulness)."""
    from superpose import targets
    from superpose.decomposition.training import target_data
    from superpose.train.per_instance import hyper_arrays
    from superpose.transcoders import model as transcoders

    target = targets.TwoHopConfig(n_features=6, n_hidden=3, init="truth", feature_probability=0.3)
    params = {k: v[0] for k, v in targets.planted_params([target]).items()}
    base = transcoders.TranscoderConfig(kind="clt", n_latents=6, log_every=100)
    configs = [
        dataclasses.replace(base, seed=s, sparsity_coefficient=lam, jacobian_coefficient=mu)
        for s in range(2)
        for lam in (1e-3, 3e-3, 1e-2, 3e-2)
        for mu in (0.0, 1.0)
    ]
    learner = transcoders.TranscoderLearner(base.static(), target.static(), jacobian=True)
    return learner, hyper_arrays(configs, transcoders.Hyper), target_data([target] * 16, [params] * 16)


def _on_one_device(steps):
    learner, hyper, data = sae_group()
    with one_device():
        return engine(learner, hyper, steps, data=data)


TEN_STUDY = """name = "ten"
[base]
n_features = 5
n_hidden = 2
importance_decay = 0.9
[axes]
feature_probability = [1.0, 0.6, 0.36, 0.22, 0.13, 0.08, 0.046, 0.028, 0.017, 0.01]
"""


def _process_seconds(argv, env=None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def whole_process(torch_python: str) -> None:
    """(e): the 10-instance study (10k steps) as a whole process: `superpose run study.toml` (train, save,
    draw) with an empty compilation cache and again with it warm, against a PyTorch eager loop of the same
    training (benchmarks/torch_study.py) when `torch_python` can import torch; and `superpose list`."""
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "ten.toml"
        study.write_text(TEN_STUDY)
        env = {"SUPERPOSE_COMPILATION_CACHE": str(Path(tmp) / "cache"), "TQDM_DISABLE": "1"}
        superpose = [sys.executable, "-m", "superpose.app.cli"]
        listing = [_process_seconds([*superpose, "list"], env) for _ in range(3)]
        cold = _process_seconds([*superpose, "run", str(study), "--out", f"{tmp}/cold", "--no-progress"], env)
        warm = [
            _process_seconds([*superpose, "run", str(study), "--out", f"{tmp}/warm{i}", "--no-progress"], env)
            for i in range(3)
        ]
        same_work = [
            _process_seconds(
                [*superpose, "run", str(study), "--out", f"{tmp}/bare{i}", "--no-progress", "--no-figures"],
                env,
            )
            for i in range(3)
        ]
        has_torch = (
            subprocess.run([torch_python, "-c", "import torch"], capture_output=True, check=False).returncode
            == 0
        )
        peer = (
            _process_seconds([torch_python, str(Path(__file__).with_name("torch_study.py")), f"{tmp}/t.npz"])
            if has_torch
            else None
        )
    print("\n(e) the 10-instance study (F=5, H=2, batch 1024, 10k steps) as a whole process")
    print(f"  superpose list: {listing[0]:.2f} s first, {min(listing[1:]):.2f} s after")
    rows = [
        ("superpose run, empty compilation cache", cold),
        ("superpose run, warm cache", min(warm)),
        ("superpose run --no-figures, warm cache", min(same_work)),
    ]
    if peer is not None:
        rows.append(("PyTorch eager loop (train and save only)", peer))
    for name, seconds in rows:
        ratio = f"{peer / seconds:6.1f}x faster than PyTorch" if peer is not None and seconds != peer else ""
        print(f"  {name:42s} {seconds:6.2f} s  {ratio}")
    print(
        "  (each run: train, save and, without --no-figures, draw PNG and PDF; the PyTorch loop trains and "
        "saves)"
    )
    if peer is None:
        print(f"  PyTorch row skipped: {torch_python} cannot import torch (pass --torch-python)")


def scaling_sweep(torch_python: str) -> None:
    """(i): the scaling experiment's quick sweep (30 models: 5 widths x 2 weight decays x 3 frequency
    exponents, n = 100, batch 512, 2,000 steps) as a whole process, `superpose run scaling --quick
    --no-figures` with an empty compilation cache (one program per width), against Liu, Liu & Gore's loop of
    one model at a time (benchmarks/scaling_torch.py) when `torch_python` can import torch. Losses: the peer's
    beside superpose's at seed offsets 0, 1000 and 2000 (the seed spread)."""
    from superpose import load

    with tempfile.TemporaryDirectory() as tmp:
        superpose = [sys.executable, "-m", "superpose.app.cli", "run", "scaling", "--quick", "--no-figures",
                     "--no-progress"]
        walls, losses = [], []
        for offset in (0, 1000, 2000):
            env = {"SUPERPOSE_COMPILATION_CACHE": "0", "TQDM_DISABLE": "1"}
            env["SUPERPOSE_SEED_OFFSET"] = str(offset)
            walls.append(_process_seconds([*superpose, "--out", f"{tmp}/s{offset}"], env))
            runs = [load(f) for f in sorted(Path(f"{tmp}/s{offset}/results/scaling").glob("n_hidden=*"))]
            runs.sort(key=lambda r: r.config["instances"][0]["config"]["n_hidden"])
            losses.append(np.stack([r.arrays["loss"][:, -1].reshape(2, 3) for r in runs]))
        has_torch = (
            subprocess.run([torch_python, "-c", "import torch"], capture_output=True, check=False).returncode
            == 0
        )
        peer = None
        if has_torch:
            start = time.perf_counter()
            script = str(Path(__file__).with_name("scaling_torch.py"))
            subprocess.run([torch_python, script, f"{tmp}/t.npz"], check=True, stdout=subprocess.DEVNULL)
            peer = time.perf_counter() - start, np.load(f"{tmp}/t.npz")["loss"]
    print("\n(i) the scaling sweep (30 models, n=100, widths 4-16, batch 512, 2,000 steps), a whole process")
    print(f"  superpose run scaling --quick --no-figures, cold cache: {min(walls):6.2f} s (best of 3 seeds)")
    if peer is None:
        print(f"  peer skipped: {torch_python} cannot import torch (pass --torch-python)")
        return
    seconds, peer_loss = peer
    print(f"  their loop, one model at a time (PyTorch):              {seconds:6.2f} s: superpose "
          f"{seconds / min(walls):.1f}x faster")
    ours = np.stack(losses)
    low, high = ours.min(axis=0), ours.max(axis=0)
    for d, name in enumerate(("strong (wd = -1)", "weak (wd = +1)")):
        ratio = peer_loss[:, d] / ours[:, :, d].mean(axis=0)
        inside = np.mean((peer_loss[:, d] >= low[:, d] * 0.9) & (peer_loss[:, d] <= high[:, d] * 1.1))
        spread = (high[:, d] - low[:, d]) / ours[:, :, d].mean(axis=0)
        print(f"  {name}: their loss / ours {ratio.min():.2f} to {ratio.max():.2f} (median "
              f"{np.median(ratio):.2f}); our seed spread (max - min) / mean up to {spread.max():.2f}; "
              f"{inside:.0%} of theirs within our 3 seeds' range ± 10%")


def llc_benchmark(torch_python: str) -> None:
    """(j): λ̂ of TMS 6-2 models (the 6-gon and the 5-gon with a live dead-row bias, Chen et al. 2023) on
    their fixed sets of 1,000 samples, 8 chains x 1,000 full-batch SGLD draws each (burn-in 250, ε = 1e-4,
    γ = 1, nβ = n / log n), by superpose (every chain of every model in one program: cold, with its
    compilation, and warm) and by devinterp's `sample_single_chain`, one chain after another
    (benchmarks/llc_devinterp.py), on the same models, data and settings. Also superpose on 64 models at once
    (32 copies of each), where one program amortises its cost."""
    from superpose.toy import kgons
    from superpose.toy import llc as toy_llc
    from superpose.toy.training import training_set

    points = [kgons.kgon(6, 6), kgons.kgon(5, 6, "+")]
    settings = dict(chains=8, steps=1000, burn_in=250, step_size=1e-4, localization=1.0, n=1000)
    base = ToyConfig(n_features=6, n_hidden=2, data="anticorrelated", set_size=6, n_train=settings["n"])
    configs = [dataclasses.replace(base, seed=s) for s in range(len(points))]
    params = {"W_FxH": np.stack([p.W_FxH for p in points]).astype(np.float32),
              "b_F": np.stack([p.b_F for p in points]).astype(np.float32)}
    run = dict(chains=8, steps=1000, burn_in=250, step_size=1e-4, localization=1.0, progress=False)
    timings = []
    for _ in range(2):  # cold, then warm
        start = time.perf_counter()
        ours = toy_llc.estimate(configs, params, **run)
        timings.append(time.perf_counter() - start)
    many = [dataclasses.replace(c, seed=100 + i) for i in range(32) for c in configs]
    many_params = {k: np.concatenate([v] * 32) for k, v in params.items()}
    toy_llc.estimate(many, many_params, **run)
    start = time.perf_counter()
    toy_llc.estimate(many, many_params, **run)
    many_seconds = time.perf_counter() - start
    draws = settings["chains"] * settings["steps"]
    print("\n(j) λ̂ of TMS 6-2 k-gons: 8 chains x 1,000 full-batch SGLD draws on 1,000 samples per model")
    print(f"  {'':44s} {'seconds':>8s} {'chain-draws/s':>14s}")
    print(f"  {'superpose, 2 models, cold (with compilation)':44s} {timings[0]:8.2f} "
          f"{2 * draws / timings[0]:14,.0f}")
    print(f"  {'superpose, 2 models, warm':44s} {timings[1]:8.2f} {2 * draws / timings[1]:14,.0f}")
    print(f"  {'superpose, 64 models, warm':44s} {many_seconds:8.2f} {64 * draws / many_seconds:14,.0f}")
    has_devinterp = subprocess.run([torch_python, "-c", "import devinterp"], capture_output=True,
                                   check=False).returncode == 0
    if not has_devinterp:
        print(f"  peer skipped: {torch_python} cannot import devinterp (pass --torch-python)")
        return
    with tempfile.TemporaryDirectory() as tmp:
        x = np.stack([training_set(c).T for c in configs])
        np.savez(f"{tmp}/in.npz", W=params["W_FxH"], b=params["b_F"], x=x, chains=8, steps=1000, burn_in=250,
                 step_size=1e-4, localization=1.0, nbeta=float(ours.nbeta_I[0]))
        script = str(Path(__file__).with_name("llc_devinterp.py"))
        done = subprocess.run([torch_python, script, f"{tmp}/in.npz", f"{tmp}/out.npz"], check=True,
                              capture_output=True, text=True)
        seconds = float(done.stdout.split()[-1])
        theirs = np.load(f"{tmp}/out.npz")["llc"]
    print(f"  {'devinterp, 2 models, one chain at a time':44s} {seconds:8.2f} {2 * draws / seconds:14,.0f}")
    ratios = seconds / timings[0], seconds / timings[1], 64 * seconds / 2 / many_seconds
    template = "  throughput, superpose / devinterp: {:.1f}x cold, {:.1f}x warm, {:.1f}x with 64 models"
    print(template.format(*ratios))
    for i, p in enumerate(points):
        print(f"  {p.name + '-gon':7s} λ̂: superpose {ours.llc_I[i]:.2f} ± {ours.llc_std_I[i]:.2f}, devinterp "
              f"{theirs[i].mean():.2f} ± {theirs[i].std(ddof=1):.2f} (mean ± sd over 8 chains)")


def report(title, n_instances, rows):
    """rows: (name, seconds, steps timed, steps the workload needs)."""
    print(f"\n{title}")
    print(
        f"  {'':30s} {'model-steps/s':>14s} {'ms/step':>9s} {'workload time':>14s} {'engine speed-up':>16s}"
    )
    rates = {name: n_instances * timed / seconds for name, seconds, timed, _ in rows}
    for name, seconds, timed, needed in rows:
        print(
            f"  {name:30s} {rates[name]:14,.0f} {1e3 * seconds / timed:9.2f} "
            f"{seconds * needed / timed:12.1f} s "
            f"{rates['engine'] / rates[name]:15.2f}x"
        )
    print(f"  engine time / floor time: {rates['floor'] / rates['engine']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c,d,e,f,g,h,i,j")
    parser.add_argument(
        "--torch-python",
        default=sys.executable,
        help="a Python with torch (and sae-lens, for (h)) installed, for the PyTorch rows "
        "(default: this one)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the timed step counts")
    args = parser.parse_args()
    use_every_cpu_core()  # as the command line does
    s = lambda n: max(100, int(n * args.scale) // 100 * 100)
    print(f"devices: {jax.devices()[0].device_kind} x {jax.device_count()}, {os.cpu_count()} CPU cores")
    if "a" in args.only:
        configs = [
            ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9, feature_probability=float(p))
            for p in density_sweep(10, span=1.5)
        ]
        threefry = [dataclasses.replace(c, prng="threefry") for c in configs]
        report(
            "(a) intro sweep: 10 instances, F=5, H=2, batch 1024",
            10,
            [
                ("engine", engine(*toy(configs), s(10_000)), s(10_000), 10_000),
                ("per-step", per_step(*toy(configs), s(2_000)), s(2_000), 10_000),
                ("per-step, JAX's default PRNG", per_step(*toy(threefry), s(2_000)), s(2_000), 10_000),
                ("notebook-style", time_notebook_style(threefry, s(2_000)), s(2_000), 10_000),
                ("floor", floor(*toy(configs), s(10_000)), s(10_000), 10_000),
            ],
        )
    if "b" in args.only:
        configs = [
            ToyConfig(n_features=2, n_hidden=1, feature_probability=float(p), importance=(1.0, float(r)))
            for p in np.logspace(0, -2, 40)
            for r in np.logspace(-1, 1, 40)
        ]
        start = time.perf_counter()
        training.train(configs, progress=False)
        wall = time.perf_counter() - start
        report(
            "(b) 40 x 40 phase grid, n=2, m=1: 1,600 instances, batch 1024",
            1600,
            [
                ("engine", engine(*toy(configs), s(2_000)), s(2_000), 10_000),
                (
                    "engine, one vmap (no blocks)",
                    engine(*toy(configs), s(2_000), blocks=False),
                    s(2_000),
                    10_000,
                ),
                ("per-step", per_step(*toy(configs), s(300)), s(300), 10_000),
                ("floor", floor(*toy(configs), s(2_000)), s(2_000), 10_000),
            ],
        )
        print(f"  end to end (superpose.toy.training.train, 10,000 steps, compile included): {wall:.1f} s")
    if "c" in args.only:
        configs = [
            ToyConfig(n_features=200, n_hidden=20, feature_probability=float(p))
            for p in np.logspace(0, -2, 8)
        ]
        report(
            "(c) geometry sweep, n=200, m=20: 8 densities, batch 1024",
            8,
            [
                ("engine", engine(*toy(configs), s(1_000)), s(1_000), 10_000),
                ("per-step", per_step(*toy(configs), s(300)), s(300), 10_000),
                ("floor", floor(*toy(configs), s(1_000)), s(1_000), 10_000),
            ],
        )
    if "d" in args.only:
        report(
            "(d) 16 L1 SAEs on the Sharkey preset (d=256, G=512, 512 latents), batch 256",
            16,
            [
                ("engine", engine(*sae_group()[:2], s(500), data=sae_group()[2]), s(500), 10_000),
                ("engine, one device", _on_one_device(s(500)), s(500), 10_000),
                ("per-step", per_step(*sae_group()[:2], s(200), data=sae_group()[2]), s(200), 10_000),
                ("floor", floor(*sae_group()[:2], s(500), data=sae_group()[2]), s(500), 10_000),
            ],
        )
    if "f" in args.only:
        learner, hyper, data = spd_sweep()
        with one_device():  # a single decomposition cannot be split over devices
            one_at_a_time = sum(
                engine(
                    learner,
                    jax.tree.map(lambda a, i=i: a[i : i + 1], hyper),
                    s(500),
                    data=jax.tree.map(lambda a, i=i: a[i : i + 1], data),
                )
                for i in range(16)
            )
        report(
            "(f) SPD on TMS 5-2: 16 decompositions (4 seeds x 4 coefficients), C=20, batch 512",
            16,
            [
                ("engine", engine(learner, hyper, s(500), data=data), s(500), 40_000),
                ("one at a time", one_at_a_time, s(500), 40_000),
                ("floor", floor(learner, hyper, s(500), data=data), s(500), 40_000),
            ],
        )
    if "g" in args.only:
        learner, hyper, data = transcoder_sweep()
        with one_device():
            one_at_a_time = sum(
                engine(
                    learner,
                    jax.tree.map(lambda a, i=i: a[i : i + 1], hyper),
                    s(1_000),
                    data=jax.tree.map(lambda a, i=i: a[i : i + 1], data),
                )
                for i in range(16)
            )
        report(
            "(g) cross-layer transcoders on the two-hop circuit: 16 (4 λ x Jacobian on/off x 2 seeds), batch "
            "512",
            16,
            [
                ("engine", engine(learner, hyper, s(1_000), data=data), s(1_000), 10_000),
                ("one at a time", one_at_a_time, s(1_000), 10_000),
                ("floor", floor(learner, hyper, s(1_000), data=data), s(1_000), 10_000),
            ],
        )
    if "h" in args.only:
        topk_benchmark(max(100, int(TOPK_STEPS * args.scale)), s(1_000), args.torch_python)
    if "e" in args.only:
        whole_process(args.torch_python)
    if "i" in args.only:
        scaling_sweep(args.torch_python)
    if "j" in args.only:
        llc_benchmark(args.torch_python)
    print(f"\npeak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()

"""The local learning coefficient (LLC) of trained instances, by localised posterior sampling.

Lau, Furman, Wang, Murfet & Wei (2023), "The Local Learning Coefficient": for a model at w* trained on n
samples,

    λ̂(w*) = nβ (E_w[L_n(w)] − L_n(w*)),   w ~ exp(−nβ L_n(w) − γ/2 ‖w − w*‖²),   β = 1 / log n by default,

the expectation taken over SGLD draws (superpose.train.sampling). A chain is a learner like any other: the
`LLCLearner` wraps the learner that trained the instance (its model, data and loss), starts the model at w*
and steps it with the sampler instead of the optimiser, recording L at every draw. The trainer runs
instances x chains x hyperparameters in one compiled program (`estimate`).

The data a chain sees: the instance's own fixed training set when it has one (`batch_size` of it per draw,
all of it with 0), or, for models trained on fresh samples, a fixed set of `n` samples the base learner
draws from the instance's seed. L_n(w*) is the loss of the whole set at the centre.

Trusting λ̂ (`diagnose`): a chain whose loss became non-finite diverged (lower the step size); λ̂ < 0
means the chains found lower loss than the centre (not a local minimum: train it longer, or raise γ); a
loss trace still rising in its last quarter has not reached equilibrium (more draws or a larger step); a
spread over chains above half the mean says the chains disagree (more draws, smaller step).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.train import rng, sampling, trainer
from superpose.train.learner import Learner
from superpose.validate import ConfigError

NOISE_STREAM = 0x11C
"""Folded with the chain number into an instance's seed for its sampler noise."""


@dataclasses.dataclass(frozen=True)
class Chains:
    """What fixes a sampling program's shape: the draws and how a draw reads the data."""

    steps: int = 200
    """Draws per chain (every step is a draw; the first `burn_in` are left out of λ̂)."""
    burn_in: int = 0
    batch_size: int = 0
    """Samples of the fixed set per draw (0: all of it, full-batch SGLD)."""
    sampler: str = "sgld"
    """`sgld` or `rmsprop_sgld` (superpose.train.sampling)."""
    log_every: int = 100

    def __post_init__(self):
        if self.sampler not in sampling.SAMPLERS:
            raise ConfigError(f"unknown sampler {self.sampler!r} (samplers: {', '.join(sampling.SAMPLERS)})")
        if not 0 <= self.burn_in < self.steps:
            raise ConfigError(f"burn_in must be in [0, steps), got {self.burn_in} of {self.steps}")


class Hyper(NamedTuple):
    base: Any
    """The base learner's per-instance hyperparameters."""
    center: dict[str, jax.Array]
    """w*: the model's parameters by '/'-joined path (as `Trained.params` names them)."""
    step_size: jax.Array
    nbeta: jax.Array
    localization: jax.Array
    chain: jax.Array
    """The chain's number: its noise is drawn from the instance's seed and this."""


class Carry(NamedTuple):
    base: Any
    init_loss: jax.Array
    """L_n(w*) on the whole fixed set."""
    trace_T: jax.Array
    """L of each draw's batch at the draw's parameters (before its step)."""


@dataclasses.dataclass(frozen=True)
class LLCLearner(Learner):
    """Chains of a sampler started at trained parameters (module doc)."""

    base: Learner
    config: Chains

    @property
    def data_per_instance(self) -> bool:
        return self.base.data_per_instance

    @property
    def cpu_compiler_options(self):
        return self.base.cpu_compiler_options

    def init(self, seed, hyper: Hyper):
        model, base_carry = self.base.init(seed, hyper.base)
        _set_params(model, hyper.center)
        full = self.base.batch(base_carry, hyper.base, None, jnp.int32(0))
        init_loss, _ = self.base.loss(model, full, hyper.base, base_carry)
        return model, Carry(base_carry, init_loss, jnp.zeros((self.config.steps,), jnp.float32))

    def optimizer(self, hyper: Hyper):
        key = jax.random.fold_in(jax.random.fold_in(rng.key(0), NOISE_STREAM), hyper.chain)
        return sampling.langevin(
            key,
            hyper.step_size,
            hyper.nbeta,
            hyper.localization,
            preconditioned=self.config.sampler != "sgld",
        )

    def batch(self, carry: Carry, hyper: Hyper, data, t):
        full = self.base.batch(carry.base, hyper.base, data, t)
        if self.config.batch_size <= 0:
            return full
        n = jax.tree.leaves(full)[0].shape[-1]
        key = jax.random.fold_in(jax.random.fold_in(rng.key(hyper.chain), NOISE_STREAM + 1), t)
        pick = jax.random.randint(key, (self.config.batch_size,), 0, n)
        return jax.tree.map(lambda a: jnp.take(a, pick, axis=-1), full)

    def loss(self, model, batch, hyper: Hyper, carry: Carry):
        loss, _ = self.base.loss(model, batch, hyper.base, carry.base)
        return loss, loss

    def after_update(self, model, opt_state, carry: Carry, aux, batch, hyper, t):
        return opt_state, carry._replace(trace_T=carry.trace_T.at[t].set(aux))

    def bytes_per_instance(self) -> int:
        return self.base.bytes_per_instance() + 4 * self.config.steps

    def fingerprint(self) -> dict[str, Any]:
        return {"chains": dataclasses.asdict(self.config), "base": self.base.fingerprint()}


def _set_params(model: nnx.Module, center: Mapping[str, jax.Array]) -> None:
    """Replace every `nnx.Param` of `model` by `center`'s array of the same '/'-joined path."""
    for path, variable in nnx.iter_graph(model):
        if isinstance(variable, nnx.Param):
            variable[...] = jnp.asarray(center["/".join(map(str, path))], variable[...].dtype)


class Estimate(NamedTuple):
    """λ̂ of each instance over its chains, with what to trust it by; arrays instance axis first."""

    llc_I: np.ndarray
    """Mean λ̂ over chains."""
    llc_std_I: np.ndarray
    """Standard deviation of the chains' λ̂."""
    llc_IxK: np.ndarray
    """Each chain's λ̂."""
    trace_IxKxT: np.ndarray
    """Each chain's loss at every draw."""
    init_loss_I: np.ndarray
    nbeta_I: np.ndarray
    warnings: list[list[str]]
    """Per instance: what looks wrong, and what to change (`diagnose`)."""


def default_nbeta(n: int) -> float:
    """nβ at β* = 1 / log n (Watanabe's WBIC temperature)."""
    if n < 2:
        raise ConfigError(f"nβ needs at least 2 samples, got {n}")
    return n / math.log(n)


def estimate(
    base: Learner,
    base_hyper: Any,
    seeds,
    centers: Mapping[str, np.ndarray],
    *,
    n: int,
    chains: int = 4,
    settings: Chains = Chains(),
    step_size=1e-3,
    nbeta=None,
    localization=100.0,
    data: Any = None,
    progress: bool = True,
    desc: str = "llc",
) -> Estimate:
    """λ̂ of I trained instances of `base` (their per-instance `base_hyper` and `seeds`, and their parameters
    `centers` by path, instance axis first), each from `chains` chains, all in one program.

    `n` is the size of the data the instances' loss averages over (nβ = n / log n unless `nbeta` is given);
    `step_size`, `nbeta` and `localization` may be one number or one per instance."""
    seeds = np.asarray(seeds, np.uint32)
    n_models = seeds.shape[0]
    nbeta = default_nbeta(n) if nbeta is None else nbeta

    def per_model(value):
        return np.broadcast_to(np.asarray(value, np.float32), (n_models,))

    hyper = Hyper(
        base=base_hyper,
        center={k: np.asarray(v) for k, v in centers.items()},
        step_size=per_model(step_size),
        nbeta=per_model(nbeta),
        localization=per_model(localization),
        chain=np.zeros(n_models, np.uint32),
    )
    if np.any(hyper.step_size <= 0) or np.any(hyper.nbeta <= 0) or np.any(hyper.localization < 0):
        raise ConfigError("step size and nβ must be positive and the localisation at least 0")
    repeat = lambda a: np.repeat(np.asarray(a), chains, axis=0)  # noqa: E731 - instance-major: i * K + k
    hyper = jax.tree.map(repeat, hyper)._replace(
        chain=(np.arange(n_models * chains, dtype=np.uint32) % chains) + np.repeat(seeds, chains) * 7919
    )
    learner = LLCLearner(base, settings)
    trained = trainer.train(
        learner,
        hyper,
        np.repeat(seeds, chains),
        data=jax.tree.map(repeat, data) if base.data_per_instance else data,
        progress=progress,
        desc=desc,
    )
    trace = np.asarray(trained.carry.trace_T, np.float64).reshape(n_models, chains, -1)
    init_loss = np.asarray(trained.carry.init_loss, np.float64).reshape(n_models, chains)[:, 0]
    kept = trace[:, :, settings.burn_in :]
    nbeta_I = hyper.nbeta[::chains].astype(np.float64)
    llc = nbeta_I[:, None] * (kept.mean(axis=2) - init_loss[:, None])
    return Estimate(
        llc_I=llc.mean(axis=1),
        llc_std_I=llc.std(axis=1, ddof=1) if chains > 1 else np.zeros(n_models),
        llc_IxK=llc,
        trace_IxKxT=trace,
        init_loss_I=init_loss,
        nbeta_I=nbeta_I,
        warnings=[diagnose(llc[i], kept[i]) for i in range(n_models)],
    )


def diagnose(llc_K: np.ndarray, trace_KxT: np.ndarray) -> list[str]:
    """What looks wrong with one instance's chains, each with what to change (module doc)."""
    found = []
    if not np.all(np.isfinite(trace_KxT)):
        bad = int(np.sum(~np.all(np.isfinite(trace_KxT), axis=1)))
        found.append(f"{bad} of {len(llc_K)} chains diverged: lower the step size")
        return found
    mean = float(np.mean(llc_K))
    if mean < 0:
        found.append(
            f"λ̂ = {mean:.3g} < 0: the chains found lower loss than the centre, which is not a local "
            "minimum; train it longer or raise the localisation"
        )
    quarter = trace_KxT.shape[1] // 4
    if quarter >= 2 and len(llc_K) > 1:  # the last quarter against the one before, chain by chain
        last, before = (
            trace_KxT[:, -quarter:].mean(axis=1),
            trace_KxT[:, -2 * quarter : -quarter].mean(axis=1),
        )
        rise, error = np.mean(last - before), np.std(last - before, ddof=1) / np.sqrt(len(llc_K))
        scale = abs(np.mean(last) - np.mean(trace_KxT[:, 0]))
        if rise > 3 * error and rise > 0.05 * scale:
            found.append(
                f"the loss trace still rises ({rise / max(scale, 1e-30):.0%} of its climb over the "
                "last quarter): more draws or a larger step size"
            )
    if len(llc_K) > 1 and abs(mean) > 0 and np.std(llc_K, ddof=1) > 0.5 * abs(mean):
        found.append(
            f"the chains disagree (spread {np.std(llc_K, ddof=1):.3g} around {mean:.3g}): more "
            "draws or a smaller step size"
        )
    return found

"""The contract between the trainer and anything that learns.

A `Learner` says how to train ONE instance: its model (a flax NNX module with fresh
parameters), its optimiser, where each step's batch comes from, its loss, and, where it
needs one, what happens after each update (decoder renormalisation, dead-latent
resampling, a running threshold). The trainer (superpose.train.trainer) owns everything
else: `jit(scan(vmap(step)))`, sharding over devices, CPU cache blocks, memory pieces,
the host loop, checkpoints and divergence.

A learner object holds only what fixes the compiled program's shape (sizes, step counts,
the model's name, schedule), so it is hashable: instances that share it train in one
program. What may differ between instances without changing shapes (learning rate,
penalty coefficients, feature probabilities) arrives as per-instance `hyper` arrays, so a
new value never recompiles.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

import jax
import optax
from flax import nnx

INSTANCES = "vmapped_instances"
"""The name of the axis the trainer vmaps the step over (a device's share of the instances)."""


def any_instance(flag: jax.Array) -> jax.Array:
    """True when `flag` holds for any instance stepped together with this one (in one vmap over `INSTANCES`
    on one device); `flag` itself outside such a vmap.

    A `lax.cond` on a per-instance flag under vmap runs both branches for every instance. On this group-wide
    flag it stays a real branch, so a step can skip work no instance of its group needs (the AuxK loss while
    no latent is dead); instances that do not need it must then get the same result from the branch."""
    try:
        return jax.lax.pmax(flag, INSTANCES)
    except NameError:  # not under the trainer's named vmap: decide per instance
        return flag


class Learner(abc.ABC):
    """How to train one instance (module doc). Subclasses are frozen dataclasses."""

    config: Any
    """The group's static config: whatever fixes the program's shape, with at least `steps` and
    `log_every`."""
    data_per_instance: bool = False
    """True: the `data` handed to `train` has a leading instance axis (one source per instance); False:
    shared."""
    cpu_compiler_options: Mapping[str, str] = {}
    """XLA options for this learner's compiled chunks on CPU, over `trainer.CPU_COMPILER_OPTIONS`."""

    @property
    def steps(self) -> int:
        """Training steps."""
        return self.config.steps

    @property
    def log_every(self) -> int:
        """Steps per compiled chunk: the host sees the program (loss, progress, checkpoints) only this
        often."""
        return self.config.log_every

    @abc.abstractmethod
    def init(self, seed: jax.Array, hyper: Any) -> tuple[nnx.Module, Any]:
        """The model with fresh parameters and the learner's own carry (data key, counters, a fixed
        training set), both from the instance's `seed`."""

    @abc.abstractmethod
    def optimizer(self, hyper: Any) -> optax.GradientTransformation:
        """The optax optimiser of one instance (its learning rate can come from `hyper`)."""

    @abc.abstractmethod
    def batch(self, carry: Any, hyper: Any, data: Any, t: jax.Array) -> Any:
        """The batch of step `t`; `data` is this instance's (or the shared) input handed to `train`."""

    @abc.abstractmethod
    def loss(self, model: nnx.Module, batch: Any, hyper: Any, carry: Any) -> tuple[jax.Array, Any]:
        """(scalar loss to minimise, auxiliary outputs for `after_update`)."""

    @abc.abstractmethod
    def bytes_per_instance(self) -> int:
        """Memory one instance needs inside a compiled chunk (parameters, optimiser state, one step's
        activations, any fixed data), used to split groups to fit memory and size CPU cache blocks."""

    def after_update(
        self, model: nnx.Module, opt_state: Any, carry: Any, aux: Any, batch: Any, hyper: Any, t: jax.Array
    ) -> tuple[Any, Any]:
        """Runs after each optimiser update. May change `model` in place; returns (opt_state, carry)."""
        return opt_state, carry

    def fingerprint(self) -> dict[str, Any]:
        """What a checkpoint of this learner was written for, besides the per-instance configs."""
        return {}

"""What every method that learns from a target shares (SPD, APD, transcoders): the registry of methods and
one program per group of decompositions, each of its own target.

A method is one class (`class SPD(Method, name="spd")`) that names its config class and defines `train` (a
group in one program) and `evaluate` (one run against its target's truth); `superpose.decomposition.group`
trains, scores, saves and loads any registered method by its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from superpose import targets as targets_lib
from superpose.registry import Registered, Registry
from superpose.targets import TargetConfig
from superpose.train import trainer
from superpose.train.per_instance import hyper_arrays, shared_static
from superpose.validate import ConfigError


class Method(Registered):
    """A decomposition (or replacement) method: `config` is its config class (a frozen dataclass with
    `to_dict`, `static` and `seed`)."""

    registry = Registry("decomposition method", required=("train", "evaluate"))
    config: ClassVar[type]

    @staticmethod
    def train(configs: Sequence, target_configs: Sequence[TargetConfig],
              target_params: Sequence[dict[str, np.ndarray]], *, progress: bool, desc: str,
              checkpoint) -> trainer.Trained:
        """Decompose target k with configs[k], every k in one program."""
        raise NotImplementedError

    @staticmethod
    def evaluate(config, target: TargetConfig, params: dict[str, np.ndarray],
                 target_params: dict[str, np.ndarray]) -> dict[str, Any]:
        """One run's metrics against its target's truth (host numpy)."""
        raise NotImplementedError


METHODS = Method.registry


def target_inputs(target: TargetConfig, key: jax.Array, data: dict, batch_size: int) -> jax.Array:
    """A batch from the target's input distribution at this instance's feature probability."""
    return targets_lib.TARGETS.get(target.kind).draw(target, key, data["feature_probability"], batch_size)


def target_data(target_configs: Sequence[TargetConfig], params: Sequence[dict[str, np.ndarray]]) -> dict:
    """The per-instance `data` of an SPD group: each decomposition's target arrays and feature probability."""
    return {
        "params": {k: jnp.asarray(np.stack([p[k] for p in params])) for k in params[0]},
        "feature_probability": jnp.asarray([c.feature_probability for c in target_configs], jnp.float32),
    }


def train_group(method: str, learner_class: type, hyper_class: type, configs: Sequence,
                target_configs: Sequence[TargetConfig], target_params: Sequence[dict[str, np.ndarray]], *,
                progress: bool, desc: str, checkpoint) -> trainer.Trained:
    """One decomposition per target, all with one `learner_class(static config, static target)`, in one
    program (what `spd.train` and `apd.train` share)."""
    if not configs or len(configs) != len(target_configs) or len(configs) != len(target_params):
        raise ConfigError(f"{method}.train needs one target (config and arrays) per decomposition")
    learner = learner_class(shared_static(configs, "decompositions"),
                            shared_static(target_configs, "their targets"))
    return trainer.train(
        learner,
        hyper_arrays(configs, hyper_class),
        [c.seed for c in configs],
        data=target_data(target_configs, target_params),
        configs=[c.to_dict() | {"target": t.to_dict()} for c, t in zip(configs, target_configs)],
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )

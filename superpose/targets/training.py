"""Training a group of same-shape targets in one program, and reading trained or planted ones back."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose.targets.target import TARGETS, Target, TargetConfig
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import shared_static


def schedule(name: str, steps: int) -> optax.Schedule:
    """The learning-rate shape (multiplied by the instance's rate): constant, or cosine decay to 0."""
    return optax.cosine_decay_schedule(1.0, steps) if name == "cosine" else optax.constant_schedule(1.0)


def hyper_arrays(configs: Sequence[TargetConfig]) -> dict[str, jax.Array]:
    """Every per-instance field of the targets but the seed, one float32 array each (instance axis first)."""
    fields = [f for f in type(configs[0]).per_instance_fields() if f != "seed"]
    return {f: jnp.asarray([getattr(c, f) for c in configs], jnp.float32) for f in fields}


@dataclasses.dataclass(frozen=True)
class TargetLearner(Learner):
    """Trains a target with AdamW on its own labels (superpose.train.learner)."""

    config: TargetConfig

    def init(self, seed, hyper):
        init_key, data_key = jax.random.split(rng.key(seed))
        model = self.config.model(init_key)
        model.set_hyper(hyper)
        return model, data_key

    def optimizer(self, hyper):
        shape = schedule(self.config.schedule, self.config.steps)
        return optax.adamw(lambda count: hyper["learning_rate"] * shape(count),
                           weight_decay=hyper["weight_decay"])

    def batch(self, data_key, hyper, data, t):
        c = self.config
        return TARGETS.get(c.kind).draw(
            c, jax.random.fold_in(data_key, t), hyper["feature_probability"], c.batch_size
        )

    def loss(self, model: Target, x_BxF, hyper, carry):
        return model.loss(x_BxF), None

    def bytes_per_instance(self) -> int:
        c = self.config
        n_params = sum(
            math.prod(leaf.shape)
            for leaf in jax.tree.leaves(nnx.eval_shape(lambda: c.model(jax.random.key(0))))
        )
        width = TARGETS.get(c.kind).activation_width(c)
        return int(4 * (4 * n_params + 4 * c.batch_size * width))


def group_config(configs: Sequence[TargetConfig]) -> TargetConfig:
    return shared_static(configs, "targets")


def train(
    configs: Sequence[TargetConfig], *, progress: bool = True, desc: str = "targets", checkpoint=None
) -> trainer.Trained:
    """Train a group of same-shape targets in one program; params by name (W, b, I, W_E, W_in, W_out)."""
    return trainer.train(
        TargetLearner(group_config(configs)),
        hyper_arrays(configs),
        [c.seed for c in configs],
        configs=[c.to_dict() for c in configs],
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )


def from_arrays(config: TargetConfig, params: dict[str, Any] | Callable[[str], Any]) -> Target:
    """The target `config` describes, holding `params` (one instance; works under jit and vmap)."""
    return trainer.module_from_arrays(lambda: config.model(jax.random.key(0)), params)


def planted_params(configs: Sequence[TargetConfig]) -> dict[str, np.ndarray]:
    """The variables of planted targets (`config.planted`), stacked over instances, named as `train` names
    them."""
    states = [nnx.to_flat_state(nnx.state(c.model(jax.random.key(0)))) for c in configs]
    return {
        "/".join(map(str, path)): np.stack([np.asarray(dict(s)[path][...]) for s in states])
        for path, _ in states[0]
    }


def one_hot_check(config: TargetConfig, model: Target) -> dict[str, Any]:
    """The sanity check of the target's reference recipe on one-hot inputs (`Target.one_hot_check`)."""
    return TARGETS.get(config.kind).one_hot_check(config, model)

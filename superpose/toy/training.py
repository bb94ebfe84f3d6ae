"""Training toy models: the `ToyLearner` the trainer runs, and `train` for a group of `ToyConfig`s.

A `ToyConfig` describes one instance; its static fields (superpose.toy.config) make the
`ToyLearner`, and instances that share them train in one compiled program
(superpose.train.trainer). The per-instance fields (feature probability, importance,
learning rate, weight decay, seed) become `Hyper` arrays, so a new sparsity reuses the
compiled program.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose.data.sparse_features import sample_structured
from superpose.toy.adversarial import attack_directions
from superpose.toy.config import ToyConfig
from superpose.toy.models import MODELS, ToyModel
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import shared_static
from superpose.validate import ConfigError

ATTACK_STREAM = 0x5EED_A77C
"""Folded into a step's data key to draw which feature each input's attack targets."""
NORMAL_BIAS_STREAM = 2
"""Folded into the init key to draw b of `init = "normal"` (the models draw W from the init key itself)."""


class Hyper(NamedTuple):
    """Per-instance hyperparameters (leading axis I inside the program)."""

    probability_F: jax.Array
    importance_F: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array
    hidden_l1: jax.Array
    attack_fraction: jax.Array


class Carry(NamedTuple):
    data_key: jax.Array
    train_x_FxT: jax.Array | None = None
    """The fixed training set when `n_train` > 0 (drawn once, at init, from the data key)."""


@dataclasses.dataclass(frozen=True)
class ToyLearner(Learner):
    """A toy model trained on its synthetic data with AdamW (superpose.train.learner)."""

    config: ToyConfig
    """The group's static fields; per-instance fields are at their defaults."""
    hidden_penalty: bool = False
    """Some instance has `hidden_l1` > 0: the loss includes the penalty (off, the program is the plain
    one)."""
    adversarial: bool = False
    """Some instance has `attack_fraction` > 0: every step attacks its batch."""
    cpu_compiler_options = trainer.YNN_DOTS_ONLY

    def model_class(self) -> type[ToyModel]:
        return MODELS.get(self.config.model)

    def keys(self, seed) -> tuple[jax.Array, jax.Array]:
        """(init_key, data_key) of an instance: every random number of a run derives from its seed."""
        init_key, data_key = jax.random.split(rng.key(seed, self.config.prng))
        return init_key, data_key

    def sample(self, key: jax.Array, probability_F: jax.Array) -> jax.Array:
        """One batch of the config's data (a training set of `n_train` points, or `batch_size` fresh ones)."""
        c = self.config
        x_FxB = sample_structured(
            key,
            probability_F,
            c.batch(),
            kind=c.data,
            set_size=c.set_size,
            signed=self.model_class().signed_inputs,
        )
        if c.feature_max != 1.0:
            x_FxB = x_FxB * c.feature_max
        if c.normalize:
            x_FxB = x_FxB / jnp.maximum(jnp.linalg.norm(x_FxB, axis=0, keepdims=True), 1e-12)
        return x_FxB

    def init(self, seed, hyper: Hyper):
        init_key, data_key = self.keys(seed)
        model = self.model_class()(self.config.n_features, self.config.n_hidden, init_key)
        if self.config.init != "xavier":  # every weight matrix W_* to the `init` scale (ToyConfig.init)
            for name, variable in vars(model).items():
                if name.startswith("W_") and isinstance(variable, nnx.Param):
                    variable[...] = variable[...] * self.config.init_scale()
        if self.config.init == "normal":  # and b ~ N(0, 1) (Liu, Liu & Gore 2025)
            bias_key = jax.random.fold_in(init_key, NORMAL_BIAS_STREAM)
            model.b_F[...] = jax.random.normal(bias_key, model.b_F.shape)
        train_x = self.sample(data_key, hyper.probability_F) if self.config.n_train > 0 else None
        return model, Carry(data_key, train_x)

    def optimizer(self, hyper: Hyper):
        c = self.config
        if c.schedule == "warmup_cosine":
            end = c.final_learning_rate
            shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, c.warmup_steps, c.steps, end)
        else:
            shape = optax.constant_schedule(1.0)
        learning_rate = lambda count: hyper.learning_rate * shape(count)
        if c.optimizer == "sgd":
            return optax.chain(optax.add_decayed_weights(hyper.weight_decay), optax.sgd(learning_rate))
        if c.weight_decay_form == "adamw":
            return optax.adamw(learning_rate, weight_decay=hyper.weight_decay)
        return optax.chain(
            optax.scale_by_adam(),
            optax.masked(signed_row_decay(hyper.weight_decay), _weights_only),
            optax.scale_by_learning_rate(learning_rate),
        )

    def batch(self, carry: Carry, hyper: Hyper, data, t):
        """x_FxB, and with `adversarial` also the key that picks each input's attacked feature."""
        step_key = jax.random.fold_in(carry.data_key, t)
        x_FxB = carry.train_x_FxT if self.config.n_train > 0 else self.sample(step_key, hyper.probability_F)
        if self.adversarial:
            return x_FxB, jax.random.fold_in(step_key, ATTACK_STREAM)
        return x_FxB

    def loss(self, model: ToyModel, batch, hyper: Hyper, carry):
        if not (self.adversarial or self.hidden_penalty):
            return model.loss(batch, hyper.importance_F), None
        x_FxB, attack_key = batch if self.adversarial else (batch, None)
        inputs_FxB = x_FxB
        if self.adversarial:  # the attack is the optimum for the current weights, held fixed (Danskin)
            direction_FxF = attack_directions(jax.lax.stop_gradient(model.W_FxH[...]))
            feature_B = jax.random.randint(attack_key, (x_FxB.shape[1],), 0, x_FxB.shape[0])
            eps_B = hyper.attack_fraction * jnp.linalg.norm(x_FxB, axis=0)
            inputs_FxB = x_FxB + direction_FxF[feature_B].T * eps_B
        h_HxB = model.hidden(inputs_FxB)
        loss = jnp.mean(hyper.importance_F[:, None] * (model.target(x_FxB) - model.readout(h_HxB)) ** 2)
        if self.hidden_penalty:
            loss = loss + hyper.hidden_l1 * jnp.mean(jnp.sum(jnp.abs(h_HxB), axis=0))
        return loss, None

    def bytes_per_instance(self) -> int:
        """Float32: parameters with their two Adam moments and gradient, about eight (F + H) x B activation
        buffers of one step, the training set."""
        c = self.config
        f, h, b = c.n_features, c.n_hidden, c.batch()
        shapes = jax.eval_shape(lambda: self.model_class()(f, h, jax.random.key(0)))
        n_params = sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))
        return int(4 * (4 * n_params + 8 * b * (f + h) + f * c.n_train))


def signed_row_decay(weight_decay: jax.Array, eps: float = 1e-8) -> optax.GradientTransformation:
    """ToyConfig's `weight_decay_form = "signed_rows"` (Liu, Liu & Gore 2025), before the learning rate: adds
    wd · W to the update when wd ≥ 0 (AdamW's decay), and |wd| · W_i (1 − 1 / (‖W_i‖ + eps)) to each row when
    wd < 0, which the learning rate's step turns into a pull of every row's norm toward 1."""

    def update(updates, state, params):
        def one(u, w):
            norm = jnp.linalg.norm(w, axis=-1, keepdims=True) + eps
            return u + jnp.where(weight_decay >= 0, weight_decay * w, -weight_decay * w * (1 - 1 / norm))

        return jax.tree.map(one, updates, params), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update)


def _weights_only(params):
    """The mask of the weight matrices (W_*) among a toy model's parameters: no decay on the biases."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: any(str(getattr(k, "key", "")).startswith("W_") for k in path), params
    )


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
    b_history_IxCxF: np.ndarray | None = None
    """b at the end of every chunk, with `snapshots` (a snapshot's loss needs both)."""
    params: dict[str, np.ndarray] | None = None
    """Every parameter of the model by name (W_FxH, b_F, and any a model adds), instance axis first."""


def static_config(configs: Sequence[ToyConfig]) -> ToyConfig:
    """The shared static part of a group, with per-instance fields reset to defaults."""
    return shared_static(configs, "toy models")


def learner(configs: Sequence[ToyConfig]) -> ToyLearner:
    return ToyLearner(
        static_config(configs),
        hidden_penalty=any(c.hidden_l1 > 0 for c in configs),
        adversarial=any(c.attack_fraction > 0 for c in configs),
    )


def hyper_arrays(configs: Sequence[ToyConfig]) -> Hyper:
    """The instances' hyperparameters, stacked (float32 numpy arrays: the trainer puts them on the
    devices)."""

    def stack(values):
        return np.asarray(np.stack(values), np.float32)

    return Hyper(
        probability_F=stack([c.probability_F() for c in configs]),
        importance_F=stack([c.importance_F() for c in configs]),
        learning_rate=stack([c.learning_rate for c in configs]),
        weight_decay=stack([c.weight_decay for c in configs]),
        hidden_l1=stack([c.hidden_l1 for c in configs]),
        attack_fraction=stack([c.attack_fraction for c in configs]),
    )


def training_set(config: ToyConfig) -> np.ndarray:
    """The fixed training set x_FxT of a run with `n_train` > 0, regenerated from its seed."""
    if config.n_train <= 0:
        raise ConfigError("training_set needs n_train > 0")
    toy = learner([config])
    return np.asarray(toy.sample(toy.keys(config.seed)[1], jnp.asarray(config.probability_F())))


def _W_and_b(params) -> jax.Array:
    """A snapshot: W_FxH with b_F as one more column (split again in `train`)."""
    return jnp.concatenate([params["W_FxH"][...], params["b_F"][...][..., None]], axis=-1)


def train(
    configs: Sequence[ToyConfig],
    *,
    progress: bool = True,
    desc: str = "train",
    checkpoint: Path | None = None,
) -> TrainResult:
    """Train a group of same-shape instances (superpose.train.trainer.train does the work).

    Args:
      configs: one `ToyConfig` per instance; static fields must agree.
      progress: show a progress bar refreshed once per chunk.
      checkpoint: where to keep a mid-run checkpoint; a usable one found there is resumed from.
        The caller removes it once the result is saved.
    """
    toy = learner(configs)
    trained = trainer.train(
        toy,
        hyper_arrays(configs),
        [c.seed for c in configs],
        configs=[c.to_dict() for c in configs],
        snapshot=_W_and_b if toy.config.snapshots else None,
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )
    p = trained.params
    history = trained.snapshots_IxC  # I x C x F x (H + 1): W, then b as a last column
    return TrainResult(
        W_IxFxH=p["W_FxH"],
        b_IxF=p["b_F"],
        loss_IxC=trained.loss_IxC,
        loss_steps_C=trained.loss_steps_C,
        diverged_step_I=trained.diverged_step_I,
        W_out_IxFxH=p.get("W_out_FxH"),
        W_history_IxCxFxH=None if history is None else history[..., :-1],
        b_history_IxCxF=None if history is None else history[..., -1],
        params=p,
    )

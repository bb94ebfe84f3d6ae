"""What every target is: its config (the training recipe every kind shares) and its module's contract.

A target is a model whose computation is known, written as a flax NNX module for ONE instance, batch-major
(``x_BxF``), with weights in the column-vector convention of the SPD and APD papers (a layer's ``W`` is
``d_out x d_in`` and computes ``W a``). It exposes the matrices a decomposition splits (`Target.matrices`, in
forward order) and a forward pass through any per-layer map (`Target.forward(x, apply)` with
``apply(name, a)`` in place of ``W a``), so a decomposition runs the model with its own pieces without knowing
the architecture. It answers for its own truth through class hooks (`true_pieces`, `importance_truth`,
`one_hot_check`, ...), so no code above branches on which kind it is.

Each kind lives in a module of its own with its config (a `TargetConfig` subclass holding that kind's fields
only) and registers by name: ``class MyTarget(Target, name="my_target")`` with ``Config = MyTargetConfig``.
`config(kind, **fields)` builds any kind's config; `config_from_dict` reads one back from a result folder.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.registry import Registered, Registry
from superpose.train.per_instance import InstanceConfig, per_instance
from superpose.validate import MAX_SEED, ConfigError, check_choice, check_float, check_int

TARGETS = Registry("target model", required=("forward", "label", "matrices", "Config"))
SCHEDULES = ("constant", "cosine")

Apply = Callable[[str, jax.Array], jax.Array]
"""apply(name, a_BxD) -> the layer's output for inputs a (a @ Wᵀ for the model's own weight)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetConfig(InstanceConfig):
    """The training recipe every target shares (defaults: the SPD paper's TMS recipe). A kind's own sizes and
    options are fields of its subclass; `kind` names the subclass's target and is saved with the fields."""

    kind: ClassVar[str] = ""
    n_features: int = 5
    """F, the sparse input features."""
    feature_probability: float = per_instance(0.05)
    """Probability that a feature is non-zero (the SPD paper's TMS: 0.05; residual MLP: 0.01)."""
    steps: int = 10_000
    """Training steps (the SPD paper's TMS recipe: 10,000)."""
    batch_size: int = 1024
    """Inputs per step (the recipe: 1024)."""
    learning_rate: float = per_instance(5e-3)
    """AdamW's learning rate (the recipe: 5e-3)."""
    weight_decay: float = per_instance(0.01)
    """AdamW's decoupled weight decay (the recipe: 0.01)."""
    schedule: str = "constant"
    """`constant`, or `cosine` decay to 0."""
    seed: int = per_instance(0)
    """The target's random stream: initial weights and data."""
    log_every: int = 500
    """Steps per compiled chunk."""

    def __post_init__(self):
        check_choice("schedule", self.schedule, SCHEDULES)
        for f in dataclasses.fields(self):
            if f.type in (int, "int") and f.name != "seed":
                check_int(f.name, getattr(self, f.name), minimum=1)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_float("feature_probability", self.feature_probability, lower=0.0, open_lower=True)
        if self.feature_probability > 1:
            raise ConfigError(f"feature_probability must be in (0, 1], got {self.feature_probability}")
        check_float("learning_rate", self.learning_rate, lower=0.0, open_lower=True)
        check_float("weight_decay", self.weight_decay, lower=0.0)

    @property
    def planted(self) -> bool:
        """Whether the target holds its planted weights (nothing to train)."""
        return False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **dataclasses.asdict(self)}

    def model(self, key: jax.Array) -> Target:
        return TARGETS.get(self.kind)(self, key)


INITS = ("random", "truth")


@dataclasses.dataclass(frozen=True, kw_only=True)
class PlantedConfig(TargetConfig):
    """The config of a target with a planted circuit, which it either holds or learns."""

    init: str = "random"
    """`truth` holds the planted weights (nothing to train), `random` learns them."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("init", self.init, INITS)

    @property
    def planted(self) -> bool:
        return self.init == "truth"


def config(kind: str, **fields) -> TargetConfig:
    """The config of the target `kind` (a one-line ConfigError for an unknown kind or a field it lacks)."""
    check_choice("kind", kind, TARGETS.names())
    cls = TARGETS.get(kind).Config
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ConfigError(f"the {kind} target has no field {', '.join(map(repr, unknown))} "
                          f"(its fields: {', '.join(sorted(known))})")
    return cls(**fields)


def config_from_dict(saved: dict[str, Any]) -> TargetConfig:
    """A config read back from a result folder. Fields its kind no longer has are dropped: folders of
    superpose 0.1 saved every kind's fields with each target, and those had no effect on it."""
    fields = {k: v for k, v in saved.items() if k != "kind"}
    known = {f.name for f in dataclasses.fields(TARGETS.get(saved["kind"]).Config)}
    return config(saved["kind"], **{k: v for k, v in fields.items() if k in known})


def uniform(key: jax.Array, shape: tuple[int, ...], fan_in: int) -> jax.Array:
    """PyTorch's default nn.Linear init, U(±1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def sample(key: jax.Array, probability: jax.Array, batch: int, n_features: int, signed: bool) -> jax.Array:
    """x_BxF: each feature active independently with `probability`, value U[0, 1] (U[-1, 1] when signed)."""
    k_on, k_value = jax.random.split(key)
    value = jax.random.uniform(k_value, (batch, n_features), jnp.float32, -1.0 if signed else 0.0, 1.0)
    return jnp.where(jax.random.uniform(k_on, (batch, n_features)) < probability, value, 0.0)


class Target(nnx.Module, Registered):
    """A model with a known computation (module doc). Subclasses are NNX modules that define `Config`,
    `matrices`, `forward` and `label`, and override the hooks their truth needs."""

    registry = TARGETS
    Config: ClassVar[type[TargetConfig]]
    """The kind's config class."""
    signed_inputs: ClassVar[bool] = False
    """Feature values uniform on [-1, 1] instead of [0, 1]."""
    one_hot_scale: ClassVar[float] = 1.0
    """The value of the one-hot inputs the truth is read on (`one_hot_check`, `importance_truth`)."""
    neuron_contributions: ClassVar[bool] = False
    """Whether SPD's score compares the neuron contributions of model and decomposition (residual MLPs)."""
    clean_seed_needed: ClassVar[bool] = False
    """Whether a decomposition needs a seed whose trained model passes `one_hot_check` for every feature (the
    recipe lands in a clean geometry only in some seeds); superpose.targets.group then trains candidates."""

    @classmethod
    def true_pieces(cls, config: TargetConfig) -> str | None:
        """The decomposed matrix whose columns are the rank-one pieces a parameter decomposition should find
        (scored by MMCS and ML2R, superpose.measures.pieces), or None when the truth names none."""
        return None

    @classmethod
    def importance_truth(cls, config: TargetConfig) -> dict[str, tuple[tuple[str, ...], int]]:
        """The causal-importance pattern a decomposition should show on one-hot inputs, by name: (the
        decomposed matrices whose importances are read side by side, k). k = 0 asks for one subcomponent per
        feature (the identity pattern), k > 0 for k dense subcomponents every feature uses. Empty: no pattern
        is known."""
        return {}

    @classmethod
    def transposed(cls, config: TargetConfig) -> dict[str, str]:
        """Decomposed matrices that are another's transpose in the model, by name: {its name: the other's}
        (TMS: {"WT": "W"}). A decomposition may tie their pieces (APD's `tied`)."""
        return {}

    @classmethod
    def one_hot_check(cls, config: TargetConfig, model: Target) -> dict[str, Any]:
        """The reference recipe's sanity check of a trained model on one-hot inputs (empty: none)."""
        return {}

    @classmethod
    def planted(cls, config: TargetConfig) -> dict[str, np.ndarray]:
        """The weights of the planted circuit by name (targets built by hand); a ConfigError for others."""
        raise ConfigError(f"the {cls.name} target has no planted circuit")

    @classmethod
    def activation_width(cls, config: TargetConfig) -> int:
        """Floats per sample the forward and backward pass hold (the trainer's memory estimate): by default
        the inputs and every decomposed matrix's outputs."""
        shapes = jax.eval_shape(lambda: config.model(jax.random.key(0)).matrices())
        return config.n_features + sum(a.shape[0] for a in shapes.values())

    def matrices(self) -> dict[str, jax.Array]:
        """The weights a decomposition splits, by name in forward order, each d_out x d_in."""
        raise NotImplementedError

    def forward(self, x_BxF: jax.Array, apply: Apply) -> jax.Array:
        """The output with every decomposed layer computed by `apply`."""
        raise NotImplementedError

    def label(self, x_BxF: jax.Array) -> jax.Array:
        """What the model is trained to output."""
        raise NotImplementedError

    @classmethod
    def differentiable(cls, x_BxF: jax.Array) -> jax.Array:
        """Which input coordinates the model is differentiable in at x (B x F; False at a ReLU's kink)."""
        return jnp.ones(x_BxF.shape, bool)

    @classmethod
    def draw(cls, config: TargetConfig, key: jax.Array, probability: jax.Array, batch: int) -> jax.Array:
        """A batch of this target's inputs x_BxF (`sample` with the target's value range)."""
        return sample(key, probability, batch, config.n_features, cls.signed_inputs)

    @classmethod
    def other_values(cls, x_BxF: np.ndarray, key: jax.Array) -> np.ndarray:
        """Inputs active where x is but of values off the training distribution (a faithfulness test):
        twice the range by default."""
        return 2 * x_BxF

    def set_hyper(self, hyper: dict[str, jax.Array]) -> None:
        """Set variables that come from the instance's per-instance values (the mixing scale)."""

    def own(self) -> Apply:
        weights = self.matrices()
        return lambda name, a: a @ weights[name].T

    def __call__(self, x_BxF: jax.Array) -> jax.Array:
        return self.forward(x_BxF, self.own())

    def loss(self, x_BxF: jax.Array) -> jax.Array:
        """Squared error, mean over batch and outputs."""
        return jnp.mean((self(x_BxF) - self.label(x_BxF)) ** 2)


def planted_or_random(
    config: TargetConfig, key: jax.Array, shapes: dict[str, np.ndarray]
) -> dict[str, jax.Array]:
    """The planted weights (`config.planted`), or random ones of the same shapes (PyTorch's default init, zero
    biases ``b_in``) to learn them."""
    if config.planted:
        return {k: jnp.asarray(v) for k, v in shapes.items()}
    keys = jax.random.split(key, len(shapes))
    return {
        name: (uniform(k, v.shape, v.shape[-1]) if name != "b_in" else jnp.zeros(v.shape, jnp.float32))
        for k, (name, v) in zip(keys, shapes.items())
    }

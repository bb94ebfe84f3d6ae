"""Configuration of one toy-model instance, validated on construction.

A `ToyConfig` describes ONE model instance. Fields split in two kinds:

* static fields fix the shape of the compiled program (model kind, sizes,
  step counts, schedule): instances that share them train together in one
  `jit(scan(vmap(step)))` program;
* per-instance fields (feature probability, importance, learning rate,
  weight decay, seed) are arrays inside that program, so a new value never
  recompiles.

Array names end in their axes (``W_FxH``): superpose.dimensions is the alphabet.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from superpose.toy.models import MODELS
from superpose.train.per_instance import InstanceConfig, added_field, per_instance
from superpose.validate import (
    MAX_SEED,
    ConfigError,
    as_floats,
    check_choice,
    check_float,
    check_int,
    check_known_key,
)

DATA = ("independent", "correlated", "anticorrelated")
SCHEDULES = ("constant", "warmup_cosine")
PRNGS = ("hash", "threefry")
INITS = ("xavier", "notebook", "normal")
DECAY_FORMS = ("adamw", "signed_rows")
OPTIMIZERS = ("adam", "sgd")



@dataclasses.dataclass(frozen=True, kw_only=True)
class ToyConfig(InstanceConfig):
    """One toy model of superposition and its training recipe.

    Defaults follow the paper's official notebook (check 14 of docs/checks.md): AdamW with
    lr 1e-3 and PyTorch's weight decay 0.01, batch 1024, 10,000 steps, constant
    learning rate.
    """

    model: str = "relu_output"
    """`relu_output`: x' = ReLU(WᵀWx + b); `linear`: WᵀWx + b; `relu_hidden`: ReLU(Wᵀ ReLU(Wx) + b);
    `abs`: ReLU(W₂ ReLU(W₁x) + b) trained to output |x| on x uniform in [-1, 1] (superpose.toy.models)."""
    n_features: int = 5
    """F, the number of input features."""
    n_hidden: int = 2
    """H, the number of hidden dimensions."""
    feature_probability: float | tuple[float, ...] = per_instance(1.0)
    """Density 1 - S: probability that a feature is non-zero, one value or one per feature."""
    importance_decay: float = per_instance(1.0)
    """Importance I_i = importance_decay ** i (1.0 gives uniform importance)."""
    importance: tuple[float, ...] | None = per_instance(None)
    """A custom importance per feature; overrides `importance_decay` when given."""
    steps: int = 10_000
    """Training steps (the notebook's 10,000)."""
    batch_size: int = 1024
    """Inputs per step (the notebook's 1024)."""
    learning_rate: float = per_instance(1e-3)
    """AdamW's learning rate (the notebook's 1e-3); the peak of `warmup_cosine`."""
    weight_decay: float = per_instance(0.01)
    """Decoupled (AdamW) weight decay, PyTorch's default as the notebook uses."""
    schedule: str = "constant"
    """`constant`, or `warmup_cosine` (linear warm-up then cosine decay to 0)."""
    warmup_steps: int = 0
    """`warmup_cosine`: steps of linear warm-up from 0."""
    seed: int = per_instance(0)
    """The instance's random stream: initial weights and data (plus `SUPERPOSE_SEED_OFFSET`)."""
    log_every: int = 100
    """Steps per compiled chunk: the host sees the program (loss, progress) only this often."""
    prng: str = "hash"
    """`hash` (fast counter-hash generator, see superpose.train.rng) or `threefry` (JAX default)."""
    data: str = "independent"
    """`independent`, `correlated` or `anticorrelated` feature sets
    (superpose.data.sparse_features.sample_structured)."""
    set_size: int = 2
    """Features per correlated / anticorrelated set; n_features must be a multiple of it."""
    n_train: int = 0
    """T > 0: a fixed training set of T points, trained full batch (batch_size is then ignored); 0: fresh
    data each step."""
    normalize: bool = False
    """Rescale every input to unit L2 norm (the double-descent setup)."""
    snapshots: bool = False
    """Keep W at the end of every chunk of `log_every` steps (learning dynamics)."""
    hidden_l1: float = per_instance(0.0)
    """λ of an L1 penalty on the hidden activations, λ · mean over the batch of Σ_h |h| (the paper's
    "strategic picture": it removes superposition at a cost in loss). 0: no penalty."""
    attack_fraction: float = per_instance(0.0)
    """Adversarial training: every input x is attacked along the analytic attack direction
    (WᵀW)_i / ‖(WᵀW)_i‖ of one feature i drawn at random, with L2 norm `attack_fraction` · ‖x‖, and the
    model is trained to output the clean target (superpose.toy.adversarial). 0: plain training."""
    init: str = added_field("xavier")
    """How W starts: `xavier`, N(0, 2 / (F + H)) for each instance (Glorot); `notebook`, the scale of the
    official notebook, which applies PyTorch's xavier_normal_ to its whole (instances, F, H) tensor: std
    √(2 / (H (F + init_instances))), which depends on how many instances it trains together; or `normal`
    (Liu, Liu & Gore 2025), W ~ N(0, 1 / H) and b ~ N(0, 1)."""
    init_instances: int = added_field(10)
    """`init="notebook"`: the notebook's n_instances behind that scale (its introduction figure: 10)."""
    feature_max: float = added_field(1.0)
    """An active feature is uniform on (0, feature_max] (Liu, Liu & Gore 2025 use 2)."""
    weight_decay_form: str = added_field("adamw")
    """`adamw`: decoupled decay of every parameter, W and b (the notebook's), `weight_decay` ≥ 0.
    `signed_rows` (Liu, Liu & Gore 2025): W only; `weight_decay` ≥ 0 shrinks W as AdamW does, and a negative
    one moves each feature's row W_i toward unit norm, W_i += lr · |wd| · W_i (1 / ‖W_i‖ − 1), which grows
    short rows and so pushes the model into strong superposition."""
    final_learning_rate: float = added_field(0.0)
    """`warmup_cosine`: where the cosine ends, as a fraction of the peak (Liu, Liu & Gore 2025: 0.05)."""
    optimizer: str = added_field("adam")
    """`adam`: Adam with the decay `weight_decay_form` says; `sgd`: plain stochastic gradient descent, with
    `weight_decay` · w added to the gradient (Chen et al. 2023 train their k-gon runs with SGD)."""

    def init_scale(self) -> float:
        """The factor that takes the per-instance Xavier W to the `init` scale (1 for `xavier`)."""
        if self.init == "xavier":
            return 1.0
        if self.init == "normal":
            return math.sqrt((self.n_features + self.n_hidden) / (2 * self.n_hidden))
        F, H = self.n_features, self.n_hidden
        return math.sqrt((F + H) / (H * (F + self.init_instances)))

    def __post_init__(self):
        for name in ("feature_probability", "importance"):
            value = getattr(self, name)
            if isinstance(value, (list, np.ndarray)):
                object.__setattr__(self, name, tuple(float(v) for v in np.ravel(value)))
        check_choice("model", self.model, MODELS.names())
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("prng", self.prng, PRNGS)
        check_choice("data", self.data, DATA)
        check_choice("init", self.init, INITS)
        check_choice("weight_decay_form", self.weight_decay_form, DECAY_FORMS)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_float("feature_max", self.feature_max, lower=0.0, open_lower=True)
        check_float("final_learning_rate", self.final_learning_rate, lower=0.0)
        check_int("init_instances", self.init_instances, minimum=1)
        check_int("set_size", self.set_size, minimum=1)
        if self.data != "independent" and self.n_features % self.set_size:
            raise ConfigError(
                f"n_features ({self.n_features}) must be a multiple of set_size ({self.set_size})"
            )
        for name in ("n_features", "n_hidden", "steps", "batch_size", "log_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("warmup_steps", self.warmup_steps, minimum=0)
        check_int("n_train", self.n_train, minimum=0)
        for name in ("normalize", "snapshots"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        if self.warmup_steps >= self.steps and self.schedule == "warmup_cosine":
            raise ConfigError(f"warmup_steps must be < steps ({self.steps}), got {self.warmup_steps}")
        probs = as_floats("feature_probability", self.feature_probability)
        if len(probs) not in (1, self.n_features):
            raise ConfigError(
                f"feature_probability must be one value or {self.n_features} values, got {len(probs)}"
            )
        for p in probs:
            if not 0.0 < p <= 1.0:
                raise ConfigError(f"feature_probability must be in (0, 1], got {p}")
        check_float("importance_decay", self.importance_decay, lower=0.0, open_lower=True)
        if self.importance is not None:
            imp = as_floats("importance", self.importance)
            if len(imp) != self.n_features:
                raise ConfigError(f"importance must have {self.n_features} values, got {len(imp)}")
            for v in imp:
                check_float("importance", v, lower=0.0)
        check_float("learning_rate", self.learning_rate, lower=0.0, open_lower=True)
        if self.weight_decay_form == "adamw":
            check_float("weight_decay", self.weight_decay, lower=0.0)
        else:
            check_float("weight_decay", self.weight_decay, lower=-math.inf)
        check_float("hidden_l1", self.hidden_l1, lower=0.0)
        check_float("attack_fraction", self.attack_fraction, lower=0.0)

    def probability_F(self) -> np.ndarray:
        p = np.asarray(as_floats("feature_probability", self.feature_probability), np.float32)
        return np.broadcast_to(p, (self.n_features,)).copy()

    def importance_F(self) -> np.ndarray:
        if self.importance is not None:
            return np.asarray(self.importance, np.float32)
        return (self.importance_decay ** np.arange(self.n_features)).astype(np.float32)

    def batch(self) -> int:
        """Points per step: the whole training set when it is finite."""
        return self.n_train if self.n_train > 0 else self.batch_size



def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(ToyConfig)]


def replace(config: ToyConfig, overrides: Mapping[str, Any]) -> ToyConfig:
    """`dataclasses.replace` with a one-line error for unknown keys."""
    for key in overrides:
        check_known_key(key, field_names())
    try:
        return dataclasses.replace(config, **overrides)
    except TypeError as e:  # wrong type deep inside a comparison, e.g. "abc" < 1
        raise ConfigError(str(e)) from None

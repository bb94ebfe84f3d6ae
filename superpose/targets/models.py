"""Target models for parameter decomposition, each with a known answer, and how to train them.

Two families, written as flax NNX modules for ONE instance, batch-major (``x_BxF``), with
weights in the column-vector convention of the SPD and APD papers (a layer's ``W`` is
``d_out x d_in`` and computes ``W a``):

* **TMS** (Elhage et al. 2022, as Bushnaq, Braun & Sharkey 2025 use it): ``x' = ReLU(Wᵀ W x + b)``
  with ``W`` of shape ``n_hidden x n_features``, optionally with a frozen identity between ``W``
  and ``Wᵀ`` (TMS+ID). The truth: column j of ``W`` (row j of ``Wᵀ``) is used iff feature j
  is active; the identity is one dense piece of rank ``n_hidden``.
* **Residual MLP** ("compressed computation", Braun et al. 2025): a frozen random unit
  embedding ``W_E`` (``n_features x d_resid``), ``r₀ = W_Eᵀ x``, per layer
  ``r += W_out ReLU(W_in r)``, output ``W_E r``, trained on labels ``x + ReLU(x)``.

Three more compute something with a circuit known by construction (superpose.circuits):

* **Absolute value** (``abs_mlp``; Elhage et al. 2022 E11, and the toy model of mechanistic
  (un)faithfulness of Anthropic 2025): ``|x| = ReLU(x) + ReLU(−x)``, an MLP with 2n neurons read
  as a residual layer whose output is ``|x|``; optionally a repeated data point
  ``(1, 1, 1, 0, …)`` makes up `repeat_frac` of the data.
* **Two-hop circuit** (``two_hop``): sparse binary inputs A (n = 2k), a first MLP computing
  ``B_j = ReLU(A_2j + A_2j+1 − ½)`` written to k residual directions of their own, a second MLP
  computing ``C_j = ReLU(B_j + B_j+1 − ¾)`` (indices mod k) from B alone. The truth: the B and C
  neurons and the edges A→B→C. No binary input puts a neuron exactly at its kink (pre-activations
  −0.5, 0.5, 1.5 and −0.75, −0.25, 0.25, 0.75, 1.25, 2.25: at least ¼ from the kink), so the model's Jacobian
  is defined on the data.
* **Mixing MLP** (``mixing_mlp``; Bhagat et al. 2025): ``ŷ = W_out ReLU(W_in x)`` trained on
  ``ReLU(x) + M x`` with a fixed symmetric mixing matrix M: a random one of a chosen scale, or
  the residual MLP's own ``I − W_E W_Eᵀ``; with M = 0 the labels are clean.

With ``init="truth"`` the abs and two-hop models hold their planted weights exactly (nothing is
trained); otherwise they start random and learn the planted circuit's outputs.

A target exposes the matrices a decomposition splits (`matrices`, in forward order) and a
forward pass through any per-layer map (`forward(x, apply)` with ``apply(name, a)`` in place
of ``W a``), so a decomposition can run the model with its own pieces without knowing the
architecture. Residual targets (`ResidualTarget`) also expose their MLP layers one by one
(`embed`, `mlp`, `unembed`), which is what a transcoder replaces. Presets (`PRESETS`) hold the
SPD paper's target recipes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose.registry import Registered, Registry
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import InstanceConfig, per_instance, shared_static
from superpose.validate import MAX_SEED, ConfigError, check_choice, check_float, check_int

TARGETS = Registry("target model", required=("forward", "label", "matrices"))
SCHEDULES = ("constant", "cosine")
INITS = ("random", "truth")
MIXINGS = ("random", "embedding")
MIXING_KEY = 20250623
"""The fixed key of every mixing matrix's direction (instances differ only in its scale)."""

Apply = Callable[[str, jax.Array], jax.Array]
"""apply(name, a_BxD) -> the layer's output for inputs a (a @ Wᵀ for the model's own weight)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TargetConfig(InstanceConfig):
    """One target model and its training recipe (defaults: the SPD paper's TMS 5-2)."""

    kind: str = "tms"
    """`tms` (ReLU(WᵀWx + b), optionally with a frozen identity) or `resid_mlp`."""
    n_features: int = 5
    """F, the sparse input features."""
    n_hidden: int = 2
    """TMS: hidden dimensions m1. Residual MLP: neurons per layer."""
    identity: bool = False
    """TMS only: a frozen identity between W and Wᵀ (TMS+ID)."""
    n_layers: int = 1
    """Residual MLP only: MLP layers."""
    d_resid: int = 1000
    """Residual MLP only: residual stream width."""
    bias_init: str = "zero"
    """TMS: the output bias starts at `zero` or `random` (PyTorch's U(±1/√fan_in))."""
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
    init: str = "random"
    """abs_mlp and two_hop: `truth` holds the planted weights (nothing to train), `random` learns them."""
    repeat_frac: float = 0.0
    """abs_mlp: the fraction of samples replaced by the repeated point (1, 1, 1, 0, …)."""
    mixing: str = "random"
    """mixing_mlp: M = scale · (a fixed random symmetric matrix of unit off-diagonal std, zero diagonal), or
    `embedding`: M = scale · (I − W_E W_Eᵀ) of a fixed random unit embedding in d_resid dimensions."""
    mixing_scale: float = per_instance(0.0)
    """mixing_mlp: the scale of the mixing matrix M (0: the labels are ReLU(x) alone)."""
    seed: int = per_instance(0)
    """The target's random stream: initial weights and data."""
    log_every: int = 500
    """Steps per compiled chunk."""

    def __post_init__(self):
        check_choice("kind", self.kind, TARGETS.names())
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("bias_init", self.bias_init, ("zero", "random"))
        check_choice("init", self.init, INITS)
        check_choice("mixing", self.mixing, MIXINGS)
        for name in ("n_features", "n_hidden", "n_layers", "d_resid", "steps", "batch_size", "log_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_float("feature_probability", self.feature_probability, lower=0.0, open_lower=True)
        if self.feature_probability > 1:
            raise ConfigError(f"feature_probability must be in (0, 1], got {self.feature_probability}")
        check_float("learning_rate", self.learning_rate, lower=0.0, open_lower=True)
        check_float("weight_decay", self.weight_decay, lower=0.0)
        check_float("mixing_scale", self.mixing_scale, lower=0.0)
        check_float("repeat_frac", self.repeat_frac, lower=0.0)
        if self.repeat_frac > 1:
            raise ConfigError(f"repeat_frac must be in [0, 1], got {self.repeat_frac}")
        if self.init == "truth" and self.kind not in ("abs_mlp", "two_hop"):
            raise ConfigError("init=truth applies to the abs_mlp and two_hop targets only")
        TARGETS.get(self.kind).check(self)
        if not isinstance(self.identity, (bool, np.bool_)):
            raise ConfigError(f"identity must be true or false, got {self.identity!r}")
        if self.identity and self.kind != "tms":
            raise ConfigError("identity applies to the tms target only")

    PER_INSTANCE: ClassVar[tuple[str, ...]] = (
        "feature_probability",
        "learning_rate",
        "weight_decay",
        "mixing_scale",
        "seed",
    )


    def model(self, key: jax.Array) -> Target:
        return TARGETS.get(self.kind)(self, key)


def _uniform(key, shape, fan_in):
    """PyTorch's default nn.Linear init, U(±1/√fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


class Target(nnx.Module, Registered):
    """A model with a known computation (module doc). Subclasses define `matrices`, `forward`, `label`."""

    registry = TARGETS
    signed_inputs: ClassVar[bool] = False
    """Feature values uniform on [-1, 1] instead of [0, 1]."""
    one_hot_scale: ClassVar[float] = 1.0
    """The value of the one-hot inputs the truth is read on (`one_hot_check`, `importance_truth`)."""
    neuron_contributions: ClassVar[bool] = False
    """Whether SPD's score compares the neuron contributions of model and decomposition (residual MLPs)."""

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
    def one_hot_check(cls, config: TargetConfig, model: Target) -> dict[str, Any]:
        """The reference recipe's sanity check of a trained model on one-hot inputs (empty: none)."""
        return {}

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
    def check(cls, config: TargetConfig) -> None:
        """Raise ConfigError for sizes this target cannot have."""

    @classmethod
    def draw(cls, config: TargetConfig, key: jax.Array, probability: jax.Array, batch: int) -> jax.Array:
        """A batch of this target's inputs x_BxF (`sample` with the target's value range)."""
        return sample(key, probability, batch, config.n_features, cls.signed_inputs)

    def set_hyper(self, hyper) -> None:
        """Set variables that come from the instance's per-instance values (the mixing scale)."""

    def own(self) -> Apply:
        weights = self.matrices()
        return lambda name, a: a @ weights[name].T

    def __call__(self, x_BxF: jax.Array) -> jax.Array:
        return self.forward(x_BxF, self.own())

    def loss(self, x_BxF: jax.Array) -> jax.Array:
        """Squared error, mean over batch and outputs."""
        return jnp.mean((self(x_BxF) - self.label(x_BxF)) ** 2)


class TMS(Target, name="tms"):
    """x' = ReLU(Wᵀ [I] W x + b), W: n_hidden x n_features, tied; I frozen when present."""

    one_hot_scale = 0.75

    @classmethod
    def true_pieces(cls, config):
        return "W"

    @classmethod
    def importance_truth(cls, config):
        truth = {"W": (("W",), 0), "WT": (("WT",), 0)}
        return truth | {"I": (("I",), config.n_hidden)} if config.identity else truth

    @classmethod
    def one_hot_check(cls, config, model):
        """Input 0.75·e_i should come back as 0.75 ± 0.1 at index i (for every feature it represents)."""
        out = np.diag(np.asarray(model(jnp.asarray(0.75 * np.eye(config.n_features, dtype=np.float32)))))
        ok = np.abs(out - 0.75) <= 0.1
        return {"one_hot_output": out.tolist(), "one_hot_ok": int(ok.sum()),
                "one_hot_features": config.n_features}

    def __init__(self, config: TargetConfig, key: jax.Array):
        f, h = config.n_features, config.n_hidden
        k_w, k_b = jax.random.split(key)
        self.W = nnx.Param(_uniform(k_w, (h, f), f))
        self.b = nnx.Param(
            _uniform(k_b, (f,), h) if config.bias_init == "random" else jnp.zeros((f,), jnp.float32)
        )
        self.I = nnx.Variable(jnp.eye(h, dtype=jnp.float32)) if config.identity else None

    def matrices(self):
        W = self.W[...]
        return {"W": W, "I": self.I[...], "WT": W.T} if self.I is not None else {"W": W, "WT": W.T}

    def forward(self, x_BxF, apply):
        h = apply("W", x_BxF)
        if self.I is not None:
            h = apply("I", h)
        return jax.nn.relu(apply("WT", h) + self.b[...])

    def label(self, x_BxF):
        return x_BxF


class ResidualTarget(Target):
    """A residual stream r₀ = embed(x), r_{l+1} = r_l + mlp(l, r_l), output unembed(r_L, r₀).

    Subclasses hold ``W_in`` (layers x neurons x d_resid), ``W_out`` (layers x d_resid x neurons) and
    optionally ``b_in`` (layers x neurons), and define `embed` and `unembed`.
    """

    @classmethod
    def importance_truth(cls, config):
        """One subcomponent per feature in the W_in of all layers; n_hidden x n_layers dense ones in W_out."""
        layers = range(config.n_layers)
        return {"W_in": (tuple(f"W_in.{i}" for i in layers), 0),
                "W_out": (tuple(f"W_out.{i}" for i in layers), config.n_hidden * config.n_layers)}

    def embed(self, x_BxF: jax.Array) -> jax.Array:
        raise NotImplementedError

    def unembed(self, r_BxD: jax.Array, r0_BxD: jax.Array) -> jax.Array:
        raise NotImplementedError

    @property
    def n_mlp(self) -> int:
        return self.W_in.shape[0]

    def mlp(self, layer: int, r_BxD: jax.Array, apply: Apply | None = None) -> jax.Array:
        """MLP `layer`'s output for residual r (its weights applied by `apply` when given)."""
        apply = apply or self.own()
        pre = apply(f"W_in.{layer}", r_BxD)
        if getattr(self, "b_in", None) is not None:
            pre = pre + self.b_in[layer]
        return apply(f"W_out.{layer}", jax.nn.relu(pre))

    def matrices(self):
        out = {}
        for layer in range(self.n_mlp):
            out[f"W_in.{layer}"] = self.W_in[layer]
            out[f"W_out.{layer}"] = self.W_out[layer]
        return out

    def forward(self, x_BxF, apply):
        r0 = r = self.embed(x_BxF)
        for layer in range(self.n_mlp):
            r = r + self.mlp(layer, r, apply)
        return self.unembed(r, r0)

    def mlp_io(self, x_BxF: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(inputs, outputs) of every MLP layer on x, each layers x B x d_resid."""
        r = self.embed(x_BxF)
        ins, outs = [], []
        for layer in range(self.n_mlp):
            out = self.mlp(layer, r)
            ins.append(r)
            outs.append(out)
            r = r + out
        return jnp.stack(ins), jnp.stack(outs)


class ResidMLP(ResidualTarget, name="resid_mlp"):
    """Frozen unit embedding W_E; r += W_out ReLU(W_in r) per layer; output W_E r; labels x + ReLU(x)."""

    signed_inputs = True
    neuron_contributions = True

    @classmethod
    def one_hot_check(cls, config, model):
        """Input e_i gives ŷ_i ≈ 1.6 against a label of 2 (the published model undershoots the ReLU)."""
        out = np.diag(np.asarray(model(jnp.asarray(np.eye(config.n_features, dtype=np.float32)))))
        return {"one_hot_output": out.tolist(), "one_hot_mean": float(out.mean())}

    def __init__(self, config: TargetConfig, key: jax.Array):
        n, d, m, n_layers = config.n_features, config.d_resid, config.n_hidden, config.n_layers
        k_e, k_in, k_out = jax.random.split(key, 3)
        W_E = jax.random.normal(k_e, (n, d), jnp.float32)
        self.W_E = nnx.Variable(W_E / jnp.linalg.norm(W_E, axis=1, keepdims=True))
        self.W_in = nnx.Param(_uniform(k_in, (n_layers, m, d), d))
        self.W_out = nnx.Param(_uniform(k_out, (n_layers, d, m), m))

    def embed(self, x_BxF):
        return x_BxF @ self.W_E[...]

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD @ self.W_E[...].T

    def label(self, x_BxF):
        return x_BxF + jax.nn.relu(x_BxF)


def _planted_or_random(
    config: TargetConfig, key: jax.Array, planted: dict[str, np.ndarray]
) -> dict[str, jax.Array]:
    """The planted weights, or random ones of the same shapes (PyTorch's default init) to learn them."""
    if config.init == "truth":
        return {k: jnp.asarray(v) for k, v in planted.items()}
    keys = jax.random.split(key, len(planted))
    return {
        name: (_uniform(k, v.shape, v.shape[-1]) if name != "b_in" else jnp.zeros(v.shape, jnp.float32))
        for k, (name, v) in zip(keys, planted.items())
    }


class AbsMLP(ResidualTarget, name="abs_mlp"):
    """|x| through one MLP (the output is the MLP's): planted, 2n neurons ReLU(x_i), ReLU(−x_i); trained from
    random weights, any number of neurons (fewer than 2n: computation in superposition, E11).

    Inputs are U[−1, 1] when active; with `repeat_frac` > 0 that fraction of samples is the repeated
    point (1, 1, 1, 0, …).
    """

    signed_inputs = True
    REPEATED = 3

    @classmethod
    def check(cls, config):
        if config.d_resid != config.n_features or config.n_layers != 1:
            raise ConfigError(
                "abs_mlp needs d_resid = n_features and one layer, got "
                f"{config.d_resid} and {config.n_layers}"
            )
        if config.init == "truth" and config.n_hidden != 2 * config.n_features:
            raise ConfigError(
                f"the planted abs_mlp has n_hidden = 2·n_features neurons, got {config.n_hidden}"
            )
        if config.n_features < cls.REPEATED:
            raise ConfigError(f"abs_mlp needs at least {cls.REPEATED} features")

    @staticmethod
    def planted(config: TargetConfig) -> dict[str, np.ndarray]:
        n = config.n_features
        eye = np.eye(n, dtype=np.float32)
        return {
            "W_in": np.concatenate([eye, -eye])[None],
            "b_in": np.zeros((1, 2 * n), np.float32),
            "W_out": np.concatenate([eye, eye], axis=1)[None],
        }

    @classmethod
    def repeated_point(cls, config: TargetConfig) -> np.ndarray:
        return (np.arange(config.n_features) < cls.REPEATED).astype(np.float32)

    @classmethod
    def draw(cls, config, key, probability, batch):
        k_x, k_repeat = jax.random.split(key)
        x = super().draw(config, k_x, probability, batch)
        if config.repeat_frac == 0:
            return x
        repeat = jax.random.uniform(k_repeat, (batch, 1)) < config.repeat_frac
        return jnp.where(repeat, jnp.asarray(cls.repeated_point(config)), x)

    def __init__(self, config: TargetConfig, key: jax.Array):
        n, m = config.n_features, config.n_hidden
        shapes = {"W_in": np.zeros((1, m, n)), "b_in": np.zeros((1, m)), "W_out": np.zeros((1, n, m))}
        params = _planted_or_random(config, key, self.planted(config) if config.init == "truth" else shapes)
        self.W_in, self.b_in, self.W_out = (nnx.Param(params[k]) for k in ("W_in", "b_in", "W_out"))

    @classmethod
    def differentiable(cls, x_BxF):
        """|x| has its kink at 0: an inactive feature's derivative is undefined."""
        return x_BxF != 0

    def embed(self, x_BxF):
        return x_BxF

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD - r0_BxD

    def label(self, x_BxF):
        return jnp.abs(x_BxF)


class TwoHop(ResidualTarget, name="two_hop"):
    """A planted two-hop circuit in a residual stream of n + 2k dimensions (n = 2k binary inputs A).

    Layer 0: B_j = ReLU(A_2j + A_2j+1 − ½), written to dimension n + j. Layer 1: C_j = ReLU(B_j + B_(j+1 mod
    k) − ¾), written to dimension n + k + j, reading only B. The output is the whole final residual stream.
    """

    B_BIAS, C_BIAS = -0.5, -0.75

    @classmethod
    def check(cls, config):
        n, k = config.n_features, config.n_hidden
        if n != 2 * k or k < 2 or config.n_layers != 2 or config.d_resid != n + 2 * k:
            raise ConfigError(
                "two_hop needs n_features = 2·n_hidden (n_hidden ≥ 2), n_layers = 2 and d_resid = "
                f"n_features + 2·n_hidden, got {n}, {k}, {config.n_layers}, {config.d_resid}"
            )

    @staticmethod
    def planted(config: TargetConfig) -> dict[str, np.ndarray]:
        n, k = config.n_features, config.n_hidden
        W_in = np.zeros((2, k, n + 2 * k), np.float32)
        W_out = np.zeros((2, n + 2 * k, k), np.float32)
        for j in range(k):
            W_in[0, j, [2 * j, 2 * j + 1]] = 1.0
            W_out[0, n + j, j] = 1.0
            W_in[1, j, [n + j, n + (j + 1) % k]] = 1.0
            W_out[1, n + k + j, j] = 1.0
        b_in = np.stack([np.full(k, TwoHop.B_BIAS), np.full(k, TwoHop.C_BIAS)]).astype(np.float32)
        return {"W_in": W_in, "b_in": b_in, "W_out": W_out}

    @classmethod
    def draw(cls, config, key, probability, batch):
        return (jax.random.uniform(key, (batch, config.n_features)) < probability).astype(jnp.float32)

    def __init__(self, config: TargetConfig, key: jax.Array):
        params = _planted_or_random(config, key, self.planted(config))
        self.W_in, self.b_in, self.W_out = (nnx.Param(params[k]) for k in ("W_in", "b_in", "W_out"))
        self.config = config

    def embed(self, x_BxF):
        k = self.W_in.shape[1]
        return jnp.pad(x_BxF, ((0, 0), (0, 2 * k)))

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD

    def label(self, x_BxF):
        p = self.planted(self.config)
        r = self.embed(x_BxF)
        for layer in range(2):
            r = r + jax.nn.relu(r @ p["W_in"][layer].T + p["b_in"][layer]) @ p["W_out"][layer].T
        return r


class MixingMLP(Target, name="mixing_mlp"):
    """ŷ = W_out ReLU(W_in x) on labels ReLU(x) + x M (Bhagat et al. 2025's equivalent of the residual MLP).

    M (frozen, saved with the weights) is `mixing_scale` times a fixed symmetric direction: random with unit
    off-diagonal standard deviation, or I − W_E W_Eᵀ of a fixed random unit embedding (`mixing="embedding"`,
    where scale 1 is exactly the residual MLP's mixing). Inputs are U[−1, 1] when active.
    """

    signed_inputs = True

    @staticmethod
    def direction(config: TargetConfig) -> np.ndarray:
        n = config.n_features
        generator = np.random.default_rng(MIXING_KEY)
        if config.mixing == "embedding":
            W_E = generator.standard_normal((n, config.d_resid))
            W_E /= np.linalg.norm(W_E, axis=1, keepdims=True)
            return (np.eye(n) - W_E @ W_E.T).astype(np.float32)
        upper = np.triu(generator.standard_normal((n, n)), 1)
        return (upper + upper.T).astype(np.float32)

    def __init__(self, config: TargetConfig, key: jax.Array):
        n, m = config.n_features, config.n_hidden
        k_in, k_out = jax.random.split(key)
        self.W_in = nnx.Param(_uniform(k_in, (m, n), n))
        self.W_out = nnx.Param(_uniform(k_out, (n, m), m))
        self.M = nnx.Variable(jnp.asarray(self.direction(config)))

    def set_hyper(self, hyper):
        self.M = nnx.Variable(self.M[...] * hyper.mixing_scale)

    def matrices(self):
        return {"W_in": self.W_in[...], "W_out": self.W_out[...]}

    def forward(self, x_BxF, apply):
        return apply("W_out", jax.nn.relu(apply("W_in", x_BxF)))

    def label(self, x_BxF):
        return jax.nn.relu(x_BxF) + x_BxF @ self.M[...]


PRESETS: dict[str, TargetConfig] = {
    "tms_5-2": TargetConfig(kind="tms", n_features=5, n_hidden=2, bias_init="random", batch_size=1024),
    "tms_5-2-id": TargetConfig(
        kind="tms", n_features=5, n_hidden=2, identity=True, bias_init="random", batch_size=1024
    ),
    "tms_40-10": TargetConfig(kind="tms", n_features=40, n_hidden=10, batch_size=8192),
    "tms_40-10-id": TargetConfig(kind="tms", n_features=40, n_hidden=10, identity=True, batch_size=8192),
    "resid_mlp1": TargetConfig(
        kind="resid_mlp",
        n_features=100,
        n_hidden=50,
        n_layers=1,
        feature_probability=0.01,
        learning_rate=3e-3,
        schedule="cosine",
        batch_size=2048,
        steps=1000,
        log_every=100,
    ),
    "resid_mlp2": TargetConfig(
        kind="resid_mlp",
        n_features=100,
        n_hidden=25,
        n_layers=2,
        feature_probability=0.01,
        learning_rate=3e-3,
        schedule="cosine",
        batch_size=2048,
        steps=1000,
        log_every=100,
    ),
    "resid_mlp3": TargetConfig(
        kind="resid_mlp",
        n_features=102,
        n_hidden=17,
        n_layers=3,
        feature_probability=0.01,
        learning_rate=3e-3,
        schedule="cosine",
        batch_size=2048,
        steps=10_000,
    ),
}
"""The SPD paper's targets (Bushnaq, Braun & Sharkey 2025, appendix "Training details"): TMS with AdamW
lr 5e-3, weight decay 0.01, 10k steps, p = 0.05, PyTorch's default init (the 5-2 bias left random);
residual MLPs with p = 0.01, values U[-1, 1], AdamW lr 3e-3 with cosine decay, batch 2048."""


def sample(key: jax.Array, probability: jax.Array, batch: int, n_features: int, signed: bool) -> jax.Array:
    """x_BxF: each feature active independently with `probability`, value U[0, 1] (U[-1, 1] when signed)."""
    k_on, k_value = jax.random.split(key)
    value = jax.random.uniform(k_value, (batch, n_features), jnp.float32, -1.0 if signed else 0.0, 1.0)
    return jnp.where(jax.random.uniform(k_on, (batch, n_features)) < probability, value, 0.0)


def schedule(name: str, steps: int) -> optax.Schedule:
    """The learning-rate shape (multiplied by the instance's rate): constant, or cosine decay to 0."""
    return optax.cosine_decay_schedule(1.0, steps) if name == "cosine" else optax.constant_schedule(1.0)


class Hyper(NamedTuple):
    feature_probability: jax.Array
    learning_rate: jax.Array
    weight_decay: jax.Array
    mixing_scale: jax.Array


@dataclasses.dataclass(frozen=True)
class TargetLearner(Learner):
    """Trains a target with AdamW on its own labels (superpose.train.learner)."""

    config: TargetConfig

    def init(self, seed, hyper: Hyper):
        init_key, data_key = jax.random.split(rng.key(seed))
        model = self.config.model(init_key)
        model.set_hyper(hyper)
        return model, data_key

    def optimizer(self, hyper: Hyper):
        shape = schedule(self.config.schedule, self.config.steps)
        return optax.adamw(lambda count: hyper.learning_rate * shape(count), weight_decay=hyper.weight_decay)

    def batch(self, data_key, hyper: Hyper, data, t):
        c = self.config
        return TARGETS.get(c.kind).draw(
            c, jax.random.fold_in(data_key, t), hyper.feature_probability, c.batch_size
        )

    def loss(self, model: Target, x_BxF, hyper, carry):
        return model.loss(x_BxF), None

    def bytes_per_instance(self) -> int:
        c = self.config
        n_params = sum(
            math.prod(leaf.shape)
            for leaf in jax.tree.leaves(nnx.eval_shape(lambda: c.model(jax.random.key(0))))
        )
        width = c.n_features + (
            c.d_resid * (c.n_layers + 1) + c.n_hidden * c.n_layers
            if issubclass(TARGETS.get(c.kind), ResidualTarget)
            else c.n_hidden
        )
        return int(4 * (4 * n_params + 4 * c.batch_size * width))


def group_config(configs: Sequence[TargetConfig]) -> TargetConfig:
    return shared_static(configs, "targets")


def train(
    configs: Sequence[TargetConfig], *, progress: bool = True, desc: str = "targets", checkpoint=None
) -> trainer.Trained:
    """Train a group of same-shape targets in one program; params by name (W, b, I, W_E, W_in, W_out)."""
    hyper = Hyper(
        *(
            jnp.asarray([getattr(c, f) for c in configs], jnp.float32)
            for f in ("feature_probability", "learning_rate", "weight_decay", "mixing_scale")
        )
    )
    return trainer.train(
        TargetLearner(group_config(configs)),
        hyper,
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
    """The variables of `init="truth"` targets, stacked over instances, named as `train` names them."""
    states = [nnx.to_flat_state(nnx.state(c.model(jax.random.key(0)))) for c in configs]
    return {
        "/".join(map(str, path)): np.stack([np.asarray(dict(s)[path][...]) for s in states])
        for path, _ in states[0]
    }


def one_hot_check(config: TargetConfig, model: Target) -> dict[str, Any]:
    """The sanity check of the target's reference recipe on one-hot inputs (`Target.one_hot_check`)."""
    return TARGETS.get(config.kind).one_hot_check(config, model)

"""Stochastic Parameter Decomposition (Bushnaq, Braun & Sharkey 2025) of a target model, written for ONE
decomposition; the trainer vmaps it over seeds and loss coefficients.

Each weight matrix ``W`` (``d_out x d_in``) of the target (superpose.targets) is
approximated by ``C`` rank-1 subcomponents, ``W ≈ Σ_c u_c v_cᵀ``; in code ``V`` is
``d_in x C`` and ``U`` is ``C x d_out``, and a layer with mask ``m`` computes
``((a V) ⊙ m) U`` per sample (no per-sample weight is ever formed). Biases and frozen
matrices outside `matrices()` are not decomposed.

Each subcomponent has a causal-importance MLP reading its own inner activation
``h_c = v_cᵀ a`` (of the target's clean forward pass): ``g_c = σ(w2_c·GELU(w1_c h_c + b1_c) + b2_c)``,
with a hard sigmoid ``σ``. Losses, for ``L`` decomposed matrices:

* faithfulness: ``Σ_l ‖W_l − U_lᵀ V_lᵀ‖² / (entries of all W_l)``;
* stochastic reconstruction: the output with every layer masked by ``m = g_lo + (1 − g_lo) r``,
  ``r ~ U(0, 1)`` per sample, layer and subcomponent, against the target's output (MSE);
* the same layer by layer (one masked layer at a time, error at the output), mean over layers;
* importance minimality: ``Σ_l Σ_c mean_b g_up^p``.

Two recipes (`recipe`): ``paper`` (the code the paper's numbers come from): lower-leaky
``σ_lo(x) = 0.01x`` below 0 for the masks, upper-leaky ``σ_up`` for the minimality loss,
``V`` with std ``1/√d_out``; ``main`` (the authors' later code): ``σ_lo`` clamped to [0, 1] with a
straight-through gradient that only pushes up below 0, ``V`` with std ``1/√d_in``. Both use
``U`` with std ``1/√C``, ``w1 ~ N(0, 2)``, ``w2 ~ N(0, 1/d_gate)``, Adam without weight decay.
The later code's delta component is an option (`delta_component`): every masked layer adds back the
remainder ``ΔW = W − Σ_c u_c v_cᵀ`` scaled by one U(0, 1) mask per sample, which lets the faithfulness
coefficient be 0.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose import targets as targets_lib
from superpose.decomposition.training import Method, target_inputs, train_group
from superpose.measures import pieces
from superpose.targets import TargetConfig
from superpose.targets import group as target_group
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import InstanceConfig, per_instance
from superpose.validate import MAX_SEED, ConfigError, check_choice, check_float, check_int

RECIPES = ("paper", "main")


@dataclasses.dataclass(frozen=True, kw_only=True)
class SPDConfig(InstanceConfig):
    """One decomposition and its training recipe (defaults: the paper's TMS 5-2 run)."""

    n_components: int = 20
    """C, subcomponents per decomposed matrix."""
    d_gate: int = 16
    """Hidden width of each causal-importance MLP."""
    steps: int = 40_000
    """Training steps (the paper's TMS 5-2: 40,000)."""
    batch_size: int = 4096
    """Inputs per step (the paper: 4096)."""
    learning_rate: float = per_instance(1e-3)
    """Adam's peak learning rate (the paper: 1e-3)."""
    schedule: str = "cosine"
    """`cosine` decay to 0 or `constant`."""
    faithfulness: float = per_instance(1.0)
    """β₁, the coefficient of the faithfulness loss ‖W − Σ_c u_c v_cᵀ‖²."""
    stochastic_recon: float = per_instance(1.0)
    """β₂, the coefficient of the stochastic reconstruction loss (all layers masked)."""
    stochastic_recon_layerwise: float = per_instance(1.0)
    """The coefficient of the layer-wise stochastic reconstruction loss (one masked layer at a time)."""
    importance_minimality: float = per_instance(3e-3)
    """β₃, the coefficient of the importance-minimality loss."""
    p: float = per_instance(1.0)
    """The exponent of the importance-minimality loss."""
    recipe: str = "paper"
    """`paper` (the paper's sigmoids and init) or `main` (the authors' later code; module doc)."""
    delta_component: bool = False
    """Add the remainder W − UV back into every masked layer, with a per-sample U(0, 1) mask (module doc)."""
    seed: int = per_instance(0)
    """The run's random stream: initialisation, data and masks."""
    log_every: int = 1000
    """Steps per compiled chunk."""

    def __post_init__(self):
        for name in ("n_components", "d_gate", "steps", "batch_size", "log_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_choice("schedule", self.schedule, targets_lib.SCHEDULES)
        check_choice("recipe", self.recipe, RECIPES)
        if not isinstance(self.delta_component, (bool, np.bool_)):
            raise ConfigError(f"delta_component must be true or false, got {self.delta_component!r}")
        check_float("learning_rate", self.learning_rate, lower=0.0, open_lower=True)
        for name in (
            "faithfulness",
            "stochastic_recon",
            "stochastic_recon_layerwise",
            "importance_minimality",
        ):
            check_float(name, getattr(self, name), lower=0.0)
        check_float("p", self.p, lower=0.0, open_lower=True)




PRESETS: dict[str, SPDConfig] = {
    "tms_5-2": SPDConfig(n_components=20, importance_minimality=3e-3, p=1.0),
    "tms_5-2-id": SPDConfig(n_components=20, importance_minimality=3e-3, p=1.0),
    "tms_40-10": SPDConfig(n_components=200, importance_minimality=1e-4, p=2.0),
    "tms_40-10-id": SPDConfig(n_components=200, importance_minimality=1e-4, p=2.0),
    "resid_mlp1": SPDConfig(
        n_components=100,
        importance_minimality=1e-5,
        p=2.0,
        learning_rate=2e-3,
        schedule="constant",
        batch_size=2048,
        steps=30_000,
    ),
    "resid_mlp2": SPDConfig(
        n_components=400,
        importance_minimality=2e-5,
        p=2.0,
        learning_rate=1e-3,
        schedule="constant",
        batch_size=2048,
        steps=50_000,
    ),
    "resid_mlp3": SPDConfig(
        n_components=500,
        importance_minimality=0.5e-5,
        p=2.0,
        learning_rate=1e-3,
        d_gate=128,
        schedule="constant",
        batch_size=2048,
        steps=100_000,
    ),
}
"""The paper's per-model hyperparameters (Bushnaq, Braun & Sharkey 2025, appendix; the `resid_mlp2` β₃ of its
released config, 2e-5, where the text says 1e-5)."""


# ---------------------------------------------------------------------------------------- hard sigmoids


def upper_leaky(x):
    """σ_up: 0 below 0, x on [0, 1], 1 + 0.01 (x − 1) above (the minimality loss's)."""
    return jnp.where(x <= 0, 0.0, jnp.where(x >= 1, 1 + 0.01 * (x - 1), x))


def lower_leaky(x):
    """σ_lo of the paper: 0.01 x below 0, x on [0, 1], 1 above (the masks')."""
    return jnp.where(x <= 0, 0.01 * x, jnp.where(x >= 1, 1.0, x))


@jax.custom_vjp
def lower_clamped(x):
    """σ_lo of the later code: clamp to [0, 1]; the gradient passes on (0, 1], is 0 above 1, and below 0
    passes 0.01·gradient only where it would push x up."""
    return jnp.clip(x, 0.0, 1.0)


def _clamped_fwd(x):
    return lower_clamped(x), x


def _clamped_bwd(x, g):
    below = jnp.where(g < 0, 0.01 * g, 0.0)
    return (jnp.where(x <= 0, below, jnp.where(x > 1, 0.0, g)),)


lower_clamped.defvjp(_clamped_fwd, _clamped_bwd)


# ---------------------------------------------------------------------------------------- the model


class Components(nnx.Module):
    """C rank-1 subcomponents of one d_out x d_in matrix, with their causal-importance MLPs."""

    def __init__(self, d_out: int, d_in: int, n_components: int, d_gate: int, recipe: str, key: jax.Array):
        k_v, k_u, k_1, k_2 = jax.random.split(key, 4)
        c = n_components
        v_std = 1 / math.sqrt(d_out if recipe == "paper" else d_in)
        self.V = nnx.Param(v_std * jax.random.normal(k_v, (d_in, c), jnp.float32))
        self.U = nnx.Param(jax.random.normal(k_u, (c, d_out), jnp.float32) / math.sqrt(c))
        self.gate_w1 = nnx.Param(math.sqrt(2.0) * jax.random.normal(k_1, (c, d_gate), jnp.float32))
        self.gate_b1 = nnx.Param(jnp.zeros((c, d_gate), jnp.float32))
        self.gate_w2 = nnx.Param(jax.random.normal(k_2, (c, d_gate), jnp.float32) / math.sqrt(d_gate))
        self.gate_b2 = nnx.Param(jnp.zeros((c,), jnp.float32))

    def weight(self) -> jax.Array:
        """Σ_c u_c v_cᵀ, d_out x d_in."""
        return (self.V[...] @ self.U[...]).T

    def inner(self, a_BxD: jax.Array) -> jax.Array:
        """h_BxP = a V, each subcomponent's inner activation."""
        return a_BxD @ self.V[...]

    def masked(self, a_BxD: jax.Array, mask_BxP: jax.Array) -> jax.Array:
        return (self.inner(a_BxD) * mask_BxP) @ self.U[...]

    def importance_logits(self, h_BxP: jax.Array) -> jax.Array:
        """The causal-importance MLPs' pre-sigmoid outputs, one per subcomponent."""
        hidden = jax.nn.gelu(h_BxP[..., None] * self.gate_w1[...] + self.gate_b1[...], approximate=False)
        return jnp.sum(hidden * self.gate_w2[...], axis=-1) + self.gate_b2[...]


class Decomposition(nnx.Module):
    """One Components per decomposed matrix of the target, by the target's names for them."""

    def __init__(
        self, shapes: dict[str, tuple[int, int]], n_components: int, d_gate: int, recipe: str, key: jax.Array
    ):
        keys = jax.random.split(key, len(shapes))
        self.layers = nnx.Dict(
            {
                name: Components(*shape, n_components, d_gate, recipe, k)
                for (name, shape), k in zip(shapes.items(), keys)
            }
        )

    def names(self) -> list[str]:
        return list(self.layers.keys())


def matrix_shapes(target: TargetConfig) -> dict[str, tuple[int, int]]:
    """The target's decomposed matrices' shapes (d_out, d_in), in forward order."""
    shapes = jax.eval_shape(lambda: target.model(jax.random.key(0)).matrices())
    return {name: tuple(a.shape) for name, a in shapes.items()}


class Losses(NamedTuple):
    faithfulness: jax.Array
    stochastic_recon: jax.Array
    stochastic_recon_layerwise: jax.Array
    importance_minimality: jax.Array


class Hyper(NamedTuple):
    learning_rate: jax.Array
    faithfulness: jax.Array
    stochastic_recon: jax.Array
    stochastic_recon_layerwise: jax.Array
    importance_minimality: jax.Array
    p: jax.Array


def importances(model: Decomposition, acts: dict[str, jax.Array], recipe: str):
    """(g_lo, g_up) per layer from the target's activations entering each decomposed matrix."""
    lower = lower_leaky if recipe == "paper" else lower_clamped
    logits = {n: model.layers[n].importance_logits(model.layers[n].inner(acts[n])) for n in model.names()}
    return {n: lower(v) for n, v in logits.items()}, {n: upper_leaky(v) for n, v in logits.items()}


def clean_pass(target: targets_lib.Target, x_BxF: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """The target's output and the input activations of each decomposed matrix."""
    acts: dict[str, jax.Array] = {}
    weights = target.matrices()

    def record(name, a):
        acts[name] = a
        return a @ weights[name].T

    return target.forward(x_BxF, record), acts


def losses(
    model: Decomposition,
    target: targets_lib.Target,
    x_BxF: jax.Array,
    mask_key: jax.Array,
    p: jax.Array,
    recipe: str,
    delta_component: bool = False,
) -> Losses:
    """The four SPD losses of one batch (module doc), before their coefficients."""
    weights = target.matrices()
    y_BxO, acts = clean_pass(target, x_BxF)
    y_BxO, acts = jax.lax.stop_gradient((y_BxO, acts))
    g_lo, g_up = importances(model, acts, recipe)
    names = model.names()
    keys = jax.random.split(mask_key, 2 * len(names))
    r = {n: jax.random.uniform(k, g_lo[n].shape) for n, k in zip(names, keys)}
    mask = {n: g_lo[n] + (1 - g_lo[n]) * r[n] for n in names}
    delta_mask = {n: jax.random.uniform(k, (x_BxF.shape[0], 1)) for n, k in zip(names, keys[len(names) :])}

    def masked(only: str | None):
        def apply(name, a):
            if only is None or name == only:
                out = model.layers[name].masked(a, mask[name])
                if delta_component:
                    out = out + delta_mask[name] * (a @ (weights[name] - model.layers[name].weight()).T)
                return out
            return a @ weights[name].T

        return apply

    def error(apply):
        return jnp.mean((target.forward(x_BxF, apply) - y_BxO) ** 2)

    n_entries = sum(w.size for w in weights.values())
    return Losses(
        faithfulness=sum(jnp.sum((weights[n] - model.layers[n].weight()) ** 2) for n in names) / n_entries,
        stochastic_recon=error(masked(None)),
        stochastic_recon_layerwise=sum(error(masked(n)) for n in names) / len(names),
        importance_minimality=sum(jnp.sum(jnp.mean((g_up[n] + 1e-12) ** p, axis=0)) for n in names),
    )


@dataclasses.dataclass(frozen=True)
class SPDLearner(Learner):
    """SPD of one target instance (superpose.train.learner); `data` holds each instance's target arrays."""

    config: SPDConfig
    target: TargetConfig
    data_per_instance = True
    cpu_compiler_options = trainer.YNN_DOTS_ONLY  # see there: a one-instance TMS 5-2 step 6.4 -> 1.15 ms

    def init(self, seed, hyper: Hyper):
        init_key, data_key = jax.random.split(rng.key(seed))
        c = self.config
        return Decomposition(
            matrix_shapes(self.target), c.n_components, c.d_gate, c.recipe, init_key
        ), data_key

    def optimizer(self, hyper: Hyper):
        shape = targets_lib.schedule(self.config.schedule, self.config.steps)
        return optax.adam(lambda count: hyper.learning_rate * shape(count))

    def batch(self, data_key, hyper, data, t):
        key = jax.random.fold_in(data_key, t)
        k_x, k_mask = jax.random.split(key)
        return target_inputs(self.target, k_x, data, self.config.batch_size), k_mask, data["params"]

    def loss(self, model: Decomposition, batch, hyper: Hyper, carry):
        x, mask_key, params = batch
        target = targets_lib.from_arrays(self.target, params)
        parts = losses(model, target, x, mask_key, hyper.p, self.config.recipe, self.config.delta_component)
        total = (
            hyper.faithfulness * parts.faithfulness
            + hyper.stochastic_recon * parts.stochastic_recon
            + hyper.stochastic_recon_layerwise * parts.stochastic_recon_layerwise
            + hyper.importance_minimality * parts.importance_minimality
        )
        return total, parts

    def bytes_per_instance(self) -> int:
        """Float32: parameters with Adam moments and gradient; per sample, the importance MLPs' hidden layer
        (kept with its pre-activation and gradient) and a few C-vectors per matrix, and the inputs and outputs
        of every matrix in each of the L + 2 forward passes (clean, all masked, one per layer)."""
        c, shapes = self.config, matrix_shapes(self.target)
        n_params = sum((d_in + d_out + 3 * c.d_gate + 1) * c.n_components for d_out, d_in in shapes.values())
        widths = sum(d_in + d_out for d_out, d_in in shapes.values())
        per_sample = len(shapes) * c.n_components * (3 * c.d_gate + 8) + (len(shapes) + 2) * widths
        return int(4 * (4 * n_params + c.batch_size * per_sample))


def train(
    configs: Sequence[SPDConfig],
    target_configs: Sequence[TargetConfig],
    target_params: Sequence[dict[str, np.ndarray]],
    *,
    progress: bool = True,
    desc: str = "spd",
    checkpoint=None,
) -> trainer.Trained:
    """Decompose one target per instance (the same one repeated, or several of one shape) in one program.

    Args:
      configs: one SPDConfig per decomposition; their static fields must agree.
      target_configs, target_params: the target each decomposition splits (its config and arrays by name).
    """
    return train_group(
        "spd",
        SPDLearner,
        Hyper,
        configs,
        target_configs,
        target_params,
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )


@functools.lru_cache(maxsize=16)
def _importance_fn(config: SPDConfig, target: TargetConfig):
    def one(params, target_params, x_BxF):
        model = trainer.module_from_arrays(
            lambda: Decomposition(
                matrix_shapes(target), config.n_components, config.d_gate, config.recipe, jax.random.key(0)
            ),
            params,
        )
        _, acts = clean_pass(targets_lib.from_arrays(target, target_params), x_BxF)
        return importances(model, acts, config.recipe)[0]

    return jax.jit(one)


def causal_importance(
    config: SPDConfig,
    target: TargetConfig,
    params: dict[str, np.ndarray],
    target_params: dict[str, np.ndarray],
    x_BxF: np.ndarray,
) -> dict[str, np.ndarray]:
    """g_lo (B x C) of each decomposed matrix on inputs `x` (one decomposition, arrays by name)."""
    out = _importance_fn(config.static(), target.static())(
        params, target_params, jnp.asarray(x_BxF, jnp.float32)
    )
    return {n: np.asarray(v) for n, v in out.items()}


def evaluate(
    config: SPDConfig,
    target: TargetConfig,
    params: dict[str, np.ndarray],
    target_params: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One decomposition's metrics against its target's truth, as the target states it (`true_pieces`,
    `importance_truth`, `neuron_contributions` of superpose.targets.target.Target): the pieces' mmcs and ml2r;
    the causal-importance errors on one-hot inputs at thresholds 0.1 and 0.2; the CI L0 on data; the neuron
    contributions' slope and correlation (superpose.measures.pieces)."""
    truth = targets_lib.TARGETS.get(target.kind)
    out: dict[str, Any] = {}
    name = truth.true_pieces(target)
    if name is not None:
        layer = pieces.spd_pieces(params[f"layers/{name}/U"], params[f"layers/{name}/V"])
        out["mmcs"], out["ml2r"] = pieces.mmcs_ml2r(target_params[name], layer)
    one_hot = causal_importance(config, target, params, target_params, target_group.one_hot_inputs(target))
    data = causal_importance(config, target, params, target_params, target_group.eval_inputs(target))
    for tau, suffix in ((0.1, ""), (0.2, "_tau0.2")):
        errors = {}
        for group, (matrices, k) in truth.importance_truth(target).items():
            ci = np.concatenate([one_hot[m] for m in matrices], 1)
            errors[group] = pieces.identity_ci_error(ci, tau) if k == 0 else pieces.dense_ci_error(ci, k, tau)
        out[f"ci_error{suffix}"] = int(sum(errors.values()))
        out |= {f"ci_error_{name}{suffix}": v for name, v in errors.items()}
    out["ci_l0"] = {name: pieces.ci_l0(g) for name, g in data.items()}
    if truth.neuron_contributions:
        model_nc, spd_nc = neuron_contributions(config, target, params, target_params)
        slope = float(np.sum(model_nc * spd_nc) / max(np.sum(model_nc**2), 1e-12))
        out["nc_slope"] = slope
        out["nc_correlation"] = float(np.corrcoef(model_nc.ravel(), spd_nc.ravel())[0, 1])
    return out


def neuron_contributions(
    config: SPDConfig,
    target: TargetConfig,
    params: dict[str, np.ndarray],
    target_params: dict[str, np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """(model, SPD) neuron contributions, features x neurons of all layers (Bushnaq et al. 2025): for SPD,
    W_in replaced by the single subcomponent contributing most to each feature, W_out by its pieces' sum."""
    W_E = target_params["W_E"]
    model_nc, spd_nc_layers = [], []
    for layer in range(target.n_layers):
        W_in, W_out = target_params["W_in"][layer], target_params["W_out"][layer]
        model_nc.append(pieces.neuron_contributions(W_E, W_in, W_out))
        U_in, V_in = params[f"layers/W_in.{layer}/U"], params[f"layers/W_in.{layer}/V"]
        W_out_spd = (params[f"layers/W_out.{layer}/V"] @ params[f"layers/W_out.{layer}/U"]).T
        read = W_E @ W_out_spd  # features x neurons: W_outᵀ e_i
        inner = W_E @ V_in  # features x C: v_cᵀ e_i
        spd_nc_layers.append(read[:, None, :] * inner[:, :, None] * U_in[None])  # F x C x neurons
    stacked = np.concatenate(spd_nc_layers, axis=1)  # F x (L·C) x neurons of one layer each
    n_c = spd_nc_layers[0].shape[1]
    size = np.linalg.norm(stacked, axis=2)
    best = np.argmax(size, axis=1)
    spd_nc = np.zeros((W_E.shape[0], target.n_layers * target.n_hidden))
    for i, c in enumerate(best):
        layer = c // n_c
        spd_nc[i, layer * target.n_hidden : (layer + 1) * target.n_hidden] = stacked[i, c]
    return np.concatenate(model_nc, axis=1), spd_nc


class SPD(Method, name="spd"):
    config = SPDConfig
    train = staticmethod(train)
    evaluate = staticmethod(evaluate)

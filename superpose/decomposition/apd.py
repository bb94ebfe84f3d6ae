"""Attribution-based Parameter Decomposition (Braun, Bushnaq, Heimersheim, Mendel & Sharkey 2025), the
baseline SPD improved on, written for ONE decomposition; the trainer vmaps it.

A component ``c`` is a whole parameter vector: one full matrix ``P_{c,l} = (A_{c,l} B_{c,l})ᵀ`` per
decomposed matrix ``l`` of the target (``A``: ``d_in x r``, ``B``: ``r x d_out``, ``r = min(d_in, d_out)``).
Per input, a component's attribution is

    A_c(x)² ∝ Σ_o ( Σ_l ⟨∂f_o/∂z_l , P_{c,l} a_l⟩ )²

with ``z_l`` the output and ``a_l`` the input of layer ``l`` in the target's forward pass (the
target's gradients, no gradient through them). The ⌊k·B⌋ largest (input, component) attributions of
the batch are kept (batch top-k), and the losses are

* faithfulness: ``Σ_l ‖W_l − Σ_c P_{c,l}‖² / n_params``;
* minimality: the MSE between the target's output and the output with each input's kept components;
* simplicity: ``Σ_b Σ_c s_bc Σ_{l,i} (‖A_{c,l,:,i}‖² ‖B_{c,l,i,:}‖²)^{p/2} / n_params / B`` (a Schatten-p norm
  of the kept components).

The authors' code differs from the paper's text in ways their TMS results depend on, offered as options:
`tied` (a component's piece of Wᵀ is its piece of W transposed, where the target ties them, so TMS has half
the free parameters), `init_scale` (the initial factors' size) and the `quarter_cosine` schedule
(cos(π/2 · t / (T − 1)), what their code calls cosine). The target's bias is the trained model's, frozen, in
either form: the decomposition only ever replaces the matrices.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from superpose import targets as targets_lib
from superpose.activations import kth_largest
from superpose.decomposition.spd import clean_pass, matrix_shapes
from superpose.decomposition.training import Method, target_inputs, train_group
from superpose.measures import pieces as pieces_lib
from superpose.targets import TargetConfig
from superpose.train import rng, trainer
from superpose.train.learner import Learner
from superpose.train.per_instance import InstanceConfig, added_field, per_instance
from superpose.validate import MAX_SEED, ConfigError, check_choice, check_float, check_int


@dataclasses.dataclass(frozen=True, kw_only=True)
class APDConfig(InstanceConfig):
    """One APD run (defaults: the paper's TMS 5-2)."""

    n_components: int = 5
    """C, parameter components (each spans every decomposed matrix)."""
    top_k: float = 0.211
    """Components kept per input on average: ⌊top_k · batch⌋ (input, component) pairs per batch."""
    steps: int = 20_000
    """Training steps (the paper's TMS 5-2: 20,000)."""
    batch_size: int = 2048
    """Inputs per step (the paper: 2048)."""
    learning_rate: float = per_instance(0.03)
    """Adam's peak learning rate (the paper: 0.03)."""
    schedule: str = "constant"
    """`constant`, `cosine` decay to 0 (half a period), or `quarter_cosine`, cos(π/2 · t / (T − 1)) (the
    authors' code), after the warm-up."""
    warmup_fraction: float = 0.05
    """Linear warm-up over this fraction of the steps, then the schedule."""
    faithfulness: float = per_instance(1.0)
    """The coefficient of the faithfulness loss (the components sum to the target's weights)."""
    minimality: float = per_instance(1.0)
    """The coefficient of the minimality loss (the top-k components alone reproduce the output)."""
    simplicity: float = per_instance(0.7)
    """The coefficient of the simplicity loss (the Schatten-p norm of the active components)."""
    p: float = per_instance(1.0)
    """The Schatten exponent of the simplicity loss."""
    seed: int = per_instance(0)
    """The run's random stream: initialisation and data."""
    log_every: int = 1000
    """Steps per compiled chunk."""
    tied: bool = added_field(False)
    """Tie each component's pieces of matrices the target ties (`Target.transposed`; TMS: its Wᵀ piece is its
    W piece transposed), as the authors' code does; False: every matrix's pieces are free."""
    init_scale: float = added_field(1.0)
    """Multiplies both initial factors A and B of every piece (the piece by its square)."""

    def __post_init__(self):
        check_float("init_scale", self.init_scale, lower=0.0, open_lower=True)
        if not isinstance(self.tied, (bool, np.bool_)):
            raise ConfigError(f"tied must be true or false, got {self.tied!r}")
        for name in ("n_components", "steps", "batch_size", "log_every"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_float("top_k", self.top_k, lower=0.0, open_lower=True)
        check_float("learning_rate", self.learning_rate, lower=0.0, open_lower=True)
        check_float("warmup_fraction", self.warmup_fraction, lower=0.0)
        if self.warmup_fraction >= 1:
            raise ConfigError(f"warmup_fraction must be < 1, got {self.warmup_fraction}")
        if self.top_k * self.batch_size < 1:
            raise ConfigError(
                f"top_k x batch_size must keep at least one component, got {self.top_k * self.batch_size}"
            )
        for name in ("faithfulness", "minimality", "simplicity"):
            check_float(name, getattr(self, name), lower=0.0)
        check_float("p", self.p, lower=0.0, open_lower=True)




SCHEDULES = ("constant", "cosine", "quarter_cosine")


def schedule(name: str, steps: int) -> optax.Schedule:
    """The learning-rate shape after the warm-up: the targets' `constant` and `cosine`, or `quarter_cosine`,
    cos(π/2 · t / (T − 1)) from 1 to 0 (the APD authors' code)."""
    if name == "quarter_cosine":
        return lambda count: jnp.cos(0.5 * jnp.pi * jnp.minimum(count / max(steps - 1, 1), 1.0))
    return targets_lib.schedule(name, steps)


PRESETS: dict[str, APDConfig] = {
    "tms_5-2": APDConfig(),
    "tms_40-10": APDConfig(
        n_components=50,
        top_k=1.0,
        learning_rate=1e-3,
        schedule="cosine",
        minimality=10.0,
        simplicity=20.0,
        p=0.9,
    ),
}
"""The APD paper's TMS runs (its appendix; C = 5 for 5-2 from its released code, where the text is silent)."""


class Component(nnx.Module):
    """C full-rank pieces of one d_out x d_in matrix, one per component, each factored as (A B)ᵀ."""

    def __init__(self, d_out: int, d_in: int, n_components: int, key: jax.Array, init_scale: float = 1.0):
        r = min(d_in, d_out)
        k_a, k_b = jax.random.split(key)
        A = jax.random.normal(k_a, (n_components, d_in, r), jnp.float32) / math.sqrt(d_in)
        B = jax.random.normal(k_b, (n_components, r, d_out), jnp.float32) / math.sqrt(r)
        if init_scale != 1.0:
            A, B = init_scale * A, init_scale * B
        self.A = nnx.Param(A)
        self.B = nnx.Param(B)

    def push(self, a_BxI: jax.Array) -> jax.Array:
        """P_c a_b for every input b and component c, B x C x O."""
        inner = jnp.einsum("bi,cir->bcr", a_BxI, self.A[...])
        return jnp.einsum("bcr,cro->bco", inner, self.B[...])

    def pieces(self) -> jax.Array:
        """P_PxOxJ: component c's matrix, d_out x d_in."""
        return jnp.einsum("cir,cro->coi", self.A[...], self.B[...])

    def masked(self, a_BxI: jax.Array, keep_BxP: jax.Array) -> jax.Array:
        """Σ_c keep_bc P_c a_b for every input b."""
        inner = jnp.einsum("bi,cir->bcr", a_BxI, self.A[...]) * keep_BxP[..., None]
        return jnp.einsum("bcr,cro->bo", inner, self.B[...])

    def schatten(self, p) -> jax.Array:
        """Σ_i (‖A_{c,:,i}‖² ‖B_{c,i,:}‖²)^{p/2} per component."""
        a2 = jnp.sum(self.A[...] ** 2, axis=1)
        b2 = jnp.sum(self.B[...] ** 2, axis=2)
        return jnp.sum((a2 * b2 + 1e-16) ** (p / 2), axis=-1)


class Transposed:
    """The pieces of a matrix tied to a `Component`'s as their transposes: P'_c = P_cᵀ = A_c B_c."""

    def __init__(self, source: Component):
        self.source = source

    def pieces(self) -> jax.Array:
        return jnp.swapaxes(self.source.pieces(), 1, 2)

    def push(self, a_BxO: jax.Array) -> jax.Array:
        inner = jnp.einsum("bo,cro->bcr", a_BxO, self.source.B[...])
        return jnp.einsum("bcr,cir->bci", inner, self.source.A[...])

    def masked(self, a_BxO: jax.Array, keep_BxP: jax.Array) -> jax.Array:
        inner = jnp.einsum("bo,cro->bcr", a_BxO, self.source.B[...]) * keep_BxP[..., None]
        return jnp.einsum("bcr,cir->bi", inner, self.source.A[...])

    def schatten(self, p) -> jax.Array:
        return self.source.schatten(p)


class APDModel(nnx.Module):
    def __init__(self, shapes: dict[str, tuple[int, int]], n_components: int, key: jax.Array, *,
                 tied: dict[str, str] | None = None, init_scale: float = 1.0):
        tied = tied or {}
        own = {name: shape for name, shape in shapes.items() if name not in tied}
        keys = jax.random.split(key, len(own))
        self.layers = nnx.Dict({name: Component(*shape, n_components, k, init_scale)
                                for (name, shape), k in zip(own.items(), keys)})
        self.order = tuple(shapes)
        self.tied = tuple(tied.items())

    def names(self) -> list[str]:
        """Every decomposed matrix, in forward order (tied ones too)."""
        return list(self.order)

    def layer(self, name: str) -> Component | Transposed:
        """The pieces of matrix `name`: its own, or the transposes of the matrix it is tied to."""
        source = dict(self.tied).get(name)
        return Transposed(self.layers[source]) if source else self.layers[name]


class Hyper(NamedTuple):
    learning_rate: jax.Array
    faithfulness: jax.Array
    minimality: jax.Array
    simplicity: jax.Array
    p: jax.Array


class Losses(NamedTuple):
    faithfulness: jax.Array
    minimality: jax.Array
    simplicity: jax.Array


def attributions(model: APDModel, target: targets_lib.Target, x_BxF: jax.Array) -> jax.Array:
    """A_c(x)² up to a constant (module doc), B x C."""
    weights = target.matrices()
    _, acts = clean_pass(target, x_BxF)
    names = model.names()

    def output(deltas, x):  # one input; deltas[l] is added to layer l's output
        def apply(name, a):
            return a @ weights[name].T + deltas[name]

        return target.forward(x[None], apply)[0]

    zeros = {n: jnp.zeros((weights[n].shape[0],), jnp.float32) for n in names}
    jac = jax.vmap(lambda x: jax.jacrev(output)(zeros, x))(x_BxF)  # per layer: B x O x d_out
    jac = jax.lax.stop_gradient(jac)
    total = 0.0
    for n in names:  # Σ_l ⟨∂f_o/∂z_l, P_cl a_l⟩, B x O x C
        pushed = model.layer(n).push(jax.lax.stop_gradient(acts[n]))
        total = total + jnp.einsum("bok,bck->boc", jac[n], pushed)
    return jnp.sum(total**2, axis=1)


def losses(model: APDModel, target: targets_lib.Target, x_BxF: jax.Array, top_k: float, p) -> Losses:
    weights = target.matrices()
    y_BxO = jax.lax.stop_gradient(target(x_BxF))
    attribution = jax.lax.stop_gradient(attributions(model, target, x_BxF))
    n_keep = max(1, int(top_k * x_BxF.shape[0]))
    keep = (attribution >= kth_largest(attribution, n_keep, axis=None)).astype(jnp.float32)
    names = model.names()
    n_params = sum(w.size for w in weights.values())
    out = target.forward(x_BxF, lambda name, a: model.layer(name).masked(a, keep))
    faith = sum(jnp.sum((weights[n] - model.layer(n).pieces().sum(0)) ** 2) for n in names) / n_params
    schatten = sum(model.layer(n).schatten(p) for n in names)
    return Losses(faith, jnp.mean((out - y_BxO) ** 2), jnp.sum(keep * schatten) / n_params / x_BxF.shape[0])


@dataclasses.dataclass(frozen=True)
class APDLearner(Learner):
    config: APDConfig
    target: TargetConfig
    data_per_instance = True

    def init(self, seed, hyper: Hyper):
        init_key, data_key = jax.random.split(rng.key(seed))
        return APDModel(matrix_shapes(self.target), self.config.n_components, init_key, tied=self.tied(),
                        init_scale=self.config.init_scale), data_key

    def tied(self) -> dict[str, str]:
        if not self.config.tied:
            return {}
        pairs = targets_lib.TARGETS.get(self.target.kind).transposed(self.target)
        if not pairs:
            raise ConfigError(f"tied applies to targets with transposed matrices (TMS), not "
                              f"{self.target.kind}")
        return pairs

    def optimizer(self, hyper: Hyper):
        c = self.config
        warm = int(c.warmup_fraction * c.steps)
        main = schedule(c.schedule, c.steps - warm)
        shape = optax.join_schedules([optax.linear_schedule(0.0, 1.0, max(warm, 1)), main], [warm])
        return optax.adam(lambda count: hyper.learning_rate * shape(count))

    def batch(self, data_key, hyper, data, t):
        return target_inputs(
            self.target, jax.random.fold_in(data_key, t), data, self.config.batch_size
        ), data["params"]

    def loss(self, model: APDModel, batch, hyper: Hyper, carry):
        x, params = batch
        parts = losses(model, targets_lib.from_arrays(self.target, params), x, self.config.top_k, hyper.p)
        return (
            hyper.faithfulness * parts.faithfulness
            + hyper.minimality * parts.minimality
            + hyper.simplicity * parts.simplicity
        ), parts

    def bytes_per_instance(self) -> int:
        c, shapes = self.config, matrix_shapes(self.target)
        n_params = c.n_components * sum(min(o, i) * (o + i) for o, i in shapes.values())
        out = max(o for o, _ in shapes.values())
        per_sample = sum((c.n_components + out) * (o + i) for o, i in shapes.values())
        return int(4 * (4 * n_params + 4 * c.batch_size * per_sample))


def train(
    configs: Sequence[APDConfig],
    target_configs: Sequence[TargetConfig],
    target_params: Sequence[dict[str, np.ndarray]],
    *,
    progress: bool = True,
    desc: str = "apd",
    checkpoint=None,
) -> trainer.Trained:
    """Like superpose.decomposition.spd.train, for APD."""
    return train_group(
        "apd",
        APDLearner,
        Hyper,
        configs,
        target_configs,
        target_params,
        progress=progress,
        desc=desc,
        checkpoint=checkpoint,
    )


def pieces(params: dict[str, np.ndarray], name: str) -> np.ndarray:
    """P_PxOxJ of decomposed matrix `name` of one APD run (arrays by path)."""
    return np.einsum("cir,cro->coi", params[f"layers/{name}/A"], params[f"layers/{name}/B"])


def evaluate(
    config: APDConfig,
    target: TargetConfig,
    params: dict[str, np.ndarray],
    target_params: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One decomposition's metrics against its target's truth: the pieces' mmcs and ml2r where the target
    names its true pieces (superpose.measures.pieces); the number of live components (norm above 0.1 of the
    largest)."""
    out: dict[str, Any] = {}
    name = targets_lib.TARGETS.get(target.kind).true_pieces(target)
    if name is not None:
        out["mmcs"], out["ml2r"] = pieces_lib.mmcs_ml2r(target_params[name], pieces(params, name))
    norms = np.linalg.norm(pieces(params, next(iter(matrix_shapes(target)))), axis=(1, 2))
    out["live_components"] = int(np.sum(norms > 0.1 * norms.max()))
    return out


class APD(Method, name="apd"):
    config = APDConfig
    train = staticmethod(train)
    evaluate = staticmethod(evaluate)

"""The SynthSAEBench world (Chanin & Garriga-Alonso 2026): a feature dictionary with deep hierarchies.

A `World` draws activations x = Σ_g c_g d_g + b from G true features d_g (unit rows, optionally pushed
apart) plus a dictionary bias b, where the codes c are made in five steps, as SynthSAEBench makes them:

  1. firing: feature g fires with probability p_g from a profile (Zipf, linear or constant between p_min
     and p_max), independently or through a low-rank Gaussian copula z = F u + √(1 − ‖F_g‖²) ε, fire
     when z_g > Φ⁻¹(1 − p_g), with the G x R factor F kept as is (no G x G matrix anywhere);
  2. magnitudes: ReLU(N(μ_g, σ_g)), with μ linear in g (5 → 4 in the preset) and σ_g drawn once from a
     folded normal |N(0.5, 0.5)|;
  3. hierarchy, top level first: a forest of `roots` trees, each node with `branching` children down to
     `depth` levels, features numbered breadth-first (so roots are the most frequent under Zipf). Among
     the children of a mutually exclusive parent at most one stays active, chosen uniformly among the
     active ones; a child of an inactive parent is switched off, and of an active parent scaled by
     parent value / parent mean magnitude (`scale_children_by_parent`);
  4. x = cᵀD + b.

A child's firing probability is its probability given its parent (and its siblings' exclusion), so
its marginal rate is lower than p_g: the hierarchy lowers L0 (the 16k preset: E[L0] ≈ 34 where the
Zipf profile alone gives 60).

`PRESETS`: `synthsaebench-16k` with the published settings (16,384 features in 768 dimensions) and
`synthsaebench-cpu`, the same generator at a size two CPU cores train on (2,048 features in 96
dimensions; its ratios: G/d as 16k's, hierarchy over 66% of the features, ~18 true L0).

A `World` is a pytree: it is a source for `superpose.sae.model.train` and the bench like a
`groundtruth.FeatureSource` (`sample(world, key, n)` gives codes G x n and activations n x D).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose.train import rng
from superpose.validate import ConfigError, check_choice, check_float, check_int

FIRING = ("zipf", "linear", "constant")


@dataclasses.dataclass(frozen=True, kw_only=True)
class WorldConfig:
    """Everything that defines a world; `build` makes it (deterministic in `seed`)."""

    n_features: int
    """G, the true features."""
    n_dims: int
    """D, the dimensions of the activations."""
    firing: str = "zipf"
    """The firing-probability profile over features: `zipf`, `linear` or `constant`."""
    zipf_exponent: float = 0.5
    """zipf: p ∝ rank^−exponent."""
    max_probability: float = 0.4
    """The largest firing probability of the profile."""
    min_probability: float = 5e-4
    """Zipf: p ∝ rank^−exponent rescaled onto [min, max]; linear: from max to min; constant: max."""
    roots: int = 0
    """Hierarchy trees (0: no hierarchy)."""
    branching: int = 4
    """Children of every node of the hierarchy."""
    depth: int = 3
    """Levels below the roots."""
    mutually_exclusive: bool = True
    """Children of every parent are mutually exclusive."""
    scale_children_by_parent: bool = True
    """Scale an active child by its parent's value over the parent's mean magnitude."""
    compensate_probabilities: bool = True
    """Raise a child's probability to offset its parent's gate and its siblings' exclusion (`compensated`)."""
    correlation_rank: int = 0
    """Rank of the firing correlation (0: independent firing)."""
    correlation_scale: float = 0.1
    """Standard deviation of the low-rank correlation factor's entries."""
    orthogonalize_steps: int = 0
    """Adam steps that push the dictionary's directions apart (SynthSAEBench's; 0: random
    unit directions as drawn)."""
    orthogonalize_lr: float = 3e-4
    """The learning rate of those steps."""
    magnitude_mean: tuple[float, float] = (5.0, 4.0)
    """Mean firing magnitude, linear from the first feature to the last."""
    magnitude_std: tuple[float, float] = (0.5, 0.5)
    """Each feature's magnitude std is |N(mean, std)| of these, drawn once."""
    bias_norm: float = 0.5
    """The norm of the bias b added to every activation."""
    seed: int = 42
    """The world's random stream: dictionary, bias, profiles, correlations and forest."""

    def __post_init__(self):
        object.__setattr__(self, "magnitude_mean", tuple(self.magnitude_mean))
        object.__setattr__(self, "magnitude_std", tuple(self.magnitude_std))
        check_int("n_features", self.n_features, minimum=1)
        check_int("n_dims", self.n_dims, minimum=1)
        check_choice("firing", self.firing, FIRING)
        for name in ("roots", "correlation_rank", "orthogonalize_steps", "seed"):
            check_int(name, getattr(self, name), minimum=0)
        check_int("branching", self.branching, minimum=2)
        check_int("depth", self.depth, minimum=1)
        if not 0 < self.min_probability <= self.max_probability <= 1:
            raise ConfigError("firing probabilities need 0 < min_probability <= max_probability <= 1")
        for name in ("zipf_exponent", "orthogonalize_lr"):
            check_float(name, getattr(self, name), lower=0.0, open_lower=True)
        for name in ("correlation_scale", "bias_norm"):
            check_float(name, getattr(self, name), lower=0.0)
        if self.roots * tree_size(self.branching, self.depth) > self.n_features:
            raise ConfigError(
                f"{self.roots} trees of {tree_size(self.branching, self.depth)} features do not fit "
                f"in {self.n_features} features"
            )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tree_size(branching: int, depth: int) -> int:
    return sum(branching**level for level in range(depth + 1))


PRESETS = {
    "synthsaebench-16k": WorldConfig(
        n_features=16_384, n_dims=768, roots=128, correlation_rank=25, orthogonalize_steps=100
    ),
    "synthsaebench-cpu": WorldConfig(
        n_features=2048, n_dims=96, roots=16, correlation_rank=25, orthogonalize_steps=100
    ),
}
"""The published SynthSAEBench-16k world, and the same generator at a size for two CPU cores."""


@functools.partial(
    jax.tree_util.register_dataclass,
    meta_fields=("levels", "branching", "mutually_exclusive", "scale_children_by_parent"),
    data_fields=(
        "directions_GxD",
        "bias_D",
        "probability_G",
        "threshold_G",
        "magnitude_mean_G",
        "magnitude_std_G",
        "factor_GxR",
        "residual_std_G",
        "parent_G",
    ),
)
@dataclasses.dataclass(frozen=True)
class World:
    """A built world (module doc): arrays, and the forest's shape (static)."""

    directions_GxD: jax.Array
    bias_D: jax.Array
    probability_G: jax.Array
    """p_g: the probability to fire in step 1 (a child's is given its parent)."""
    threshold_G: jax.Array
    """Φ⁻¹(1 − p_g)."""
    magnitude_mean_G: jax.Array
    magnitude_std_G: jax.Array
    factor_GxR: jax.Array | None
    residual_std_G: jax.Array | None
    """√(1 − ‖F_g‖²)."""
    parent_G: jax.Array
    """Each feature's parent, −1 for features outside the hierarchy and roots."""
    levels: tuple[tuple[int, int], ...]
    """(first, end) feature index of each level of the forest, roots first: level l + 1 holds `branching`
    consecutive children of each feature of level l, in order."""
    branching: int
    mutually_exclusive: bool
    scale_children_by_parent: bool

    @property
    def n_features(self) -> int:
        return self.directions_GxD.shape[-2]

    @property
    def n_dims(self) -> int:
        return self.directions_GxD.shape[-1]


# --- building ----------------------------------------------------------------------------------------------


def firing_probabilities(config: WorldConfig) -> np.ndarray:
    g, hi, lo = config.n_features, config.max_probability, config.min_probability
    if config.firing == "constant" or g == 1:
        return np.full(g, hi, np.float32)
    if config.firing == "linear":
        return np.linspace(hi, lo, g).astype(np.float32)
    weight = (1.0 + np.arange(g)) ** -config.zipf_exponent
    return (lo + (hi - lo) * (weight - weight.min()) / (weight.max() - weight.min())).astype(np.float32)


def forest(config: WorldConfig) -> tuple[np.ndarray, np.ndarray]:
    """(parent_G, level_G) of `roots` trees numbered breadth-first over the whole forest: roots 0 … R − 1,
    then their children, then grandchildren."""
    parent = np.full(config.n_features, -1, np.int32)
    level = np.zeros(config.n_features, np.int32)
    above = np.arange(config.roots)
    next_index = config.roots
    for depth in range(1, config.depth + 1 if config.roots else 1):
        children = np.arange(next_index, next_index + above.size * config.branching)
        parent[children] = np.repeat(above, config.branching)
        level[children] = depth
        above, next_index = children, children[-1] + 1
    return parent, level


def compensated(p_G: np.ndarray, parent_G: np.ndarray, config: WorldConfig) -> np.ndarray:
    """SynthSAEBench's compensation: a child's probability p_g is divided by its parent's (uncompensated)
    probability P, and with exclusive siblings multiplied by 1 + Σ_{siblings j} p_j / P, the expected number
    of competitors, then capped at 1; so that marginal rates come out near the profile's."""
    p = p_G.astype(np.float64)
    out = p.copy()
    children = np.flatnonzero(parent_G >= 0)
    parent_p = p[parent_G[children]]
    out[children] = p[children] / parent_p
    if config.mutually_exclusive:
        sibling_total = np.bincount(parent_G[children], weights=p[children], minlength=p.size)[
            parent_G[children]
        ]
        out[children] *= 1 + (sibling_total - p[children]) / parent_p
    return np.minimum(out, 1.0).astype(np.float32)


def orthogonalize(directions_GxD: np.ndarray, steps: int, lr: float) -> np.ndarray:
    """SynthSAEBench's orthogonalisation: Adam on Σ_{i≠j} (d_i·d_j)² + G Σ_i (‖d_i‖² − 1)², then unit rows.
    The off-diagonal sum is ‖DᵀD‖²_F − Σ_i ‖d_i‖⁴, so a step costs G·D² instead of G²·D."""
    g = directions_GxD.shape[0]

    def loss(d):
        norms2 = jnp.sum(d**2, axis=1)
        return jnp.sum((d.T @ d) ** 2) - jnp.sum(norms2**2) + g * jnp.sum((norms2 - 1) ** 2)

    tx = optax.adam(lr)

    def step(carry, _):
        d, state = carry
        updates, state = tx.update(jax.grad(loss)(d), state)
        return (optax.apply_updates(d, updates), state), None

    d = jnp.asarray(directions_GxD / np.linalg.norm(directions_GxD, axis=1, keepdims=True), jnp.float32)
    (d, _), _ = jax.jit(lambda d: jax.lax.scan(step, (d, tx.init(d)), None, length=steps))(d)
    d = np.asarray(d, np.float64)
    return (d / np.linalg.norm(d, axis=1, keepdims=True)).astype(np.float32)


def low_rank_factor(n_features: int, rank: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """F with N(0, scale²) entries; rows whose ‖F_g‖² would exceed 0.99 are shrunk to it (SynthSAEBench)."""
    factor = rng.standard_normal((n_features, rank)) * scale
    norms2 = np.sum(factor**2, axis=1)
    too_big = norms2 > 0.99
    factor[too_big] *= np.sqrt(0.99 / norms2[too_big])[:, None]
    return factor.astype(np.float32)


def build(config: WorldConfig) -> World:
    """The world of `config`: dictionary, bias, profiles, correlation factor and forest (numpy on the host,
    one seeded generator per part, so changing one part leaves the others as they were)."""
    import scipy.stats

    g, d = config.n_features, config.n_dims
    parts = rng.seed_sequence(config.seed).spawn(5)
    directions = np.random.default_rng(parts[0]).standard_normal((g, d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    if config.orthogonalize_steps:
        directions = orthogonalize(directions, config.orthogonalize_steps, config.orthogonalize_lr)
    bias = np.random.default_rng(parts[1]).standard_normal(d)
    bias *= config.bias_norm / np.linalg.norm(bias)
    parent, level = forest(config)
    p = (
        compensated(firing_probabilities(config), parent, config)
        if config.compensate_probabilities
        else firing_probabilities(config)
    )
    mean = np.linspace(*config.magnitude_mean, g)
    std = np.abs(np.random.default_rng(parts[2]).normal(*config.magnitude_std, g))
    factor = residual = None
    if config.correlation_rank:
        factor = low_rank_factor(
            g, config.correlation_rank, config.correlation_scale, np.random.default_rng(parts[3])
        )
        residual = np.sqrt(1 - np.sum(factor.astype(np.float64) ** 2, axis=1)).astype(np.float32)
    levels = tuple(
        (int(np.flatnonzero(level == depth)[0]), int(np.flatnonzero(level == depth)[-1]) + 1)
        for depth in range(1, int(level.max()) + 1)
    )
    return World(
        directions_GxD=jnp.asarray(directions, jnp.float32),
        bias_D=jnp.asarray(bias, jnp.float32),
        probability_G=jnp.asarray(p),
        threshold_G=jnp.asarray(scipy.stats.norm.isf(p.astype(np.float64)), jnp.float32),
        magnitude_mean_G=jnp.asarray(mean, jnp.float32),
        magnitude_std_G=jnp.asarray(std, jnp.float32),
        factor_GxR=None if factor is None else jnp.asarray(factor),
        residual_std_G=None if residual is None else jnp.asarray(residual),
        parent_G=jnp.asarray(parent),
        levels=((0, config.roots), *levels) if config.roots else (),
        branching=config.branching,
        mutually_exclusive=config.mutually_exclusive,
        scale_children_by_parent=config.scale_children_by_parent,
    )


def preset(name: str) -> World:
    check_choice("world", name, tuple(PRESETS))
    return build(PRESETS[name])


# --- sampling (one world; vmap adds an instance axis)
# ------------------------------------------------------------


def codes(world: World, key: jax.Array, n: int) -> jax.Array:
    """Steps 1-3 of the module doc: the codes c_GxN (non-negative, 0 = inactive)."""
    g = world.n_features
    fire_key, magnitude_key, exclusion_key = jax.random.split(key, 3)
    if world.factor_GxR is None:
        on = jax.random.uniform(fire_key, (g, n)) < world.probability_G[:, None]
    else:
        shared_key, own_key = jax.random.split(fire_key)
        u = jax.random.normal(shared_key, (world.factor_GxR.shape[1], n))
        z = world.factor_GxR @ u + world.residual_std_G[:, None] * jax.random.normal(own_key, (g, n))
        on = z > world.threshold_G[:, None]
    noise = jax.random.normal(magnitude_key, (g, n))
    c = jnp.where(
        on, jax.nn.relu(world.magnitude_mean_G[:, None] + world.magnitude_std_G[:, None] * noise), 0.0
    )
    b = world.branching
    for level, ((up, first), (_, end)) in enumerate(zip(world.levels, world.levels[1:]), start=1):
        children = c[first:end].reshape(first - up, b, n)  # the children of parent up + i are row i
        if world.mutually_exclusive:  # among the active children the one with the largest uniform score stays
            score = jnp.where(
                children > 0,
                jax.random.uniform(jax.random.fold_in(exclusion_key, level), children.shape),
                -1.0,
            )
            children = jnp.where(
                jnp.arange(b)[None, :, None] == jnp.argmax(score, axis=1)[:, None, :], children, 0.0
            )
        parent = c[up:first][:, None, :]  # final already: it sits one level up
        if world.scale_children_by_parent:
            children = children * (parent / world.magnitude_mean_G[up:first][:, None, None])
        else:
            children = children * (parent > 0)
        c = c.at[first:end].set(children.reshape(end - first, n))
    return c


def sample(world: World, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """A batch (codes c_GxN, activations x_NxD = cᵀD + b)."""
    c = codes(world, key, n)
    return c, c.T @ world.directions_GxD + world.bias_D


def mean_max_overlap(directions_GxD: np.ndarray, chunk: int = 2048) -> float:
    """ρ_mm: the mean over features of the largest |cos| with any other feature."""
    d = np.asarray(directions_GxD, np.float32)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    best = []
    for start in range(0, len(d), chunk):
        cos = np.abs(d[start : start + chunk] @ d.T)
        cos[np.arange(cos.shape[0]), start + np.arange(cos.shape[0])] = 0
        best.append(cos.max(axis=1))
    return float(np.concatenate(best).mean())

"""Data with known features, for the decomposition bench.

A `FeatureSource` is everything needed to draw activations whose true
decomposition is known: G feature directions in D dimensions, each feature's
firing probability and magnitude law, optional correlations between firing
events (a Gaussian copula) and an optional parent/child hierarchy. A batch is

    codes c_GxB >= 0 (sparse),   activations x_DxB = directions_GxDᵀ c_GxB (+ noise)

Two kinds of source (both `FeatureSource`s):
  * `toy_model_source`: the hidden layer h = W x of a trained toy model; the
    true features are the rows of W (not unit norm) and the codes are the toy
    model's inputs, drawn exactly as in training.
  * `synthetic_source`: a random dictionary with a probability profile
    (`constant_probabilities`, `geometric_probabilities`, `zipf_probabilities`),
    e.g. the Sharkey et al. (2022) preset `sharkey_source`.

Conventions (the published generators differ on these; we choose):
  * correlation is per sample (SAELens' Gaussian copula: feature i fires when
    z_i < Φ⁻¹(p_i), z ~ N(0, C)), not Sharkey's one latent draw per batch, so
    that marginal rates are exactly p_i in every batch;
  * probability profiles are rescaled to the stated expected L0 (Sharkey's
    replication leaves the uncorrelated profile unscaled, giving E[L0] ≈ 0.97
    instead of 5);
  * a child feature can fire only when its parent fires (absorption setups;
    Chanin et al. 2024); hierarchies are one level deep.

Sampling functions are written for ONE source; `vmap` adds the instance axis.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from superpose.data import synthsaebench
from superpose.data.sparse_features import sample_features
from superpose.train import rng
from superpose.validate import ConfigError


class FeatureSource(NamedTuple):
    directions_GxD: jax.Array
    """True feature directions (rows)."""
    probability_G: jax.Array
    """Marginal firing probability of each feature."""
    magnitude_mean_G: jax.Array | None = None
    """None: magnitudes U(0, 1] as in the toy models; else ReLU(N(mean, std))."""
    magnitude_std_G: jax.Array | None = None
    copula_cholesky_GxG: jax.Array | None = None
    """Cholesky factor of the firing correlation matrix; None: independent firing."""
    parent_G: jax.Array | None = None
    """Index of each feature's parent, -1 for roots; None: no hierarchy."""
    noise_std: jax.Array | None = None
    """Std of isotropic Gaussian noise added to the activations (None: no noise)."""

    @property
    def n_features(self) -> int:
        return self.directions_GxD.shape[-2]

    @property
    def n_dims(self) -> int:
        return self.directions_GxD.shape[-1]


def sample(source: FeatureSource | synthsaebench.World, key: jax.Array, batch_size: int
           ) -> tuple[jax.Array, jax.Array]:
    """A batch (codes c_GxB, activations x_BxD) from one source (or SynthSAEBench world)."""
    if isinstance(source, synthsaebench.World):
        return synthsaebench.sample(source, key, batch_size)
    p_G = source.probability_G
    if source.copula_cholesky_GxG is None and source.magnitude_mean_G is None:
        codes_GxB = sample_features(key, p_G, batch_size)  # one uniform: mask and U(0, 1] value
    else:
        fire_key, value_key = jax.random.split(key)
        if source.copula_cholesky_GxG is None:
            on_GxB = jax.random.uniform(fire_key, (p_G.shape[0], batch_size)) < p_G[:, None]
        else:
            z_GxB = source.copula_cholesky_GxG @ jax.random.normal(fire_key, (p_G.shape[0], batch_size))
            on_GxB = z_GxB < jax.scipy.special.ndtri(p_G)[:, None]
        if source.magnitude_mean_G is None:
            values = 1.0 - jax.random.uniform(value_key, on_GxB.shape)
        else:
            noise = jax.random.normal(value_key, on_GxB.shape)
            values = jnp.maximum(
                source.magnitude_mean_G[:, None] + source.magnitude_std_G[:, None] * noise, 0.0
            )
        codes_GxB = jnp.where(on_GxB, values, 0.0)
    if source.parent_G is not None:
        has_parent = source.parent_G >= 0
        parent_on = codes_GxB[jnp.maximum(source.parent_G, 0)] > 0
        codes_GxB = jnp.where(has_parent[:, None] & ~parent_on, 0.0, codes_GxB)
    x_BxD = codes_GxB.T @ source.directions_GxD
    if source.noise_std is not None:
        x_BxD = x_BxD + source.noise_std * jax.random.normal(jax.random.fold_in(key, 7), x_BxD.shape)
    return codes_GxB, x_BxD


# --- building sources (host side, numpy) -------------------------------------------------------------------


def random_directions(n_features: int, n_dims: int, seed: int) -> np.ndarray:
    """Unit directions G x D: Gaussian rows normalised (Sharkey et al.), exactly orthonormal when G <= D
    (`synthsaebench.orthogonalize` pushes an overcomplete dictionary apart as SynthSAEBench does)."""
    if n_features < 1 or n_dims < 1:
        raise ConfigError(
            f"a dictionary needs at least one feature and one dimension, got {n_features}x{n_dims}"
        )
    gaussian = rng.generator(seed).standard_normal((n_features, n_dims))
    if n_features <= n_dims:
        q, _ = np.linalg.qr(gaussian.T)
        return q.T.astype(np.float32)
    return (gaussian / np.linalg.norm(gaussian, axis=1, keepdims=True)).astype(np.float32)


def _scaled(weights: np.ndarray, expected_l0: float) -> np.ndarray:
    p = weights * (expected_l0 / weights.sum())
    if p.max() > 1:
        raise ConfigError(f"expected L0 {expected_l0} needs a firing probability above 1")
    return p.astype(np.float32)


def constant_probabilities(n_features: int, probability: float) -> np.ndarray:
    if not 0 < probability <= 1:
        raise ConfigError(f"firing probability must be in (0, 1], got {probability}")
    return np.full(n_features, probability, np.float32)


def geometric_probabilities(n_features: int, expected_l0: float, decay: float = 0.99) -> np.ndarray:
    """p_i ∝ decay**i, scaled so that Σ p_i = expected L0 (Sharkey et al. 2022)."""
    return _scaled(decay ** np.arange(n_features), expected_l0)


def zipf_probabilities(n_features: int, expected_l0: float, exponent: float = 0.5) -> np.ndarray:
    """p_i ∝ (i + 1)**-exponent, scaled so that Σ p_i = expected L0 (SynthSAEBench's Zipf profile)."""
    return _scaled((1.0 + np.arange(n_features)) ** -exponent, expected_l0)


def low_rank_correlation(n_features: int, rank: int, scale: float, seed: int) -> np.ndarray:
    """A correlation matrix I + low-rank: off-diagonal entries are scale·(u_i·u_j) for random unit u_i
    in `rank` dimensions (SynthSAEBench's low-rank correlation, rank 25, scale 0.1)."""
    if not 0 <= scale < 1:
        raise ConfigError(f"correlation scale must be in [0, 1), got {scale}")
    u = rng.generator(seed).standard_normal((n_features, rank))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    corr = scale * (u @ u.T)
    np.fill_diagonal(corr, 1.0)
    return corr


def synthetic_source(
    directions_GxD: np.ndarray,
    probability_G: np.ndarray,
    *,
    magnitude_mean: float | np.ndarray | None = None,
    magnitude_std: float | np.ndarray = 0.0,
    correlation_GxG: np.ndarray | None = None,
    parent_G: np.ndarray | None = None,
    noise_std: float | None = None,
) -> FeatureSource:
    g = directions_GxD.shape[0]
    probability_G = np.asarray(probability_G, np.float32)
    if probability_G.shape != (g,) or not np.all((probability_G > 0) & (probability_G <= 1)):
        raise ConfigError(f"need {g} firing probabilities in (0, 1]")
    mean = std = chol = parent = None
    if magnitude_mean is not None:
        mean = jnp.broadcast_to(jnp.asarray(magnitude_mean, jnp.float32), (g,))
        std = jnp.broadcast_to(jnp.asarray(magnitude_std, jnp.float32), (g,))
    if correlation_GxG is not None:
        try:
            chol = jnp.asarray(np.linalg.cholesky(correlation_GxG), jnp.float32)
        except np.linalg.LinAlgError:
            raise ConfigError("the correlation matrix is not positive definite") from None
    if parent_G is not None:
        parent = np.asarray(parent_G, np.int32)
        if (
            parent.shape != (g,)
            or np.any(parent >= g)
            or np.any(parent[parent >= 0] == np.flatnonzero(parent >= 0))
        ):
            raise ConfigError("parent_G must give, per feature, another feature's index or -1")
        if np.any(parent[parent[parent >= 0]] >= 0):
            raise ConfigError("hierarchies are one level deep: a parent cannot have a parent")
        parent = jnp.asarray(parent)
    return FeatureSource(
        directions_GxD=jnp.asarray(directions_GxD, jnp.float32),
        probability_G=jnp.asarray(probability_G),
        magnitude_mean_G=mean,
        magnitude_std_G=std,
        copula_cholesky_GxG=chol,
        parent_G=parent,
        noise_std=None if noise_std is None else jnp.asarray(noise_std, jnp.float32),
    )


def sharkey_source(
    n_dims: int = 256, n_features: int = 512, expected_l0: float = 5.0, decay: float = 0.99, seed: int = 0
) -> FeatureSource:
    """Sharkey, Braun & Millidge (2022): Gaussian unit directions, p_i ∝ 0.99**i with E[L0] = 5,
    magnitudes U(0, 1], independent firing (their correlated mode is a per-batch draw; see module doc)."""
    return synthetic_source(
        random_directions(n_features, n_dims, seed), geometric_probabilities(n_features, expected_l0, decay)
    )


def hierarchical_source(
    n_dims: int,
    n_parents: int,
    children_per_parent: int,
    *,
    parent_probability: float,
    child_probability: float,
    seed: int = 0,
) -> FeatureSource:
    """Parents fire with `parent_probability`; each child fires with `child_probability` given its parent
    (so its marginal rate is the product). Features are orthonormal when they fit, so any failure to
    recover them is absorption, not superposition."""
    g = n_parents * (1 + children_per_parent)
    parent = np.full(g, -1, np.int32)
    parent[n_parents:] = np.repeat(np.arange(n_parents), children_per_parent)
    prob = np.full(g, parent_probability, np.float32)
    prob[n_parents:] = child_probability  # conditional on the parent: the parent mask is applied after
    return synthetic_source(random_directions(g, n_dims, seed), prob, parent_G=parent)


def toy_model_source(W_FxH: np.ndarray, probability_F: np.ndarray) -> FeatureSource:
    """The hidden activations h = W x of a trained toy model; the true features are W's rows."""
    return synthetic_source(np.asarray(W_FxH, np.float32), np.asarray(probability_F, np.float32))


def stack(sources: list[FeatureSource]) -> FeatureSource:
    """One source per instance, stacked on a leading axis (for `vmap`)."""
    return jax.tree.map(lambda *a: jnp.stack(a), *sources)

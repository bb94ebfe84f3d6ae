"""Synthetic sparse features (Elhage et al. 2022, section "Experiment setup").

Each feature x_i is zero with probability S_i = 1 - p_i and otherwise uniform
on [0, 1]. Written for ONE instance; `vmap` adds the instance axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

FREQUENCY_LAWS = ("power", "exponential", "linear", "uniform")


def frequencies(law: str, n_features: int, parameter: float = 1.0, total: float = 1.0) -> np.ndarray:
    """Feature densities p_i (i = 1 .. n) that follow a frequency law, scaled to sum to `total` (the expected
    number of active features per input; Liu, Liu & Gore 2025 take 1) and capped at 1, as float32:
    `power` p_i ∝ i^(-parameter) (Zipf's law of words: parameter ≈ 1), `exponential` p_i ∝
    exp(-(i - 1) / parameter), `linear` p_i ∝ (n + 1 - i) / n, `uniform` p_i = total / n.

    The generator resolves a density to 2^-23 (a float32 uniform draw), so p_i below about 1e-5 is biased
    by up to 2^-23 / p_i relative; such a feature is seen a few times in a million inputs."""
    i = np.arange(1, n_features + 1, dtype=np.float64)
    shape = {
        "power": lambda: i ** -float(parameter),
        "exponential": lambda: np.exp(-(i - 1) / float(parameter)),
        "linear": lambda: (n_features + 1 - i) / n_features,
        "uniform": lambda: np.ones_like(i),
    }
    if law not in shape:
        from superpose.validate import ConfigError

        raise ConfigError(f"unknown frequency law '{law}' (known: {', '.join(FREQUENCY_LAWS)})")
    p = shape[law]()
    return np.minimum(p * (total / p.sum()), 1.0).astype(np.float32)


def sample_features(key: jax.Array, probability_F: jax.Array, batch_size: int) -> jax.Array:
    """A batch of sparse features.

    One uniform draw u per entry gives both the mask and the magnitude: the
    feature is present iff u < p, and then 1 - u / p is uniform on (0, 1] (never
    exactly 0, so "present" and "non-zero" agree). This halves the random
    numbers a step needs without changing the distribution.

    Args:
      key: typed PRNG key.
      probability_F: per-feature density p_i in (0, 1].
      batch_size: B.

    Returns:
      x_FxB, float32, feature-major (see superpose.toy.models on why).
    """
    p_Fx1 = probability_F[:, None]
    u_FxB = jax.random.uniform(key, (probability_F.shape[-1], batch_size))
    return jnp.where(u_FxB < p_Fx1, 1.0 - u_FxB / p_Fx1, 0.0)


def sample_structured(
    key: jax.Array, probability_F: jax.Array, batch_size: int, *, kind: str, set_size: int, signed: bool
) -> jax.Array:
    """Features drawn as the config's `data` field says (paper, "Correlated and anticorrelated features").

    `independent`: each feature on with its own probability (`sample_features`).
    `correlated`: features form consecutive sets of `set_size`; one Bernoulli(p) per set
        decides whether the whole set is on, values independent U[0, 1].
    `anticorrelated`: a set is on with probability p, and then exactly one member,
        chosen uniformly, takes a U[0, 1] value.
    Sets use the density of their first feature. With `signed`, values are
    uniform on [-1, 1] instead (the absolute-value task, E11).

    Returns:
      x_FxB, float32.
    """
    if kind == "independent":
        x_FxB = sample_features(key, probability_F, batch_size)
        if not signed:
            return x_FxB
        sign_key = jax.random.fold_in(key, 1)
        return x_FxB * jnp.where(jax.random.bernoulli(sign_key, 0.5, x_FxB.shape), 1.0, -1.0)
    n_features = probability_F.shape[-1]
    n_sets = n_features // set_size
    key_on, key_member, key_value = jax.random.split(key, 3)
    p_Sx1 = probability_F[::set_size][:, None]
    on_SxB = jax.random.uniform(key_on, (n_sets, batch_size)) < p_Sx1
    low = -1.0 if signed else 0.0
    value_FxB = jax.random.uniform(key_value, (n_features, batch_size), minval=low, maxval=1.0)
    if kind == "correlated":
        mask_FxB = jnp.repeat(on_SxB, set_size, axis=0)
    elif kind == "anticorrelated":
        member_SxB = jax.random.randint(key_member, (n_sets, batch_size), 0, set_size)
        chosen_FxB = (
            jnp.repeat(member_SxB, set_size, axis=0) == jnp.tile(jnp.arange(set_size), n_sets)[:, None]
        )
        mask_FxB = jnp.repeat(on_SxB, set_size, axis=0) & chosen_FxB
    else:
        raise ValueError(f"unknown data kind {kind!r}")
    return jnp.where(mask_FxB, value_FxB, 0.0)


def density_sweep(n: int, *, base: float = 20.0, span: float = 1.0) -> np.ndarray:
    """Densities base ** -linspace(0, span, n), the notebook's sparsity axis (1 -> base**-span)."""
    return (base ** -np.linspace(0.0, span, n)).astype(np.float64)

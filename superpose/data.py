"""Synthetic sparse features (Elhage et al. 2022, section "Experiment setup").

Each feature x_i is zero with probability S_i = 1 - p_i and otherwise uniform
on [0, 1]. Written for ONE instance; `vmap` adds the instance axis.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


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
      x_FxB, float32, feature-major (see superpose.models on why).
    """
    p_Fx1 = probability_F[:, None]
    u_FxB = jax.random.uniform(key, (probability_F.shape[-1], batch_size))
    return jnp.where(u_FxB < p_Fx1, 1.0 - u_FxB / p_Fx1, 0.0)


def density_sweep(n: int, *, base: float = 20.0, span: float = 1.0) -> np.ndarray:
    """Densities base ** -linspace(0, span, n), the notebook's sparsity axis (1 -> base**-span)."""
    return (base ** -np.linspace(0.0, span, n)).astype(np.float64)

"""Adversarial vulnerability of a toy model (Elhage et al. 2022, section "Superposition and
adversarial examples"): the analytic per-feature attack.

Gradient attacks fail on these models (their ReLUs are off almost always), so the
paper attacks along each feature's interference row, delta_i = eps (WᵀW)_i / ||(WᵀW)_i||,
and keeps the most harmful feature.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from superpose.toy.models import ToyModel


def attack_directions(W_FxH: jax.Array) -> jax.Array:
    """Unit attack directions, one row per feature: (WᵀW)_i / ||(WᵀW)_i||."""
    gram_FxF = W_FxH @ W_FxH.T
    return gram_FxF / jnp.maximum(jnp.linalg.norm(gram_FxF, axis=-1, keepdims=True), 1e-12)


def relative_vulnerability(model: ToyModel, x_FxB, importance_F, eps_fraction: float, *,
                           per_input: bool = True) -> jax.Array:
    """(L' - L) / L for the most harmful per-feature attack.

    Each input is attacked with L2 norm eps_fraction * ||x|| (`per_input`), or with eps_fraction times the
    batch's mean input norm, the same for every input (the paper's evaluation: "0.1 of the average input
    norm"). The target stays the clean input, so L' = L(x + delta; x). The increase is divided by the clean
    loss, which puts models of different sparsity on one scale.
    """
    clean = model.loss(x_FxB, importance_F)
    norms_B = jnp.linalg.norm(x_FxB, axis=0)
    eps_B = eps_fraction * (norms_B if per_input else jnp.full_like(norms_B, jnp.mean(norms_B)))

    def attacked(direction_F):
        out = model(x_FxB + direction_F[:, None] * eps_B)
        return jnp.mean(importance_F[:, None] * (model.target(x_FxB) - out) ** 2)

    return (jnp.max(jax.vmap(attacked)(attack_directions(model.W_FxH[...]))) - clean) / clean

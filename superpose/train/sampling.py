"""Posterior samplers as optax transformations: SGLD and RMSProp-preconditioned SGLD, localised.

Written for ONE chain; the trainer vmaps them like any optimiser (superpose.train.llc). Given the gradient
g of the plain loss L (the trainer's `value_and_grad`), a step draws from the tempered, localised posterior
exp(−nβ L(w) − γ/2 ‖w − w*‖²) (Lau et al. 2023):

    Δw = −(ε/2) G (nβ g + γ (w − w*)) + √(ε G) ξ,   ξ ~ N(0, I)

where w* (the centre) is where the chain starts, ε the step size, G = 1 for SGLD (Welling & Teh 2011) and
G = 1 / (√v + eps) for RMSProp-SGLD (Li et al. 2016), v the running mean of g² (decay `alpha`), as devinterp
defines them. The Euler step itself is BlackJAX's overdamped Langevin solver (step ε G / 2 per coordinate).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from blackjax.sgmcmc.diffusions import overdamped_langevin

SAMPLERS = ("sgld", "rmsprop_sgld")


class SamplerState(NamedTuple):
    key: jax.Array
    center: Any
    """w*: the parameters the chain started from."""
    square_average: Any
    """RMSProp's running mean of g² (zeros, unused, for plain SGLD)."""


def langevin(
    key: jax.Array,
    step_size: jax.Array,
    nbeta: jax.Array,
    localization: jax.Array,
    *,
    preconditioned: bool = False,
    alpha: float = 0.99,
    eps: float = 0.1,
) -> optax.GradientTransformation:
    """The localised (RMSProp-)SGLD step as an optax transformation (module doc): `update` returns the change
    of the parameters, to be added with `optax.apply_updates`."""
    solver = overdamped_langevin()

    def init(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return SamplerState(key, jax.tree.map(jnp.asarray, params), zeros)

    def update(grads, state: SamplerState, params):
        if preconditioned:
            square = jax.tree.map(lambda v, g: alpha * v + (1 - alpha) * g * g, state.square_average, grads)
            gain = jax.tree.map(lambda v: 1.0 / (jnp.sqrt(v) + eps), square)
        else:
            square = state.square_average
            gain = jax.tree.map(lambda g: jnp.ones((), g.dtype), grads)
        key, step_key = jax.random.split(state.key)
        leaves, treedef = jax.tree.flatten(params)
        keys = jax.random.split(step_key, len(leaves))
        drift = jax.tree.map(
            lambda g, w, c: -(nbeta * g + localization * (w - c)), grads, params, state.center
        )
        moved = [
            solver(k, w, d, step_size * G / 2)
            for k, w, d, G in zip(
                keys, leaves, treedef.flatten_up_to(drift), treedef.flatten_up_to(gain), strict=True
            )
        ]
        updates = jax.tree.map(lambda new, w: new - w, treedef.unflatten(moved), params)
        return updates, SamplerState(key, state.center, square)

    return optax.GradientTransformation(init, update)

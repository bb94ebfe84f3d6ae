"""The best loss within each geometry of 3 features in 2 dimensions, norms and biases free.

The closed forms of the phase diagram (superpose.toy.theory) price each configuration with unit
norms and zero biases (a dropped feature gets its mean, s/2). A trained model is free to shrink or
stretch its features and to use its biases, so the closed forms could misrank configurations whose
losses are close. Here each configuration keeps its directions fixed and optimises the three norms
and three biases on the stratified expected loss (superpose.toy.expected), for features 0 and 1 of
importance 1 and an extra feature 2 of importance r, all at density s:

- ``extra dropped``: features 0 and 1 orthogonal, 2 not represented;
- ``extra antipodal``: 2 antipodal to 0, 1 orthogonal to both;
- ``extra dedicated, pair``: 0 and 1 antipodal, 2 orthogonal to them;
- ``extra dedicated, one dropped``: 0 and 2 orthogonal, 1 not represented;
- ``triangle``: the three at 120° (the configuration the closed forms leave out).

Losses are the training loss (mean over the 3 features), i.e. the closed forms divided by 3.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose.toy.expected import active_sets, draws, stratified

CONFIGURATIONS = ("extra dropped", "extra antipodal", "extra dedicated, pair", "extra dedicated, one dropped",
                  "triangle")
PHASE_OF = (0, 1, 2, 2, 1)
"""The phase diagram's class of each configuration (0 dropped, 1 superposition, 2 dedicated)."""
_ROOT3 = float(np.sqrt(3) / 2)
DIRECTIONS = np.asarray([
    [[1, 0], [0, 1], [0, 0]],
    [[1, 0], [0, 1], [-1, 0]],
    [[1, 0], [-1, 0], [0, 1]],
    [[1, 0], [0, 0], [0, 1]],
    [[1, 0], [-0.5, _ROOT3], [-0.5, -_ROOT3]],
], np.float32)
"""Unit direction of each feature (rows) in each configuration; a zero row is a dropped feature."""


def _loss(params, directions_FxH, probability_F, importance_F, masks, u):
    W = params["norm"][:, None] * directions_FxH
    return stratified(W, params["bias"], probability_F, importance_F, masks, u)[0]


@functools.lru_cache(maxsize=4)
def optimise(
    densities: tuple[float, ...],
    ratios: tuple[float, ...],
    *,
    steps: int = 1000,
    samples: int = 1 << 9,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Norms and biases of every configuration at every (density, ratio) cell, optimised by Adam on the
    stratified loss (`samples` draws per active set, the same in every cell): arrays (configuration, density,
    ratio, 3). Cached: the figure and the report of one run share it."""
    masks, u = jnp.asarray(active_sets(3)), jnp.asarray(draws(3, samples, seed))
    optimizer = optax.adam(optax.cosine_decay_schedule(1e-2, steps))

    def one(directions, s, r):
        probability, importance = jnp.full(3, s), jnp.asarray([1.0, 1.0, r])
        params = {"norm": jnp.ones(3), "bias": jnp.full(3, 0.01)}  # a dropped feature's bias needs ReLU' > 0

        def step(carry, _):
            params, state = carry
            grad = jax.grad(_loss)(params, directions, probability, importance, masks, u)
            updates, state = optimizer.update(grad, state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
        return params

    cells = jax.vmap(jax.vmap(one, in_axes=(None, None, 0)), in_axes=(None, 0, None))
    fitted = [
        jax.jit(cells)(jnp.asarray(d), jnp.asarray(densities, jnp.float32), jnp.asarray(ratios, jnp.float32))
        for d in DIRECTIONS
    ]
    return {k: np.stack([np.asarray(f[k]) for f in fitted]) for k in ("norm", "bias")}


def losses(
    fitted: dict[str, np.ndarray],
    densities: np.ndarray,
    ratios: np.ndarray,
    *,
    samples: int = 1 << 16,
    seed: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected loss, standard error) of every fitted configuration on fresh draws, (configuration, density,
    ratio); 8 active sets x `samples` draws each per cell."""
    masks, u = jnp.asarray(active_sets(3)), jnp.asarray(draws(3, samples, seed))

    def one(norm, bias, directions, s, r):
        loss, variance = stratified(
            norm[:, None] * directions, bias, jnp.full(3, s), jnp.asarray([1.0, 1.0, r]), masks, u
        )
        return loss, jnp.sqrt(variance)

    out = np.zeros((2, len(DIRECTIONS), len(densities), len(ratios)))
    evaluate = jax.jit(one)
    for c, directions in enumerate(DIRECTIONS):
        for i, s in enumerate(densities):
            for j, r in enumerate(ratios):
                out[:, c, i, j] = evaluate(
                    fitted["norm"][c, i, j], fitted["bias"][c, i, j], directions, np.float32(s), np.float32(r)
                )
    return out[0], out[1]


def optimal_phase(loss_QxSxR: np.ndarray) -> np.ndarray:
    """The phase (0 dropped, 1 superposition, 2 dedicated) of the best configuration in every cell."""
    return np.asarray(PHASE_OF)[np.argmin(loss_QxSxR, axis=0)]

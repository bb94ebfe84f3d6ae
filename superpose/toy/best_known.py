"""The best loss each known configuration reaches at every cell of a study, in one compiled program.

A configuration found by training at one cell (superpose.measures.configuration) is a candidate at every
other cell. Starting from the trained model that holds it (its representative), it is re-optimised at each
cell with Adam on the stratified expected loss (superpose.toy.expected): every weight and bias is free,
except that a dropped feature's weights stay zero, so norms, biases and whatever angles the geometry
allows settle to the cell's values. It then keeps its topology or it does not: a configuration that
flows into another one at a cell (its name changes) is not a local minimum there, and its loss at that
cell is left out (NaN). The losses are measured on fresh draws, the same for every configuration and
cell of one feature count (common random numbers), with their standard errors.

The loss compared is the plain expected loss (mean over features of I_i (x_i − x'_i)²) of the tied models
`relu_output` and `linear` on independent features; a regulariser a study varies (weight decay, a hidden
L1 penalty) is not part of it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from superpose.measures import configuration
from superpose.toy.expected import active_sets, draws, stratified
from superpose.validate import ConfigError

MODELS = {"relu_output": True, "linear": False}
"""The models whose expected loss is stratified, and whether their output has a ReLU."""


def evaluation_samples(n_features: int) -> int:
    """Draws per active set for a measured loss: 2^19 values in all (2^16 per set at 3 features)."""
    return max(1 << 10, 1 << (19 - n_features))


def optimisation_samples(n_features: int) -> int:
    """Draws per active set while re-optimising: 2^13 values in all (fewer let a symmetric configuration
    fit its draws' noise: an antipodal pair at r = 1 breaks its symmetry on 2^8 draws per set)."""
    return max(1 << 8, 1 << (13 - n_features))


def relu_of(model: str) -> bool:
    if model not in MODELS:
        raise ConfigError(
            f"the best known configuration needs the stratified expected loss, which covers "
            f"{', '.join(MODELS)}, not {model!r}"
        )
    return MODELS[model]


def reoptimise(
    W_KxFxH,
    b_KxF,
    probability_NxF,
    importance_NxF,
    *,
    model: str = "relu_output",
    steps: int = 500,
    samples: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each of K configurations re-optimised at each of N cells, from W and b given per configuration
    (K, F, H), or per configuration and cell (K, N, F, H): (W, b) of shapes (K, N, F, H) and (K, N, F).
    Adam at 1e-2 with a cosine decay over `steps`, `samples` draws per active set, the same in every cell
    (default `optimisation_samples`)."""
    relu = relu_of(model)
    W = np.asarray(W_KxFxH, np.float32)
    n_cells = len(probability_NxF)
    if W.ndim == 3:
        W, b_KxF = np.repeat(W[:, None], n_cells, 1), np.repeat(np.asarray(b_KxF)[:, None], n_cells, 1)
    n_features = W.shape[2]
    keep = (np.linalg.norm(W, axis=-1) > configuration.NORM).astype(np.float32)
    # a dropped feature's output is ReLU(b): its bias must start where the gradient is not zero
    b = np.where(keep > 0, np.asarray(b_KxF, np.float32), np.maximum(np.asarray(b_KxF, np.float32), 0.01))
    samples = samples or optimisation_samples(n_features)
    masks, u = jnp.asarray(active_sets(n_features)), jnp.asarray(draws(n_features, samples, seed))
    W_out, b_out = _reoptimise(
        jnp.asarray(W),
        jnp.asarray(b),
        jnp.asarray(keep),
        jnp.asarray(probability_NxF, jnp.float32),
        jnp.asarray(importance_NxF, jnp.float32),
        masks,
        u,
        steps=steps,
        relu=relu,
    )
    return np.asarray(W_out), np.asarray(b_out)


@functools.partial(jax.jit, static_argnames=("steps", "relu"))
def _reoptimise(W, b, keep, probability_NxF, importance_NxF, masks, u, *, steps: int, relu: bool):
    """One compiled program per shape: configurations x cells, each an Adam run of `steps` (a module-level
    function, so that a second call of the same shapes reuses its compilation)."""
    optimizer = optax.adam(optax.cosine_decay_schedule(1e-2, steps))

    def one(W0, b0, keep_F, probability_F, importance_F):
        def loss(params):
            return stratified(
                params["W"] * keep_F[:, None], params["b"], probability_F, importance_F, masks, u, relu=relu
            )[0]

        def step(carry, _):
            params, state = carry
            updates, state = optimizer.update(jax.grad(loss)(params), state, params)
            return (optax.apply_updates(params, updates), state), None

        params = {"W": W0 * keep_F[:, None], "b": b0}
        (params, _), _ = jax.lax.scan(step, (params, optimizer.init(params)), None, length=steps)
        return params["W"] * keep_F[:, None], params["b"]

    cells = jax.vmap(one, in_axes=(0, 0, 0, 0, 0))
    return jax.vmap(cells, in_axes=(0, 0, 0, None, None))(W, b, keep, probability_NxF, importance_NxF)


def expected_losses(
    W_IxFxH,
    b_IxF,
    probability_IxF,
    importance_IxF,
    *,
    model: str = "relu_output",
    samples: int | None = None,
    seed: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected loss, standard error) of every instance, in one compiled program (instances in batches of
    8 to bound memory), `samples` draws per active set (default `evaluation_samples`)."""
    relu = relu_of(model)
    W = np.asarray(W_IxFxH, np.float32)
    n_features = W.shape[1]
    samples = samples or evaluation_samples(n_features)
    masks, u = jnp.asarray(active_sets(n_features)), jnp.asarray(draws(n_features, samples, seed))

    args = tuple(jnp.asarray(x, jnp.float32) for x in (W, b_IxF, probability_IxF, importance_IxF))
    loss, se = _losses(*args, masks, u, relu=relu)
    return np.asarray(loss, np.float64), np.asarray(se, np.float64)


@functools.partial(jax.jit, static_argnames="relu")
def _losses(W, b, probability, importance, masks, u, *, relu: bool):
    def one(args):
        loss, variance = stratified(*args, masks, u, relu=relu)
        return loss, jnp.sqrt(variance)

    return jax.lax.map(one, (W, b, probability, importance), batch_size=8)

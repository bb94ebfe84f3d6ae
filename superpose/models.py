"""Toy models of superposition, written for ONE instance.

Parameters are a plain pytree (`ToyParams`, a NamedTuple of two arrays)
rather than a flax NNX module. The models are two arrays and two lines of
algebra; as plain pytrees they go straight through `vmap` (instance axis),
`scan` (steps) and optax without the split/merge that NNX modules need at a
transform boundary, and the traced step stays minimal, which matters because
the step is executed millions of times per sweep.

Layout: ``W_FxH`` holds feature i's direction as row ``W[i]`` (the paper's
column W_i of its m x n matrix), so the paper's WᵀW is ``W @ W.T`` here
(F x F). Batches are feature-major, ``x_FxB``: with the batch as the minor
(contiguous) axis XLA's CPU code vectorises over the batch, which made the
step 4-7x faster than ``x_BxF`` for the paper's tiny F and H.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


class ToyParams(NamedTuple):
    W_FxH: jax.Array
    b_F: jax.Array
    W_out_FxH: jax.Array | None = None
    """Untied output weights, only for the `abs` model (None, an empty pytree, otherwise)."""


def init_params(key: jax.Array, n_features: int, n_hidden: int, model: str = "relu_output") -> ToyParams:
    """Xavier-normal W (std sqrt(2 / (F + H))), zero bias; a second W for the untied `abs` model."""
    std = jnp.sqrt(2.0 / (n_features + n_hidden))
    W_FxH = std * jax.random.normal(key, (n_features, n_hidden), jnp.float32)
    W_out = None
    if model == "abs":
        W_out = std * jax.random.normal(jax.random.fold_in(key, 1), (n_features, n_hidden), jnp.float32)
    return ToyParams(W_FxH, jnp.zeros((n_features,), jnp.float32), W_out)


def forward(params: ToyParams, x_FxB: jax.Array, model: str) -> jax.Array:
    """The toy models, paper notation (W is m x n there, W_FxH.T here):

    `linear`       x' = WᵀW x + b
    `relu_output`  x' = ReLU(WᵀW x + b)
    `relu_hidden`  x' = ReLU(Wᵀ ReLU(W x) + b)             (privileged basis, E10)
    `abs`          y' = ReLU(W₂ ReLU(W₁ x) + b), untied    (computation in superposition, E11)
    """
    h_HxB = params.W_FxH.T @ x_FxB
    if model in ("relu_hidden", "abs"):
        h_HxB = jax.nn.relu(h_HxB)
    W_out_FxH = params.W_out_FxH if model == "abs" else params.W_FxH
    out_FxB = W_out_FxH @ h_HxB + params.b_F[:, None]
    if model == "linear":
        return out_FxB
    if model in ("relu_output", "relu_hidden", "abs"):
        return jax.nn.relu(out_FxB)
    raise ValueError(f"unknown model {model!r}")


def target(x_FxB: jax.Array, model: str) -> jax.Array:
    """What the model must output: x itself, or |x| for the `abs` model."""
    return jnp.abs(x_FxB) if model == "abs" else x_FxB


def loss(params: ToyParams, x_FxB: jax.Array, importance_F: jax.Array, model: str) -> jax.Array:
    """Importance-weighted squared error, mean over batch and features (the notebook's scale).

    The paper sums over features; the notebook's mean is that sum / F, which
    only rescales the loss (REFERENCE.md section 7, item 5).
    """
    err_FxB = importance_F[:, None] * (target(x_FxB, model) - forward(params, x_FxB, model)) ** 2
    return jnp.mean(err_FxB)

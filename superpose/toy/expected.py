"""The expected loss of a small toy model, stratified over which features are active.

A loss measured on random batches is dominated, at high sparsity, by the rare inputs with two or
more active features: at density 0.01 a batch of 10^6 inputs holds about 300 of them, so two models
whose expected losses differ by 30% cannot be ranked on it. With independent features the expected
loss splits exactly over the 2^F sets A of active features:

    E[L] = Σ_A P(A) E[L | A],   P(A) = Π_{i∈A} p_i Π_{i∉A} (1 − p_i),

and each E[L | A] is estimated by Monte Carlo over the active features' values only (uniform on
[0, 1]), with the same draws for every model (common random numbers). Its standard error,
sqrt(Σ_A P(A)² Var(L | A) / M) with M draws per set, no longer grows with sparsity. F is limited to
12 features (4096 sets).

The loss is the training loss: the mean over features of I_i (x_i − x'_i)², for the tied models
x' = ReLU(WᵀWx + b) (`relu_output`) and WᵀWx + b (`linear`).
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from superpose.train import rng
from superpose.validate import ConfigError

MAX_FEATURES = 12


def active_sets(n_features: int) -> np.ndarray:
    """Every set of active features as a 0/1 mask, (2^F, F)."""
    if n_features > MAX_FEATURES:
        raise ConfigError(
            f"the stratified expected loss takes at most {MAX_FEATURES} features, got {n_features}"
        )
    return np.asarray(list(itertools.product((0.0, 1.0), repeat=n_features)), np.float32)


def draws(n_features: int, samples: int, seed: int = 0) -> np.ndarray:
    """The values of the active features, (samples, F), shared by every active set and every model."""
    return rng.generator(seed).random((samples, n_features), dtype=np.float32)


def stratified(W_FxH, b_F, probability_F, importance_F, masks_AxF, u_MxF, relu: bool = True):
    """(expected loss, its variance) of ONE model, in JAX (differentiable in W and b)."""
    x_AxMxF = masks_AxF[:, None, :] * u_MxF[None]
    out = jnp.einsum("amf,fh,gh->amg", x_AxMxF, W_FxH, W_FxH) + b_F
    out = jax.nn.relu(out) if relu else out
    loss_AxM = jnp.mean(importance_F * (x_AxMxF - out) ** 2, axis=-1)
    weight_A = jnp.prod(jnp.where(masks_AxF > 0, probability_F, 1 - probability_F), axis=1)
    return weight_A @ loss_AxM.mean(axis=1), jnp.sum(weight_A**2 * loss_AxM.var(axis=1)) / u_MxF.shape[0]


_stratified = jax.jit(stratified, static_argnames="relu")


def expected_loss(
    W_IxFxH,
    b_IxF,
    probability_IxF,
    importance_IxF,
    *,
    model: str = "relu_output",
    samples: int = 1 << 14,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(expected loss, its standard error) of every instance, `samples` draws per active set."""
    if model not in ("relu_output", "linear"):
        raise ConfigError(f"the stratified expected loss covers relu_output and linear models, not {model!r}")
    W_IxFxH = np.asarray(W_IxFxH, np.float32)
    n_features = W_IxFxH.shape[1]
    masks, u = active_sets(n_features), draws(n_features, samples, seed)
    loss, variance = np.asarray(
        [
            [float(v) for v in _stratified(W, b, p, imp, masks, u, relu=model == "relu_output")]
            for W, b, p, imp in zip(
                W_IxFxH,
                np.asarray(b_IxF, np.float32),
                np.asarray(probability_IxF, np.float32),
                np.asarray(importance_IxF, np.float32),
            )
        ]
    ).T
    return loss, np.sqrt(variance)

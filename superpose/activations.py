"""Activation functions of the SAE architectures, with their straight-through gradients.

Pure functions of arrays, no parameters: JumpReLU and its step function with the
rectangle-kernel pseudo-derivatives of Rajamanoharan et al. (2024), the top-k masks
(per sample and per batch) found by bisection, and, for small k, the top-k latents as
(values, indices) with sparse decoding.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _rectangle(u):
    return (jnp.abs(u) < 0.5).astype(u.dtype)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def jump_relu(h, threshold, bandwidth):
    """h·H(h − θ); ∂/∂h = H(h − θ), ∂/∂θ = −(θ/ε)·K((h − θ)/ε) with the rectangle kernel K."""
    return h * (h > threshold)


def _jump_relu_fwd(h, threshold, bandwidth):
    return jump_relu(h, threshold, bandwidth), (h, threshold)


def _jump_relu_bwd(bandwidth, residual, g):
    h, threshold = residual
    return g * (h > threshold), -g * (threshold / bandwidth) * _rectangle((h - threshold) / bandwidth)


jump_relu.defvjp(_jump_relu_fwd, _jump_relu_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def step_function(h, threshold, bandwidth):
    """H(h − θ); ∂/∂h = 0, ∂/∂θ = −(1/ε)·K((h − θ)/ε)."""
    return (h > threshold).astype(h.dtype)


def _step_fwd(h, threshold, bandwidth):
    return step_function(h, threshold, bandwidth), (h, threshold)


def _step_bwd(bandwidth, residual, g):
    h, threshold = residual
    return jnp.zeros_like(h), -g / bandwidth * _rectangle((h - threshold) / bandwidth)


step_function.defvjp(_step_fwd, _step_bwd)


def kth_largest(a, k: int, axis):
    """Per slice along `axis` (all of `a` when None), the largest t ≥ 0 with count(a ≥ t) ≥ k, for a ≥ 0.

    32 rounds of bisection on [0, max]: each is one pass over `a`, so this is far cheaper on CPU than
    `lax.top_k`, which sorts (10x for TopK, 30x for BatchTopK at B·L = 131k). The result is exact up to
    values closer than max·2⁻³² to the k-th largest.
    """
    a = jax.lax.stop_gradient(a)
    hi = jnp.max(a, axis=axis, keepdims=axis is not None)
    lo = jnp.zeros_like(hi)

    def halve(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) / 2
        enough = jnp.sum(a >= mid, axis=axis, keepdims=axis is not None) >= k
        return jnp.where(enough, mid, lo), jnp.where(enough, hi, mid)

    return jax.lax.fori_loop(0, 32, halve, (lo, hi))[0]


SPARSE_MAX_K = 16
"""Up to this k a sample's top k are found with `lax.top_k` (a partial sort) and decoded sparsely; above it
by bisection (`top_k_mask`), whose cost does not grow with k. On 2 CPU cores, B = 1024, L = 256 (benchmarks
(h)): lax.top_k takes 0.3x the bisection's time at k = 4 and about the same at k = 16."""


def top_k_mask(h_BxL: jax.Array, k: int) -> jax.Array:
    """True at each row's k largest positive entries (what survives ReLU(TopK(h)))."""
    if k <= SPARSE_MAX_K:
        values_BxK, indices_BxK = top_k(h_BxL, k)
        return densify(values_BxK, indices_BxK, h_BxL.shape[-1]) > 0
    a = jax.nn.relu(h_BxL)
    return (a >= kth_largest(a, k, axis=-1)) & (a > 0)


def top_k(h_BxL: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """Each row's k largest entries after ReLU (zeros where fewer than k are positive) and their latent
    indices. Differentiable in h: the gradient reaches the k chosen entries only."""
    values_BxK, indices_BxK = jax.lax.top_k(h_BxL, k)
    return jax.nn.relu(values_BxK), indices_BxK


def densify(values_BxK: jax.Array, indices_BxK: jax.Array, n_latents: int) -> jax.Array:
    """The B x L latent matrix holding `values` at `indices` and zeros elsewhere."""
    rows = jnp.arange(values_BxK.shape[0])[:, None]
    return jnp.zeros((values_BxK.shape[0], n_latents), values_BxK.dtype).at[rows, indices_BxK].set(values_BxK)


def sparse_decode(values_BxK: jax.Array, indices_BxK: jax.Array, W_dec_LxD: jax.Array) -> jax.Array:
    """Σ_j values[b, j] · W_dec[indices[b, j]]: `densify(...) @ W_dec` reading only the k decoder rows each
    sample uses (B·k·D instead of B·L·D multiply-adds; the gradient scatter-adds into those rows)."""
    return jnp.einsum("bk,bkd->bd", values_BxK, W_dec_LxD[indices_BxK])


def batch_top_k_mask(a_BxL: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """True at the B·k largest entries of the batch (non-negative a); also the smallest kept value."""
    keep = (a_BxL >= kth_largest(a_BxL, a_BxL.shape[0] * k, axis=None)) & (a_BxL > 0)
    smallest = jnp.min(jnp.where(keep, a_BxL, jnp.inf))
    return keep, jnp.where(jnp.isfinite(smallest), smallest, 0.0)

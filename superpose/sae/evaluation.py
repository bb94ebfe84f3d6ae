"""An SAE's activations on evaluation samples, scored against its source's true codes.

Activation metrics come from `activation_stats` (N_EVAL evaluation samples, drawn
and reduced on the device in chunks) and `activation_metrics` (host): per-latent precision, recall and F1
of "latent fires" against "its best-matching true feature is active",
uniqueness (distinct true features among the alive latents' best matches, per
alive latent), L0, dead latents, fraction of variance unexplained, shrinkage
γ = E‖x̂‖² / E[x·x̂] (γ < 1: the SAE shrinks its reconstructions) and the
absorption rate on hierarchical data.

SAELens's synthetic evaluation (`eval_sae_on_synthetic_data`, as SynthSAEBench reports it) defines three of
them differently; superpose reports both, under different names:

  precision / recall / f1 / uniqueness   over the alive latents (a dead latent has no precision)
  *_all_latents                          over every latent, a dead one scoring 0, and uniqueness = distinct
                                         best-matched true features over all latents (SAELens)
  shrinkage                              γ = E‖x̂‖² / E[x·x̂]
  norm_ratio                             the mean over samples (‖x‖ > 1e-6) of ‖x̂‖ / ‖x‖ (SAELens's
                                         `shrinkage`)
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from superpose.data import groundtruth, user_arrays
from superpose.measures import recovery
from superpose.sae import model as sae_lib
from superpose.train import rng

N_EVAL = 2**17
"""Evaluation samples per SAE (131,072, in chunks of `EVAL_CHUNK`). Dead-latent counts need many: on the
Sharkey preset (512 latents, E[L0] = 5) counts from 8,192 samples ran up to 9 higher than from 100k, and a
latent firing on 1 in 20,000 samples is seen alive here with probability 0.999."""
EVAL_CHUNK = 8192


class ActivationStats(NamedTuple):
    """Sums over N evaluation samples (per SAE); every field adds up over chunks of samples."""

    n: jax.Array
    fired_L: jax.Array
    """Samples in which each latent fires."""
    active_G: jax.Array
    """Samples in which each true feature is active."""
    both_LxG: jax.Array
    """Samples in which latent l fires and true feature g is active."""
    squared_error: jax.Array
    sum_x_D: jax.Array
    """Σ x (with `sum_squares`, the total variance Σ‖x − mean(x)‖² = Σ‖x‖² − ‖Σx‖²/N)."""
    sum_squares: jax.Array
    """Σ ‖x‖²."""
    reconstruction_norm: jax.Array
    """Σ ‖x̂‖²."""
    reconstruction_dot: jax.Array
    """Σ x·x̂."""
    latents_fired: jax.Array
    """Σ over samples of the latents firing (L0 = this / N)."""
    features_active: jax.Array
    """Σ over samples of the true features active."""
    norm_ratio: jax.Array
    """Σ ‖x̂‖/‖x‖ over samples with ‖x‖ > 1e-6."""
    nonzero_inputs: jax.Array
    """Samples with ‖x‖ > 1e-6."""

    @property
    def total_variance(self):
        return self.sum_squares - np.sum(np.asarray(self.sum_x_D, np.float64) ** 2, axis=-1) / self.n


def _stats_one(config: sae_lib.SAEConfig, params, threshold, codes_GxN, x_NxD) -> ActivationStats:
    sae = sae_lib.model(config, params)
    f, _ = sae.encode(x_NxD, training=False, threshold=threshold)
    x_hat = sae.decode(f)
    fired = (f > 0).astype(jnp.float32)
    active = (codes_GxN > 0).astype(jnp.float32)
    norms = jnp.linalg.norm(x_NxD, axis=1)
    return ActivationStats(
        n=jnp.asarray(x_NxD.shape[0], jnp.float32),
        fired_L=fired.sum(0),
        active_G=active.sum(1),
        both_LxG=fired.T @ active.T,
        squared_error=jnp.sum((x_NxD - x_hat) ** 2),
        sum_x_D=x_NxD.sum(0),
        sum_squares=jnp.sum(x_NxD**2),
        reconstruction_norm=jnp.sum(x_hat**2),
        reconstruction_dot=jnp.sum(x_NxD * x_hat),
        latents_fired=fired.sum(),
        features_active=active.sum(),
        norm_ratio=jnp.sum(
            jnp.where(norms > 1e-6, jnp.linalg.norm(x_hat, axis=1) / jnp.maximum(norms, 1e-6), 0.0)
        ),
        nonzero_inputs=jnp.sum(norms > 1e-6).astype(jnp.float32),
    )


@functools.lru_cache(maxsize=32)
def _compiled_stats(config: sae_lib.SAEConfig, n_eval: int, shared: bool):
    """Stats of every SAE on one chunk of `n_eval` samples drawn from the source (one SAE at a time)."""

    def run(params_I, threshold_I, source, key):
        if shared:  # one evaluation batch for every SAE
            codes, x = groundtruth.sample(source, key, n_eval)
            return jax.lax.map(lambda a: _stats_one(config, a[0], a[1], codes, x), (params_I, threshold_I))

        def one(args):
            params, threshold, src, k = args
            return _stats_one(config, params, threshold, *groundtruth.sample(src, k, n_eval))

        keys = jax.random.split(key, threshold_I.shape[0])
        return jax.lax.map(one, (params_I, threshold_I, source, keys))

    return jax.jit(run)


@functools.lru_cache(maxsize=32)
def _compiled_stats_on(config: sae_lib.SAEConfig):
    """Stats of every SAE on given (codes, activations)."""
    return jax.jit(
        lambda params_I, threshold_I, codes, x: jax.lax.map(
            lambda a: _stats_one(config, a[0], a[1], codes, x), (params_I, threshold_I)
        )
    )


def _add(total: ActivationStats | None, part) -> ActivationStats:
    part = ActivationStats(*[np.asarray(a, np.float64) for a in part])
    return part if total is None else ActivationStats(*[a + b for a, b in zip(total, part)])


def activation_stats(
    config: sae_lib.SAEConfig,
    result: sae_lib.SAEResult,
    source,
    *,
    n_eval: int = N_EVAL,
    seed: int = 10**6,
) -> ActivationStats:
    """Statistics of every SAE of a group on `n_eval` fresh evaluation samples (the same for all SAEs on a
    shared source), in chunks of `EVAL_CHUNK`, so memory stays EVAL_CHUNK x L. On an array source
    (superpose.data.user_arrays): its first `n_eval` evaluation rows."""
    static = sae_lib.static_config([config])
    params, threshold = jax.tree.map(jnp.asarray, result.params), jnp.asarray(result.threshold_I)
    total = None
    if isinstance(source, user_arrays.ArraySource):
        codes, x = source.evaluation_batch(n_eval)
        if codes is None:
            codes = np.zeros((1, x.shape[0]), np.float32)
        for start in range(0, x.shape[0], EVAL_CHUNK):
            total = _add(
                total,
                _compiled_stats_on(static)(
                    params, threshold, codes[:, start : start + EVAL_CHUNK], x[start : start + EVAL_CHUNK]
                ),
            )
        return total
    shared = source.directions_GxD.ndim == 2
    key = rng.key(seed, "hash")
    for i, start in enumerate(range(0, n_eval, EVAL_CHUNK)):
        size = min(EVAL_CHUNK, n_eval - start)
        total = _add(
            total,
            _compiled_stats(static, size, shared)(params, threshold, source, jax.random.fold_in(key, i)),
        )
    return total


def activation_metrics(
    stats: ActivationStats, cos_GxL: np.ndarray, parent_G: np.ndarray | None = None
) -> dict[str, float]:
    """Metrics of ONE SAE from its `ActivationStats` (index the stacked stats first) and |cos| matrix."""
    alive = stats.fired_L > 0
    best_G_L = cos_GxL.argmax(axis=0)
    tp = stats.both_LxG[np.arange(len(best_G_L)), best_G_L]
    precision = np.where(alive, tp / np.maximum(stats.fired_L, 1), 0.0)
    recall = tp / np.maximum(stats.active_G[best_G_L], 1)
    f1 = np.where(alive, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0.0)
    n_alive = int(alive.sum())
    out = {
        "precision": float(precision[alive].mean()) if n_alive else 0.0,
        "recall": float(recall[alive].mean()) if n_alive else 0.0,
        "f1": float(f1[alive].mean()) if n_alive else 0.0,
        "uniqueness": len(set(best_G_L[alive].tolist())) / n_alive if n_alive else 0.0,
        "precision_all_latents": float(precision.mean()),
        "recall_all_latents": float(recall.mean()),  # a dead latent has no true positives: 0
        "f1_all_latents": float(f1.mean()),
        "uniqueness_all_latents": len(set(best_G_L.tolist())) / len(best_G_L),
        "dead_latents": int((~alive).sum()),
        "l0": float(stats.latents_fired / stats.n),
        "true_l0": float(stats.features_active / stats.n),
        "explained_variance": float(1 - stats.squared_error / stats.total_variance),
        "shrinkage": float(stats.reconstruction_norm / stats.reconstruction_dot),
        "norm_ratio": float(stats.norm_ratio / max(float(stats.nonzero_inputs), 1.0)),
    }
    if parent_G is not None:
        out["absorption"] = absorption_rate(stats, cos_GxL, parent_G)
    return out


def absorption_rate(stats: ActivationStats, cos_GxL: np.ndarray, parent_G: np.ndarray) -> float:
    """Over parent features: the fraction of samples with an active child in which the parent's matched
    latent stays silent (Chanin et al. 2024). Children fire only with their parent, so the count of
    "child active, parent latent fires" is the co-firing count of the child and the parent latent."""
    parent_G = np.asarray(parent_G)
    rows, cols = recovery.matching(cos_GxL)
    latent_of = dict(zip(rows.tolist(), cols.tolist()))
    silent, total = 0.0, 0.0
    for p in np.unique(parent_G[parent_G >= 0]):
        if p not in latent_of:
            continue
        children = np.flatnonzero(parent_G == p)
        child_active = stats.active_G[children].sum()
        silent += child_active - stats.both_LxG[latent_of[p], children].sum()
        total += child_active
    return float(silent / total) if total else float("nan")

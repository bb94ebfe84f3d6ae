"""Is a replacement (superpose.transcoders.model) faithful to a model whose circuit is known?

Every score compares the replacement with the target's planted truth or with the target itself:

* `fvu` per layer: on-distribution reconstruction of each MLP's output (open loop), 1 − R².
* `output_error`: with every MLP replaced (closed loop), E‖f_rep − f‖² / E‖f‖², on the training
  distribution and off it (`ood_dense`: 3x denser inputs; `ood_values`: two-hop inputs of non-binary
  value U[0.25, 1], absolute-value inputs of twice the range).
* `jacobian_error`: E‖J_rep − J‖_F² / E‖J‖_F² of the closed-loop input-output map at data points, in the
  input coordinates where the model is differentiable (for |x|: the active features; at 0 it has a kink).
* `recovery` per layer: the planted neurons against the latents, each scored by the mean of the
  cosine of their input directions (encoder rows vs W_in rows) and of their output directions
  (decoder rows vs W_out columns), matched one-to-one (Hungarian; the mean over true neurons,
  superpose.measures.recovery.mcc). For the two-hop circuit, layer 0 holds the B features and
  layer 1 the C features.
* Two-hop only. `through_b`: the share of the C outputs (their norm, summed over data) that the
  replacement computes through the B part of the residual stream: layer-1 latents' contributions
  weighted by the share of their pre-activation read from B (|w_B·r_B| / (|w_A·r_A| + |w_B·r_B|)),
  plus the skip path's B part (against its A part); layer-0 latents writing C directly (CLT) count as A→C. The
  true model scores 1. `mediation`: zero the B part of the residual stream before layer 1, in the model and in
  the replacement; 1 − E‖ΔC_rep − ΔC‖² / E‖ΔC‖² (1: the replacement's C depends on B as the model's does; 0:
  not at all). `direct_share`: the share of layer-1 output norm written by layer-0 latents.
* Absolute value only. `datapoint_latents`: latents whose decoder row has cosine ≥ 0.9 with the
  repeated point p = (1, 1, 1, 0, …) (a true latent has 1/√3) and that fire on p: memorised
  "datapoint features" (Anthropic 2025, "A toy model of mechanistic (un)faithfulness").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose import targets as targets_lib
from superpose.measures.recovery import mcc
from superpose.targets import AbsMLP, AbsMLPConfig, TargetConfig, TwoHop, TwoHopConfig
from superpose.train import rng
from superpose.transcoders.model import (
    Replacement,
    TranscoderConfig,
    from_arrays,
    residual_shape,
    target_model_output,
)

EVAL_SAMPLES = 8192
EVAL_SEED = 4242
JACOBIAN_SAMPLES = 512
DATAPOINT_COSINE = 0.9


def inputs(
    target: TargetConfig, which: str = "train", n: int = EVAL_SAMPLES, seed: int = EVAL_SEED
) -> np.ndarray:
    """A fixed evaluation batch: the training distribution (`train`), 3x denser (`dense`) or other values
    (`values`, `Target.other_values`: non-binary two-hop inputs, absolute-value inputs of twice the range)."""
    cls = targets_lib.TARGETS.get(target.kind)
    key = rng.key(seed, "threefry")
    p = min(3 * target.feature_probability, 1.0) if which == "dense" else target.feature_probability
    x = np.asarray(cls.draw(target, key, p, n))
    if which == "values":
        x = cls.other_values(x, key)
    return x.astype(np.float32)


def ablate_b(target: TwoHopConfig):
    """edit(layer, r): the B part of the residual stream set to zero before layer 1."""
    b = TwoHop.parts(target)[1]
    return lambda layer, r: r.at[:, b].set(0.0) if layer == 1 else r


def _fvu(predicted, true):
    predicted, true = np.asarray(predicted), np.asarray(true)
    return float(np.sum((predicted - true) ** 2) / max(float(np.sum((true - true.mean(0)) ** 2)), 1e-12))


def _relative(a, b):
    return float(np.sum((np.asarray(a) - np.asarray(b)) ** 2) / max(float(np.sum(np.asarray(b) ** 2)), 1e-12))


@functools.lru_cache(maxsize=32)
def _jacobians(config: TranscoderConfig, target_config: TargetConfig):
    def one(params, target_params, x_F):
        model = from_arrays(config, target_config, params)
        target = targets_lib.from_arrays(target_config, target_params)
        rep = jax.jacrev(lambda x: model.closed_loop(target, x[None])[0][0])(x_F)
        true = jax.jacrev(lambda x: target_model_output(target, x[None])[0])(x_F)
        return rep, true

    return jax.jit(jax.vmap(one, in_axes=(None, None, 0)))


def recovery(model: Replacement, target_params: dict[str, np.ndarray], layer: int) -> float:
    """Planted neurons of `layer` vs the latents of that layer (module doc)."""
    W_in, W_out = np.asarray(target_params["W_in"][layer]), np.asarray(target_params["W_out"][layer])
    enc, dec = np.asarray(model.W_enc[layer]), np.asarray(model.decoder(layer, layer))

    def cos(a, b):
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
        return a @ b.T

    return mcc((cos(W_in, enc) + cos(W_out.T, dec)) / 2)


def two_hop_paths(
    model: Replacement, target_config: TargetConfig, target: targets_lib.Target, x_BxF: jax.Array
) -> dict[str, float]:
    """through_b and direct_share (module doc), on inputs x."""
    a_part, b_part, c_part = TwoHop.parts(target_config)
    ins, _ = target.mlp_io(x_BxF)
    r = ins[1]  # what layer 1 reads (the true residual: open loop)
    acts0, acts1 = model.encode(0, ins[0]), model.encode(1, r)
    W_enc = model.W_enc[1]
    read_a = jnp.abs(r[:, a_part] @ W_enc[:, a_part].T)
    read_b = jnp.abs(r[:, b_part] @ W_enc[:, b_part].T)
    share_b = read_b / jnp.maximum(read_a + read_b, 1e-12)
    per_latent = jnp.abs(acts1) * jnp.linalg.norm(model.decoder(1, 1)[:, c_part], axis=1)  # B x N
    through = jnp.sum(per_latent * share_b)
    total = jnp.sum(per_latent)
    direct = jnp.sum(jnp.linalg.norm(acts0 @ model.decoder(0, 1)[:, c_part], axis=1))
    if model.W_skip is not None:
        skip = model.W_skip[1][c_part]
        from_b = jnp.sum(jnp.linalg.norm(r[:, b_part] @ skip[:, b_part].T, axis=1))
        through = through + from_b
        total = total + from_b + jnp.sum(jnp.linalg.norm(r[:, a_part] @ skip[:, a_part].T, axis=1))
    total = total + direct
    own = jnp.sum(jnp.linalg.norm(acts1 @ model.decoder(1, 1), axis=1))
    cross = jnp.sum(jnp.linalg.norm(acts0 @ model.decoder(0, 1), axis=1))
    return {
        "through_b": float(through / jnp.maximum(total, 1e-12)),
        "direct_share": float(cross / jnp.maximum(own + cross, 1e-12)),
    }


def datapoint_latents(model: Replacement, target_config: TargetConfig) -> tuple[int, float]:
    """(count, the largest decoder cosine with p) of latents that memorise the repeated point p."""
    p = AbsMLP.repeated_point(target_config)
    dec = np.asarray(model.decoder(0, 0))
    cos = dec @ p / np.maximum(np.linalg.norm(dec, axis=1) * np.linalg.norm(p), 1e-12)
    fires = np.asarray(model.encode(0, jnp.asarray(p[None])))[0] > 0
    return int(np.sum((cos >= DATAPOINT_COSINE) & fires)), float(cos.max())


def evaluate(
    config: TranscoderConfig,
    target_config: TargetConfig,
    params: dict[str, np.ndarray],
    target_params: dict[str, np.ndarray],
) -> dict[str, Any]:
    """Every score of one replacement (module doc)."""
    model = from_arrays(config, target_config, params)
    target = targets_lib.from_arrays(target_config, target_params)
    x = jnp.asarray(inputs(target_config))
    ins, outs = target.mlp_io(x)
    predicted, acts, _ = model.open_loop(ins)
    out: dict[str, Any] = {
        "fvu": [_fvu(predicted[layer], outs[layer]) for layer in range(model.n_layers)],
        "l0": [float(np.mean(np.sum(np.asarray(a) > 0, axis=1))) for a in acts],
        "dead": [int(np.sum(~np.any(np.asarray(a) > 0, axis=0))) for a in acts],
    }
    replaced, true = model.closed_loop(target, x)[0], target_model_output(target, x)
    out["output_error"] = _relative(replaced, true)
    for which, name in (("dense", "ood_dense"), ("values", "ood_values")):
        xi = jnp.asarray(inputs(target_config, which))
        out[name] = _relative(model.closed_loop(target, xi)[0], target_model_output(target, xi))
    planted = _truth(target_config)
    out["recovery"] = [recovery(model, planted, l) for l in range(model.n_layers)]
    xj = x[:JACOBIAN_SAMPLES]
    rep_J, true_J = _jacobians(config.static(), target_config.static())(params, target_params, xj)
    smooth = np.asarray(type(target).differentiable(xj))[:, None, :]
    out["jacobian_error"] = _relative(np.where(smooth, rep_J, 0.0), np.where(smooth, true_J, 0.0))
    own_scores = TARGET_SCORES.get(target_config.kind)
    return out | own_scores(model, target_config, target, x, replaced, true) if own_scores else out


def two_hop_scores(model: Replacement, target_config: TwoHopConfig, target: TwoHop, x: jax.Array, replaced,
                   true):
    """through_b, direct_share and mediation (module doc); `replaced` and `true` are the closed-loop and the
    model's outputs on x."""
    out = two_hop_paths(model, target_config, target, x)
    edit = ablate_b(target_config)
    c = TwoHop.parts(target_config)[2]
    d_true = true[:, c] - target_model_output(target, x, edit)[:, c]
    d_rep = replaced[:, c] - model.closed_loop(target, x, edit)[0][:, c]
    return out | {"mediation": 1 - _relative(d_rep, d_true)}


def datapoint_scores(model: Replacement, target_config: AbsMLPConfig, target: AbsMLP, x: jax.Array, replaced,
                     true):
    """datapoint_latents and datapoint_cosine (module doc)."""
    count, cosine = datapoint_latents(model, target_config)
    return {"datapoint_latents": count, "datapoint_cosine": cosine}


TARGET_SCORES: dict[str, Callable[..., dict[str, Any]]] = {
    "two_hop": two_hop_scores,
    "abs_mlp": datapoint_scores,
}
"""The scores only one kind of target has, by target name: score(replacement, target config, target module,
inputs, closed-loop outputs, the model's outputs) -> scores. A new target adds its own here."""


def _truth(target_config: TargetConfig) -> dict[str, np.ndarray]:
    """The planted weights of the target's circuit (`Target.planted`: abs_mlp, two_hop)."""
    return targets_lib.TARGETS.get(target_config.kind).planted(target_config)


ORACLE_THRESHOLD = 1e-4
DATAPOINT_THRESHOLD = 0.8


def planted_replacement(
    config: TranscoderConfig, target_config: TargetConfig, *, collapsed: bool = False, datapoint: bool = False
) -> dict[str, np.ndarray]:
    """Replacement parameters set by hand from the planted circuit (the oracles of the tests).

    Latent j of layer l is true neuron j of layer l (encoder row W_in, bias b_in, decoder column W_out,
    JumpReLU threshold 1e-4); spare latents never fire. `collapsed` (a CLT on the two-hop circuit): no
    layer-1 latents; the layer-0 (B) latents also write C directly, by the least-squares fit of C on them.
    `datapoint` (the absolute value): one spare latent memorises the repeated point p: it reads p/3, fires
    above 0.8 (on p, and on rare inputs with three large entries), and writes p.
    """
    shapes = dict(_flat(Replacement.build(config, *residual_shape(target_config), jax.random.key(0))))
    params = {k: np.zeros(v.shape, np.float32) for k, v in shapes.items()}
    truth = _truth(target_config)
    n_true = truth["W_in"].shape[1]
    if config.n_latents < n_true + datapoint:
        raise ValueError(f"the planted replacement needs at least {n_true + datapoint} latents per layer")
    params["b_enc"][:] = -1.0
    if "log_threshold" in params:
        params["log_threshold"][:] = np.log(ORACLE_THRESHOLD)
    for layer in range(truth["W_in"].shape[0]):
        if collapsed and layer == 1:
            continue
        params["W_enc"][layer, :n_true] = truth["W_in"][layer]
        params["b_enc"][layer, :n_true] = truth["b_in"][layer]
        if config.kind == "clt":
            params["W_dec"][layer, layer, :n_true] = truth["W_out"][layer].T
        else:
            params["W_dec"][layer, :n_true] = truth["W_out"][layer].T
    if collapsed:
        if config.kind != "clt" or target_config.kind != "two_hop":
            raise ValueError("a collapsed replacement is a CLT on the two-hop circuit")
        x = jnp.asarray(inputs(target_config))
        model = from_arrays(config, target_config, params)
        ins, outs = targets_lib.from_arrays(target_config, truth).mlp_io(x)
        acts0 = np.asarray(model.encode(0, ins[0]))
        params["W_dec"][0, 1] = np.linalg.lstsq(acts0, np.asarray(outs[1]), rcond=None)[0]
    if datapoint:
        if target_config.kind != "abs_mlp":
            raise ValueError("a datapoint latent memorises the absolute-value task's repeated point")
        p = AbsMLP.repeated_point(target_config)
        params["W_enc"][0, n_true] = p / p.sum()
        params["b_enc"][0, n_true] = 0.0
        params["log_threshold"][0, n_true] = np.log(DATAPOINT_THRESHOLD)
        params["W_dec"][0, n_true] = p
    return params


def _flat(module) -> list[tuple[str, Any]]:
    return [("/".join(map(str, path)), v[...]) for path, v in nnx.to_flat_state(nnx.state(module))]

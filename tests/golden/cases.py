"""The golden cases: what tests/test_golden.py trains and compares with golden.npz."""

import dataclasses

import numpy as np

from experiments import intro
from superpose.data import groundtruth
from superpose.sae import model as sae_lib
from superpose.toy import training
from superpose.toy.config import ToyConfig

SAE_SOURCE_SEED = 3


def toy_cases() -> dict[str, dict[str, np.ndarray]]:
    """The intro experiment's quick sweep as the golden file was written (best of 2; 1,000 steps) and one
    group per model kind and data option."""
    (sweep,) = intro.sweeps(quick=True)
    sweep = dataclasses.replace(sweep.with_overrides({"steps": 1000}), best_of=2)
    out = {}
    for model in intro.MODELS:
        configs = [c for _, _, c in sweep.instances() if c.model == model]
        out[f"intro_{model}"] = _toy(training.train(configs, progress=False))
    for name in TOY_VARIANTS:
        out[name] = toy_case(name)
    return out


TOY_VARIANTS = {
    "abs": {"model": "abs"},
    "relu_hidden": {"model": "relu_hidden"},
    "finite_normalised": {"n_train": 64, "normalize": True, "weight_decay": 0.5},
    "correlated_cosine_snapshots": {"data": "correlated", "set_size": 3, "schedule": "warmup_cosine",
                                    "warmup_steps": 30, "snapshots": True},
    "threefry": {"prng": "threefry"},
}


def toy_case(name: str, **changes) -> dict[str, np.ndarray]:
    """One model-kind / data-option group, two instances; `changes` alter its config (the mutation tests)."""
    base = ToyConfig(
        n_features=6, n_hidden=3, steps=300, batch_size=128, log_every=100, feature_probability=0.2
    )
    c = dataclasses.replace(base, **{**TOY_VARIANTS[name], **changes})
    configs = [dataclasses.replace(c, seed=s, feature_probability=p) for s, p in ((0, 0.2), (1, 0.05))]
    return _toy(training.train(configs, progress=False))


def _toy(r) -> dict[str, np.ndarray]:
    out = {"W": r.W_IxFxH, "b": r.b_IxF, "loss": r.loss_IxC, "diverged": r.diverged_step_I}
    if r.W_out_IxFxH is not None:
        out["W_out"] = r.W_out_IxFxH
    if r.W_history_IxCxFxH is not None:
        out["W_history"] = r.W_history_IxCxFxH
    return out


def sae_source():
    directions = groundtruth.random_directions(12, 6, SAE_SOURCE_SEED)
    return groundtruth.synthetic_source(directions, groundtruth.constant_probabilities(12, 0.15))


SAE_CASES = {
    "l1_random": {"architecture": "l1", "resample": "random", "resample_every": 100, "resample_window": 50},
    "l1_inputs_untied": {
        "architecture": "l1",
        "resample": "inputs",
        "resample_every": 100,
        "resample_window": 50,
        "tied_init": False,
    },
    "topk": {"architecture": "topk", "k": 3, "dead_window": 50},
    "batchtopk": {"architecture": "batchtopk", "k": 3},
    "jumprelu_resampled": {
        "architecture": "jumprelu",
        "sparsity_coefficient": 0.01,
        "resample": "random",
        "resample_every": 100,
        "resample_window": 20,
    },
    "gated_inputs": {
        "architecture": "gated",
        "resample": "inputs",
        "resample_every": 100,
        "resample_window": 20,
    },
    "matryoshka": {"architecture": "matryoshka", "k": 3, "matryoshka_widths": (4, 8)},
}


def sae_cases() -> dict[str, dict[str, np.ndarray]]:
    """Every SAE architecture, two SAEs each (shared source), and one stacked-source group."""
    source = sae_source()
    out = {name: sae_case(name, source) for name in SAE_CASES}
    stacked = groundtruth.stack(
        [
            source,
            groundtruth.synthetic_source(
                groundtruth.random_directions(12, 6, 4), groundtruth.constant_probabilities(12, 0.1)
            ),
        ]
    )
    base = sae_lib.SAEConfig(n_latents=16, steps=300, batch_size=128, log_every=100)
    configs = [sae_lib.sae_replace(base, seed=s) for s in range(2)]
    out["l1_stacked"] = _sae(sae_lib.train(configs, stacked, progress=False))
    return out


def sae_case(name: str, source=None, data_seed: int = 1, **changes) -> dict[str, np.ndarray]:
    """One architecture's two SAEs on the shared source; `data_seed` and `changes` (config fields) alter
    it."""
    base = sae_lib.SAEConfig(
        n_latents=16, steps=300, batch_size=128, log_every=100, **{**SAE_CASES[name], **changes}
    )
    configs = [
        sae_lib.sae_replace(base, seed=s, sparsity_coefficient=base.sparsity_coefficient * (1 + s))
        for s in range(2)
    ]
    return _sae(
        sae_lib.train(
            configs, sae_source() if source is None else source, data_seed=data_seed, progress=False
        )
    )


def _sae(r) -> dict[str, np.ndarray]:
    out = {f"param_{k}": v for k, v in r.params.items()}
    return {**out, "threshold": r.threshold_I, "loss": r.loss_IxC, "diverged": r.diverged_step_I}


def all_arrays() -> dict[str, np.ndarray]:
    """Every case's arrays under "kind/case/array", as golden.npz holds them."""
    arrays = {}
    for kind, trained in (("toy", toy_cases()), ("sae", sae_cases()), ("decompose", decompose_cases())):
        for name, result in trained.items():
            arrays.update({f"{kind}/{name}/{k}": v for k, v in result.items()})
    return arrays


TARGET_CASES = {
    "tms": {"kind": "tms", "n_features": 5, "n_hidden": 2, "bias_init": "random"},
    "tms_identity": {"kind": "tms", "n_features": 5, "n_hidden": 2, "identity": True},
    "resid_mlp": {
        "kind": "resid_mlp",
        "n_features": 10,
        "n_hidden": 6,
        "n_layers": 2,
        "d_resid": 16,
        "feature_probability": 0.1,
        "schedule": "cosine",
    },
    "abs_mlp": {"kind": "abs_mlp", "n_features": 8, "n_hidden": 16, "repeat_frac": 0.2},
    "two_hop": {"kind": "two_hop", "n_features": 6, "n_hidden": 3, "feature_probability": 0.3},
    "mixing_mlp": {
        "kind": "mixing_mlp",
        "n_features": 20,
        "n_hidden": 10,
        "feature_probability": 0.05,
        "mixing": "embedding",
        "mixing_scale": 1.0,
    },
}
TWO_HOP_TRUTH = {"kind": "two_hop", "n_features": 6, "n_hidden": 3, "init": "truth",
                 "feature_probability": 0.3}


def decompose_cases() -> dict[str, dict[str, np.ndarray]]:
    """Every target kind trained from random init (two seeds), SPD and APD on the trained TMS 5-2, and each
    transcoder kind on the planted two-hop circuit: 200 steps or fewer each."""
    from superpose import targets as targets
    from superpose.decomposition import apd, spd
    from superpose.transcoders import model as transcoders

    out = {}
    for name, fields in TARGET_CASES.items():
        configs = [
            targets.config(**fields, steps=200, batch_size=128, log_every=100, seed=s) for s in range(2)
        ]
        out[f"target_{name}"] = _trained(targets.train(configs, progress=False))
    tms_config = targets.config(**TARGET_CASES["tms"], steps=200, batch_size=128, log_every=100)
    tms = {
        k.removeprefix("param_"): v[0] for k, v in out["target_tms"].items() if k.startswith("param_")
    }  # W, b
    small = {"steps": 100, "batch_size": 64, "log_every": 50}
    spd_configs = [dataclasses.replace(spd.PRESETS["tms_5-2"], **small, seed=s) for s in range(2)]
    out["spd_tms"] = _trained(spd.train(spd_configs, [tms_config] * 2, [tms] * 2, progress=False))
    apd_configs = [dataclasses.replace(apd.APDConfig(), **small, seed=s) for s in range(2)]
    out["apd_tms"] = _trained(apd.train(apd_configs, [tms_config] * 2, [tms] * 2, progress=False))
    truth_config = targets.config(**TWO_HOP_TRUTH)
    truth = {k: v[0] for k, v in targets.planted_params([truth_config]).items()}
    for kind in ("plt", "skip", "clt"):  # the built-in kinds the golden file holds
        configs = [
            transcoders.TranscoderConfig(kind=kind, n_latents=6, sparsity_coefficient=3e-3, **small, seed=s)
            for s in range(2)
        ]
        out[f"transcoder_{kind}"] = _trained(
            transcoders.train(configs, [truth_config] * 2, [truth] * 2, progress=False)
        )
    return out


def _trained(r) -> dict[str, np.ndarray]:
    """Parameters by name ("layers/W/U" as "layers.W.U": golden keys are kind/case/array)."""
    return {
        **{f"param_{k.replace('/', '.')}": np.asarray(v) for k, v in r.params.items()},
        "loss": r.loss_IxC,
        "diverged": r.diverged_step_I,
    }

"""λ̂ of trained toy models (superpose.train.llc): any group of `ToyConfig`s with their parameters, or a
result folder, which gains `llc.json` and `llc.npz` beside its arrays (`add_to_folder`).

A model trained on a fixed training set (`n_train` > 0) is sampled on that set, regenerated from its seed;
a model trained on fresh samples on a fixed set of `n` samples its seed draws (the data the posterior
conditions on). The loss is the toy loss, the importance-weighted squared error averaged over features and
samples.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from superpose.results import json_normalise
from superpose.toy import training
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import SAVED_AS, ToyGroup
from superpose.train import llc
from superpose.validate import ConfigError

DEFAULTS = dict(
    chains=4,
    steps=1000,
    burn_in=250,
    step_size=1e-4,
    localization=1.0,
    n=10_000,
    batch_size=0,
    sampler="sgld",
)
"""What `superpose llc` uses unless told otherwise. Chosen on SGD-trained 5-gons of the 6-feature,
2-dimensional model of Chen et al. 2023 (learning coefficient 8.5): λ̂ 5.3-7.6 per model at these settings,
4.8-6.8 with γ = 10, 5.2-9.4 with ε = 3e-4 (docs/results/bayesian-phases.md). λ̂ depends on them: compare
models estimated with the same settings."""


def estimate(
    configs: Sequence[ToyConfig],
    params: dict[str, np.ndarray],
    *,
    chains: int = DEFAULTS["chains"],
    steps: int = DEFAULTS["steps"],
    burn_in: int = DEFAULTS["burn_in"],
    step_size=DEFAULTS["step_size"],
    localization=DEFAULTS["localization"],
    nbeta=None,
    n: int = DEFAULTS["n"],
    batch_size: int = DEFAULTS["batch_size"],
    sampler: str = DEFAULTS["sampler"],
    progress: bool = True,
    desc: str = "llc",
) -> llc.Estimate:
    """λ̂ of each instance (`configs[i]` with parameters `params[name][i]`, by the model's attribute names)."""
    if not configs:
        raise ConfigError("no instances to estimate")
    sizes = {c.n_train for c in configs}
    if len(sizes) > 1:
        raise ConfigError("instances trained on training sets of different sizes: estimate them separately")
    own = sizes.pop()
    data_size = own if own > 0 else n
    sampled = [dataclasses.replace(c, n_train=data_size) for c in configs]
    base = training.learner(sampled)
    return llc.estimate(
        base,
        training.hyper_arrays(sampled),
        [c.seed for c in configs],
        params,
        n=data_size,
        chains=chains,
        settings=llc.Chains(
            steps=steps, burn_in=burn_in, batch_size=batch_size, sampler=sampler, log_every=min(steps, 500)
        ),
        step_size=step_size,
        nbeta=nbeta,
        localization=localization,
        progress=progress,
        desc=desc,
    )


def params_of(run: ToyGroup) -> dict[str, np.ndarray]:
    """A toy result folder's parameters by the model's attribute names."""
    saved = {v: k for k, v in SAVED_AS.items()}
    names = {"W", "b", "W_out"} | {k for k in run.arrays if k.startswith(("W_", "b_"))}
    return {saved.get(k, k): np.asarray(run.arrays[k]) for k in run.arrays if k in names}


def add_to_folder(run: ToyGroup, *, progress: bool = True, **settings) -> Path:
    """λ̂ of every instance of a toy result folder, written beside its arrays: `llc.npz` (λ̂ per instance and
    chain, the loss traces) and `llc.json` (the settings, λ̂ and its spread per instance, the warnings).
    arrays.npz is not touched, so the folder's checksum still holds."""
    settings = {**DEFAULTS, **{k: v for k, v in settings.items() if v is not None}}
    found = estimate(run.configs, params_of(run), progress=progress, desc=f"llc {run.path.name}", **settings)
    np.savez_compressed(
        run.path / "llc.npz",
        llc=found.llc_I,
        llc_std=found.llc_std_I,
        llc_chains=found.llc_IxK,
        trace=found.trace_IxKxT.astype(np.float32),
        init_loss=found.init_loss_I,
        nbeta=found.nbeta_I,
    )
    summary = {
        "settings": settings,
        "nbeta": found.nbeta_I.tolist(),
        "llc": found.llc_I.tolist(),
        "llc_std": found.llc_std_I.tolist(),
        "warnings": found.warnings,
    }
    path = run.path / "llc.json"
    path.write_text(json.dumps(json_normalise(summary), indent=1))
    return path


def read(folder: Path) -> dict | None:
    """A folder's `llc.json`, or None when `superpose llc` has not been run on it."""
    path = Path(folder) / "llc.json"
    return json.loads(path.read_text()) if path.exists() else None

"""A group of SAEs trained on one ground-truth source, evaluated and saved as a result folder.

A folder (superpose.results) holds
  config.json   every SAE's config and labels (its sweep coordinates), the source's description,
                the environment;
  arrays.npz    W_enc, b_enc, W_dec, b_dec (instance axis first), threshold, loss, loss_step, and the
                true directions `truth` (G x D, or I x G x D when each SAE has its own source);
  summary.json  per-SAE metrics against the truth (superpose.sae.evaluation) and divergence.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np

from superpose import results
from superpose.data import groundtruth, user_arrays
from superpose.measures import recovery
from superpose.sae import evaluation
from superpose.sae import model as sae_lib


def _job(configs, labels, source_spec) -> dict[str, Any]:
    return {
        "saes": [{"labels": lab, "config": c.to_dict()} for c, lab in zip(configs, labels)],
        "source": source_spec,
    }


def evaluate(
    configs: Sequence[sae_lib.SAEConfig],
    trained: sae_lib.SAEResult,
    source: groundtruth.FeatureSource | user_arrays.ArraySource,
    *,
    min_truth_norm: float = 0.0,
) -> list[dict[str, float]]:
    """Metrics of every SAE. True features with norm ≤ `min_truth_norm` (a toy model's dropped features)
    are left out of the direction metrics and can match no latent. On an array source without a true
    dictionary (superpose.data.user_arrays) only the reconstruction metrics; without true codes, no
    activation-matching ones."""
    stats = evaluation.activation_stats(configs[0], trained, source)
    if isinstance(source, user_arrays.ArraySource):
        return _evaluate_arrays(configs, trained, source, stats)
    truth = np.asarray(source.directions_GxD)
    parent = None if source.parent_G is None else np.asarray(source.parent_G)
    out = []
    for i in range(len(configs)):
        truth_i = truth if truth.ndim == 2 else truth[i]
        parent_i = parent if parent is None or parent.ndim == 1 else parent[i]
        kept = np.linalg.norm(truth_i, axis=1) > min_truth_norm
        cos = recovery.cosine_matrix(truth_i, trained.params["W_dec_LxD"][i]) * kept[:, None]
        metrics = (
            recovery.direction_metrics(truth_i[kept], trained.params["W_dec_LxD"][i]) if kept.any() else {}
        )
        metrics |= evaluation.activation_metrics(jax.tree.map(lambda a, i=i: a[i], stats), cos, parent_i)
        metrics["n_true_features"] = int(kept.sum())
        out.append(metrics)
    return out


MATCHING_METRICS = (
    "precision",
    "recall",
    "f1",
    "uniqueness",
    "precision_all_latents",
    "recall_all_latents",
    "f1_all_latents",
    "uniqueness_all_latents",
    "true_l0",
)
"""Activation metrics that need the true codes."""


def _evaluate_arrays(configs, trained, source: user_arrays.ArraySource, stats) -> list[dict[str, float]]:
    has_dictionary = source.directions is not None
    can_match = has_dictionary and source.codes is not None
    out = []
    for i in range(len(configs)):
        decoder = trained.params["W_dec_LxD"][i]
        truth = source.directions if has_dictionary else np.zeros((1, decoder.shape[1]), np.float32)
        metrics = recovery.direction_metrics(truth, decoder) if has_dictionary else {}
        found = evaluation.activation_metrics(
            jax.tree.map(lambda a, i=i: a[i], stats), recovery.cosine_matrix(truth, decoder)
        )
        metrics |= {k: v for k, v in found.items() if can_match or k not in MATCHING_METRICS}
        if has_dictionary:
            metrics["n_true_features"] = int(truth.shape[0])
        out.append(metrics)
    return out


def score(
    config: sae_lib.SAEConfig,
    params: dict[str, np.ndarray],
    source: groundtruth.FeatureSource | user_arrays.ArraySource,
    *,
    threshold: float = 0.0,
    min_truth_norm: float = 0.0,
) -> dict[str, float]:
    """The metrics of `evaluate` for one SAE given by its parameters (no instance axis), e.g. one read from
    another library's files (superpose.sae.saelens)."""
    result = sae_lib.SAEResult(
        {k: np.asarray(v)[None] for k, v in params.items()},
        np.asarray([threshold], np.float32),
        np.zeros((1, 1)),
        np.zeros(1),
        np.full(1, -1),
    )
    return evaluate([config], result, source, min_truth_norm=min_truth_norm)[0]


def run_group(
    folder: Path,
    configs: Sequence[sae_lib.SAEConfig],
    source: groundtruth.FeatureSource | user_arrays.ArraySource,
    *,
    labels: Sequence[dict],
    source_spec: dict,
    min_truth_norm: float = 0.0,
    data_seed: int = 0,
    progress: bool = True,
    skip_existing: bool = False,
    train_on=None,
) -> results.Run:
    """Train, evaluate and save one group (or load it when `skip_existing` and it holds this exact job).
    `train_on`: a function returning the training data when it is needed (e.g. `user_arrays.record`ed batches
    of `source`); by default the group trains on `source`. Evaluation is always on `source`."""
    folder = Path(folder)

    def compute(checkpoint):
        trained = sae_lib.train(
            configs,
            source if train_on is None else train_on(),
            data_seed=data_seed,
            progress=progress,
            desc=folder.name,
            checkpoint=checkpoint,
        )
        metrics = evaluate(configs, trained, source, min_truth_norm=min_truth_norm)
        saved = dict(trained.params)
        saved |= {
            "threshold": trained.threshold_I,
            "loss": trained.loss_IxC,
            "loss_step": trained.loss_steps_C,
        }
        truth = (
            source.directions
            if isinstance(source, user_arrays.ArraySource)
            else np.asarray(source.directions_GxD)
        )
        if truth is not None:
            saved["truth"] = truth
        return saved, {"metrics": metrics, "diverged_step": trained.diverged_step_I.tolist()}, {}

    job = _job(configs, labels, source_spec)
    return results.load(results.run_or_load(SAEGroup, folder, job, compute, skip_existing=skip_existing))


def metric(run: results.Run, name: str) -> np.ndarray:
    """One metric for every SAE of a folder (NaN where it is missing)."""
    return np.asarray([m.get(name, np.nan) for m in run.summary["metrics"]], float)


def labels(run: results.Run, name: str) -> list:
    return [sae["labels"][name] for sae in run.config["job"]["saes"]]


def config(run: results.Run, i: int) -> sae_lib.SAEConfig:
    c = dict(run.config["job"]["saes"][i]["config"])
    c["matryoshka_widths"] = tuple(c["matryoshka_widths"])
    return sae_lib.SAEConfig(**c)


@dataclasses.dataclass(frozen=True)
class SAEGroup(results.Run, kind="sae_group", job_key="job"):
    """An SAE result folder (one group trained together), read by `superpose.load`."""

    @property
    def configs(self) -> list[sae_lib.SAEConfig]:
        return [config(self, i) for i in range(len(self.config["job"]["saes"]))]

    def model(self, i: int) -> sae_lib.SAE:
        """SAE `i` as its trained module."""
        return sae_lib.model(config(self, i), lambda name: self.arrays[name][i])

    def metric(self, name: str) -> np.ndarray:
        return metric(self, name)

    def labels(self, name: str) -> list:
        return labels(self, name)

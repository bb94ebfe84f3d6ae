"""Sweeps as data: a base config plus named grid axes, expanded into instances.

Points are the cartesian product of the axes, in axis order. Each point is
trained `best_of` times with seeds ``seed * best_of + replica``; the replica
with the lowest final training loss is the point's result (the paper's
best-of-k, E3/E6/E10). Instances whose static fields agree (superpose.toy.config)
form one shape group and train in one compiled program; each group is saved
as its own result folder.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from superpose import results
from superpose.data.sparse_features import sample_structured
from superpose.measures import configuration
from superpose.measures import features as metrics
from superpose.toy import config as cfg
from superpose.toy.config import ToyConfig
from superpose.toy.models import MODELS, ToyModel
from superpose.toy.training import learner, train
from superpose.train import rng
from superpose.train.trainer import check_fits, module_from_arrays
from superpose.validate import ConfigError, check_known_key


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sweep:
    name: str
    base: ToyConfig
    axes: Mapping[str, tuple] = dataclasses.field(default_factory=dict)
    best_of: int = 1
    listed: tuple[Mapping[str, Any], ...] = ()
    """Points given one by one (each a value of every axis), instead of the axes' grid: a phase diagram's
    refinement (superpose.toy.phase_diagram)."""

    def __post_init__(self):
        for key, values in self.axes.items():
            check_known_key(key, cfg.field_names())
            if len(values) == 0:
                raise ConfigError(f"sweep axis '{key}' has no values")
        if isinstance(self.best_of, bool) or not isinstance(self.best_of, int) or self.best_of < 1:
            raise ConfigError(f"best_of must be an integer >= 1, got {self.best_of!r}")

    def points(self) -> list[dict[str, Any]]:
        if self.listed:
            return [dict(p) for p in self.listed]
        names = list(self.axes)
        return [dict(zip(names, combo)) for combo in itertools.product(*self.axes.values())]

    def instances(self) -> list[tuple[int, int, ToyConfig]]:
        """(point index, replica, config) for every instance; validates every config."""
        out = []
        for i, point in enumerate(self.points()):
            config = cfg.replace(self.base, point)
            for r in range(self.best_of):
                out.append((i, r, dataclasses.replace(config, seed=config.seed * self.best_of + r)))
        return out

    def with_overrides(self, overrides: Mapping[str, Any]) -> Sweep:
        """Apply `key=value` overrides to the base; an override of a swept key replaces its axis."""
        axes = {k: v for k, v in self.axes.items() if k not in overrides}
        listed = tuple({k: v for k, v in p.items() if k not in overrides} for p in self.listed)
        return dataclasses.replace(self, base=cfg.replace(self.base, overrides), axes=axes, listed=listed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": self.base.to_dict(),
            "axes": {k: list(v) for k, v in self.axes.items()},
            "best_of": self.best_of,
            **(
                {
                    "points": [
                        {k: list(v) if isinstance(v, tuple) else v for k, v in p.items()} for p in self.listed
                    ]
                }
                if self.listed
                else {}
            ),
        }


def shape_groups(sweep: Sweep) -> dict[str, list[tuple[int, int, ToyConfig]]]:
    """Instances grouped by static fields, named by the static axis values that vary."""
    static_axes = [k for k in sweep.axes if k in ToyConfig.static_fields()]
    groups: dict[str, list] = {}
    for inst in sweep.instances():
        label = "-".join(f"{k}={getattr(inst[2], k)}" for k in static_axes) or "all"
        groups.setdefault(label, []).append(inst)
    return groups


def group_folder(out: Path, sweep_name: str, label: str) -> Path:
    """Where `run_sweep` writes shape group `label` of the sweep named `sweep_name`."""
    return Path(out) / sweep_name / label


def run_sweep(
    sweep: Sweep, out: Path, *, progress: bool = True, skip_existing: bool = False, overwrite: bool = True
) -> list[Path]:
    """Train every shape group of `sweep` and write one result folder per group.

    With `skip_existing`, a group whose folder already holds this exact sweep
    is not retrained (so a re-run resumes after the last finished group). A group
    in training keeps a checkpoint beside its folder (superpose.train.checkpoint) and a
    re-run continues from it. Without `overwrite`, a folder that holds a different
    sweep stops the run (ResultError) before any compute, rather than being replaced.
    """
    groups = shape_groups(sweep)  # validates all configs before any compute
    for instances in groups.values():
        check_fits(learner([c for _, _, c in instances]))
    results.check_writable(out)
    folders = {label: group_folder(out, sweep.name, label) for label in groups}
    if not overwrite:
        for folder in folders.values():
            if (folder / "config.json").exists() and not _holds(folder, sweep):
                raise results.ResultError(
                    f"{folder} holds results of a different sweep; choose another --out or pass --overwrite"
                )
    for label, instances in groups.items():
        results.run_or_load(
            ToyGroup,
            folders[label],
            sweep.to_dict(),
            _compute_group(sweep, label, instances, progress),
            skip_existing=skip_existing,
        )
    return list(folders.values())


def _holds(folder: Path, sweep: Sweep) -> bool:
    return results.holds(folder, ToyGroup, sweep.to_dict())


def _compute_group(sweep, label, instances, progress):
    def compute(checkpoint):
        configs = [c for _, _, c in instances]
        trained = train(configs, progress=progress, desc=f"{sweep.name}/{label}", checkpoint=checkpoint)
        return _group_result(sweep, label, instances, trained)

    return compute


def _group_result(sweep, label, instances, trained) -> tuple[dict, dict, dict]:
    point_I = np.asarray([p for p, _, _ in instances])
    final_I = trained.loss_IxC[:, -1]
    best_I = np.zeros(len(instances), bool)
    for p in np.unique(point_I):
        members = np.flatnonzero(point_I == p)
        finite = np.where(np.isfinite(final_I[members]), final_I[members], np.inf)
        best_I[members[np.argmin(finite)]] = True
    points = sweep.points()
    config = {
        "group": label,
        "instances": [
            {"point": p, "replica": r, "axes": points[p], "config": c.to_dict()} for p, r, c in instances
        ],
    }
    arrays = {
        **{SAVED_AS.get(name, name): value for name, value in trained.params.items()},
        "loss": trained.loss_IxC,
        "loss_step": trained.loss_steps_C,
        "feature_probability": np.stack([c.probability_F() for _, _, c in instances]),
        "importance": np.stack([c.importance_F() for _, _, c in instances]),
        "point": point_I,
        "replica": np.asarray([r for _, r, _ in instances]),
    }
    if trained.W_history_IxCxFxH is not None:
        arrays["W_history"] = trained.W_history_IxCxFxH
        arrays["b_history"] = trained.b_history_IxCxF
    summary = {
        "final_loss": [float(x) for x in final_I],
        "diverged_step": trained.diverged_step_I.tolist(),
        "best_of_point": best_I.tolist(),
        "configuration": configuration.names(
            trained.W_IxFxH, arrays["importance"], arrays["feature_probability"]
        ),
        **metrics.summary(trained.W_IxFxH),
    }
    return arrays, summary, config


SAVED_AS = {"W_FxH": "W", "b_F": "b", "W_out_FxH": "W_out"}
"""Toy-model parameters saved under a short name in arrays.npz (the names of schema 2); others keep theirs."""


@dataclasses.dataclass(frozen=True)
class ToyGroup(results.Run, kind="toy_sweep", job_key="sweep"):
    """A toy-model result folder (one shape group of a sweep), read by `superpose.load`."""

    @property
    def configs(self) -> list[ToyConfig]:
        """Every instance's config, in instance order."""
        return [ToyConfig(**_tuples(inst["config"])) for inst in self.config["instances"]]

    def model(self, i: int) -> ToyModel:
        """Instance `i` as its trained module."""
        c = ToyConfig(**_tuples(self.config["instances"][i]["config"]))
        return module_from_arrays(
            lambda: MODELS.get(c.model)(c.n_features, c.n_hidden, jax.random.key(0)),
            lambda name: self.arrays[SAVED_AS.get(name, name)][i],
        )

    def evaluation_loss(self, i: int, n_samples: int = 1 << 16, seed: int = 0) -> float:
        """Instance `i`'s plain loss (importance-weighted squared error, no penalty, no attack) on `n_samples`
        fresh inputs of its own data, the same inputs for every instance of equal density and `seed`."""
        c = self.configs[i]
        model = self.model(i)
        x_FxB = sample_structured(
            rng.key(seed),
            jnp.asarray(c.probability_F()),
            n_samples,
            kind=c.data,
            set_size=c.set_size,
            signed=model.signed_inputs,
        ) * c.feature_max
        if c.normalize:
            x_FxB = x_FxB / jnp.maximum(jnp.linalg.norm(x_FxB, axis=0, keepdims=True), 1e-12)
        return float(model.loss(x_FxB, jnp.asarray(c.importance_F())))


def _tuples(config: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}


def best_instances(run: results.Run) -> np.ndarray:
    """Indices of the best replica of each point, in point order."""
    best = np.asarray(run.summary["best_of_point"])
    point = run.arrays["point"]
    idx = np.flatnonzero(best)
    return idx[np.argsort(point[idx], kind="stable")]


def by_point(run: results.Run, values) -> np.ndarray:
    """A per-instance array (or list) of a best-of sweep's group as (point, replica, ...), in point order."""
    order = np.lexsort((run.arrays["replica"], run.arrays["point"]))
    values = np.asarray(values)[order]
    return values.reshape(len(np.unique(run.arrays["point"])), -1, *values.shape[1:])


def diverged(run: results.Run) -> list[int]:
    return [i for i, s in enumerate(run.summary["diverged_step"]) if s >= 0]

"""Parameter decompositions (SPD, APD) and MLP replacements (transcoders) of targets, trained as a group,
scored against the truth and saved as a result folder.

A decomposition folder (superpose.results) holds
  config.json   {"kind": "decomposition", "decomposition": {"method": a registered method's name ("spd",
  "apd",
                "transcoder"), "runs": [{"config", "labels"}, ...], "target": {"folder", "instances",
                "config"}}};
  arrays.npz    the decompositions' parameters by path (layers/<matrix>/U, ...; instance axis first),
                loss, loss_step, and each run's target arrays as target/<name>;
  summary.json  {"metrics": one dict per run (the method's `evaluate`), "diverged_step": [...]}.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from superpose import results
from superpose.decomposition import spd
from superpose.decomposition.training import METHODS
from superpose.targets import TargetConfig, config_from_dict
from superpose.targets.group import TargetGroup, run_target


@dataclasses.dataclass(frozen=True)
class DecompositionGroup(results.Run, kind="decomposition", job_key="decomposition"):
    """A decomposition folder (SPD, APD or transcoder runs trained together), read by `superpose.load`."""

    @property
    def method(self) -> str:
        return self.config["decomposition"]["method"]

    @property
    def configs(self) -> list:
        config_class = METHODS.get(self.method).config
        return [config_class(**r["config"]) for r in self.config["decomposition"]["runs"]]

    @property
    def target_config(self) -> TargetConfig:
        return config_from_dict(self.config["decomposition"]["target"]["config"])

    def params(self, i: int) -> dict[str, np.ndarray]:
        return {
            k: v[i]
            for k, v in self.arrays.items()
            if not k.startswith("target/") and k not in ("loss", "loss_step")
        }

    def target_params(self, i: int) -> dict[str, np.ndarray]:
        return {k.removeprefix("target/"): v[i] for k, v in self.arrays.items() if k.startswith("target/")}

    def metric(self, name: str) -> np.ndarray:
        return np.asarray([m.get(name, np.nan) for m in self.summary["metrics"]], float)

    def labels(self, name: str) -> list:
        return [r["labels"][name] for r in self.config["decomposition"]["runs"]]


def run_decomposition(
    folder: Path,
    method: str,
    configs: Sequence,
    targets: TargetGroup,
    instances: Sequence[int],
    *,
    labels: Sequence[dict],
    progress: bool = True,
    skip_existing: bool = False,
) -> DecompositionGroup:
    """Decompose target `instances[k]` of `targets` with `configs[k]` for every k, in one program; evaluate
    every run against its target's truth and save (or load the folder when it holds this exact job)."""
    folder = Path(folder)
    target_configs = [targets.configs[i] for i in instances]
    job = {
        "method": method,
        "runs": [{"config": c.to_dict(), "labels": lab} for c, lab in zip(configs, labels)],
        "target": {
            "folder": targets.path.name,
            "instances": list(instances),
            "config": target_configs[0].static().to_dict(),
        },
    }
    chosen = METHODS.get(method)

    def compute(checkpoint):
        target_params = [targets.params(i) for i in instances]
        trained = chosen.train(
            configs, target_configs, target_params, progress=progress, desc=folder.name, checkpoint=checkpoint
        )
        metrics = [
            chosen.evaluate(c, t, {k: v[i] for k, v in trained.params.items()}, target_params[i])
            for i, (c, t) in enumerate(zip(configs, target_configs))
        ]
        arrays = dict(trained.params)
        arrays |= {f"target/{k}": np.stack([p[k] for p in target_params]) for k in target_params[0]}
        arrays |= {"loss": trained.loss_IxC, "loss_step": trained.loss_steps_C}
        return arrays, {"metrics": metrics, "diverged_step": trained.diverged_step_I.tolist()}, {}

    return results.load(
        results.run_or_load(DecompositionGroup, folder, job, compute, skip_existing=skip_existing)
    )


def run_spd_per_target(
    root: Path,
    setups: dict[str, tuple[TargetConfig, Sequence[spd.SPDConfig]]],
    labels: Callable[[str, spd.SPDConfig], dict],
    *,
    progress: bool = True,
    skip_existing: bool = False,
) -> list[Path]:
    """For each named (target, SPD configs): train the target (folder target-<name>) and decompose it with
    every config in one program (folder spd-<name>), under `root`. Returns the folders in that order."""
    folders = []
    for name, (target, configs) in setups.items():
        targets, instance = run_target(
            root / f"target-{name}", target, progress=progress, skip_existing=skip_existing
        )
        run = run_decomposition(
            root / f"spd-{name}",
            "spd",
            configs,
            targets,
            [instance] * len(configs),
            labels=[labels(name, c) for c in configs],
            progress=progress,
            skip_existing=skip_existing,
        )
        folders += [targets.path, run.path]
    return folders


def spd_runs(manifest, experiment: str) -> dict[str, DecompositionGroup]:
    """The spd-<name> folders an experiment's run trained, by name, loaded."""
    prefix = f"{experiment}/spd-"
    return {n.removeprefix(prefix): manifest.load(n) for n in manifest.names() if n.startswith(prefix)}

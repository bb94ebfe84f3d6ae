"""User-defined studies: a sweep written in a TOML or JSON file, run without Python.

    name = "phase_n3m2"          # results/<name>/..., figures/<name>.png
    best_of = 4                  # optional, default 1
    refine = 2                   # optional, default 0: rounds of boundary refinement (or --refine K)
    [base]                       # any ToyConfig field
    n_features = 3
    n_hidden = 2
    [axes]                       # any ToyConfig field: a list of values each
    feature_probability = [1.0, 0.3, 0.1, 0.03]
    importance = [[1, 1, 0.1], [1, 1, 1], [1, 1, 10]]

Every mistake (syntax, unknown key, bad value) is a `ConfigError` whose one
line names the file and the field.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import tomllib
from pathlib import Path
from typing import Any

from superpose import results
from superpose.toy import config as cfg
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, run_sweep
from superpose.validate import ConfigError

TOP_LEVEL = ("name", "best_of", "refine", "base", "axes")


def is_study_path(text: str) -> bool:
    return text.endswith((".toml", ".json"))


def load_study(path: Path) -> Sweep:
    """The study's sweep (its grid)."""
    return load(path)[0]


def load(path: Path) -> tuple[Sweep, int]:
    """(the study's sweep, its rounds of refinement)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {e}") from None
    try:
        sweep = _sweep(data)
        sweep.instances()  # validate every point now, so errors name this file
        return sweep, rounds(data.get("refine", 0))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def _sweep(data: Any) -> Sweep:
    if not isinstance(data, dict):
        raise ConfigError("a study is a table with keys name, best_of, base, axes")
    for key in data:
        if key not in TOP_LEVEL:
            raise ConfigError(f"unknown key '{key}' (allowed: {', '.join(TOP_LEVEL)})")
    name = data.get("name")
    if not isinstance(name, str) or not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"name must be a non-empty word of letters, digits, '-' or '_', got {name!r}")
    base, axes = data.get("base", {}), data.get("axes", {})
    for field, table in (("base", base), ("axes", axes)):
        if not isinstance(table, dict):
            raise ConfigError(f"{field} must be a table of config fields")
    for key, values in axes.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"axes.{key} must be a non-empty list of values")
    return Sweep(
        name=name,
        base=cfg.replace(ToyConfig(), {k: _freeze(v) for k, v in base.items()}),
        axes={k: tuple(_freeze(v) for v in values) for k, values in axes.items()},
        best_of=data.get("best_of", 1),
    )


def rounds(value: Any) -> int:
    """A number of refinement rounds, checked."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"refine must be a whole number of rounds >= 0, got {value!r}")
    return value


def refinement_stages(sweep: Sweep, rounds: int) -> list:
    """`rounds` stages, each training the midpoints between the neighbouring points whose configurations
    differ so far (superpose.toy.phase_diagram), as the sweep `<name>/refine-<k>` (one compiled program)."""
    return [functools.partial(_refine_round, sweep, k) for k in range(1, rounds + 1)]


def _refine_round(sweep: Sweep, k: int, manifest, size, *, progress: bool, skip_existing: bool) -> list[Path]:
    from superpose.toy import phase_diagram

    diagram = phase_diagram.analyse([results.load(f) for f in manifest.folders], best_known_steps=None)
    new = diagram.refinement()
    if not new:
        return []
    refined = dataclasses.replace(sweep, name=f"{sweep.name}/refine-{k}", listed=tuple(new))
    return run_sweep(refined, manifest.root, progress=progress, skip_existing=skip_existing)


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def plot(folders: list[Path], figure_path: Path) -> list[Path]:
    """The study as a phase diagram (superpose.toy.phase_diagram), one row per value of any axes past the
    first two: each point's configuration (its best seed by expected loss) with the boundaries and the
    refined points, the closed forms where they exist, the best known configuration in every cell, the gap
    of the best trained seed to it and the basin fraction. What it shows is written beside the results as
    `phase_diagram.json`."""
    from superpose.app import phase_figure  # matplotlib: only here
    from superpose.toy import phase_diagram

    runs = [results.load(f) for f in folders]
    diagram = phase_diagram.analyse(runs)
    data = diagram.to_json()
    written = phase_figure.draw(diagram, figure_path, data)
    target = Path(folders[0]).parent / "phase_diagram.json"
    tmp = target.with_name(".phase_diagram.json.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(target)
    return written

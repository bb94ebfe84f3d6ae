"""User-defined studies: a sweep written in a TOML or JSON file, run without Python.

    name = "phase_n3m2"          # results/<name>/..., figures/<name>.png
    best_of = 4                  # optional, default 1
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

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from superpose import results
from superpose.measures import features as metrics
from superpose.toy import config as cfg
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances
from superpose.validate import ConfigError

TOP_LEVEL = ("name", "best_of", "base", "axes")


def is_study_path(text: str) -> bool:
    return text.endswith((".toml", ".json"))


def load_study(path: Path) -> Sweep:
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
        return sweep
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


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def plot(folders: list[Path], figure_path: Path) -> list[Path]:
    """A generic figure of a study, one row per shape group: represented features and
    dimensions per feature of each point's best replica, over the swept (non-shape) axes:
    a line for one axis, a heat map for two, a line over all points otherwise."""
    from superpose.app import plotting  # matplotlib: only here (the command line imports it while training)

    runs = [results.load(f) for f in folders]
    fig, axes = plotting.figure(len(runs), 2, figsize=(10, 3.8 * len(runs)), squeeze=False)
    for row, run in enumerate(runs):
        swept = {k: v for k, v in run.config["sweep"]["axes"].items() if k not in ToyConfig.static_fields()}
        W = run.arrays["W"][best_instances(run)]
        for ax, values, label in (
            (axes[row, 0], np.asarray(metrics.n_represented(W)), "features with ‖W_i‖ > 0.5"),
            (axes[row, 1], np.asarray(metrics.dimensions_per_feature(W)), "dimensions per feature m/‖W‖²_F"),
        ):
            _draw(ax, values, swept, label)
        axes[row, 0].set_title(f"{run.config['sweep']['name']} / {run.config['group']}", loc="left")
    fig.tight_layout()
    return plotting.save(fig, figure_path)


def _draw(ax, values: np.ndarray, swept: dict[str, list], label: str) -> None:
    names = list(swept)
    if len(names) == 2:
        im = ax.imshow(
            values.reshape(len(swept[names[0]]), -1), aspect="auto", cmap="viridis", origin="lower"
        )
        ax.set_yticks(np.arange(len(swept[names[0]])), [_short(v) for v in swept[names[0]]])
        ax.set_xticks(np.arange(len(swept[names[1]])), [_short(v) for v in swept[names[1]]], rotation=60)
        ax.set(ylabel=names[0], xlabel=names[1])
        ax.figure.colorbar(im, ax=ax).set_label(label)
        return
    ax.plot(np.arange(values.size), values, "o-")
    if np.issubdtype(values.dtype, np.integer):  # a count: whole-number ticks
        ax.yaxis.get_major_locator().set_params(integer=True)
    if len(names) == 1:
        ax.set_xticks(np.arange(values.size), [_short(v) for v in swept[names[0]]], rotation=60)
    ax.set(
        xlabel=names[0] if len(names) == 1 else "point (axes in order: " + ", ".join(names) + ")",
        ylabel=label,
    )


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return f"{value:.3g}" if isinstance(value, float) else str(value)

"""The studies superpose regenerates, one module each.

Installed as `superpose.experiments` (see pyproject.toml). Each module
defines `EXPERIMENT`, an `Experiment`: the sweeps it trains (full or quick
size) and the figure it draws from their result folders.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from superpose.sweep import Sweep


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    sweeps: Callable[[bool], list[Sweep]]
    """quick -> the sweeps to train."""
    plot: Callable[[Path, Path], list[Path]]
    """(results folder of this experiment, figure path without suffix) -> files written."""


def registry() -> dict[str, Experiment]:
    from superpose.experiments import (
        absolute,
        adversarial,
        basic,
        correlated,
        double_descent,
        dynamics,
        geometry,
        intro,
        perturb,
        phase,
        privileged,
    )

    experiments = (
        intro.EXPERIMENT,
        basic.EXPERIMENT,
        phase.EXPERIMENT,
        geometry.EXPERIMENT,
        perturb.EXPERIMENT,
        adversarial.EXPERIMENT,
        correlated.EXPERIMENT,
        privileged.EXPERIMENT,
        absolute.EXPERIMENT,
        dynamics.EXPERIMENT,
        double_descent.EXPERIMENT,
    )
    return {e.name: e for e in experiments}

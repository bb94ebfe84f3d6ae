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
    train_more: Callable[..., list[Path]] | None = None
    """Work beyond toy sweeps (the SAE studies), run after the sweeps:
    (results folder, quick, *, progress, skip_existing) -> result folders written or found."""


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
        sae_architectures,
        sae_recovery,
        sae_sharkey,
        sae_steering,
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
        sae_recovery.EXPERIMENT,
        sae_sharkey.EXPERIMENT,
        sae_architectures.EXPERIMENT,
        sae_steering.EXPERIMENT,
    )
    return {e.name: e for e in experiments}

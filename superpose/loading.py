"""One reader for every result folder superpose writes: `superpose.load(folder)`.

Returns the folder as its kind's class: a `ToyGroup` (a shape group of a toy-model
sweep), an `SAEGroup` (SAEs trained together on one source), a `TargetGroup` (models
with known computation: the targets of parameter decomposition and transcoders) or a
`DecompositionGroup` (SPD, APD or transcoder runs). Each is a `superpose.results.Run`
(config, arrays, summary) with `configs` (one per instance); the first three have
`model(i)` (instance i as its trained flax NNX module). Folders written by earlier
releases of the same schema load alike.
"""

from __future__ import annotations

from pathlib import Path

from superpose import results
from superpose.sae.group import SAEGroup
from superpose.decomposition.group import DecompositionGroup, TargetGroup
from superpose.toy.sweep import ToyGroup


def load(folder: Path) -> ToyGroup | SAEGroup | TargetGroup | DecompositionGroup:
    run = results.load(folder)
    fields = {"path": run.path, "config": run.config, "arrays": run.arrays, "summary": run.summary}
    if "sweep" in run.config:
        return ToyGroup(**fields)
    if "job" in run.config:
        return SAEGroup(**fields)
    if "targets" in run.config:
        return TargetGroup(**fields)
    if "decomposition" in run.config:
        return DecompositionGroup(**fields)
    raise results.ResultError(f"{Path(folder) / 'config.json'} is not a result folder superpose knows "
                              "(toy-model sweep, SAE group, targets or decomposition)")

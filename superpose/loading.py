"""One reader for every result folder superpose writes: `superpose.load(folder)`.

Returns the folder as its kind's class: a `ToyGroup` (a shape group of a toy-model
sweep) or an `SAEGroup` (SAEs trained together on one source). Both are a
`superpose.results.Run` (config, arrays, summary) with `configs` (one per instance) and
`model(i)` (instance i as its trained flax NNX module). Folders written by earlier
releases of the same schema load alike.
"""

from __future__ import annotations

from pathlib import Path

from superpose import results
from superpose.decompose.bench import SAEGroup
from superpose.toy.sweep import ToyGroup


def load(folder: Path) -> ToyGroup | SAEGroup:
    run = results.load(folder)
    fields = {"path": run.path, "config": run.config, "arrays": run.arrays, "summary": run.summary}
    if "sweep" in run.config:
        return ToyGroup(**fields)
    if "job" in run.config:
        return SAEGroup(**fields)
    raise results.ResultError(f"{Path(folder) / 'config.json'} is neither a toy-model sweep nor an SAE group")

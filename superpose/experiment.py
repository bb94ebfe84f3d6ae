"""What an experiment is, and where superpose finds them.

An experiment is an `Experiment`: the sweeps it trains (full or quick size), optional
further training (the SAE studies), and the figure it draws from what it trained. superpose
does not import any experiment by name: the command line finds them through the
`superpose.experiments` entry point group, each entry naming a sequence of `Experiment`s
(this repository's `experiments` package declares one in pyproject.toml). A package of your
own can add experiments the same way, without editing superpose.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from superpose.decompose.bench import SAEGroup
from superpose.loading import load
from superpose.results import ResultError
from superpose.toy.sweep import Sweep, ToyGroup, group_folder, run_sweep

ENTRY_POINT_GROUP = "superpose.experiments"


@dataclasses.dataclass(frozen=True)
class Manifest:
    """The result folders an experiment's run trained or found, in order: what its `plot` draws.

    Folders are named by their path under `root` (e.g. "intro/model=relu_output"); an experiment
    asks for them by name and gets them loaded (superpose.load), never by globbing or parsing names.
    """

    root: Path
    folders: tuple[Path, ...]

    def names(self) -> list[str]:
        return [Path(f).relative_to(self.root).as_posix() for f in self.folders]

    def load(self, *parts: str) -> ToyGroup | SAEGroup:
        """The folder named `parts` joined by '/', loaded."""
        name = "/".join(parts)
        if name not in self.names():
            raise ResultError(f"no result '{name}' in this run (it has: {', '.join(self.names()) or 'nothing'})")
        return load(self.root / name)

    def group(self, sweep_name: str, label: str) -> ToyGroup:
        """Shape group `label` of the toy sweep `sweep_name`, loaded."""
        return self.load(group_folder(Path(), sweep_name, label).as_posix())

    def under(self, prefix: str) -> list[ToyGroup | SAEGroup]:
        """Every folder under `prefix`/, loaded, in the order they were trained."""
        return [load(self.root / n) for n in self.names() if n.startswith(prefix.rstrip("/") + "/")]


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    sweeps: Callable[[bool], list[Sweep]]
    """quick -> the sweeps to train."""
    plot: Callable[[Manifest, Path], list[Path]]
    """(what the run trained or found, figure path without suffix) -> files written."""
    train_more: Callable[..., list[Path]] | None = None
    """Work beyond toy sweeps (the SAE studies), run after the sweeps:
    (manifest of the sweeps' folders, quick, *, progress, skip_existing) -> result folders written or found,
    under the manifest's root."""

    def train(self, root: Path, quick: bool, *, progress: bool = True, skip_existing: bool = True) -> Manifest:
        """Train (or, with `skip_existing`, find) everything this experiment draws, under `root`."""
        folders: list[Path] = []
        for sweep in self.sweeps(quick):
            folders += run_sweep(sweep, root, progress=progress, skip_existing=skip_existing)
        manifest = Manifest(Path(root), tuple(folders))
        if self.train_more is not None:
            more = self.train_more(manifest, quick, progress=progress, skip_existing=skip_existing)
            manifest = Manifest(manifest.root, manifest.folders + tuple(more))
        return manifest


def registry() -> dict[str, Experiment]:
    """Every installed experiment by name, in the order their entry points list them."""
    found: dict[str, Experiment] = {}
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        for experiment in entry.load():
            found[experiment.name] = experiment
    return found

"""What an experiment is, and where superpose finds them.

An experiment is an `Experiment`: the sweeps it trains (full or quick size), optional
further training (the SAE studies), and the figure it draws from what it trained. superpose
does not import any experiment by name: the command line finds them through the
`superpose.experiments` entry point group. Each entry names a package with two functions:
`experiments()`, the `Experiment`s in order, and `describe()`, their (name, description)
pairs without importing them, and optionally `checks()`, the scorecard's checks on their results (this repository's `experiments` package is one; see
pyproject.toml). A package of your own can add experiments the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from superpose.validate import ResultError

if TYPE_CHECKING:  # the heavy modules load only when an experiment runs
    from superpose.sae.group import SAEGroup
    from superpose.toy.sweep import Sweep, ToyGroup

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
        from superpose import load

        name = "/".join(parts)
        if name not in self.names():
            raise ResultError(f"no result '{name}' in this run (it has: {', '.join(self.names()) or 'nothing'})")
        return load(self.root / name)

    def group(self, sweep_name: str, label: str) -> ToyGroup:
        """Shape group `label` of the toy sweep `sweep_name`, loaded."""
        from superpose.toy.sweep import group_folder

        return self.load(group_folder(Path(), sweep_name, label).as_posix())

    def under(self, prefix: str) -> list[ToyGroup | SAEGroup]:
        """Every folder under `prefix`/, loaded, in the order they were trained."""
        from superpose import load

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
    report: Callable[[Manifest], str] | None = None
    """A text summary of the results (a table), which `superpose run` prints before drawing the figure."""

    def train(self, root: Path, quick: bool, *, progress: bool = True, skip_existing: bool = True) -> Manifest:
        """Train (or, with `skip_existing`, find) everything this experiment draws, under `root`."""
        from superpose.toy.sweep import run_sweep

        folders: list[Path] = []
        for sweep in self.sweeps(quick):
            folders += run_sweep(sweep, root, progress=progress, skip_existing=skip_existing)
        manifest = Manifest(Path(root), tuple(folders))
        if self.train_more is not None:
            more = self.train_more(manifest, quick, progress=progress, skip_existing=skip_existing)
            manifest = Manifest(manifest.root, manifest.folders + tuple(more))
        return manifest


def _packages():
    """The experiment packages installed under the entry point group, in the order listed."""
    return [entry.load() for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)]


def registry() -> dict[str, Experiment]:
    """Every installed experiment by name, in the order its package lists them (imports them all)."""
    return {e.name: e for package in _packages() for e in package.experiments()}


def checks() -> list:
    """Every installed package's acceptance checks (superpose.app.scorecard.Check), for `superpose check`."""
    return [c for package in _packages() if hasattr(package, "checks") for c in package.checks()]


def catalogue() -> dict[str, str]:
    """Every installed experiment's name and description, without importing the experiments
    (what `superpose list` shows)."""
    return {name: text for package in _packages() for name, text in package.describe()}

"""What an experiment is, the one runner of every experiment, and where superpose finds them.

An experiment is an `Experiment`: its stages at a given size (toy-model sweeps, and functions that train
anything else the trainer runs: SAE groups, targets, decompositions), the figure and the report it draws
from what they wrote, and its acceptance checks. `Experiment.run` is the one runner: the command line
(`run`, `figures`, `check`), the scorecard and the tests run every experiment through it. A study file
(superpose.app.study) is an experiment of one sweep (`Experiment.of_study`).

superpose does not import any experiment by name: the command line finds them through the
`superpose.experiments` entry point group. Each entry names a package with two functions:
`experiments()`, the `Experiment`s in order, and `describe()`, their (name, description)
pairs without importing them, and optionally `checks()`, acceptance checks on the library itself (this
repository's `experiments` package is one; see pyproject.toml). A package of your own can add
experiments the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from superpose.validate import ConfigError, ResultError

if TYPE_CHECKING:  # the heavy modules load only when an experiment runs
    from superpose.results import Run
    from superpose.toy.sweep import Sweep, ToyGroup

ENTRY_POINT_GROUP = "superpose.experiments"
SIZES = ("quick", "full")
"""Every experiment's sizes: `quick` (the tests' and CI's, minutes on 2 CPU cores) and `full` (the paper's, or
as close as the experiment says)."""


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

    def load(self, *parts: str) -> Run:
        """The folder named `parts` joined by '/', loaded."""
        from superpose import load

        name = "/".join(parts)
        if name not in self.names():
            raise ResultError(
                f"no result '{name}' in this run (it has: {', '.join(self.names()) or 'nothing'})"
            )
        return load(self.root / name)

    def group(self, sweep_name: str, label: str) -> ToyGroup:
        """Shape group `label` of the toy sweep `sweep_name`, loaded."""
        from superpose.toy.sweep import group_folder

        return self.load(group_folder(Path(), sweep_name, label).as_posix())

    def under(self, prefix: str) -> list[Run]:
        """Every folder under `prefix`/, loaded, in the order they were trained."""
        from superpose import load

        return [load(self.root / n) for n in self.names() if n.startswith(prefix.rstrip("/") + "/")]


Stage = Callable[..., list[Path]]
"""A stage that is not a toy sweep: (manifest of what the earlier stages wrote, size, *, progress,
skip_existing) -> the result folders it wrote or found, under the manifest's root."""


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    stages: Callable[[str], Sequence[Sweep | Stage]]
    """size -> what to train, in order: toy sweeps (superpose.toy.sweep.Sweep) and other stages (`Stage`)."""
    plot: Callable[[Manifest, Path], list[Path]]
    """(what the run trained or found, figure path without suffix) -> files written."""
    report: Callable[[Manifest], str] | None = None
    """A text summary of the results (a table), which `superpose run` prints before drawing the figure."""
    checks: tuple = ()
    """Its acceptance checks (superpose.app.scorecard.Check), which `superpose check` gathers."""
    sizes: tuple[str, ...] = SIZES
    """The sizes `stages` knows: `SIZES`, and any more an experiment offers (`superpose run NAME --size
    S`)."""

    def run(
        self,
        root: Path,
        size: str,
        *,
        progress: bool = True,
        skip_existing: bool = True,
        overwrite: bool = True,
        on_stage: Callable[[list[Path]], None] | None = None,
    ) -> Manifest:
        """Train (or, with `skip_existing`, find) everything this experiment draws, under `root`; `on_stage`
        hears each stage's folders as it finishes. A toy sweep stops before any compute when a folder holds a
        different sweep and not `overwrite` (superpose.toy.sweep.run_sweep)."""
        from superpose.toy.sweep import Sweep, run_sweep

        if size not in self.sizes:
            raise ConfigError(f"{self.name} has no size '{size}' (sizes: {', '.join(self.sizes)})")
        stages = list(self.stages(size))
        for stage in stages:  # every point is valid before anything trains
            if isinstance(stage, Sweep):
                stage.instances()
        manifest = Manifest(Path(root), ())
        for stage in stages:
            if isinstance(stage, Sweep):
                folders = run_sweep(
                    stage, root, progress=progress, skip_existing=skip_existing, overwrite=overwrite
                )
            else:
                folders = stage(manifest, size, progress=progress, skip_existing=skip_existing)
            manifest = Manifest(manifest.root, manifest.folders + tuple(folders))
            if on_stage is not None:
                on_stage(list(folders))
        return manifest

    def with_overrides(self, overrides: dict) -> Experiment:
        """The experiment with `overrides` (ToyConfig fields) applied to every sweep; ConfigError when it has
        stages that are not toy sweeps, which take none."""
        from superpose.toy.sweep import Sweep

        if not overrides:
            return self

        def stages(size):
            found = list(self.stages(size))
            if not all(isinstance(s, Sweep) for s in found):
                raise ConfigError(f"--set and --seed apply to toy-model studies; '{self.name}' takes neither")
            return [s.with_overrides(overrides) for s in found]

        return dataclasses.replace(self, stages=stages)

    @classmethod
    def of_study(cls, sweep: Sweep, refine: int = 0) -> Experiment:
        """A study file's sweep as an experiment: the same sweep at every size, then `refine` rounds of
        boundary refinement, drawn as a phase diagram (superpose.app.study.plot)."""
        from superpose.app import study

        return cls(
            name=sweep.name,
            description=f"the study {sweep.name}",
            stages=lambda size: [sweep, *study.refinement_stages(sweep, refine)],
            plot=lambda manifest, path: study.plot(list(manifest.folders), path),
        )


def packages():
    """The experiment packages installed under the entry point group, in the order listed."""
    return [entry.load() for entry in metadata.entry_points(group=ENTRY_POINT_GROUP)]


def registry() -> dict[str, Experiment]:
    """Every installed experiment by name, in the order its package lists them (imports them all)."""
    return {e.name: e for package in packages() for e in package.experiments()}


def checks() -> list:
    """Every installed experiment's acceptance checks (superpose.app.scorecard.Check) and those a package
    holds on the library itself (its optional `checks()`), for `superpose check`, ordered by id."""
    found = [c for e in registry().values() for c in e.checks]
    found += [c for package in packages() if hasattr(package, "checks") for c in package.checks()]
    return sorted(found, key=lambda c: (int(c.id) if c.id.isdigit() else float("inf"), c.id))


def catalogue() -> dict[str, str]:
    """Every installed experiment's name and description, without importing the experiments
    (what `superpose list` shows)."""
    return {name: text for package in packages() for name, text in package.describe()}

"""The `superpose` command: list, run and draw the experiments.

Every user error (bad value, unknown key or experiment, unwritable folder)
ends in one line on stderr and exit code 2, before any compute and without
leaving a partial result folder.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from superpose.results import ResultError
from superpose.train.sharding import use_every_cpu_core
from superpose.validate import ConfigError

EXIT_USAGE = 2


class UsageError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="superpose", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the experiments")
    run = sub.add_parser("run", help="train one experiment and write its result folders")
    run.add_argument("experiment", help="an experiment name (see `superpose list`) or a study file (.toml/.json)")
    figures = sub.add_parser("figures", help="draw every figure from result files, training what is missing")
    for p in (run, figures):
        p.add_argument("--quick", action="store_true", help="reduced sizes (minutes on 2 CPU cores)")
        p.add_argument("--out", type=Path, help="output root (default: . for full runs, ./quick with --quick)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    figures.add_argument("--only", metavar="NAMES", help="comma-separated experiments to draw (default: all)")
    run.add_argument("--seed", type=int, help="base seed of the sweep")
    run.add_argument("--overwrite", action="store_true",
                     help="retrain every group, replacing its folder (default: keep finished groups, resume the rest)")
    run.add_argument("--strict", action="store_true", help="exit with status 1 if any instance diverged")
    run.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field (repeatable)"
    )
    return parser


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value`, the value read as JSON when it parses (numbers, lists, true), else as a string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise UsageError(f"--set expects KEY=VALUE, got '{text}'")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    if isinstance(value, list):
        value = tuple(value)
    return key.strip(), value


def _experiment(name: str):
    from superpose.experiment import registry

    experiments = registry()
    if name not in experiments:
        hint = difflib.get_close_matches(name, experiments, n=1)
        suffix = f"; did you mean '{hint[0]}'?" if hint else ""
        raise UsageError(f"unknown experiment '{name}' (known: {', '.join(experiments)}){suffix}")
    return experiments[name]


def _out_root(args) -> Path:
    return args.out if args.out is not None else Path("quick" if args.quick else ".")


def _run(args) -> int:
    from superpose.experiment import Manifest
    from superpose.results import load
    from superpose.toy import study
    from superpose.toy.sweep import diverged, run_sweep

    overrides = dict(parse_override(s) for s in args.set)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if study.is_study_path(args.experiment):
        experiment = None
        sweeps = [study.load_study(Path(args.experiment)).with_overrides(overrides)]
    else:
        experiment = _experiment(args.experiment)
        if overrides and experiment.train_more is not None:
            raise UsageError(f"--set and --seed apply to toy-model studies; '{experiment.name}' takes neither")
        sweeps = [s.with_overrides(overrides) for s in experiment.sweeps(args.quick)]
    for s in sweeps:
        s.instances()  # validate every point before training anything
    root = _out_root(args) / "results"
    n_diverged = 0
    trained: list[Path] = []
    for s in sweeps:
        folders = run_sweep(s, root, progress=not args.no_progress, skip_existing=not args.overwrite,
                            overwrite=args.overwrite)
        trained += folders
        for folder in folders:
            bad = diverged(load(folder))
            n_diverged += len(bad)
            note = f"; instances {bad} diverged (loss not finite; see summary.json)" if bad else ""
            print(f"wrote {folder}{note}")
        if study.is_study_path(args.experiment):
            for path in study.plot(folders, _out_root(args) / "figures" / s.name):
                print(f"wrote {path}")
    if experiment is not None and experiment.train_more is not None:
        for folder in experiment.train_more(Manifest(root, tuple(trained)), args.quick,
                                            progress=not args.no_progress, skip_existing=not args.overwrite):
            print(f"wrote {folder}")
    if n_diverged:
        print(f"superpose: {n_diverged} instance(s) diverged", file=sys.stderr)
        if args.strict:
            return 1
    return 0


def _figures(args) -> int:
    from superpose.experiment import registry

    root = _out_root(args)
    experiments = list(registry().values())
    if args.only:
        experiments = [_experiment(name.strip()) for name in args.only.split(",") if name.strip()]
    for experiment in experiments:
        manifest = experiment.train(root / "results", args.quick, progress=not args.no_progress)
        for path in experiment.plot(manifest, root / "figures" / experiment.name):
            print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    use_every_cpu_core()
    try:
        if args.command == "list":
            from superpose.experiment import registry

            for e in registry().values():
                print(f"{e.name:16s} {e.description}")
            return 0
        return _run(args) if args.command == "run" else _figures(args)
    except (UsageError, ConfigError, ResultError) as e:
        print(f"superpose: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("superpose: interrupted; finished groups and the running group's checkpoint are kept: "
              "run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

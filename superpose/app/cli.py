"""The `superpose` command: list, run and draw the experiments, and check them against the literature.

Every user error (bad value, unknown key or experiment, unwritable folder)
ends in one line on stderr and exit code 2, before any compute and without
leaving a partial result folder.
"""

from __future__ import annotations

import argparse
import atexit
import difflib
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from superpose.validate import ConfigError, ResultError

EXIT_USAGE = 2


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a bad command line as one `superpose: error:` line (no usage block)."""

    def error(self, message):
        raise UsageError(f"{message} (see `superpose --help`)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="superpose", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"superpose {metadata.version('superpose')}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="list the experiments")
    run = sub.add_parser("run", help="train one experiment and write its result folders")
    run.add_argument(
        "experiment", help="an experiment name (see `superpose list`) or a study file (.toml/.json)"
    )
    figures = sub.add_parser("figures", help="draw every figure from result files, training what is missing")
    check = sub.add_parser(
        "check",
        help="the reproduction scorecard: evaluate the acceptance checks on the results "
        "under --out, training what is missing (docs/checks.md)",
    )
    export = sub.add_parser(
        "export", help="write the SAEs of a result folder in SAELens's format (one folder each)"
    )
    export.add_argument("folder", type=Path, help="a superpose SAE result folder")
    export.add_argument(
        "--out", type=Path, required=True, help="where the SAELens folders go (sae-I for SAE I)"
    )
    export.add_argument(
        "--instance", type=int, action="append", metavar="I", help="export SAE I only (repeatable)"
    )
    evaluate = sub.add_parser("evaluate", help="score an SAE (SAELens folder) against a ground-truth source")
    evaluate.add_argument("path", type=Path, help="a SAELens SAE folder (cfg.json + sae_weights.safetensors)")
    evaluate.add_argument(
        "--source",
        required=True,
        metavar="SOURCE",
        help="toy:FOLDER[:I] (the hidden activations of toy model I of a toy result folder), "
        "file:PATH (your activations: .npy, or .npz / .safetensors with 'activations' and "
        "optionally 'directions' and 'codes') or sharkey (Sharkey et al.'s preset)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the metrics as JSON")
    estimate = sub.add_parser(
        "llc",
        help="estimate the local learning coefficient λ̂ of every toy model of a result folder by SGLD "
        "(writes llc.json and llc.npz into it)",
    )
    estimate.add_argument("folder", type=Path, help="a superpose toy-model result folder")
    estimate.add_argument("--chains", type=int, help="chains per model (default 4)")
    estimate.add_argument("--draws", type=int, help="draws per chain (default 1000)")
    estimate.add_argument("--burn-in", type=int, help="draws left out of λ̂ (default 250)")
    estimate.add_argument("--step-size", type=float, help="SGLD step size ε (default 1e-4)")
    estimate.add_argument("--localization", type=float, help="localisation strength γ (default 1)")
    estimate.add_argument("--nbeta", type=float, help="nβ (default n / log n)")
    estimate.add_argument(
        "--n", type=int, help="samples of the fixed data set of models trained on fresh data (default 10000)"
    )
    estimate.add_argument("--batch-size", type=int, help="samples per draw (default 0: the whole set)")
    estimate.add_argument("--sampler", choices=("sgld", "rmsprop_sgld"), help="the sampler (default sgld)")
    estimate.add_argument("--no-progress", action="store_true", help="no progress bars")
    for p in (run, figures, check):
        p.add_argument("--quick", action="store_true", help="reduced sizes (minutes on 2 CPU cores)")
        p.add_argument(
            "--out", type=Path, help="output root (default: . for full runs, ./quick with --quick)"
        )
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
        p.add_argument(
            "--processes",
            type=int,
            metavar="N",
            help="run as N local processes, as on N hosts (docs/guide/devices.md); one writes the results",
        )
    figures.add_argument("--only", metavar="NAMES", help="comma-separated experiments to draw (default: all)")
    check.add_argument("--only", metavar="CHECKS", help="comma-separated check numbers (default: all)")
    check.add_argument(
        "--markdown", action="store_true", help="print the table as markdown (as in the README)"
    )
    run.add_argument(
        "--size",
        metavar="SIZE",
        help="a size the experiment offers beyond quick and full (spd-tms: cpu, paper-5-2, ...); results "
        "go under ./SIZE unless --out",
    )
    run.add_argument("--seed", type=int, help="base seed of the sweep")
    run.add_argument(
        "--refine",
        type=int,
        metavar="K",
        help="a study: K rounds of points between neighbouring points whose configurations differ (default: "
        "the file's `refine`, else 0)",
    )
    run.add_argument(
        "--overwrite",
        action="store_true",
        help="retrain every group, replacing its folder (default: keep finished groups, resume the rest)",
    )
    run.add_argument("--strict", action="store_true", help="exit with status 1 if any instance diverged")
    run.add_argument(
        "--no-figures",
        action="store_true",
        help="train and save only; the same command without it draws from the saved results",
    )
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
    from superpose.app.experiment import catalogue, registry

    known = catalogue()
    if name not in known:
        hint = difflib.get_close_matches(name, known, n=1)
        suffix = f"; did you mean '{hint[0]}'?" if hint else ""
        raise UsageError(f"unknown experiment '{name}' (known: {', '.join(known)}){suffix}")
    return registry()[name]


def start_jax(argv: list[str]) -> None:
    """Before JAX runs: one CPU device per core (superpose.train.sharding), the persistent compilation
    cache, so a repeated study skips compiling, and the other processes of a multi-process run
    (superpose.train.processes), which must all run the same command, code and settings. The cache lives in
    $SUPERPOSE_COMPILATION_CACHE (default ~/.cache/superpose/jax, or under $XDG_CACHE_HOME); set it to 0 to
    turn it off."""
    import jax

    from superpose.app import launch
    from superpose.train import processes
    from superpose.train.sharding import use_every_cpu_core

    use_every_cpu_core()
    folder = compilation_cache_folder()
    if folder is not None:
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    if processes.join() > 1:
        processes.check_same(launch.command_fingerprint(argv), "the command, the code or the settings")


def _import_in_background(*modules: str) -> None:
    """Import `modules` on a daemon thread. A study's figure needs matplotlib (0.35 s to import, with the PDF
    backend) only once training ends, and while XLA trains the thread can run: the 10-instance study of
    benchmark (e) ends 0.07 s sooner (the rest of the import competes with training for the 2 cores). A failed
    import is left for the main thread to meet and report."""
    import importlib
    import threading

    def load():
        try:
            for name in modules:
                importlib.import_module(name)
        except Exception:  # noqa: BLE001, S110 - reported when the figure is drawn
            pass

    threading.Thread(target=load, name="superpose-imports", daemon=True).start()


def compilation_cache_folder() -> Path | None:
    value = os.environ.get("SUPERPOSE_COMPILATION_CACHE")
    if value is not None:
        return None if value.strip().lower() in ("", "0", "off", "false") else Path(value).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "superpose" / "jax"


def _size(args) -> str:
    size = getattr(args, "size", None)
    if size is not None and args.quick and size != "quick":
        raise UsageError(f"--quick and --size {size} ask for two sizes; pass one")
    return size or ("quick" if args.quick else "full")


def _out_root(args) -> Path:
    size = _size(args)
    return args.out if args.out is not None else Path("." if size == "full" else size)


def _run(args) -> int:
    from superpose import load
    from superpose.app import study
    from superpose.app.experiment import Experiment
    from superpose.toy.sweep import ToyGroup, diverged
    from superpose.train import processes

    overrides = dict(parse_override(s) for s in args.set)
    if args.seed is not None:
        overrides["seed"] = args.seed
    is_study = study.is_study_path(args.experiment)
    if is_study:
        sweep, refine = study.load(Path(args.experiment))
        refine = refine if args.refine is None else study.rounds(args.refine)
        experiment = Experiment.of_study(sweep.with_overrides(overrides), refine)
    else:
        if args.refine is not None:
            raise UsageError("--refine applies to a study file (.toml/.json)")
        experiment = _experiment(args.experiment).with_overrides(overrides)
    if is_study and not args.no_figures:
        _import_in_background("superpose.app.plotting", "matplotlib.backends.backend_pdf")
    n_diverged = 0
    writer = processes.is_writer()

    def wrote(folders: list[Path]) -> None:
        nonlocal n_diverged
        if not writer:
            return
        for folder in folders:
            run = load(folder)
            bad = diverged(run) if isinstance(run, ToyGroup) else []
            n_diverged += len(bad)
            note = f"; instances {bad} diverged (loss not finite; see summary.json)" if bad else ""
            print(f"wrote {folder}{note}")

    root = _out_root(args)
    manifest = experiment.run(
        root / "results",
        _size(args),
        progress=not args.no_progress,
        skip_existing=not args.overwrite,
        overwrite=args.overwrite,
        on_stage=wrote,
    )
    if not writer:  # process 0 reports and draws
        return 0
    if experiment.report is not None:
        print(experiment.report(manifest))
    if not args.no_figures:
        for path in experiment.plot(manifest, root / "figures" / experiment.name):
            print(f"wrote {path}")
    if n_diverged:
        print(f"superpose: {n_diverged} instance(s) diverged", file=sys.stderr)
        if args.strict:
            return 1
    return 0


def _figures(args) -> int:
    from superpose.app.experiment import registry
    from superpose.train import processes

    root = _out_root(args)
    experiments = list(registry().values())
    if args.only:
        experiments = [_experiment(name.strip()) for name in args.only.split(",") if name.strip()]
    for experiment in experiments:
        manifest = experiment.run(root / "results", _size(args), progress=not args.no_progress)
        if processes.is_writer():
            for path in experiment.plot(manifest, root / "figures" / experiment.name):
                print(f"wrote {path}")
    return 0


def _selected_checks(args) -> list:
    from superpose.app.experiment import checks

    known = checks()
    if not args.only:
        return known
    by_id = {c.id: c for c in known}
    wanted = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in by_id]
    if unknown or not wanted:
        raise UsageError(
            f"unknown check '{unknown[0] if unknown else args.only}' (known: {', '.join(by_id)})"
        )
    return [by_id[name] for name in wanted]


def _check(args) -> int:
    """Evaluate the checks, print the table, write check.json; exit 1 when a check fails."""
    from superpose.app import scorecard
    from superpose.train import processes

    selected = args.checks
    root = _out_root(args)
    rows = scorecard.evaluate(selected, root / "results", args.quick, progress=not args.no_progress)
    if not processes.is_writer():
        return 0
    print(scorecard.table(rows, markdown=args.markdown))
    print(scorecard.summary(rows))
    print(f"wrote {scorecard.write(rows, root / 'results' / 'check.json', quick=args.quick)}")
    return 1 if any(row["passed"] is False for row in rows) else 0


def _export(args) -> int:
    from superpose import load
    from superpose.sae import saelens
    from superpose.sae.group import SAEGroup

    run = load(args.folder)
    if not isinstance(run, SAEGroup):
        raise UsageError(f"{args.folder} holds toy models, not SAEs")
    for folder in saelens.export(run, args.out, args.instance):
        print(f"wrote {folder}")
    return 0


def _source(spec: str):
    """(source, the norm below which a true feature is left out) named by `--source`."""
    from superpose.data import groundtruth

    if spec == "sharkey":
        return groundtruth.sharkey_source(), 0.0
    kind, _, rest = spec.partition(":")
    if kind == "file" and rest:
        from superpose.data import user_arrays

        return user_arrays.open_source(rest), 0.0
    if kind != "toy" or not rest:
        raise UsageError(f"unknown source '{spec}' (use toy:FOLDER[:I], file:PATH or sharkey)")
    from superpose import load
    from superpose.toy.sweep import ToyGroup

    folder, index = rest, "0"
    head, sep, tail = rest.rpartition(":")
    if sep and tail.isdigit():
        folder, index = head, tail
    run = load(Path(folder))
    if not isinstance(run, ToyGroup):
        raise UsageError(f"{folder} holds SAEs, not toy models")
    i = int(index)
    if i >= len(run.arrays["W"]):
        raise UsageError(f"{folder} has {len(run.arrays['W'])} toy models; there is no instance {i}")
    return groundtruth.toy_model_source(run.arrays["W"][i], run.arrays["feature_probability"][i]), 0.5


def _evaluate(args) -> int:
    from superpose.sae import group as sae_group
    from superpose.sae import saelens

    config, params = saelens.read(args.path)
    source, min_norm = _source(args.source)
    if source.n_dims != params["b_dec_D"].shape[-1]:
        raise UsageError(
            f"the SAE reads {params['b_dec_D'].shape[-1]} dimensions; the source has {source.n_dims}"
        )
    metrics = sae_group.score(config, params, source, min_truth_norm=min_norm)
    if args.json:
        print(json.dumps(metrics))
    else:
        width = max(map(len, metrics))
        for name, value in metrics.items():
            print(f"{name:{width}s}  {value:.4g}")
    return 0


def _llc(args) -> int:
    from superpose import load
    from superpose.toy import llc as toy_llc
    from superpose.toy.sweep import ToyGroup

    run = load(args.folder)
    if not isinstance(run, ToyGroup):
        raise UsageError(f"{args.folder} holds no toy models (superpose llc estimates toy models)")
    for name in ("chains", "draws", "n"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be at least 1, got {value}")
    path = toy_llc.add_to_folder(
        run,
        progress=not args.no_progress,
        chains=args.chains,
        steps=args.draws,
        burn_in=args.burn_in,
        step_size=args.step_size,
        localization=args.localization,
        nbeta=args.nbeta,
        n=args.n,
        batch_size=args.batch_size,
        sampler=args.sampler,
    )
    found = toy_llc.read(run.path)
    for i, (value, spread, warnings) in enumerate(zip(found["llc"], found["llc_std"], found["warnings"])):
        print(
            f"instance {i}: λ̂ = {value:.3g} ± {spread:.2g}" + "".join(f"\n  warning: {w}" for w in warnings)
        )
    print(f"wrote {path}")
    return 0


def _check_arguments(args) -> None:
    """What argparse cannot check, before anything is trained or written."""
    from superpose.results import check_writable

    if args.command in ("evaluate", "llc"):
        return
    check_writable(args.out if args.command == "export" else _out_root(args))


def _error(message: str) -> int:
    """One line on stderr, whatever the message holds (control characters from the command line are
    escaped)."""
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    who = os.environ.get("SUPERPOSE_PROCESS_ID")  # each process of a multi-process run says who it is
    print(f"superpose: error{f' (process {who})' if who else ''}: {line}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = _parser().parse_args(argv)
        if args.command == "list":
            from superpose.app.experiment import catalogue

            entries = catalogue()
            width = max(map(len, entries), default=0)
            for name, description in entries.items():
                print(f"{name:{width}s}  {description}")
            return 0
        _check_arguments(args)
        if args.command == "check":
            args.checks = _selected_checks(args)  # a bad --only fails before JAX starts
        n_processes = getattr(args, "processes", None)
        if n_processes is not None and n_processes < 1:
            raise UsageError(f"--processes must be at least 1, got {n_processes}")
        if n_processes and n_processes > 1 and not _launched():
            from superpose.app import launch

            return launch.spawn(n_processes, [sys.executable, "-m", "superpose.app.cli", *argv])
        start_jax(argv)
        code = {
            "run": _run,
            "figures": _figures,
            "check": _check,
            "export": _export,
            "evaluate": _evaluate,
            "llc": _llc,
        }[args.command](args)
        _finish()
        return code
    except (UsageError, ConfigError, ResultError) as e:
        return _error(str(e))
    except OSError as e:  # a folder that cannot be created, a full disk, an unreadable file
        return _error(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    except KeyboardInterrupt:
        if os.environ.get("SUPERPOSE_PROCESS_ID", "0") == "0":  # one message for a multi-process run
            print(
                "superpose: interrupted; finished groups and the running group's checkpoint are kept: "
                "run the same command again to resume",
                file=sys.stderr,
            )
        return 130


def _launched() -> bool:
    """Whether this process is one of several of a multi-process run (superpose.train.processes)."""
    from superpose.train import processes

    return processes.requested() is not None


def _finish() -> None:
    """The processes of one run end together: the others wait while process 0 draws and reports."""
    from superpose.train import processes

    processes.barrier("superpose: done")


def entry() -> NoReturn:
    """The `superpose` command: `main`, then an immediate exit. Once the exit handlers have run and the output
    is flushed, nothing is left to do, yet Python's own shutdown (tearing down JAX, flax and matplotlib module
    by module) takes about 0.35 s: a third of a small study's training. Every file superpose writes is closed
    by then. A process of a multi-process run that fails leaves at once, without the exit handlers: JAX's
    would wait for the other processes, which its launcher stops when it sees this one gone."""
    try:
        code = main()
    except Exception:  # noqa: BLE001 - a bug: its traceback, then the same exit as any failure
        import traceback

        traceback.print_exc()
        code = 1
    from superpose.train import processes

    if code == 0 or processes.count() == 1:
        atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # `superpose list | head`
        pass
    os._exit(code)


if __name__ == "__main__":
    entry()

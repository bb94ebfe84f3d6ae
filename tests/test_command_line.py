"""Whole command lines, generated: every one either runs (toy sweeps initialise and save for real, with
the training steps skipped) or ends in one `superpose: error:` line with exit code 2, writing nothing.
And the command line starts without JAX."""

import contextlib
import io
import os
import subprocess
import sys

import hypothesis.strategies as st
import matplotlib.pyplot
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings

from superpose.app import experiment, plotting
from superpose.app.cli import main
from superpose.sae import group as sae_group
from superpose.targets import group as target_group
from superpose.train import loop

ROOT = None  # set by the fixture: a folder for study files and output folders


class WouldTrain(Exception):
    """Raised instead of the SAE studies' training and the figures: the command line passed every check."""


TRAINED = []


def _no_steps(advance, state, *, total_steps, n_instances, snapshot=None, **kwargs):
    """The trainer's host loop without the steps: toy sweeps initialise, "train" and save for real (with one
    snapshot of the initial weights where the sweep keeps them, as `transformations` does)."""
    TRAINED.append(n_instances)
    snapshots = None if snapshot is None else np.asarray(snapshot(state))[:n_instances, None]
    return state, loop.History(np.ones((n_instances, 1)), np.asarray([total_steps]), np.full(n_instances, -1),
                               snapshots)


def _mostly(common, rare):
    """`common` nine times in ten, `rare` otherwise."""
    return st.integers(0, 9).flatmap(lambda k: rare if k == 0 else common)


def _paths():
    return st.sampled_from([
        "{root}/out", "{root}/deep/er/out", "/proc/superpose-nope", "/dev/null/x", "{root}/a-file/out", "",
        "{root}/good.toml", "relative/out",
    ])


def _experiment_or_study():
    return _mostly(st.sampled_from(["intro", "basic", "phase", "{root}/good.toml", "{root}/good.json"]),
                   st.sampled_from(list(experiment.catalogue()) + [
                       "{root}/broken.toml", "{root}/missing.toml", "{root}/folder.toml", "{root}/empty.toml",
                       "intro.toml", "INTRO", "sae_recovery", "-"]) | st.text(max_size=12))


def _options():
    edges = [
        "0",
        "1",
        "2147483648",
        "4294967295",
        "4294967296",
        "99999999999999999999",
        "-1",
        "1e3",
        "nan",
        "[1,2]",
    ]
    value = st.one_of(st.sampled_from(edges), st.integers(-(2**70), 2**70).map(str), st.text(max_size=10))
    key = st.sampled_from(
        [
            "steps",
            "n_hidden",
            "feature_probability",
            "seed",
            "model",
            "importance",
            "prng",
            "nope",
            "",
            "n_features",
        ]
    )
    option = st.one_of(
        st.tuples(st.just("--out"), _paths()),
        st.tuples(st.just("--seed"), value),
        st.tuples(st.just("--set"), st.builds(lambda k, v: f"{k}={v}", key, value) | st.text(max_size=10)),
        st.tuples(st.just("--only"), st.sampled_from(["intro", "intro,basic", "nope", ",", "intro,,nope"])),
        st.sampled_from(
            [
                ("--quick",),
                ("--strict",),
                ("--overwrite",),
                ("--no-progress",),
                ("--no-figures",),
                ("--only",),
                ("--seed",),
                ("--out",),
                ("-q",),
                ("--",),
            ]
        ),
        st.text(min_size=1, max_size=8).map(lambda t: (f"--{t}",)),
    )
    return st.lists(option, max_size=3)


@st.composite
def command_lines(draw):
    command = draw(
        _mostly(
            st.sampled_from(["run", "run", "run", "figures", "list"]),
            st.sampled_from(["help", "-h", "--help", "", "RUN"]) | st.text(max_size=8),
        )
    )
    words = [command]
    if command == "run" or draw(st.booleans()):
        words.append(draw(_experiment_or_study()))
    for option in draw(_options()):
        words.extend(option)
    if draw(st.integers(0, 9)) == 0:
        words = draw(st.permutations(words))
    return words


def example_all(argvs):
    def decorate(test):
        for argv in argvs:
            test = example(argv=argv)(test)
        return test

    return decorate


@pytest.fixture(scope="module", autouse=True)
def _root(tmp_path_factory):
    global ROOT
    ROOT = tmp_path_factory.mktemp("cmd")
    (ROOT / "good.toml").write_text('name = "good"\n[base]\nn_features = 3\n[axes]\nseed = [0, 1]\n')
    (ROOT / "good.json").write_text('{"name": "goodj", "base": {"n_hidden": 1}}')
    (ROOT / "broken.toml").write_text("name = \n[[[")
    (ROOT / "empty.toml").write_text("")
    (ROOT / "folder.toml").mkdir()
    (ROOT / "a-file").write_text("not a folder")
    yield


def _tree():
    return sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*"))


def _check(argv, monkeypatch):
    argv = [w.replace("{root}", str(ROOT)) for w in argv]

    def would_train(*args, **kwargs):
        raise WouldTrain

    run = experiment.Experiment.run

    def run_unless_figures(self, *args, **kwargs):  # figures would train every experiment: stop there
        if "figures" in argv:
            raise WouldTrain
        return run(self, *args, **kwargs)

    def drawn_not_written(fig, path, **kwargs):  # a figure of untrained results is drawn, not written
        matplotlib.pyplot.close(fig)
        return []

    monkeypatch.setattr(loop, "run_chunks", _no_steps)
    monkeypatch.setattr(experiment.Experiment, "run", run_unless_figures)
    monkeypatch.setattr(plotting, "save", drawn_not_written)
    monkeypatch.setattr(sae_group, "run_group", would_train)  # the SAE studies
    monkeypatch.setattr(target_group, "run_targets", would_train)  # the parameter-decomposition studies
    before = _tree()
    TRAINED.clear()
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)  # relative paths land in the test folder
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except WouldTrain:
        return
    except SystemExit as e:  # --help
        assert e.code == 0 and "usage:" in out.getvalue(), (argv, err.getvalue())
        return
    finally:
        os.chdir(cwd)
    message = err.getvalue()
    if code == 0:
        assert not message, (argv, message)
        return
    assert code == 2, (argv, code, message)
    assert message.startswith("superpose: error:") and message.count("\n") == 1, (argv, message)
    assert _tree() == before, (argv, set(_tree()) ^ set(before))
    assert not TRAINED, (argv, "an error must come before any training")


KNOWN = [  # command lines that once ended in a traceback, or that must fail before any training
    ["run", "intro", "--out", "/proc/superpose-nope"],
    ["run", "intro", "--seed", "99999999999999999999"],
    ["run", "intro", "--quick", "--seed", "4294967296"],
    ["run", "{root}/good.toml", "--out", "{root}/a-file/out"],
    ["run", "intro", "--set", "seed=-1", "--out", "{root}/out"],
    ["run", "intro", "--only", "intro"],
    ["figures", "--only", "intro,nope", "--out", "{root}/out"],
    ["run", "{root}/folder.toml"],
    ["run", "intro\n--quick"],
    ["run", "basic", "--set", "n_hidden=99999999999999999999"],
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command_lines())
@example_all(KNOWN)
def test_generated_command_lines_train_or_fail_with_one_line(monkeypatch, argv):
    _check(argv, monkeypatch)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command_lines())
def test_many_generated_command_lines(monkeypatch, argv):
    _check(argv, monkeypatch)


def test_list_and_help_start_without_jax_or_matplotlib():
    code = (
        "import sys; from superpose.app.cli import main; main(['list']); "
        "bad = [m for m in ('jax', 'matplotlib', 'flax', 'numpy') if m in sys.modules]; "
        "assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "intro" in out and "sae-steering" in out


def test_the_command_flushes_its_output_before_it_exits_at_once():
    """`superpose` (cli.entry) leaves without Python's shutdown: what it printed to a pipe (block-buffered)
    must still arrive whole, and its exit status must be main's."""
    command = [sys.executable, "-m", "superpose.app.cli"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # a pipe is then block-buffered
    listed = subprocess.run([*command, "list"], capture_output=True, text=True, env=env, check=False)
    assert listed.returncode == 0 and listed.stdout.count("\n") == len(experiment.catalogue())
    bad = subprocess.run(
        [*command, "run", "intro", "--nope"], capture_output=True, text=True, env=env, check=False
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("superpose: error:") and bad.stderr.count("\n") == 1

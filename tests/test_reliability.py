"""Nothing lost, nothing silently wrong: kills, corrupted files, bad input, divergence, determinism."""

import json
import os
import signal
import subprocess
import sys
import time

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from experiments import intro
from superpose import results
from superpose.app.cli import main, parse_override
from superpose.data import groundtruth
from superpose.sae import model as sae_lib
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, run_sweep
from superpose.train import trainer

STUDY = """
name = "kill"
[base]
n_features = 4
n_hidden = 2
steps = 20000
log_every = 100
batch_size = 256
[axes]
feature_probability = [1.0, 0.3, 0.1, 0.03]
"""


def _run_cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "superpose.app.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kills_at_random_points_then_rerun_gives_identical_arrays(tmp_path):
    """Kill `superpose run` (SIGKILL twice, then SIGINT) at random moments after training has started;
    re-running the same command resumes from the checkpoint and gives arrays bit-identical to an
    uninterrupted run, and leaves no checkpoint behind."""
    study = tmp_path / "kill.toml"
    study.write_text(STUDY)
    env = {**os.environ, "SUPERPOSE_CHECKPOINT_SECONDS": "0", "TQDM_DISABLE": "1"}
    reference = tmp_path / "ref"
    assert (
        _run_cli(["run", str(study), "--out", str(reference), "--no-progress"], env).communicate()[1] == b""
    )

    out = tmp_path / "killed"
    checkpoint = out / "results" / "kill" / ".all.checkpoint.npz"
    rng = np.random.default_rng(0)
    steps_at_kill = []
    for sig in (signal.SIGKILL, signal.SIGKILL, signal.SIGINT):
        proc = _run_cli(["run", str(study), "--out", str(out), "--no-progress"], env)
        start = time.monotonic()
        while not checkpoint.exists() and proc.poll() is None and time.monotonic() - start < 60:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        if proc.poll() is None:
            proc.send_signal(sig)
        _, err = proc.communicate()
        if proc.returncode in (-signal.SIGKILL, 130):
            with np.load(checkpoint) as f:
                steps_at_kill.append(int(f["step"]))
        if proc.returncode == 130:
            assert b"run the same command again to resume" in err
    assert len(steps_at_kill) >= 2 and steps_at_kill == sorted(steps_at_kill), steps_at_kill
    final = _run_cli(["run", str(study), "--out", str(out), "--no-progress"], env)
    final.communicate()
    assert final.returncode == 0
    a = results.load(reference / "results" / "kill" / "all").arrays
    b = results.load(out / "results" / "kill" / "all").arrays
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert not list((out / "results" / "kill").glob(".*checkpoint*"))


SMALL = ToyConfig(n_features=3, n_hidden=2, steps=200, batch_size=64, log_every=100)


def test_rerun_skips_finished_groups_and_refuses_a_different_sweep(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text(
        'name = "s"\n[base]\nn_features = 3\nsteps = 200\nbatch_size = 64\n[axes]\nn_hidden = [1, 2]\n'
    )
    assert main(["run", str(study), "--out", str(tmp_path), "--no-progress"]) == 0
    folder = tmp_path / "results" / "s" / "n_hidden=1"
    mtime = (folder / "arrays.npz").stat().st_mtime_ns
    assert main(["run", str(study), "--out", str(tmp_path), "--no-progress"]) == 0
    assert (folder / "arrays.npz").stat().st_mtime_ns == mtime  # nothing finished is recomputed
    capsys.readouterr()
    assert main(["run", str(study), "--out", str(tmp_path), "--no-progress", "--set", "steps=300"]) == 2
    assert "holds results of a different sweep" in capsys.readouterr().err
    assert (folder / "arrays.npz").stat().st_mtime_ns == mtime
    assert (
        main(
            ["run", str(study), "--out", str(tmp_path), "--no-progress", "--set", "steps=300", "--overwrite"]
        )
        == 0
    )
    assert results.load(folder).config["sweep"]["base"]["steps"] == 300


def test_corrupted_and_foreign_folders_fail_with_the_file_named(tmp_path):
    (folder,) = run_sweep(Sweep(name="c", base=SMALL), tmp_path, progress=False)
    data = bytearray((folder / "arrays.npz").read_bytes())
    injected = 0
    for offset in np.random.default_rng(1).integers(0, len(data), 20):
        flipped = bytearray(data)
        flipped[offset] ^= 0xFF
        (folder / "arrays.npz").write_bytes(bytes(flipped))
        with pytest.raises(results.ResultError, match="arrays.npz"):
            results.load(folder)
        injected += 1
    (folder / "arrays.npz").write_bytes(bytes(data[: len(data) // 2]))  # truncated
    with pytest.raises(results.ResultError, match="arrays.npz"):
        results.load(folder)
    (folder / "arrays.npz").write_bytes(bytes(data))
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "schema": 1}))
    with pytest.raises(results.ResultError, match=r"config.json has schema 1"):
        results.load(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(results.ResultError, match="config.json cannot be read"):
        results.load(folder)
    (folder / "summary.json").unlink()
    with pytest.raises(results.ResultError, match="summary.json is missing"):
        results.load(folder)
    assert injected == 20


def test_recorded_config_reproduces_its_arrays_bit_for_bit(tmp_path):
    sweep = Sweep(name="d", base=SMALL, axes={"feature_probability": (1.0, 0.1)}, best_of=2)
    (folder,) = run_sweep(sweep, tmp_path / "a", progress=False)
    recorded = results.load(folder).config
    again = Sweep(
        name=recorded["sweep"]["name"],
        base=ToyConfig(**recorded["sweep"]["base"]),
        axes={k: tuple(v) for k, v in recorded["sweep"]["axes"].items()},
        best_of=recorded["sweep"]["best_of"],
    )
    (folder2,) = run_sweep(again, tmp_path / "b", progress=False)
    a, b = results.load(folder).arrays, results.load(folder2).arrays
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    env = recorded["environment"]
    assert {"versions", "devices", "xla_flags", "git_commit", "platform"} <= set(env)


def test_divergence_is_reported_and_strict_exits_1(tmp_path, capsys):
    study = tmp_path / "nan.toml"
    study.write_text(
        'name = "nan"\n[base]\nn_features = 3\nsteps = 200\nbatch_size = 64\nlog_every = 100\n'
        "[axes]\nlearning_rate = [0.001, 1e30]\n"
    )
    assert main(["run", str(study), "--out", str(tmp_path), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "instances [1] diverged" in captured.out and "1 instance(s) diverged" in captured.err
    summary = results.load(tmp_path / "results" / "nan" / "all").summary
    assert summary["diverged_step"][0] == -1 and summary["diverged_step"][1] > 0
    assert main(["run", str(study), "--out", str(tmp_path), "--no-progress", "--strict"]) == 1


# --- property-based: random configs and files either run or fail with one clean line ------------------------

VALUES = st.one_of(
    st.integers(-3, 5),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=4),
    st.lists(st.floats(-2, 2), max_size=6),
    st.none(),
)
KEYS = st.sampled_from(
    [
        "n_features",
        "n_hidden",
        "feature_probability",
        "importance",
        "importance_decay",
        "steps",
        "batch_size",
        "learning_rate",
        "weight_decay",
        "model",
        "seed",
        "data",
        "set_size",
        "n_train",
        "prng",
        "schedule",
        "nonsense",
        "n_hiden",
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(KEYS, VALUES, max_size=4))
def test_random_overrides_run_or_fail_cleanly(tmp_path, capsys, overrides):
    """The CLI validates before compute: a random --set either passes validation or exits 2 with one line
    and writes nothing. (Valid ones are not trained here: `--set steps=...` would take too long; the
    validation path is the same one `run` takes before training.)"""
    args = []
    for key, value in overrides.items():
        args += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
    out = tmp_path / "h"
    try:
        (sweep,) = intro.sweeps(
            quick=True
        )  # the sweep the command below validates (5 features, not SMALL's 3)
        sweep.with_overrides(dict(parse_override(a) for a in args[1::2])).instances()
    except Exception as e:  # noqa: BLE001 - what the CLI would see
        assert type(e).__name__ in ("ConfigError", "UsageError"), repr(e)
        code = main(["run", "intro", "--quick", "--out", str(out), "--no-progress", *args])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("superpose: error:") and "\n" not in err, err
        assert not out.exists()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=200) | st.dictionaries(st.text(max_size=8), VALUES, max_size=5).map(json.dumps))
def test_random_study_files_fail_with_one_line(tmp_path, capsys, text):
    path = tmp_path / "random.toml"
    path.write_text(text)
    code = main(["run", str(path), "--out", str(tmp_path / "o"), "--no-progress", "--set", "steps=1"])
    err = capsys.readouterr().err.strip()
    if code != 0:
        assert code == 2 and err.startswith("superpose: error:") and "\n" not in err, err


def test_an_interrupted_sae_group_resumes_from_its_checkpoint_bit_for_bit(tmp_path, monkeypatch):
    """An SAE group stopped after two of its four chunks (Ctrl-C) resumes from the checkpoint, and the
    arrays equal an uninterrupted run (inputs resampling at step 200, so the state must carry over)."""
    monkeypatch.setenv("SUPERPOSE_CHECKPOINT_SECONDS", "0")
    source = groundtruth.synthetic_source(
        groundtruth.random_directions(12, 8, seed=1), groundtruth.constant_probabilities(12, 0.1)
    )
    configs = [
        sae_lib.SAEConfig(
            n_latents=12,
            steps=400,
            log_every=100,
            batch_size=64,
            resample="inputs",
            resample_every=200,
            resample_window=100,
            dead_window=100,
            seed=s,
        )
        for s in (0, 1)
    ]
    whole = sae_lib.train(configs, source, progress=False)

    real_chunk, calls = trainer.compiled_chunk, []

    def counted_chunk(*args, stop_at=None):
        run = real_chunk(*args)

        def counted(*inputs):
            calls.append(1)
            if len(calls) == stop_at:
                raise KeyboardInterrupt
            return run(*inputs)

        return counted

    checkpoint = tmp_path / ".group.checkpoint.npz"
    monkeypatch.setattr(trainer, "compiled_chunk", lambda *args: counted_chunk(*args, stop_at=3))
    with pytest.raises(KeyboardInterrupt):
        sae_lib.train(configs, source, progress=False, checkpoint=checkpoint)
    with np.load(checkpoint) as f:
        assert int(f["step"]) == 200
    calls.clear()
    monkeypatch.setattr(trainer, "compiled_chunk", counted_chunk)
    resumed = sae_lib.train(configs, source, progress=False, checkpoint=checkpoint)
    assert len(calls) == 2  # the last two chunks only
    assert set(whole.params) == set(resumed.params)
    for name, a in whole.params.items():
        np.testing.assert_array_equal(a, resumed.params[name], err_msg=name)
    np.testing.assert_array_equal(whole.loss_IxC, resumed.loss_IxC)

"""Several real processes run one command (superpose.train.processes, superpose.app.launch): they train what
one process trains, a killed run resumes from its checkpoint, and processes that disagree stop with one line.

Each process here has one CPU device, and each reference run is one process with two: the same partition of
the instance axis over two devices compiles the same per-device program, so the results must be equal bit
for bit. (One device against several changes the last bits: tests/test_sharding.py.)"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import superpose
from superpose.app.cli import main
from superpose.train import processes
from superpose.validate import ConfigError

STUDY = """
name = "two"
[base]
n_features = 4
n_hidden = 2
steps = 12000
log_every = 100
batch_size = 256
[axes]
feature_probability = [1.0, 0.3, 0.1]
"""
"""3 points on 2 devices: one device holds a padding copy."""

SAE_SCRIPT = """
import sys, numpy as np
from superpose.train import processes
processes.join()
from superpose.data import groundtruth
from superpose.sae import model as sae
source = groundtruth.synthetic_source(groundtruth.random_directions(12, 6, 0),
                                      groundtruth.constant_probabilities(12, 0.15))
configs = [sae.SAEConfig(architecture="jumprelu", n_latents=16, steps=200, batch_size=128, log_every=100,
                         sparsity_coefficient=c, resample="random", resample_every=100, resample_window=20,
                         seed=s) for s, c in enumerate([0.01, 0.02, 0.03, 0.05, 0.1])]
out = sae.train(configs, source, progress=False)
if processes.is_writer():
    np.savez(sys.argv[1], loss=out.loss_IxC, threshold=out.threshold_I, **out.params)
"""

TIMEOUT = 120
"""No run here takes a tenth of this; a hang fails the test instead of stalling the suite."""


def _env(devices: int, **more) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERPOSE_PROCESS", "SUPERPOSE_COORD"))}
    return {**env, "JAX_NUM_CPU_DEVICES": str(devices), "JAX_PLATFORMS": "cpu", **more}


def _superpose(*args, env):
    return subprocess.Popen([sys.executable, "-m", "superpose.app.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _children(pid: int) -> dict[int, int]:
    """{process id of the run: OS pid} of the launcher `pid`'s children (read from /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                environ = (stat.parent / "environ").read_bytes().split(b"\0")
                ids = [e.split(b"=", 1)[1] for e in environ if e.startswith(b"SUPERPOSE_PROCESS_ID=")]
                found[int(ids[0])] = int(stat.parent.name)
        except (OSError, IndexError, ValueError):
            continue
    return found


def _same_arrays(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_two_processes_train_an_sae_group_as_one_process_on_two_devices(tmp_path):
    script = tmp_path / "sae.py"
    script.write_text(SAE_SCRIPT)
    one = subprocess.run([sys.executable, str(script), tmp_path / "one.npz"], env=_env(2), timeout=TIMEOUT)
    two = subprocess.run([sys.executable, "-m", "superpose.app.launch", "2", sys.executable, str(script),
                          tmp_path / "two.npz"], env=_env(1), timeout=TIMEOUT)
    assert one.returncode == two.returncode == 0
    _same_arrays(dict(np.load(tmp_path / "one.npz")), dict(np.load(tmp_path / "two.npz")))


def test_two_processes_killed_mid_run_resume_and_equal_one_process(tmp_path):
    """`superpose run STUDY --processes 2`: process 1 is killed once checkpoints are being written; the
    launcher stops process 0 and fails, leaving no result folder; the same command again resumes from the
    checkpoint, and the arrays equal one process's bit for bit."""
    study = tmp_path / "two.toml"
    study.write_text(STUDY)
    args = ["run", str(study), "--no-figures", "--no-progress"]
    reference = _superpose(*args, "--out", str(tmp_path / "one"), env=_env(2))

    out = tmp_path / "two"
    env = _env(1, SUPERPOSE_CHECKPOINT_SECONDS="0")
    checkpoint = out / "results" / "two" / ".all.checkpoint.npz"
    run = _superpose(*args, "--out", str(out), "--processes", "2", env=env)
    start = time.monotonic()
    while not checkpoint.exists() and run.poll() is None and time.monotonic() - start < TIMEOUT:
        time.sleep(0.02)
    os.kill(_children(run.pid)[1], signal.SIGKILL)
    _, err = run.communicate(timeout=TIMEOUT)
    assert run.returncode != 0, err
    assert not (out / "results" / "two" / "all").exists()
    with np.load(checkpoint) as f:
        step = int(f["step"])
    assert 0 < step < 12000

    env.pop("TQDM_DISABLE", None)
    again = _superpose(*args[:-1], "--out", str(out), "--processes", "2", env=env)
    _, err = again.communicate(timeout=TIMEOUT)
    assert again.returncode == 0, err
    assert f"resumed at step {step} of 12000" in err
    reference.communicate(timeout=TIMEOUT)
    assert reference.returncode == 0
    _same_arrays(superpose.load(tmp_path / "one" / "results" / "two" / "all").arrays,
                 superpose.load(out / "results" / "two" / "all").arrays)
    assert not list((out / "results" / "two").glob(".*checkpoint*"))


def test_processes_running_different_commands_stop_with_one_line_each(tmp_path):
    """Two processes joined by hand ($SUPERPOSE_COORDINATOR...) but started with different seeds."""
    study = tmp_path / "two.toml"
    study.write_text(STUDY)
    port = 20000 + os.getpid() % 20000
    runs = [
        _superpose("run", str(study), "--out", str(tmp_path), "--no-progress", "--seed", str(seed),
                   env=_env(1, SUPERPOSE_COORDINATOR=f"127.0.0.1:{port}", SUPERPOSE_PROCESSES="2",
                            SUPERPOSE_PROCESS_ID=str(i)))
        for i, seed in enumerate((0, 1))
    ]
    errors = [run.communicate(timeout=TIMEOUT)[1] for run in runs]
    assert [run.returncode for run in runs] == [2, 2]
    for i, err in enumerate(errors):
        assert err.splitlines() == [
            f"superpose: error (process {i}): process 1 of 2 differs from process 0 in the command, the code "
            "or the settings"
        ]
    assert not (tmp_path / "results").exists()


def test_which_environments_join_a_run(monkeypatch):
    """$SUPERPOSE_COORDINATOR and its two companions, a SLURM step or an Open MPI job of several tasks join;
    an sbatch script alone (one task), a step of one task, or $SUPERPOSE_DISTRIBUTED=0 do not."""
    for name in ("SUPERPOSE_COORDINATOR", "SUPERPOSE_PROCESSES", "SUPERPOSE_PROCESS_ID",
                 "SLURM_STEP_NUM_TASKS", "OMPI_COMM_WORLD_SIZE", "SUPERPOSE_DISTRIBUTED", "SLURM_NTASKS"):
        monkeypatch.delenv(name, raising=False)
    assert processes.requested() is None
    monkeypatch.setenv("SLURM_NTASKS", "4")  # an allocation, not a step
    assert processes.requested() is None
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "1")
    assert processes.requested() is None
    monkeypatch.setenv("SLURM_STEP_NUM_TASKS", "4")
    assert processes.requested() == (None, None, None)  # JAX's cluster detection fills them in
    monkeypatch.setenv("SUPERPOSE_DISTRIBUTED", "0")
    assert processes.requested() is None
    monkeypatch.delenv("SUPERPOSE_DISTRIBUTED")
    monkeypatch.delenv("SLURM_STEP_NUM_TASKS")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    assert processes.requested() == (None, None, None)
    monkeypatch.setenv("SUPERPOSE_COORDINATOR", "host0:1234")
    monkeypatch.setenv("SUPERPOSE_PROCESSES", "3")
    monkeypatch.setenv("SUPERPOSE_PROCESS_ID", "2")
    assert processes.requested() == ("host0:1234", 3, 2)
    monkeypatch.setenv("SUPERPOSE_PROCESS_ID", "3")
    with pytest.raises(ConfigError, match="must be 0 to 2"):
        processes.requested()
    monkeypatch.setenv("SUPERPOSE_PROCESSES", "many")
    with pytest.raises(ConfigError, match="must be whole numbers"):
        processes.requested()


def test_a_bad_process_count_is_one_line(capsys):
    assert main(["run", "intro", "--quick", "--processes", "0"]) == 2
    assert capsys.readouterr().err == "superpose: error: --processes must be at least 1, got 0\n"

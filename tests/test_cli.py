"""The command line: bad input fails cleanly; run and figures work end to end."""

import json
import os

import numpy as np
import pytest

from superpose.app.cli import main
from superpose.results import load


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--set", "feature_probability=0"], "feature_probability must be in (0, 1]"),
        (["--set", "feature_probability=1.5"], "feature_probability must be in (0, 1]"),
        (["--set", "importance=[1,-1,1,1,1]"], "importance must be a finite number >= 0.0"),
        (["--set", "n_hidden=0"], "n_hidden must be an integer >= 1"),
        (["--set", "n_features=0"], "n_features must be an integer >= 1"),
        (["--set", "importance_decay=NaN"], "importance_decay must be a finite number"),
        (["--set", "n_hiden=3"], "did you mean 'n_hidden'"),
        (["--set", "steps"], "--set expects KEY=VALUE"),
    ],
)
def test_bad_values_exit_2_with_one_line_and_write_nothing(args, fragment, tmp_path, capsys):
    assert main(["run", "intro", "--quick", "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert fragment in err and err.startswith("superpose: error:") and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_unknown_experiment(capsys):
    assert main(["run", "intr"]) == 2
    assert "unknown experiment 'intr'" in capsys.readouterr().err


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["run", "intro", "--quick", "--out", str(blocker / "sub")]) == 2
    assert "is not writable" in capsys.readouterr().err
    if os.geteuid() != 0:  # root may write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert main(["run", "intro", "--quick", "--out", str(ro)]) == 2


def test_list(capsys):
    assert main(["list"]) == 0
    assert "intro" in capsys.readouterr().out


def test_run_and_figures_end_to_end(quick_root, quick_results, capsys):
    """On the session's quick results (the intro sweep is trained once for all tests)."""
    quick_results("intro")
    out = quick_root
    assert main(["run", "intro", "--quick", "--out", str(out), "--no-progress"]) == 0
    folder = out / "results" / "intro" / "model=relu_output"
    run = load(folder)
    n = run.arrays["W"].shape[0]
    assert run.arrays["W"].shape == (n, 5, 2) and run.arrays["b"].shape == (n, 5)
    assert [i["config"]["seed"] for i in run.config["instances"][:2]] == [0, 1]  # seed * best_of + replica
    assert {"python", "jax", "numpy", "superpose"} <= set(run.config["environment"]["versions"])
    summary = json.loads((folder / "summary.json").read_text())
    assert len(summary["final_loss"]) == n and all(s == -1 for s in summary["diverged_step"])
    mtime = (folder / "arrays.npz").stat().st_mtime_ns
    # figures reuse the finished results (no retraining) and draw PNG + PDF
    assert main(["figures", "--quick", "--out", str(out), "--no-progress", "--only", "intro"]) == 0
    assert (folder / "arrays.npz").stat().st_mtime_ns == mtime
    assert (out / "figures" / "intro.png").stat().st_size > 10_000
    assert (out / "figures" / "intro.pdf").exists()
    assert np.isfinite(run.arrays["loss"]).all()

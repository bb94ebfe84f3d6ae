"""`superpose check`: the scorecard on the experiments' quick results (shared with the science tests, so it
mostly evaluates), and a broken model fails the checks it should."""

import json
import shutil

from experiments import basic
from superpose import results
from superpose.app import scorecard
from superpose.app.cli import main

NOT_JUDGED_AT_QUICK_SIZE = {"9", "19", "20", "21", "22", "23"}
"""9: the 4 quick seeds per density never hold both a pentagon and two pairs; 19-23 are judged at full size
only (their functions are tested on quick results in the science tests)."""


def test_quick_scorecard_passes_every_check_it_can_judge(quick_root, capsys):
    assert main(["check", "--quick", "--out", str(quick_root), "--no-progress"]) == 0
    out = capsys.readouterr().out
    report = json.loads((quick_root / "results" / "check.json").read_text())
    rows = {row["check"]: row for row in report["checks"]}
    assert list(rows) == [str(i) for i in range(1, 24)]
    assert {c for c, row in rows.items() if row["passed"] is None} <= NOT_JUDGED_AT_QUICK_SIZE
    assert all(row["passed"] is not False for row in rows.values())
    assert report["quick"] is True and "environment" in report
    assert "0 fail" in out  # how many are judged depends on the seeds (check 15's T = 3 point at quick size)


def test_a_linear_model_passed_off_as_relu_fails_the_right_checks(
    quick_root, quick_results, tmp_path, capsys
):
    """The basic experiment's ReLU folder replaced by its linear one: still linear-like when dense (5, 6), but
    no superposition (7) and no growing vulnerability (16)."""
    quick_results("basic")
    for model, sweep in zip(("linear", "relu_output"), basic.sweeps(quick=True)):
        folder = tmp_path / "results" / "basic" / f"model={model}"
        shutil.copytree(quick_root / "results" / "basic" / "model=linear", folder)
        config = json.loads(
            (folder / "config.json").read_text()
        )  # claims the ReLU sweep, so it is not retrained
        (folder / "config.json").write_text(
            json.dumps(config | {"sweep": results.json_normalise(sweep.to_dict())})
        )
    assert main(["check", "--quick", "--only", "5,6,7,16", "--out", str(tmp_path), "--no-progress"]) == 1
    rows = json.loads((tmp_path / "results" / "check.json").read_text())["checks"]
    assert {row["check"]: row["passed"] for row in rows} == {"5": True, "6": True, "7": False, "16": False}
    assert "FAIL" in capsys.readouterr().out


def test_bad_check_names_end_in_one_line(tmp_path, capsys):
    assert main(["check", "--only", "5,nope", "--out", str(tmp_path)]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "superpose: error: unknown check 'nope' (known: " + ", ".join(str(i) for i in range(1, 24)) + ")"
    )
    assert not any(tmp_path.iterdir())


def test_the_table_marks_each_rule():
    rows = [
        {
            "check": "3",
            "claim": "c",
            "source": "s",
            "passed": False,
            "rules": [
                {"rule": "r1", "measured": "m1", "passed": True},
                {"rule": "r2", "measured": "m2", "passed": False},
            ],
        }
    ]
    assert scorecard.table(rows).splitlines() == [" 3  FAIL  c  (s)", "    pass  r1: m1", "    FAIL  r2: m2"]
    assert scorecard.table(rows, markdown=True).splitlines()[2] == "| 3. c | s | r1 | m1 | pass |"

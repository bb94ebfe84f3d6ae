"""Study files: file -> instances -> results -> figure, and clean failures."""

import pytest

from superpose.app.cli import main
from superpose.app.study import load_study
from superpose.results import load
from superpose.validate import ConfigError

GOOD = """
name = "tiny"
best_of = 2
[base]
n_features = 3
n_hidden = 2
steps = 200
batch_size = 128
[axes]
feature_probability = [1.0, 0.05]
importance = [[1, 1, 0.1], [1, 1, 10]]
"""


def test_round_trip(tmp_path, capsys):
    path = tmp_path / "tiny.toml"
    path.write_text(GOOD)
    sweep = load_study(path)
    assert len(sweep.instances()) == 8 and sweep.base.n_features == 3
    assert main(["run", str(path), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    run = load(tmp_path / "o" / "results" / "tiny" / "all")
    assert run.arrays["W"].shape == (8, 3, 2)
    assert run.arrays["importance"][-1].tolist() == [1, 1, 10]
    assert (tmp_path / "o" / "figures" / "tiny.png").stat().st_size > 5_000


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("name = 'x'\n[base]\nn_hiden = 2", "did you mean 'n_hidden'"),
        ("name = 'x'\n[axes]\nfeature_probability = [0.5, 2.0]", "feature_probability must be in (0, 1]"),
        (
            "name = 'x'\n[axes]\nfeature_probability = 0.5",
            "axes.feature_probability must be a non-empty list",
        ),
        ("name = 'x'\nbest_of = 0", "best_of must be an integer >= 1"),
        ("name = 'x'\ncolour = 1", "unknown key 'colour'"),
        ("name = '../x'", "name must be a non-empty word"),
        ("name = 'x'\n[base\n", "not valid TOML"),
        ("name = 'x'\n[base]\nsteps = 'many'", "steps must be an integer"),
    ],
)
def test_bad_files_fail_with_one_line_naming_the_field(tmp_path, text, fragment, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as e:
        load_study(path).instances()
    assert fragment in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert not (tmp_path / "o").exists()


def test_json_and_missing_file(tmp_path):
    path = tmp_path / "s.json"
    path.write_text('{"name": "j", "base": {"n_features": 4}, "axes": {"seed": [0, 1]}}')
    assert [c.seed for _, _, c in load_study(path).instances()] == [0, 1]
    with pytest.raises(ConfigError, match="cannot read"):
        load_study(tmp_path / "missing.toml")

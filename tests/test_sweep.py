import dataclasses

import numpy as np
import pytest

from superpose.results import ResultError, load
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances, run_sweep, shape_groups
from superpose.validate import ConfigError

BASE = ToyConfig(n_features=3, n_hidden=2, steps=200, batch_size=128, log_every=100)


def test_expansion_seeds_and_groups():
    sweep = Sweep(
        name="s", base=BASE, axes={"n_hidden": (1, 2), "feature_probability": (1.0, 0.1)}, best_of=2
    )
    inst = sweep.instances()
    assert len(inst) == 8
    assert [c.seed for _, _, c in inst[:2]] == [0, 1]
    groups = shape_groups(sweep)
    assert list(groups) == ["n_hidden=1", "n_hidden=2"] and all(len(g) == 4 for g in groups.values())
    seeded = sweep.with_overrides({"seed": 3})
    assert [c.seed for _, _, c in seeded.instances()[:2]] == [6, 7]
    assert "feature_probability" not in sweep.with_overrides({"feature_probability": 0.5}).axes


def test_bad_sweeps():
    with pytest.raises(ConfigError, match="unknown config key 'n_hiden'"):
        Sweep(name="s", base=BASE, axes={"n_hiden": (1,)})
    with pytest.raises(ConfigError, match="best_of"):
        Sweep(name="s", base=BASE, best_of=0)
    with pytest.raises(ConfigError, match="feature_probability must be in"):
        Sweep(name="s", base=BASE, axes={"feature_probability": (0.5, 2.0)}).instances()


def test_run_sweep_writes_loadable_folders_and_picks_best(tmp_path):
    sweep = Sweep(name="s", base=BASE, axes={"feature_probability": (1.0, 0.1)}, best_of=3)
    (folder,) = run_sweep(sweep, tmp_path, progress=False)
    run = load(folder)
    loss = np.asarray(run.summary["final_loss"]).reshape(2, 3)
    idx = best_instances(run)
    assert idx.tolist() == (np.argmin(loss, axis=1) + [0, 3]).tolist()
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    (folder / "arrays.npz").write_bytes(b"garbage")
    with pytest.raises(ResultError, match="arrays.npz does not match the checksum"):
        load(folder)


def test_a_rerun_finds_a_sweep_with_per_feature_axes(tmp_path, monkeypatch):
    """Axis values that are tuples (per-feature densities, as in E6) come back from JSON as lists: a re-run
    must still recognise its own folder (no retraining, no 'different sweep' error)."""
    sweep = Sweep(
        name="s",
        base=dataclasses.replace(BASE, steps=100, log_every=100),
        axes={"feature_probability": ((0.1, 0.1, 0.1), (0.1, 0.1, 0.01))},
    )
    (folder,) = run_sweep(sweep, tmp_path, progress=False)
    from superpose.toy import sweep as sweep_module

    def no_training(*args, **kwargs):
        raise AssertionError("retrained a finished group")

    monkeypatch.setattr(sweep_module, "train", no_training)
    assert run_sweep(sweep, tmp_path, progress=False, skip_existing=True, overwrite=False) == [folder]

"""The SAE experiments' quick modes run end to end and show their figure's main fact."""

import numpy as np

from experiments import sae_architectures, sae_recovery, sae_sharkey
from superpose import results
from superpose.decompose import bench


def test_sharkey_grid_recovers_with_enough_latents(tmp_path):
    manifest = sae_sharkey.EXPERIMENT.train(tmp_path, quick=True, progress=False, skip_existing=False)
    ratios, coefficients, mmcs, dead, next_larger, _ = sae_sharkey.grids(manifest)
    band = coefficients.index(0.3)
    # measured (quick): MMCS 0.76 / 0.98 / 1.00 at L/G = 0.5 / 1 / 2; next-larger MMCS 0.99 at L/G = 1
    assert mmcs[band, ratios.index(2.0)] >= 0.95 and mmcs[band, ratios.index(1.0)] >= 0.9
    assert mmcs[band, ratios.index(0.5)] <= mmcs[band, ratios.index(1.0)] - 0.1
    assert next_larger[band, ratios.index(1.0)] >= 0.9
    assert dead[coefficients.index(3.0)].max() > 0.1 and dead[band].max() == 0.0  # too large a λ kills latents
    assert sae_sharkey.plot(manifest, tmp_path / "f")[0].stat().st_size > 10_000


def test_architecture_table_tells_recovery_from_reconstruction(tmp_path):
    manifest = sae_architectures.EXPERIMENT.train(tmp_path, quick=True, progress=False, skip_existing=False)
    rows = sae_architectures.table(manifest)
    assert list(rows) == list(sae_architectures.ARCHITECTURES)
    true_l0 = rows["topk"]["true_l0"]
    for arch, m in rows.items():  # matched L0
        assert 0.4 * true_l0 <= m["l0"] <= 2.5 * true_l0, (arch, m["l0"], true_l0)
    assert rows["l1"]["shrinkage"] < 0.9 and abs(rows["topk"]["shrinkage"] - 1) < 0.05  # L1 shrinks
    base = results.load(tmp_path / sae_architectures.NAME / "baselines").summary["metrics"]
    assert base["PCA"]["mcc"] < rows["topk"]["mcc"] - 0.2  # 32 orthogonal directions cannot cover 128
    oracle = base["lasso on true dictionary"]
    assert oracle["mcc"] > 0.999 and oracle["f1"] > max(m["f1"] for m in rows.values())
    assert sae_architectures.plot(manifest, tmp_path / "f")[0].stat().st_size > 10_000


def test_recovery_experiment_runs_and_resampling_helps(tmp_path, quick_results):
    manifest = quick_results("sae-recovery")
    runs = {r: manifest.load(sae_recovery.NAME, f"check13-resample={r}") for r in ("random", "none")}
    with_resampling = bench.metric(runs["random"], "mmcs_true")
    without = bench.metric(runs["none"], "mmcs_true")
    assert np.mean(with_resampling) > np.mean(without)
    assert bench.metric(runs["none"], "dead_latents").sum() > bench.metric(
        runs["random"], "dead_latents").sum()
    _ns, _ps, grid = sae_recovery._grid(manifest, "l1")
    assert grid.shape == (3, 2) and np.isfinite(grid).all()
    assert sae_recovery.plot(manifest, tmp_path / "f")[0].stat().st_size > 10_000

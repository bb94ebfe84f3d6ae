"""SAEs recover known features: check 13 of docs/checks.md, the Sharkey preset, steering."""

import numpy as np
import pytest

from experiments import sae_recovery, sae_steering
from superpose.app.scorecard import assert_holds
from superpose.data import groundtruth
from superpose.measures import recovery
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib


def test_check13_l1_saes_recover_the_pentagon_with_resampling(quick_results):
    """≥ 5/8 of 32 SAEs (2 on each of 16 toy models) reach MMCS ≥ 0.99 with all 5 latents alive (measured 87%
    of 256 at four seed offsets); firing rate near the density 0.025; fewer without resampling (trained 5,000
    steps here), whose dead latents are what resampling fixes."""
    manifest = quick_results("sae-recovery")
    toys = manifest.group(f"{sae_recovery.NAME}_toys", "all")
    assert np.all(np.linalg.norm(toys.arrays["W"], axis=-1) > 0.9), "all 16 toy models learn 5 features"
    runs = {r: manifest.load(sae_recovery.NAME, f"check13-resample={r}") for r in ("random", "none")}
    on, off = runs["random"], runs["none"]
    assert_holds(
        sae_recovery.sae_recovers_the_pentagon(
            sae_group.metric(on, "mmcs_true"),
            5 - sae_group.metric(on, "dead_latents"),
            sae_group.metric(on, "l0") / 5,
            sae_group.metric(off, "mmcs_true"),
            without_full_size=False,
        ),
        allow_unjudged=True,
    )
    assert (sae_group.metric(off, "dead_latents") > 0).sum() >= 4


@pytest.mark.slow  # 26 s under AVX2; the sae-sharkey experiment's test covers the preset in the default suite
def test_l1_sae_recovers_the_sharkey_preset():
    """Sharkey et al. data (d=256, G=512, E[L0]=5), one L1 SAE with dictionary ratio 2 (1,024 latents),
    λ·d = 0.3, batch 256, 3,000 steps. Calibrated: MMCS(true → learned) = 0.850 and 77% of the features
    recovered at cos > 0.9 (still rising: the full sae-sharkey run trains longer)."""
    source = groundtruth.sharkey_source()
    config = sae_lib.SAEConfig(
        architecture="l1",
        n_latents=1024,
        sparsity_coefficient=0.3 / 256,
        steps=3000,
        batch_size=256,
        log_every=500,
    )
    result = sae_lib.train([config], source, progress=False)
    m = recovery.direction_metrics(np.asarray(source.directions_GxD), result.params["W_dec_LxD"][0])
    assert m["mmcs_true"] >= 0.80 and m["recovered_90"] >= 0.70, m


def test_steering_moves_the_matched_feature(tmp_path):
    """An L1 SAE on a pentagon toy model: clamping a latent at half its full activation moves its own
    feature's output and hardly any other (selectivity ≥ 0.9 for every latent; measured 0.95-0.96), and
    selectivity falls once the clamp outgrows what the ReLU biases filter (measured 0.63-0.64 at 8x)."""
    manifest = sae_steering.EXPERIMENT.run(tmp_path, "quick", progress=False, skip_existing=False)
    _W, _b, run, best, feature_of, _delta, sel = sae_steering.steering_table(manifest)
    assert run.summary["metrics"][best]["mcc"] > 0.99
    assert sorted(feature_of.tolist()) == [0, 1, 2, 3, 4]
    half = sel[sae_steering.CLAMPS.index(0.5)]
    assert half.min() >= 0.9, half
    assert sel[-1].max() < 0.8 and sel[-1].mean() < half.mean() - 0.15, sel[-1]
    paths = sae_steering.plot(manifest, tmp_path / "steering")
    assert paths[0].stat().st_size > 10_000

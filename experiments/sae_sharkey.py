"""The Sharkey et al. (2022) grid: L1 coefficient x dictionary size on data with known features.

Data: the Sharkey preset (superpose.data.groundtruth.sharkey_source): G = 512
unit Gaussian directions in d = 256 dimensions, p_i ∝ 0.99**i with E[L0] = 5,
magnitudes U(0, 1] (quick: G = 64, d = 32, E[L0] = 3). One L1 SAE per
(coefficient, dictionary ratio L/G), unit-norm decoder, no resampling (as the
original), all SAEs on the same batches. The coefficient is given as λ·d,
which makes the grid independent of d because the MSE is a mean over d.

The figure shows the three signals Sharkey et al. proposed for finding the
right dictionary size: MMCS with the ground truth, dead latents, and the MMCS
of each dictionary with the next larger one at the same coefficient (which
needs no ground truth).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.data import groundtruth
from superpose.measures import recovery
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib

NAME = "sae_sharkey"
RATIOS = (0.5, 1.0, 2.0, 4.0)
COEFFICIENTS = (0.03, 0.1, 0.3, 1.0, 3.0)
"""λ·d."""


def setting(quick: bool) -> dict:
    if quick:
        return {"n_dims": 32, "n_features": 64, "expected_l0": 3.0, "steps": 3000, "ratios": RATIOS[:3]}
    return {"n_dims": 256, "n_features": 512, "expected_l0": 5.0, "steps": 8000, "ratios": RATIOS[:3]}


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    quick = size == "quick"
    results_dir = manifest.root
    s = setting(quick)
    source = groundtruth.sharkey_source(s["n_dims"], s["n_features"], s["expected_l0"])
    spec = {"preset": "sharkey", **{k: s[k] for k in ("n_dims", "n_features", "expected_l0")}, "seed": 0}
    folders = []
    for ratio in s["ratios"]:
        n_latents = int(ratio * s["n_features"])
        configs = [
            sae_lib.SAEConfig(architecture="l1", n_latents=n_latents, sparsity_coefficient=c / s["n_dims"],
                              steps=s["steps"], batch_size=256, learning_rate=1e-3, seed=j, log_every=500)
            for j, c in enumerate(COEFFICIENTS)
        ]
        labels = [{"ratio": ratio, "coefficient_times_d": c} for c in COEFFICIENTS]
        folder = results_dir / NAME / f"ratio={ratio:g}"
        sae_group.run_group(folder, configs, source, labels=labels, source_spec=spec, progress=progress,
                                skip_existing=skip_existing)
        folders.append(folder)
    return folders


def grids(manifest: Manifest):
    """ratios, coefficients, and [coefficient, ratio] grids of MMCS, dead fraction, MMCS with next larger."""
    runs = sorted(manifest.under(NAME), key=lambda r: sae_group.labels(r, "ratio")[0])
    ratios = [sae_group.labels(r, "ratio")[0] for r in runs]
    coefficients = sae_group.labels(runs[0], "coefficient_times_d")
    mmcs = np.stack([sae_group.metric(r, "mmcs_true") for r in runs], axis=1)
    dead = np.stack(
        [sae_group.metric(r, "dead_latents") / r.arrays["W_dec_LxD"].shape[1] for r in runs], axis=1
    )
    next_larger = np.full_like(mmcs, np.nan)
    for j in range(len(runs) - 1):
        for i in range(len(coefficients)):
            cos = recovery.cosine_matrix(runs[j + 1].arrays["W_dec_LxD"][i], runs[j].arrays["W_dec_LxD"][i])
            next_larger[i, j] = recovery.mmcs_learned(cos)
    return ratios, coefficients, mmcs, dead, next_larger, runs


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    ratios, coefficients, mmcs, dead, next_larger, runs = grids(manifest)
    spec = runs[0].config["job"]["source"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.3))
    panels = [
        (mmcs, "MMCS with the ground truth\n(true → learned)", "viridis", (0, 1)),
        (dead, "fraction of dead latents", "magma", (0, 1)),
        (
            next_larger,
            "MMCS with the next larger dictionary\n(same λ; no ground truth needed)",
            "viridis",
            (0, 1),
        ),
    ]
    for ax, (grid, title, cmap, (lo, hi)) in zip(axes, panels):
        im = ax.imshow(grid, cmap=cmap, vmin=lo, vmax=hi, aspect="auto", origin="lower")
        for (r, c), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(c, r, f"{v:.2f}", ha="center", va="center", fontsize=8, color="w" if v < 0.6 else "k")
        ax.set_xticks(range(len(ratios)), [f"{r:g}" for r in ratios])
        ax.set_yticks(range(len(coefficients)), [f"{c:g}" for c in coefficients])
        ax.set_xlabel("dictionary size / true features (L/G)")
        ax.set_ylabel("L1 coefficient λ·d")
        ax.set_title(title, fontsize=9)
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(
        f"Sharkey et al. (2022) grid: L1 SAEs on {spec['n_features']} known features in {spec['n_dims']} "
        "dimensions "
        f"(E[L0] = {spec['expected_l0']:g}). Recovery (MMCS → 1) needs L ≥ G and a band of λ; dead latents "
        "appear "
        "when L > G and everywhere at too large a λ.\nThe next-larger-dictionary MMCS is high wherever "
        "recovery "
        "succeeds, but also where most latents died (the few alive ones agree), so alone it does not pick "
        "the size.",
        fontsize=9.5,
    )
    fig.tight_layout()
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="sae-sharkey",
    description="Sharkey et al. 2022: L1 coefficient x dictionary size, MMCS, dead latents, next-larger MMCS",
    stages=lambda size: [train_stage],
    plot=plot,
)

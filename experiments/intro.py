"""E1, the introduction figure: five features in two dimensions.

Elhage et al. 2022, figure 2; check 8 of docs/checks.md. F=5,
H=2, importance 0.9**i, density swept from 1 down to 0.011; ReLU-output and
linear models side by side, best of 4 seeds per density by final loss.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.lines
import numpy as np

from experiments._references import NB, P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge, not_judged, value_range, value_set
from superpose.data.sparse_features import density_sweep
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances, by_point

MODELS = {"relu_output": "ReLU output\nx' = ReLU(WᵀWx + b)", "linear": "linear\nx' = WᵀWx + b"}


def sweeps(quick: bool) -> list[Sweep]:
    base = ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9, steps=10_000)
    densities = density_sweep(7 if quick else 13, span=1.5)
    return [
        Sweep(
            name="intro",
            base=base,
            axes={"model": tuple(MODELS), "feature_probability": tuple(float(p) for p in densities)},
            best_of=4,  # checks 8 and 9 (the pentagon is found in about half the seeds)
        )
    ]


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    runs = {m: manifest.group("intro", f"model={m}") for m in MODELS}
    n_points = len(best_instances(runs["relu_output"]))
    fig, axes = plotting.figure(4, n_points, figsize=(1.15 * n_points + 1.2, 5.6), squeeze=False)
    for row, (model, title) in enumerate(MODELS.items()):
        run = runs[model]
        for col, i in enumerate(best_instances(run)):
            W, b = run.arrays["W"][i], run.arrays["b"][i]
            ax = axes[2 * row, col]
            plotting.draw_directions(ax, W)
            p = run.arrays["feature_probability"][i, 0]
            ax.set_title(f"1−S = {p:.2g}\n{int(metrics.n_represented(W))}/5 features", fontsize=8)
            im = plotting.draw_gram_and_bias(axes[2 * row + 1, col], W, b)
        axes[2 * row, 0].set_ylabel(title, fontsize=9, fontweight="bold")
        axes[2 * row + 1, 0].set_ylabel("WᵀW | b", fontsize=8)
    fig.subplots_adjust(hspace=0.6, wspace=0.15, right=0.9)
    cbar = fig.colorbar(im, cax=fig.add_axes([0.92, 0.12, 0.012, 0.3]))
    cbar.set_label("entry value")
    handles = [
        matplotlib.lines.Line2D([], [], color=c, lw=2, label=f"feature {i}  (I = {0.9 ** i:.2f})")
        for i, c in enumerate(plotting.feature_colors(5))
    ]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.905, 0.88), fontsize=7, frameon=False)
    fig.suptitle(
        "Five features in two hidden dimensions (best of seeds per density). Sparser features (right) are "
        "packed "
        "into superposition\nby the ReLU model: 2 orthogonal → 2 antipodal pairs → pentagon; the linear "
        "model "
        "keeps the top 2 at every sparsity.",
        fontsize=9.5,
        y=1.0,
    )
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def _angle_gaps(W):
    rep = W[np.asarray(metrics.feature_norms(W)) > 0.5]
    angles = np.sort(np.degrees(np.arctan2(rep[:, 1], rep[:, 0])))
    return np.diff(np.concatenate([angles, angles[:1] + 360]))


def _represented(W) -> set[int]:
    return set(np.flatnonzero(np.asarray(metrics.feature_norms(W)) > 0.5).tolist())


def intro_geometries(W_NxFxH, b_NxF, densities) -> list[Rule]:
    """Check 8 on the best seed per density (5 features of importance 0.9^i in 2 dimensions)."""
    W_NxFxH, b_NxF, densities = np.asarray(W_NxFxH), np.asarray(b_NxF), np.asarray(densities)
    W, b = W_NxFxH[np.argmax(densities)], b_NxF[np.argmax(densities)]
    unit = W[:2] / np.maximum(np.linalg.norm(W[:2], axis=1, keepdims=True), 1e-9)
    norms = np.asarray(metrics.feature_norms(W))
    rules = [
        judge(
            "dense: exactly features {0, 1} represented, |cos| ≤ 0.05, other norms < 0.1, biases 0.5 ± 0.02",
            f"represented {sorted(_represented(W))}, |cos| {abs(unit[0] @ unit[1]):.3f}, "
            f"max other norm {norms[2:].max():.3f}, bias error {np.abs(b[2:] - 0.5).max():.3f}",
            _represented(W) == {0, 1}
            and abs(unit[0] @ unit[1]) <= 0.05
            and np.all(norms[2:] < 0.1)
            and np.all(np.abs(b[2:] - 0.5) <= 0.02),
        )
    ]
    for i in np.flatnonzero((densities >= 0.19) & (densities <= 0.26)):
        W = W_NxFxH[i]
        gaps, D = _angle_gaps(W), np.asarray(metrics.feature_dimensionality(W))
        ok = _represented(W) == {0, 1, 2, 3} and gaps.size == 4
        rules.append(
            judge(
                f"1 − S = {densities[i]:.3g}: features 0-3 as two antipodal pairs at 90° ± 3°, "
                "D_i = 0.50 ± 0.05, ‖W_4‖ ≤ 0.1",
                f"represented {sorted(_represented(W))}, gaps {value_range(gaps)}°, D {value_range(D[:4])}, "
                f"‖W_4‖ {np.linalg.norm(W[4]):.2f}",
                ok
                and np.all(np.abs(gaps - 90) <= 3)
                and np.all(np.abs(D[:4] - 0.5) <= 0.05)
                and np.linalg.norm(W[4]) <= 0.1,
            )
        )
    for i in np.flatnonzero(np.isclose(densities, 0.05)):
        W, b = W_NxFxH[i], b_NxF[i]
        gaps, D = _angle_gaps(W), np.asarray(metrics.feature_dimensionality(W))
        rules.append(
            judge(
                "1 − S = 0.05: a regular pentagon: gaps 72° ± 4°, D_i = 0.40 ± 0.03, all b_i < −0.1, "
                "all ‖W_i‖ > 1",
                f"gaps {value_range(gaps)}°, D {value_range(D)}, max b {b.max():.2f}, "
                f"min ‖W_i‖ {np.linalg.norm(W, axis=1).min():.2f}",
                gaps.size == 5
                and np.all(np.abs(gaps - 72) <= 4)
                and np.all(np.abs(D - 0.4) <= 0.03)
                and np.all(b < -0.1)
                and np.all(np.linalg.norm(W, axis=1) > 1),
            )
        )
    return rules


def best_of_picks_the_pentagon(W_NxKxFxH, loss_NxK, densities) -> list[Rule]:
    """Check 9: wherever both a pentagon and two antipodal pairs occur among the seeds of a density ≤ 0.1,
    every pentagon has the lower final loss."""
    both, worst = [], np.inf
    for i, p in enumerate(densities):
        n_rep = np.asarray(metrics.n_represented(W_NxKxFxH[i]))
        pent, anti = loss_NxK[i][n_rep == 5], loss_NxK[i][n_rep == 4]
        if pent.size and anti.size and p <= 0.1:
            both.append(p)
            worst = min(worst, anti.min() - pent.max())
    rule = "where both occur (1 − S ≤ 0.1): every pentagon's final loss < every 4-antipodal one's"
    if not both:
        return [not_judged(rule, "never both among these seeds")]
    return [judge(rule, f"both at 1 − S ∈ {value_set(both)}; smallest margin {worst:.2e}", worst > 0)]


def intro_runs(manifests):
    run = manifests["intro"].group("intro", "model=relu_output")
    best = best_instances(run)
    W, loss = by_point(run, run.arrays["W"]), by_point(run, run.summary["final_loss"])
    return run.arrays["W"][best], run.arrays["b"][best], run.arrays["feature_probability"][best, 0], W, loss


def _check8(manifests, quick):
    W, b, p, _, _ = intro_runs(manifests)
    return intro_geometries(W, b, p)


def _check9(manifests, quick):
    _, _, p, W, loss = intro_runs(manifests)
    return best_of_picks_the_pentagon(W, loss, p)


CHECKS = (
    Check(
        "8",
        "the intro figure: orthogonal, two antipodal pairs, pentagon",
        f"{P} figure 2; {NB}",
        ("intro",),
        _check8,
    ),
    Check(
        "9",
        "local minima are real; best-of picks the pentagon",
        f"{P} Non-uniform Superposition",
        ("intro",),
        _check9,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="intro",
    description="E1: five features in two dimensions, ReLU vs linear, across sparsity (paper figure 2)",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
)

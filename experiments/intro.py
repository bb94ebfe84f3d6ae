"""E1, the introduction figure: five features in two dimensions.

Elhage et al. 2022, figure 2; check 8 of docs/checks.md. F=5,
H=2, importance 0.9**i, density swept from 1 down to 0.011; ReLU-output and
linear models side by side, best of 4 seeds per density by final loss.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.lines

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.data.sparse_features import density_sweep
from superpose.toy.sweep import Sweep, best_instances

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
        "Five features in two hidden dimensions (best of seeds per density). Sparser features (right) are packed "
        "into superposition\nby the ReLU model: 2 orthogonal → 2 antipodal pairs → pentagon; the linear model "
        "keeps the top 2 at every sparsity.",
        fontsize=9.5,
        y=1.0,
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="intro",
    description="E1: five features in two dimensions, ReLU vs linear, across sparsity (paper figure 2)",
    sweeps=sweeps,
    plot=plot,
)

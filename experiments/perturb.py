"""E6: non-uniform superposition: perturbing the density of one feature of a pentagon.

Elhage et al. 2022, "Non-uniform superposition"; REFERENCE.md E6. Five features
of equal importance in two dimensions, all at density 0.05 (a regular pentagon)
except feature 4, whose density is scaled by a ratio from 0.1 to 10. Best of 4
seeds per ratio, since 2-D problems have local minima.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import plotting
from superpose.experiment import Experiment, Manifest
from superpose.toy import metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances

BASE_DENSITY = 0.05


def ratios(quick: bool) -> np.ndarray:
    return np.logspace(-1, 1, 7 if quick else 13)


def sweeps(quick: bool) -> list[Sweep]:
    probs = tuple((BASE_DENSITY,) * 4 + (BASE_DENSITY * float(r),) for r in ratios(quick))
    return [
        Sweep(
            name="perturb",
            base=ToyConfig(n_features=5, n_hidden=2, steps=10_000),
            axes={"feature_probability": probs},
            best_of=4,
        )
    ]


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("perturb", "all")
    best = best_instances(run)
    ratio = run.arrays["feature_probability"][best, 4] / BASE_DENSITY
    W = run.arrays["W"][best]
    fig = plotting.figure(figsize=(1.3 * len(best), 4.2))[0]
    fig.clf()
    grid = fig.add_gridspec(2, len(best), height_ratios=[1, 1.1])
    for col, W_i in enumerate(W):
        ax = fig.add_subplot(grid[0, col])
        plotting.draw_directions(ax, W_i, colors=["0.6"] * 4 + ["tab:red"])
        ax.set_title(f"×{ratio[col]:.2g}", fontsize=8)
    ax = fig.add_subplot(grid[1, :])
    D = np.asarray(metrics.feature_dimensionality(W))
    ax.plot(ratio, D[:, 4], "o-", color="tab:red", label="perturbed feature 4")
    ax.plot(ratio, D[:, :4].mean(axis=1), "s-", color="0.5", label="features 0-3 (mean)")
    for v, name in ((0.5, "digon 1/2"), (0.4, "pentagon 2/5")):
        ax.axhline(v, color="tab:purple", ls=":", lw=0.8)
        ax.annotate(name, (ratio.max() * 1.1, v), fontsize=7, va="center", annotation_clip=False)
    ax.set(xscale="log", xlabel="density of feature 4 relative to the others (0.05)",
           ylabel="feature dimensionality D_i")
    ax.legend(fontsize=8, frameon=False)
    fig.suptitle("Perturbing one feature of a pentagon (red): sparser → it is dropped and the rest form two "
                 "digons;\ndenser → it takes more of the space and the others move away", fontsize=9.5)
    fig.subplots_adjust(hspace=0.35)
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="perturb",
    description="E6: non-uniform superposition, one feature of a pentagon made sparser or denser",
    sweeps=sweeps,
    plot=plot,
)

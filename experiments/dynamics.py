"""E8: learning dynamics: feature dimensionalities jump between sticky values during training.

Elhage et al. 2022, "Learning Dynamics"; REFERENCE.md E8. The uniform setup of
E4 (200 equally important features in 20 dimensions) at density 0.3, inside
the antipodal plateau, where the features end up in digons. W is kept every 50
steps; each feature's dimensionality D_i is traced over training beside the loss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import plotting, results
from superpose.experiment import Experiment, Manifest
from superpose.toy import metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep


def sweeps(quick: bool) -> list[Sweep]:
    n, m = (100, 10) if quick else (200, 20)
    base = ToyConfig(n_features=n, n_hidden=m, feature_probability=0.3, steps=10_000, log_every=50, snapshots=True)
    return [Sweep(name="dynamics", base=base)]


def dimensionality_history(run: results.Run) -> tuple[np.ndarray, np.ndarray]:
    """(steps, D_CxF) of the run's first instance."""
    return run.arrays["loss_step"], np.asarray(metrics.feature_dimensionality(run.arrays["W_history"][0]))


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("dynamics", "all")
    steps, D = dimensionality_history(run)
    learned = np.asarray(metrics.feature_norms(run.arrays["W"][0])) > 0.5
    fig, (ax_d, ax_l) = plotting.figure(2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    colors = plotting.plt.cm.tab20(np.linspace(0, 1, int(learned.sum())))
    for c, f in zip(colors, np.flatnonzero(learned)):
        ax_d.plot(steps, D[:, f], color=c, lw=0.9, alpha=0.8)
    for v, name in ((1, "1"), (3 / 4, "3/4"), (2 / 3, "2/3"), (1 / 2, "1/2"), (2 / 5, "2/5")):
        ax_d.axhline(v, color="0.75", lw=0.6, ls=":")
        ax_d.annotate(name, (steps[-1] * 1.15, v), fontsize=7, va="center", annotation_clip=False)
    ax_d.set(ylabel="feature dimensionality D_i", ylim=(0, 1.05),
             title=f"the {int(learned.sum())} features learned by the end (one line each)")
    ax_l.plot(steps, run.arrays["loss"][0], color="k")
    ax_l.set(xscale="log", yscale="log", xlabel="training step", ylabel="training loss")
    n, m = run.arrays["W"].shape[1:]
    fig.suptitle(f"Learning dynamics, {n} features in {m} dimensions at density 0.3: dimensionalities move "
                 "in jumps\nbetween sticky values and settle at 1/2 (antipodal pairs); the loss drops at the jumps",
                 fontsize=9.5)
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="dynamics",
    description="E8: learning dynamics, feature dimensionalities over training",
    sweeps=sweeps,
    plot=plot,
)

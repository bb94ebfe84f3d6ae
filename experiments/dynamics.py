"""E8: learning dynamics: feature dimensionalities jump between sticky values during training.

Elhage et al. 2022, "Learning Dynamics". The uniform setup of
E4 (200 equally important features in 20 dimensions) at density 0.3, inside
the antipodal plateau, where the features end up in digons. W is kept every 50
steps; each feature's dimensionality D_i is traced over training beside the loss, on a log axis and,
around the moves, on a linear one.

The paper describes the moves as jumps, each with its own drop in the loss. At the notebook's recipe
(Adam, lr 1e-3) they are not: each D_i takes a median of 500 steps to go from 20% to 80% of its way, and
the midpoints of the 38 learned features spread over 450–865 steps, so the moves overlap and the loss
falls smoothly (measured by `transitions`; the figure's right column shows it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import results
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep


def sweeps(quick: bool) -> list[Sweep]:
    n, m = (100, 10) if quick else (200, 20)
    base = ToyConfig(
        n_features=n, n_hidden=m, feature_probability=0.3, steps=10_000, log_every=50, snapshots=True
    )
    return [Sweep(name="dynamics", base=base)]


def dimensionality_history(run: results.Run) -> tuple[np.ndarray, np.ndarray]:
    """(steps, D_CxF) of the run's first instance."""
    return run.arrays["loss_step"], np.asarray(metrics.feature_dimensionality(run.arrays["W_history"][0]))


def transitions(steps: np.ndarray, D_CxF: np.ndarray) -> dict[str, np.ndarray]:
    """Per feature: the step where D_i has made half its way from start to end (`middle`), and the steps it
    takes from 20% to 80% of the way (`width`). Discrete jumps have widths much shorter than the spread of
    their middles; a collective rise has widths as long as that spread."""

    def reach(fraction):
        target = D_CxF[0] + fraction * (D_CxF[-1] - D_CxF[0])
        ahead = D_CxF[-1] >= D_CxF[0]
        return steps[np.argmax(np.where(ahead, D_CxF >= target, D_CxF <= target), axis=0)]

    return {"middle": reach(0.5), "width": reach(0.8) - reach(0.2)}


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("dynamics", "all")
    steps, D = dimensionality_history(run)
    learned = np.asarray(metrics.feature_norms(run.arrays["W"][0])) > 0.5
    fig, axes = plotting.figure(2, 2, figsize=(13, 5.5), sharex="col", gridspec_kw={"height_ratios": [2, 1]})
    (ax_d, ax_z), (ax_l, ax_zl) = axes
    colors = plotting.plt.cm.tab20(np.linspace(0, 1, int(learned.sum())))
    moves = transitions(steps, D[:, learned])
    end = float(np.percentile(moves["middle"], 95) * 2.5)
    zoom = steps <= end
    for c, f in zip(colors, np.flatnonzero(learned)):
        ax_d.plot(steps, D[:, f], color=c, lw=0.9, alpha=0.8)
        ax_z.plot(steps[zoom], D[zoom, f], color=c, lw=0.9, alpha=0.8)
    ax_z.set(
        ylim=(0, 1.05),
        title=f"the same on a linear axis: each D_i rises over a median "
        f"{np.median(moves['width']):.0f} steps (20→80%),\nmidpoints spread over "
        f"{np.percentile(moves['middle'], 10):.0f}–{np.percentile(moves['middle'], 90):.0f}"
        " (10th–90th percentile): the rises overlap",
    )
    ax_z.title.set_fontsize(8.5)
    ax_zl.plot(steps[zoom], run.arrays["loss"][0][zoom], color="k")
    ax_zl.set(xlabel="training step (linear)", ylabel="training loss")
    for v, name in ((1, "1"), (3 / 4, "3/4"), (2 / 3, "2/3"), (1 / 2, "1/2"), (2 / 5, "2/5")):
        ax_d.axhline(v, color="0.75", lw=0.6, ls=":")
        ax_z.axhline(v, color="0.75", lw=0.6, ls=":")
        ax_d.annotate(name, (steps[-1] * 1.15, v), fontsize=7, va="center", annotation_clip=False)
    ax_d.set(
        ylabel="feature dimensionality D_i",
        ylim=(0, 1.05),
        title=f"the {int(learned.sum())} features learned by the end (one line each)",
    )
    ax_l.plot(steps, run.arrays["loss"][0], color="k")
    ax_l.set(xscale="log", yscale="log", xlabel="training step", ylabel="training loss")
    n, m = run.arrays["W"].shape[1:]
    fig.suptitle(
        f"Learning dynamics, {n} features in {m} dimensions at density 0.3: dimensionalities move "
        "between sticky values and settle at 1/2 (antipodal pairs).\nAt this recipe (Adam 1e-3) the moves "
        "are not the paper's discrete jumps: they overlap in time, and the loss falls smoothly",
        fontsize=9.5,
    )
    fig.subplots_adjust(top=0.83, wspace=0.25)
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="dynamics",
    description="E8: learning dynamics, feature dimensionalities over training",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
)

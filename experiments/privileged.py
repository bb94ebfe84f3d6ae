"""E10: superposition in a privileged basis: the ReLU hidden layer model.

Elhage et al. 2022, "Superposition in a Privileged Basis"; REFERENCE.md E10. Ten
features of importance 0.75^i, five ReLU neurons, tied weights, densities as
ARENA uses them; best of 16 seeds (the paper: best of 1000).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import plotting
from superpose.experiment import Experiment, Manifest
from superpose.toy import metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances

DENSITIES = (0.75, 0.35, 0.15, 0.1, 0.06, 0.02, 0.01)


def sweeps(quick: bool) -> list[Sweep]:
    return [
        Sweep(
            name="privileged",
            base=ToyConfig(model="relu_hidden", n_features=10, n_hidden=5, importance_decay=0.75, steps=10_000),
            axes={"feature_probability": DENSITIES[::2] if quick else DENSITIES},
            best_of=4 if quick else 16,
        )
    ]


def features_per_neuron(W_FxH: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Features whose weight into each neuron is above `threshold` x the neuron's largest weight."""
    scale = np.maximum(np.abs(W_FxH).max(axis=0), 1e-9)
    return np.sum(np.abs(W_FxH) / scale > threshold, axis=0)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("privileged", "all")
    best = best_instances(run)
    W_all, p = run.arrays["W"][best], run.arrays["feature_probability"][best, 0]
    n_features, n_hidden = W_all.shape[1:]
    colors = plotting.feature_colors(n_features)
    fig, axes = plotting.figure(1, len(best), figsize=(2.3 * len(best), 3.6), sharey=True, squeeze=False)
    for ax, W, density in zip(axes[0], W_all, p):
        for neuron in range(n_hidden):
            up = down = 0.0
            for f in range(n_features):
                w = W[f, neuron]
                ax.bar(neuron, w, bottom=up if w > 0 else down, color=colors[f], width=0.75)
                up, down = (up + w, down) if w > 0 else (up, down + w)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(n_hidden))
        ax.set_xlabel("neuron")
        n_rep = int(metrics.n_represented(W))
        poly = int(np.sum(features_per_neuron(W) > 1))
        ax.set_title(f"1−S = {density:g}\n{n_rep} features learned\n{poly} polysemantic neurons", fontsize=8)
    axes[0, 0].set_ylabel("weights into each neuron, stacked by feature")
    handles = [
        plotting.plt.Rectangle((0, 0), 1, 1, color=c, label=f"feature {i}") for i, c in enumerate(colors)
    ]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False, bbox_to_anchor=(1.06, 0.5))
    fig.suptitle(
        "Ten features in five ReLU neurons (importance 0.75^i, yellow = most important): dense features are "
        "monosemantic;\nsparser features share neurons (polysemantic: a second feature above half the neuron's "
        "largest weight)",
        fontsize=9.5,
        y=1.12,
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="privileged",
    description="E10: superposition in a privileged basis (ReLU hidden layer), neuron stack plots",
    sweeps=sweeps,
    plot=plot,
)

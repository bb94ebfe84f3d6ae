"""E2, basic results: linear vs ReLU output models, n=20 features in m=5 dimensions.

Elhage et al. 2022, "Demonstrating Superposition"; checks 5-7 of
docs/checks.md. Importance 0.7**i, densities 1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001,
one seed each, the notebook's recipe.
"""

from __future__ import annotations

from pathlib import Path

from superpose import plotting
from superpose.experiment import Experiment, Manifest
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, ToyGroup

DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)
MODELS = {"linear": "linear", "relu_output": "ReLU output"}


def sweeps(quick: bool) -> list[Sweep]:
    base = ToyConfig(n_features=20, n_hidden=5, importance_decay=0.7, steps=10_000)
    del quick  # 14 small models: the full sweep is already quick, and checks 5-7 need all its densities
    return [Sweep(name="basic", base=base, axes={"model": tuple(MODELS), "feature_probability": DENSITIES})]


def load_runs(manifest: Manifest) -> dict[str, ToyGroup]:
    return {m: manifest.group("basic", f"model={m}") for m in MODELS}


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    runs = load_runs(manifest)
    n = len(runs["relu_output"].arrays["W"])
    fig, axes = plotting.figure(4, n, figsize=(1.45 * n + 1.0, 8.2), squeeze=False)
    for row, (model, name) in enumerate(MODELS.items()):
        run = runs[model]
        for col in range(n):
            W, b = run.arrays["W"][col], run.arrays["b"][col]
            im = plotting.draw_gram_and_bias(axes[2 * row, col], W, b)
            axes[2 * row, col].set_title(f"1−S = {run.arrays['feature_probability'][col, 0]:g}", fontsize=8)
            bars = plotting.draw_feature_bars(axes[2 * row + 1, col], W, n_hidden=W.shape[1])
            axes[2 * row + 1, col].set_xlabel("‖W_i‖", fontsize=8)
        axes[2 * row, 0].set_ylabel(f"{name}\nWᵀW | b", fontsize=9, fontweight="bold")
        axes[2 * row + 1, 0].set_ylabel("features\n(importance ↓)", fontsize=8)
    fig.subplots_adjust(hspace=0.5, wspace=0.12, right=0.9)
    fig.colorbar(im, cax=fig.add_axes([0.92, 0.56, 0.012, 0.25])).set_label("WᵀW entry / bias")
    fig.colorbar(bars, cax=fig.add_axes([0.92, 0.14, 0.012, 0.25])).set_label(
        "superposition of feature i\n(norm of its interference with the others)"
    )
    fig.suptitle(
        "20 features (importance 0.7^i) in 5 dimensions. The linear model keeps the top 5 at every sparsity; "
        "the ReLU model\nputs more features in superposition as sparsity grows (dashed line: 5 = number of dimensions)",
        fontsize=9.5,
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="basic",
    description="E2: linear vs ReLU output, 20 features in 5 dimensions across sparsity (WᵀW, b, norms)",
    sweeps=sweeps,
    plot=plot,
)

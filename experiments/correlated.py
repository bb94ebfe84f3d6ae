"""E7: correlated and anticorrelated features in two dimensions.

Elhage et al. 2022, "Correlated and anticorrelated features"; REFERENCE.md E7 and
check 17; densities as ARENA uses them. Correlated features (on and off together)
are placed orthogonally; anticorrelated features (never on together) are placed
antipodally; with three correlated pairs, features of a pair sit side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import plotting
from superpose.experiment import Experiment, Manifest
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances

SETUPS = {
    "correlated_pairs": ("2 correlated pairs", 4, "correlated", 400.0),
    "anticorrelated_pairs": ("2 anticorrelated pairs", 4, "anticorrelated", 10.0),
    "correlated_three_pairs": ("3 correlated pairs", 6, "correlated", 100.0),
}
PAIR_COLORS = ("tab:blue", "#9ecae1", "tab:red", "#fcae91", "tab:green", "#a1d99b")


def densities(base: float) -> tuple[float, ...]:
    return tuple(float(p) for p in base ** -np.linspace(0.5, 1, 5))


def sweeps(quick: bool) -> list[Sweep]:
    return [
        Sweep(
            name=name,
            base=ToyConfig(n_features=n, n_hidden=2, data=kind, set_size=2, steps=10_000),
            axes={"feature_probability": densities(base)},
            best_of=3 if quick else 5,
        )
        for name, (_, n, kind, base) in SETUPS.items()
    ]


def best_W(manifest: Manifest, name: str) -> tuple[np.ndarray, np.ndarray]:
    run = manifest.group(name, "all")
    best = best_instances(run)
    return run.arrays["W"][best], run.arrays["feature_probability"][best, 0]


def pair_cosines(W_IxFxH: np.ndarray) -> np.ndarray:
    """Cosine between the two members of each pair, (instances, pairs)."""
    unit = W_IxFxH / np.maximum(np.linalg.norm(W_IxFxH, axis=-1, keepdims=True), 1e-9)
    return np.sum(unit[:, 0::2] * unit[:, 1::2], axis=-1)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    fig, axes = plotting.figure(len(SETUPS), 5, figsize=(8.5, 5.6), squeeze=False)
    for row, (name, (title, n, _, _)) in enumerate(SETUPS.items()):
        W, p = best_W(manifest, name)
        for col in range(W.shape[0]):
            plotting.draw_directions(axes[row, col], W[col], colors=PAIR_COLORS[:n])
            axes[row, col].set_title(f"1−S = {p[col]:.2g}", fontsize=8)
        axes[row, 0].set_ylabel(title, fontsize=9)
    fig.suptitle(
        "Correlated and anticorrelated features in 2 dimensions (pair members share a hue).\nCorrelated pairs "
        "become orthogonal; anticorrelated pairs antipodal; three correlated pairs sit side by side",
        fontsize=9.5,
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="correlated",
    description="E7: correlated and anticorrelated feature pairs in 2 dimensions",
    sweeps=sweeps,
    plot=plot,
)

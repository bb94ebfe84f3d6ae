"""E4/E5: uniform superposition and feature geometry (n=200 features, m=20 dimensions).

Elhage et al. 2022, "The Geometry of Superposition"; REFERENCE.md section 3
E4, E5 and checks 10, 11. Uniform importance, densities 20**-linspace(0, 1, 20),
the notebook's recipe.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose import plotting
from superpose.experiment import Experiment, Manifest
from superpose.toy import metrics
from superpose.toy.config import ToyConfig
from superpose.toy.data import density_sweep
from superpose.toy.sweep import Sweep

STICKY = {
    1.0: "dedicated",
    3 / 4: "tetrahedron",
    2 / 3: "triangle",
    1 / 2: "digon (antipodal pair)",
    2 / 5: "pentagon",
    3 / 8: "square antiprism",
}
STICKY_TOL = 0.02


def sweeps(quick: bool) -> list[Sweep]:
    base = ToyConfig(n_features=200 if not quick else 100, n_hidden=20 if not quick else 10, steps=10_000)
    densities = density_sweep(20)
    if quick:
        densities = densities[::3]
    return [Sweep(name="geometry", base=base, axes={"feature_probability": tuple(float(p) for p in densities)})]


def sticky_counts(W_FxH: np.ndarray) -> dict[float, int]:
    """Features with ||W_i|| > 0.5 whose dimensionality is within 0.02 of each sticky value."""
    D = np.asarray(metrics.feature_dimensionality(W_FxH))[np.asarray(metrics.feature_norms(W_FxH)) > 0.5]
    return {v: int(np.sum(np.abs(D - v) <= STICKY_TOL)) for v in STICKY}


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("geometry", "all")
    W = run.arrays["W"]
    inv_density = 1 / run.arrays["feature_probability"][:, 0]
    n_hidden = W.shape[-1]
    fig, (ax_star, ax_scatter, ax_counts) = plotting.figure(
        1, 3, figsize=(15, 4.4), gridspec_kw={"width_ratios": [1, 1.4, 1]}
    )
    ax_star.plot(inv_density, metrics.dimensions_per_feature(W), "o-", color="k", ms=3)
    for v in (1, 1 / 2):
        ax_star.axhline(v, color="0.7", lw=0.8, ls="--")
    ax_star.set(xscale="log", xlabel="1 / (1 − S)", ylabel="dimensions per feature  m / ‖W‖²_F",
                title="dimensions per feature: sticky at 1 and 1/2")

    rng = np.random.default_rng(0)
    for x, W_i in zip(inv_density, W):
        D = np.asarray(metrics.feature_dimensionality(W_i))
        keep = np.asarray(metrics.feature_norms(W_i)) > 0.1
        jitter = x * np.exp(rng.normal(0, 0.03, keep.sum()))
        ax_scatter.scatter(jitter, D[keep], s=4, alpha=0.35, color="tab:blue", lw=0)
    ax_scatter.plot(inv_density, metrics.dimensions_per_feature(W), color="k", lw=1)
    for v, name in STICKY.items():
        ax_scatter.axhline(v, color="tab:purple", lw=0.6, ls=":")
        va = {0.4: "bottom", 0.375: "top"}.get(v, "center")
        ax_scatter.annotate(f"{name} {_frac(v)}", (inv_density.max() * 1.08, v), fontsize=7, va=va,
                            annotation_clip=False)
    ax_scatter.set(xscale="log", ylim=(0, 1.05), xlabel="1 / (1 − S)", ylabel="feature dimensionality D_i",
                   title="per-feature dimensionality (features with ‖W_i‖ > 0.1)")

    counts = np.array([[sticky_counts(W_i)[v] for v in STICKY] for W_i in W])
    bottom = np.zeros(len(W))
    colors = plotting.feature_colors(len(STICKY))
    for k, (v, name) in enumerate(STICKY.items()):
        ax_counts.bar(np.arange(len(W)), counts[:, k], bottom=bottom, color=colors[k], label=f"{name} ({_frac(v)})")
        bottom += counts[:, k]
    ticks = np.arange(0, len(W), max(1, len(W) // 6))
    ax_counts.set_xticks(ticks, [f"{x:.3g}" for x in inv_density[ticks]])
    ax_counts.set(xlabel="1 / (1 − S)", ylabel="number of features",
                  title=f"polytopes found (D_i within {STICKY_TOL} of a sticky value)")
    ax_counts.set_ylim(0, max(1, counts.sum(axis=1).max()) * 1.6)  # room for the legend
    ax_counts.legend(fontsize=7, frameon=False, loc="upper right")
    fig.suptitle(f"{W.shape[1]} features of equal importance in {n_hidden} dimensions: features organise into "
                 "polytopes whose dimensionalities sum to the number of dimensions", fontsize=10, y=1.02)
    fig.subplots_adjust(wspace=0.62)
    return plotting.save(fig, figure_path)


def _frac(v: float) -> str:
    return {1.0: "1", 0.75: "3/4", 2 / 3: "2/3", 0.5: "1/2", 0.4: "2/5", 0.375: "3/8"}[v]


EXPERIMENT = Experiment(
    name="geometry",
    description="E4/E5: uniform superposition, dimensions per feature and polytopes (200 features in 20 dims)",
    sweeps=sweeps,
    plot=plot,
)

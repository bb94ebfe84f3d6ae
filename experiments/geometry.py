"""E4/E5: uniform superposition and feature geometry (n=200 features, m=20 dimensions).

Elhage et al. 2022, "The Geometry of Superposition"; checks 10 and 11
of docs/checks.md. Uniform importance, densities 20**-linspace(0, 1, 20),
the notebook's recipe.

Feature geometry graphs (E5): nodes are the represented features (‖W_i‖ > 0.5), edges join features
whose directions overlap, |cos(W_i, W_j)| > 0.2. Polytopes that form a tegum product are orthogonal to
each other, so each connected component is one polytope, named by its size and the dimensions it spans
(the sum of its members' D_i): 2 in 1 a digon, 3 in 2 a triangle, 4 in 3 a tetrahedron, 5 in 2 a
pentagon, 8 in 3 a square antiprism. The paper's non-uniform solutions are such products: a
triangular bipyramid is a triangle and a digon in orthogonal subspaces, which is why the scatter shows
its features on the 2/3 and 1/2 lines rather than at 3/5 ("split lines").
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from experiments._references import NB, P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge, not_judged, value_range
from superpose.data.sparse_features import density_sweep
from superpose.measures import configuration
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
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
EDGE_COS = configuration.EDGE_COS
POLYTOPES = {(2, 1): "digon", (3, 2): "triangle", (4, 3): "tetrahedron", (5, 2): "pentagon",
             (8, 3): "square antiprism"}
"""(features, dimensions spanned) -> polytope."""
TANGLE = 9
"""Components of at least this many features are drawn as one tangle (no clean polytope)."""


def sweeps(quick: bool) -> list[Sweep]:
    base = ToyConfig(n_features=200 if not quick else 100, n_hidden=20 if not quick else 10, steps=10_000)
    densities = density_sweep(20)
    if quick:
        densities = densities[::3]
    return [
        Sweep(name="geometry", base=base, axes={"feature_probability": tuple(float(p) for p in densities)})
    ]


def sticky_counts(W_FxH: np.ndarray) -> dict[float, int]:
    """Features with ||W_i|| > 0.5 whose dimensionality is within 0.02 of each sticky value."""
    D = np.asarray(metrics.feature_dimensionality(W_FxH))[np.asarray(metrics.feature_norms(W_FxH)) > 0.5]
    return {v: int(np.sum(np.abs(D - v) <= STICKY_TOL)) for v in STICKY}


def components(W_FxH: np.ndarray) -> list[np.ndarray]:
    """The connected components of the feature geometry graph (represented features joined where
    |cos| > EDGE_COS), largest first, as arrays of feature indices (superpose.measures.configuration)."""
    return configuration.components(W_FxH)


def polytope(W_FxH: np.ndarray, members: np.ndarray) -> str:
    """The name of the component `members`: a polytope, a lone feature, a tangle or "k in d dims"."""
    D = np.asarray(metrics.feature_dimensionality(W_FxH))
    dims = int(np.round(D[members].sum()))
    if len(members) == 1:
        return "dedicated" if D[members[0]] > 0.9 else "lone feature"
    if len(members) >= TANGLE:
        return "tangle (no clean polytope)"
    return POLYTOPES.get((len(members), dims), f"{len(members)} in {dims} dims")


def polytope_counts(W_FxH: np.ndarray) -> Counter:
    return Counter(polytope(W_FxH, c) for c in components(W_FxH))


def draw_graph(ax, W_FxH: np.ndarray, title: str) -> None:
    """Each component on its own small circle, edges as wide as |cos|, nodes coloured by D_i."""
    D = np.asarray(metrics.feature_dimensionality(W_FxH))
    unit = W_FxH / np.maximum(np.linalg.norm(W_FxH, axis=1, keepdims=True), 1e-6)
    parts = components(W_FxH)
    columns = max(1, int(np.ceil(np.sqrt(len(parts)))))
    for k, members in enumerate(parts):
        centre = np.array([k % columns, -(k // columns)], float) * 2.6
        radius = 1.0 if len(members) < TANGLE else 1.0 * columns / 2
        if len(members) >= TANGLE:  # the tangle gets the whole panel, the rest (if any) sit on its right
            centre = np.array([-1.3 * columns - 1.5, -(columns - 1) * 1.3])
        angle = 2 * np.pi * np.arange(len(members)) / len(members)
        xy = centre + radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        cos = np.abs(unit[members] @ unit[members].T)
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                if cos[a, b] > EDGE_COS:
                    ax.plot(*xy[[a, b]].T, color="0.3", lw=2.5 * cos[a, b], alpha=0.7, zorder=1)
        ax.scatter(
            *xy.T,
            c=D[members],
            cmap="viridis",
            vmin=0,
            vmax=1,
            s=28 if len(members) < TANGLE else 6,
            zorder=2,
            edgecolors="k",
            linewidths=0.3,
        )
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=8)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("geometry", "all")
    W = run.arrays["W"]
    inv_density = 1 / run.arrays["feature_probability"][:, 0]
    n_hidden = W.shape[-1]
    fig = plotting.figure(figsize=(15, 8.6))[0]
    fig.clf()
    grid = fig.add_gridspec(2, 1, height_ratios=[1, 1], hspace=0.3)
    top = grid[0].subgridspec(1, 3, width_ratios=[1, 1.4, 1], wspace=0.62)
    ax_star, ax_scatter, ax_counts = (fig.add_subplot(top[k]) for k in range(3))
    ax_star.plot(inv_density, metrics.dimensions_per_feature(W), "o-", color="k", ms=3)
    for v in (1, 1 / 2):
        ax_star.axhline(v, color="0.7", lw=0.8, ls="--")
    ax_star.set(
        xscale="log",
        xlabel="1 / (1 − S)",
        ylabel="dimensions per feature  m / ‖W‖²_F",
        title="dimensions per feature: sticky at 1 and 1/2",
    )

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
        ax_scatter.annotate(
            f"{name} {_frac(v)}", (inv_density.max() * 1.08, v), fontsize=7, va=va, annotation_clip=False
        )
    ax_scatter.set(
        xscale="log",
        ylim=(0, 1.05),
        xlabel="1 / (1 − S)",
        ylabel="feature dimensionality D_i",
        title="per-feature dimensionality (features with ‖W_i‖ > 0.1)",
    )

    found, members = [], []
    for W_i in W:
        parts = [(polytope(W_i, c), len(c)) for c in components(W_i)]
        found.append(Counter(name for name, _ in parts))
        members.append(Counter())
        for name, size in parts:
            members[-1][name] += size
    kinds = [
        k
        for k in ("dedicated", *POLYTOPES.values(), "tangle (no clean polytope)")
        if any(k in f for f in found)
    ]
    kinds += sorted({k for f in found for k in f} - set(kinds))
    bottom = np.zeros(len(W))
    colors = plotting.plt.cm.tab10(np.arange(len(kinds)) % 10)
    for k, name in enumerate(kinds):
        n_features = np.array([m[name] for m in members], float)
        ax_counts.bar(np.arange(len(W)), n_features, bottom=bottom, color=colors[k], label=name)
        bottom += n_features
    ticks = np.arange(0, len(W), max(1, len(W) // 6))
    ax_counts.set_xticks(ticks, [f"{x:.3g}" for x in inv_density[ticks]])
    ax_counts.set(
        xlabel="1 / (1 − S)",
        ylabel="features, by the polytope they form",
        title=f"polytopes found (components of the graph, |cos| > {EDGE_COS})",
    )
    ax_counts.set_ylim(0, max(1, bottom.max()) * 1.7)  # room for the legend
    ax_counts.legend(fontsize=7, frameon=False, loc="upper left")

    shown = []
    for name in ("triangle", "digon", "pentagon", "square antiprism", "tangle (no clean polytope)"):
        best = int(np.argmax([f[name] for f in found]))
        if found[best][name] and best not in shown:
            shown.append(best)
    shown = sorted(shown)[:4]
    bottom_row = grid[1].subgridspec(1, len(shown), wspace=0.1)
    for k, i in enumerate(shown):
        summary = ", ".join(f"{n} {_plural(name.split(' (')[0], n)}" for name, n in found[i].most_common(3))
        draw_graph(fig.add_subplot(bottom_row[k]), W[i], f"1/(1−S) = {inv_density[i]:.3g}\n{summary}")
    fig.text(
        0.5,
        0.05,
        "feature geometry graphs: nodes are features coloured by D_i (yellow 1, purple 0), "
        f"edges join |cos| > {EDGE_COS}, as wide as |cos|; each component is one polytope",
        ha="center",
        fontsize=8.5,
    )
    fig.suptitle(
        f"{W.shape[1]} features of equal importance in {n_hidden} dimensions: features organise into "
        "polytopes whose dimensionalities sum to the number of dimensions",
        fontsize=10,
        y=0.95,
    )
    return plotting.save(fig, figure_path)


def _plural(name: str, n: int) -> str:
    if n == 1:
        return name
    return name.replace("lone feature", "lone features") if "lone" in name else f"{name}s"


def _frac(v: float) -> str:
    return {1.0: "1", 0.75: "3/4", 2 / 3: "2/3", 0.5: "1/2", 0.4: "2/5", 0.375: "3/8"}[v]


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def uniform_superposition(W_NxFxH, densities, *, full_size: bool) -> list[Rule]:
    """Check 10: D* = m/‖W‖²_F is 1 dense and sticks at 1/2 (200 features in 20 dimensions at full size)."""
    inv = 1 / np.asarray(densities)
    d_star = np.asarray(metrics.dimensions_per_feature(W_NxFxH))
    plateau = np.flatnonzero((inv >= 2.2) & (inv <= 3.5))
    at_half = []
    for i in plateau:
        W = W_NxFxH[i]
        D = np.asarray(metrics.feature_dimensionality(W))[np.asarray(metrics.feature_norms(W)) > 0.5]
        at_half.append(np.mean(np.abs(D - 0.5) <= 0.02))
    rules = [
        judge(
            "dense: D* = 1.00 ± 0.03",
            f"{d_star[np.argmin(inv)]:.3f}",
            abs(d_star[np.argmin(inv)] - 1) <= 0.03,
        ),
        judge(
            "1/(1 − S) ∈ [2.2, 3.5]: D* = 0.50 ± 0.03",
            value_range(d_star[plateau]),
            plateau.size and np.all(np.abs(d_star[plateau] - 0.5) <= 0.03),
        ),
        judge(
            "1/(1 − S) ∈ [2.2, 3.5]: ≥ 95% of represented features at |D_i − 1/2| ≤ 0.02",
            value_range(at_half),
            plateau.size and np.all(np.asarray(at_half) >= 0.95),
        ),
        judge(
            "D* ≤ 0.45 from 1/(1 − S) = 4.8",
            f"max {d_star[inv >= 4.8].max():.3f}",
            np.all(d_star[inv >= 4.8] <= 0.45),
        ),
    ]
    last = "D* ≤ 0.2 at 1/(1 − S) = 20"
    rules.append(
        judge(last, f"{d_star[np.argmax(inv)]:.3f}", d_star[np.argmax(inv)] <= 0.2)
        if full_size
        else not_judged(last, f"quick grid ends at 1/(1 − S) = {inv.max():.3g}")
    )
    return rules


def fractional_dimensionalities(W_NxFxH, densities, *, full_size: bool) -> list[Rule]:
    """Check 11: beyond the plateau, pentagons (2/5) and square antiprisms (3/8); Σ D_i = m."""

    inv = 1 / np.asarray(densities)
    m = W_NxFxH.shape[-1]
    sums = np.asarray([float(np.sum(metrics.feature_dimensionality(W))) for W in W_NxFxH])
    window = np.flatnonzero((inv >= 4) & (inv <= 6))
    counts = [sticky_counts(W_NxFxH[i]) for i in window]
    found = [(c[2 / 5], c[3 / 8]) for c in counts]
    rule = "some 1/(1 − S) ∈ [4, 6] has ≥ 5 features within 0.02 of 2/5 and ≥ 5 of 3/8"
    measured = (
        "; ".join(f"{inv[i]:.3g}: {a} and {b}" for i, (a, b) in zip(window, found)) or "no density there"
    )
    return [
        judge(rule, measured, any(a >= 5 and b >= 5 for a, b in found))
        if full_size
        else not_judged(rule, f"full size only (200 in 20); quick: {measured}"),
        judge(
            f"Σ_i D_i = m = {m} ± 0.1 at every density",
            f"worst {np.abs(sums - m).max():.3f} off",
            np.all(np.abs(sums - m) <= 0.1),
        ),
    ]


def geometry_runs(manifests):
    run = manifests["geometry"].group("geometry", "all")
    return run.arrays["W"], run.arrays["feature_probability"][:, 0]


CHECKS = (
    Check(
        "10",
        "uniform superposition sticks at 1/2 dimension per feature",
        f"{P} Geometry of Superposition; {NB}",
        ("geometry",),
        lambda m, q: uniform_superposition(*geometry_runs(m), full_size=not q),
    ),
    Check(
        "11",
        "fractional dimensionalities; dimensions are conserved",
        f"{P} Geometry of Superposition",
        ("geometry",),
        lambda m, q: fractional_dimensionalities(*geometry_runs(m), full_size=not q),
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="geometry",
    description="E4/E5: uniform superposition, dimensions per feature and polytopes "
                "(200 features in 20 dims)",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
)

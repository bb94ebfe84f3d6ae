"""E7: correlated and anticorrelated features in two dimensions.

Elhage et al. 2022, "Correlated and anticorrelated features"; check 17 of
docs/checks.md; densities as ARENA uses them. Correlated features (on and off together)
are placed orthogonally; anticorrelated features (never on together) are placed
antipodally; with three correlated pairs, features of a pair sit side by side.

Two more panels of the paper's section: two sets of 10 correlated features in 10 dimensions (density
0.02; the paper gives none), whose WᵀW shows a local orthogonal basis within each set and superposition
only across sets; and the collapse of correlated pairs into their principal component as density rises
(3 correlated pairs in 2 dimensions, 11 densities from 0.01 to 1, best of 5 seeds on an evaluation set).
A pair counts as collapsed when both members are represented (‖W_i‖ > 0.5) along one direction
(cosine > 0.95). The paper's ranges: no collapse for 1 − S ≲ 0.05, one set 0.05–0.15, two sets
0.15–0.2, all three 0.25–0.5, most PCA-like above 0.5.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._references import P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge, value_set
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances

SETUPS = {
    "correlated_pairs": ("2 correlated pairs", 4, "correlated", 400.0),
    "anticorrelated_pairs": ("2 anticorrelated pairs", 4, "anticorrelated", 10.0),
    "correlated_three_pairs": ("3 correlated pairs", 6, "correlated", 100.0),
}
PAIR_COLORS = ("tab:blue", "#9ecae1", "tab:red", "#fcae91", "tab:green", "#a1d99b")
TENS_DENSITY = 0.02
COLLAPSED_COS = 0.95
PAPER_COLLAPSE = ((0.0, 0.05, 0), (0.05, 0.15, 1), (0.15, 0.2, 2), (0.25, 0.5, 3))
"""The paper's (low, high, sets collapsed) density ranges for 3 correlated pairs."""


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
    ] + [
        Sweep(
            name="correlated_two_tens",
            base=ToyConfig(n_features=20, n_hidden=10, data="correlated", set_size=10, steps=10_000,
                           feature_probability=TENS_DENSITY),
            best_of=2 if quick else 3,
        ),
        Sweep(
            name="correlated_collapse",
            base=ToyConfig(n_features=6, n_hidden=2, data="correlated", set_size=2, steps=10_000),
            axes={"feature_probability": collapse_densities(quick)},
            best_of=3 if quick else 5,
        ),
    ]


def collapse_densities(quick: bool) -> tuple[float, ...]:
    return tuple(float(p) for p in np.round(np.logspace(-2, 0, 6 if quick else 11), 4))


def collapsed_pairs(W_FxH: np.ndarray) -> int:
    """Correlated pairs (features 2k, 2k+1) whose members are both represented along one direction."""
    norms = np.linalg.norm(W_FxH, axis=-1)
    both = (norms[0::2] > 0.5) & (norms[1::2] > 0.5)
    return int(np.sum(both & (pair_cosines(W_FxH[None])[0] > COLLAPSED_COS)))


def collapse(manifest: Manifest) -> dict[str, np.ndarray]:
    """Per density of the collapse sweep: collapsed pairs of the best seed (evaluation loss) and of every
    seed."""
    run = manifest.group("correlated_collapse", "all")
    loss = np.asarray([run.evaluation_loss(i) for i in range(len(run.arrays["W"]))])
    point = run.arrays["point"]
    counts = np.asarray([collapsed_pairs(W) for W in run.arrays["W"]])
    points = np.unique(point)
    best = [np.flatnonzero(point == q)[np.argmin(loss[point == q])] for q in points]
    return {
        "density": run.arrays["feature_probability"][best, 0],
        "best": counts[best],
        "all": np.stack([counts[point == q] for q in points]),
    }


def paper_collapse(density: float) -> int | None:
    """Sets collapsed at `density` by the paper's ranges; None between them or above 0.5."""
    return next((n for low, high, n in PAPER_COLLAPSE if low < density <= high), None)


def two_tens_gram(manifest: Manifest) -> np.ndarray:
    run = manifest.group("correlated_two_tens", "all")
    W = run.arrays["W"][int(np.argmin(run.summary["final_loss"]))]
    return W @ W.T


def block_overlaps(gram: np.ndarray, set_size: int = 10) -> tuple[float, float]:
    """Mean |WᵢᵀWⱼ| over pairs within a set and over pairs across sets."""
    sets = np.arange(len(gram)) // set_size
    same = (sets[:, None] == sets[None, :]) & ~np.eye(len(gram), dtype=bool)
    across = sets[:, None] != sets[None, :]
    return float(np.abs(gram[same]).mean()), float(np.abs(gram[across]).mean())


def best_weights(manifest: Manifest, name: str) -> tuple[np.ndarray, np.ndarray]:
    run = manifest.group(name, "all")
    best = best_instances(run)
    return run.arrays["W"][best], run.arrays["feature_probability"][best, 0]


def pair_cosines(W_IxFxH: np.ndarray) -> np.ndarray:
    """Cosine between the two members of each pair, (instances, pairs)."""
    unit = W_IxFxH / np.maximum(np.linalg.norm(W_IxFxH, axis=-1, keepdims=True), 1e-9)
    return np.sum(unit[:, 0::2] * unit[:, 1::2], axis=-1)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    fig = plotting.figure(figsize=(10, 9.6))[0]
    fig.clf()
    grid = fig.add_gridspec(2, 1, height_ratios=[3, 1.7], hspace=0.25)
    top = grid[0].subgridspec(len(SETUPS), 5, hspace=0.35)
    for row, (name, (title, n, _, _)) in enumerate(SETUPS.items()):
        W, p = best_weights(manifest, name)
        for col in range(W.shape[0]):
            ax = fig.add_subplot(top[row, col])
            plotting.draw_directions(ax, W[col], colors=PAIR_COLORS[:n])
            ax.set_title(f"1−S = {p[col]:.2g}", fontsize=8)
            if col == 0:
                ax.set_ylabel(title, fontsize=9)
    bottom = grid[1].subgridspec(1, 2, width_ratios=[1, 1.6], wspace=0.35)
    ax = fig.add_subplot(bottom[0])
    gram = two_tens_gram(manifest)
    limit = np.abs(gram).max()
    image = ax.imshow(gram, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, fraction=0.046, label="WᵢᵀWⱼ")
    ax.axhline(9.5, color="k", lw=0.6)
    ax.axvline(9.5, color="k", lw=0.6)
    within, across = block_overlaps(gram)
    ax.set(
        xticks=[4.5, 14.5], yticks=[4.5, 14.5], xticklabels=["set 1", "set 2"], yticklabels=["set 1", "set 2"]
    )
    ax.set_title(
        f"2 sets of 10 correlated features in 10 dims (1−S = {TENS_DENSITY}):\nmean |WᵢᵀWⱼ| "
        f"within sets {within:.3f}, across {across:.3f}",
        fontsize=8,
    )
    ax = fig.add_subplot(bottom[1])
    c = collapse(manifest)
    for low, high, n in PAPER_COLLAPSE:
        ax.plot(
            [max(low, c["density"].min() / 1.5), high],
            [n, n],
            color="0.6",
            lw=5,
            alpha=0.6,
            solid_capstyle="butt",
            label="the paper's ranges" if n == 0 else None,
        )
    jitter = np.linspace(-0.12, 0.12, c["all"].shape[1])
    for k, d in enumerate(c["density"]):
        ax.scatter(
            np.full(c["all"].shape[1], d),
            c["all"][k] + jitter,
            s=8,
            color="tab:blue",
            alpha=0.35,
            label="each seed" if k == 0 else None,
        )
    ax.plot(c["density"], c["best"], "o-", color="tab:red", label="best seed (evaluation loss)")
    ax.set(
        xscale="log",
        xlabel="density 1 − S",
        ylabel="pairs collapsed",
        yticks=[0, 1, 2, 3],
        title="3 correlated pairs in 2 dims: denser, pairs collapse into one direction",
    )
    ax.title.set_fontsize(8.5)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    fig.suptitle(
        "Correlated and anticorrelated features (pair members share a hue). Correlated pairs become "
        "orthogonal; "
        "anticorrelated pairs antipodal;\nthree correlated pairs sit side by side; sets of correlated "
        "features "
        "get a local orthogonal basis; denser, correlated pairs collapse",
        fontsize=9.5,
        y=0.95,
    )
    return plotting.save(fig, figure_path)


def report(manifest: Manifest) -> str:
    within, across = block_overlaps(two_tens_gram(manifest))
    lines = [
        f"2 sets of 10 in 10 dimensions: mean |WᵢᵀWⱼ| within sets {within:.3f}, across sets {across:.3f}",
        f"{'1 − S':>7} {'collapsed (best)':>17} {'each seed':>16} {'the paper':>10}",
    ]
    c = collapse(manifest)
    for d, best, every in zip(c["density"], c["best"], c["all"]):
        paper = paper_collapse(float(d))
        lines.append(
            f"{d:>7.3g} {best:>17d} {' '.join(map(str, every)):>16} {'—' if paper is None else paper:>10}"
        )
    return "\n".join(lines)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def correlated_pairs(cos_correlated, p_correlated, cos_anti, p_anti) -> list[Rule]:
    c, a = np.abs(np.asarray(cos_correlated)), np.asarray(cos_anti)
    return [
        judge(
            f"2 correlated pairs at 1 − S ∈ {value_set(np.round(p_correlated, 4))}: |cos| ≤ 0.1 within each "
            "pair",
            f"max {c.max():.3f}",
            np.all(np.asarray(p_correlated) <= 0.05 + 1e-9) and np.all(c <= 0.1),
        ),
        judge(
            f"2 anticorrelated pairs at 1 − S ∈ {value_set(np.round(p_anti, 4))}: cos ≤ −0.95 within each "
            "pair",
            f"max {a.max():.3f}",
            np.all(a <= -0.95),
        ),
    ]


def _check17(manifests, quick):

    m = manifests["correlated"]
    W, p = best_weights(m, "correlated_pairs")
    W_anti, p_anti = best_weights(m, "anticorrelated_pairs")
    return correlated_pairs(pair_cosines(W), p, pair_cosines(W_anti), p_anti)


CHECKS = (
    Check(
        "17",
        "correlated pairs orthogonal, anticorrelated antipodal",
        f"{P} Correlated and Anticorrelated Features",
        ("correlated",),
        _check17,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="correlated",
    description="E7: correlated and anticorrelated features: pairs, sets of 10, collapse into principal "
                "components",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

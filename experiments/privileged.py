"""E10: superposition in a privileged basis: the ReLU hidden layer model.

Elhage et al. 2022, "Superposition in a Privileged Basis". Ten features of importance 0.75^i, five
ReLU neurons, tied weights, x' = ReLU(Wᵀ ReLU(Wx) + b). Like the paper, each density trains 1000
seeds (8 at quick size), all in one program, and shows the one with the lowest loss, here on one
fixed evaluation set of 2^15 inputs (the last training chunk's loss is too noisy to rank 1000 models).

The paper lists regimes by density 1 − S: all monosemantic above about 0.5; three features in two
neurons at 0.2–0.5; five features in three neurons at 0.15; six in four (plus a monosemantic neuron)
at 0.12; eight in five at 0.05–0.08; below 0.04 each feature a pair of neurons. A model's structure
here is the connected components of its feature–neuron graph, where feature i (‖W_i‖ > 0.5) uses
neuron j when its weight W_ij is positive and exceeds half of neuron j's largest positive weight: "k features
in j neurons". A ReLU neuron is driven by a feature only through a positive weight; a negative one inhibits it
(the paper's stack plots draw negative weights below the axis). superpose 0.1 counted |W_ij| against the
largest |W|, which counts the many small inhibitory weights of the sparse regimes too: at densities 0.03 and
0.01 that rule reads the exact loss's optimum, two positive neurons per feature, as 0.5 to 2.4 neurons. The
report keeps that count as a second, named measure (`rule="magnitude"`).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
from scipy.sparse import csgraph

from experiments._references import P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep
from superpose.train import rng

DENSITIES = (0.75, 0.35, 0.2, 0.15, 0.12, 0.08, 0.05, 0.03, 0.01)
QUICK_DENSITIES = (0.75, 0.35, 0.12, 0.03)
PAPER_REGIMES = {
    0.75: "all monosemantic",
    0.35: "3 features in 2 neurons",
    0.2: "3 features in 2 neurons",
    0.15: "5 features in 3 neurons",
    0.12: "6 features in 4 neurons",
    0.08: "8 features in 5 neurons",
    0.05: "8 features in 5 neurons",
    0.03: "each feature a pair of neurons",
    0.01: "each feature a pair of neurons",
}
EVAL_SAMPLES = 1 << 15


def seeds(quick: bool) -> int:
    return 8 if quick else 1000


def sweeps(quick: bool) -> list[Sweep]:
    return [
        Sweep(
            name="privileged",
            base=ToyConfig(
                model="relu_hidden", n_features=10, n_hidden=5, importance_decay=0.75, steps=10_000
            ),
            axes={"feature_probability": QUICK_DENSITIES if quick else DENSITIES},
            best_of=seeds(quick),
        )
    ]


RULES = ("positive", "magnitude")
"""How a feature is counted as using a neuron (module doc): by its positive weights (`positive`, the default:
a feature drives a ReLU neuron only through a positive weight; negative weights inhibit, and the paper's stack
plots draw them below the axis), or by |W| (`magnitude`, the rule of superpose 0.1, which counts inhibition
too)."""


def _relative(W_FxH: np.ndarray, rule: str) -> np.ndarray:
    """Each weight over its neuron's largest: positive weights over the largest positive one (`positive`; a
    negative weight scores below 0), or |W| over the largest |W| (`magnitude`)."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    weights = np.maximum(W_FxH, 0.0) if rule == "positive" else np.abs(W_FxH)
    return weights / np.maximum(weights.max(axis=0), 1e-9)


def features_per_neuron(W_FxH: np.ndarray, threshold: float = 0.5, rule: str = "positive") -> np.ndarray:
    """Features whose weight into each neuron is above `threshold` x the neuron's largest (`RULES`)."""
    return np.sum(_relative(W_FxH, rule) > threshold, axis=0)


def uses(W_FxH: np.ndarray, threshold: float = 0.5, rule: str = "positive") -> np.ndarray:
    """uses[i, j]: represented feature i has a weight into neuron j above `threshold` x the neuron's largest
    (`RULES`)."""
    represented = np.linalg.norm(W_FxH, axis=1) > metrics.REPRESENTED_NORM
    return (_relative(W_FxH, rule) > threshold) & represented[:, None]


def structure(W_FxH: np.ndarray, rule: str = "positive") -> tuple[tuple[int, int], ...]:
    """(features, neurons) of each connected component of the feature–neuron graph that has a neuron,
    largest first: ((3, 2), (1, 1), (1, 1), (1, 1)) is three features in two neurons beside three
    monosemantic neurons."""
    edges = uses(W_FxH, rule=rule)
    n_features, n_hidden = edges.shape
    graph = np.zeros((n_features + n_hidden,) * 2, bool)
    graph[:n_features, n_features:] = edges
    _, label = csgraph.connected_components(graph, directed=False)
    used = edges.any(axis=1)
    parts = [
        (int(np.sum(used & (label[:n_features] == c))), int(np.sum(label[n_features:] == c)))
        for c in np.unique(label[n_features:])
    ]
    return tuple(sorted(parts, key=lambda p: (-p[1], -p[0])))


def describe(parts: tuple[tuple[int, int], ...]) -> str:
    """ "3 features in 2 neurons + 3 monosemantic", "all monosemantic", ..."""
    mono = parts.count((1, 1))
    if mono == len(parts):
        return "all monosemantic"
    shared = [
        f"{f} feature{'s' if f != 1 else ''} in {n} neuron{'s' if n != 1 else ''}"
        for f, n in parts
        if (f, n) != (1, 1)
    ]
    return " + ".join(shared + ([f"{mono} monosemantic"] if mono else []))


def neurons_per_feature(W_FxH: np.ndarray, rule: str = "positive") -> float:
    """Mean number of neurons each represented feature uses (2 when every feature is a pair of neurons)."""
    edges = uses(W_FxH, rule=rule)
    used = edges.any(axis=1)
    return float(edges[used].sum(axis=1).mean()) if used.any() else 0.0


def evaluation_losses(run) -> np.ndarray:
    """Every instance's loss on one fixed evaluation set of its density (the same inputs for every seed)."""
    generator = rng.generator(0)
    u_active, u_value = generator.random((2, EVAL_SAMPLES, run.arrays["W"].shape[1]), dtype=np.float32)
    out = np.empty(len(run.arrays["W"]))
    for i, (W, b, p, imp) in enumerate(
        zip(run.arrays["W"], run.arrays["b"], run.arrays["feature_probability"], run.arrays["importance"])
    ):
        x = np.where(u_active < p, u_value, 0.0)
        out[i] = np.mean(imp * (x - np.maximum(np.maximum(x @ W, 0) @ W.T + b, 0)) ** 2)
    return out


def best_by_evaluation(run) -> np.ndarray:
    """Per density, in point order, the instance with the lowest evaluation loss."""
    loss, point = evaluation_losses(run), run.arrays["point"]
    return np.asarray([np.flatnonzero(point == q)[np.argmin(loss[point == q])] for q in np.unique(point)])


def regimes(run) -> list[dict]:
    """Per density: the paper's regime, the best model's structure, and how the seeds' structures split."""
    best = best_by_evaluation(run)
    point, W = run.arrays["point"], run.arrays["W"]
    out = []
    for q, i in zip(np.unique(point), best):
        counts = Counter(describe(structure(w)) for w in W[point == q])
        density = round(float(run.arrays["feature_probability"][i, 0]), 6)  # float32 0.35 -> 0.35
        found = describe(structure(W[i]))
        magnitude = describe(structure(W[i], rule="magnitude"))
        out.append(
            {
                "density": density,
                "instance": int(i),
                "paper": PAPER_REGIMES.get(density, "—"),
                "best": found,
                "parts": [list(part) for part in structure(W[i])],
                "neurons_per_feature": neurons_per_feature(W[i]),
                "best_magnitude": magnitude,
                "neurons_per_feature_magnitude": neurons_per_feature(W[i], rule="magnitude"),
                "seeds": int(np.sum(point == q)),
                "best_share": counts[found] / np.sum(point == q),
                "common": counts.most_common(3),
            }
        )
    return out


def report(manifest: Manifest) -> str:
    rows = regimes(manifest.group("privileged", "all"))
    lines = [
        f"{'1 − S':>6}  {'the paper':<32} {'best of ' + str(rows[0]['seeds']):<44} {'n/f':>4} "
        f"{'seeds alike':>11}  {'|W| rule: structure':<44} {'n/f':>4}"
    ]
    for r in rows:
        lines.append(
            f"{r['density']:>6g}  {r['paper']:<32} {r['best']:<44} {r['neurons_per_feature']:>4.2f} "
            f"{100 * r['best_share']:>10.1f}%  {r['best_magnitude']:<44} "
            f"{r['neurons_per_feature_magnitude']:>4.2f}"
        )
    lines.append(
        "structure and n/f (neurons per represented feature) of the best model, a feature using a neuron "
        "through a positive weight above half the neuron's largest; seeds alike: share of all seeds with the "
        "best model's structure; |W| rule: the same counted on |W| (superpose 0.1's rule, which counts "
        "inhibitory weights)"
    )
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    run = manifest.group("privileged", "all")
    rows = regimes(run)
    rules = regime_rules(rows)
    best = np.asarray([r["instance"] for r in rows])
    W_all, p = run.arrays["W"][best], run.arrays["feature_probability"][best, 0]
    n_features, n_hidden = W_all.shape[1:]
    colors = plotting.feature_colors(n_features)
    fig, axes = plotting.figure(
        1, len(best), figsize=(max(2.1 * len(best), 13), 4.0), sharey=True, squeeze=False
    )
    for ax, W, density, row in zip(axes[0], W_all, p, rows):
        for neuron in range(n_hidden):
            up = down = 0.0
            for f in range(n_features):
                w = W[f, neuron]
                ax.bar(neuron, w, bottom=up if w > 0 else down, color=colors[f], width=0.75)
                up, down = (up + w, down) if w > 0 else (up, down + w)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(n_hidden))
        ax.set_xlabel("neuron")
        found = textwrap.fill(row["best"], 24)
        paper = textwrap.fill(f"paper: {row['paper']}", 24)
        ax.set_title(
            f"1−S = {density:g}\n{found}\n({100 * row['best_share']:.0f}% of seeds alike)", fontsize=7.5
        )
        ax.text(0.5, -0.22, paper, transform=ax.transAxes, ha="center", va="top", fontsize=7, color="0.35")
    axes[0, 0].set_ylabel("weights into each neuron, stacked by feature")
    handles = [
        plotting.plt.Rectangle((0, 0), 1, 1, color=c, label=f"feature {i}") for i, c in enumerate(colors)
    ]
    fig.legend(handles=handles, loc="center right", fontsize=7, frameon=False, bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(
        f"Ten features in five ReLU neurons (importance 0.75^i, yellow = most important), the best of "
        f"{rows[0]['seeds']} seeds per density on one evaluation set: dense features are monosemantic;\n"
        "sparser ones share neurons. Above each model its structure (k features sharing j neurons: a feature "
        "uses a neuron where its positive weight exceeds half the neuron's largest); below, the paper's "
        f"regime: {sum(bool(r.passed) for r in rules)} of {len(rules)} densities hold it",
        fontsize=9.5,
        y=1.02,
    )
    fig.subplots_adjust(top=0.72, bottom=0.2, right=0.94)
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def regime_rules(rows: list[dict]) -> list[Rule]:
    """Check 19: at each density the paper lists, the best model's structure holds the paper's regime: all
    monosemantic; "k features in j neurons" as one component of its feature–neuron graph; "each feature a pair
    of neurons" as every represented feature using 2 neurons (1.9 to 2.1 on average)."""
    rules = []
    for r in rows:
        paper = r["paper"]
        if paper == "—":
            continue
        if paper == "all monosemantic":
            held = r["best"] == paper
        elif paper == "each feature a pair of neurons":
            held = 1.9 <= r["neurons_per_feature"] <= 2.1
        else:
            k, j = (int(word) for word in paper.split() if word.isdigit())
            held = [k, j] in r["parts"]
        measured = f"{r['best']} ({r['neurons_per_feature']:.2f} neurons per feature)"
        rules.append(judge(f"1 − S = {r['density']:g}: {paper}", measured, held))
    return rules


CHECKS = (
    Check(
        "19",
        "superposition in a privileged basis: the regimes by density (best of 1000 seeds)",
        f"{P} Superposition in a Privileged Basis",
        ("privileged",),
        lambda manifests, quick: regime_rules(regimes(manifests["privileged"].group("privileged", "all"))),
        full_only=True,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="privileged",
    description="E10: superposition in a privileged basis (ReLU hidden layer), neuron stack plots",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

"""E11: computation in superposition: computing |x| with a hidden ReLU layer.

Elhage et al. 2022, "Computation in Superposition"; check 18 of docs/checks.md.
Inputs are uniform on [-1, 1] when present, the target is |x|, and the model is
ReLU(W₂ ReLU(W₁ x) + b) with untied weights. (a) 3 dense features, 6 neurons:
each feature gets a ReLU(x) and a ReLU(-x) neuron. (b) 100 features of
importance 0.8^i, 40 neurons, across sparsity: neurons become polysemantic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._references import P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep

DENSITIES = (1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001)


def sweeps(quick: bool) -> list[Sweep]:
    small = Sweep(
        name="absolute_3in6",
        base=ToyConfig(model="abs", n_features=3, n_hidden=6, steps=10_000),
        axes={"seed": (0, 1, 2)},
    )
    n, m = (20, 8) if quick else (100, 40)
    sweep = Sweep(
        name="absolute_sparsity",
        base=ToyConfig(
            model="abs", n_features=n, n_hidden=m, importance_decay=0.8 ** (100 / n), steps=10_000
        ),
        axes={"feature_probability": DENSITIES[::2] if quick else DENSITIES},
    )
    return [small, sweep]


def rescaled_input_weights(W_FxH: np.ndarray) -> np.ndarray:
    """W₁ with each neuron (column) scaled so its largest |weight| is 1, as the paper shows it."""
    return W_FxH / np.maximum(np.abs(W_FxH).max(axis=0, keepdims=True), 1e-9)


def features_per_neuron(W_FxH: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Features with |rescaled weight| > threshold for each neuron (1 = monosemantic)."""
    return np.sum(np.abs(rescaled_input_weights(W_FxH)) > threshold, axis=0)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    small = manifest.group("absolute_3in6", "all")
    sweep = manifest.group("absolute_sparsity", "all")
    best = int(np.argmin(small.summary["final_loss"]))
    fig, (ax_w, ax_poly) = plotting.figure(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1, 1.6]})
    im = ax_w.imshow(rescaled_input_weights(small.arrays["W"][best]), cmap="RdBu", vmin=-1, vmax=1)
    ax_w.set(
        xlabel="neuron",
        ylabel="feature",
        title="3 dense features, 6 neurons: W₁\n(per neuron, scaled to max |w| = 1)",
    )
    ax_w.set_yticks(range(3))
    fig.colorbar(im, ax=ax_w, shrink=0.5, pad=0.08)
    p = sweep.arrays["feature_probability"][:, 0]
    counts = np.stack([features_per_neuron(W) for W in sweep.arrays["W"]])
    for k, label in ((1, "monosemantic (1 feature)"), (2, "2 features"), (3, "3 or more")):
        frac = (counts == k).mean(axis=1) if k < 3 else (counts >= 3).mean(axis=1)
        ax_poly.plot(p, frac, "o-", label=label)
    n, m = sweep.arrays["W"].shape[1:]
    ax_poly.set(
        xscale="log",
        xlabel="feature density 1 − S",
        ylabel="fraction of neurons",
        title=f"{n} features, {m} neurons: neurons turn polysemantic as features get sparser",
    )
    ax_poly.invert_xaxis()
    ax_poly.legend(fontsize=8, frameon=False)
    fig.suptitle(
        "Computing |x| in superposition (a neuron carries the features whose |weight| exceeds half "
        "its largest)",
        fontsize=10,
        y=1.03,
    )
    fig.subplots_adjust(wspace=0.3)
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def absolute_value_neurons(W_FxH) -> list[Rule]:
    """Check 18 on W₁ rescaled so each neuron's largest |weight| is 1."""

    W = rescaled_input_weights(np.asarray(W_FxH))
    strong = np.abs(W) > 0.5
    opposite = all(sorted(np.sign(W[f, strong[f]]).tolist()) == [-1.0, 1.0] for f in range(len(W)))
    return [
        judge(
            "each feature has exactly two neurons above 0.5, of opposite signs",
            f"neurons per feature {strong.sum(axis=1).tolist()}, opposite signs: "
            f"{'yes' if opposite else 'no'}",
            np.all(strong.sum(axis=1) == 2) and opposite,
        ),
        judge(
            "no neuron carries two features",
            f"features per neuron max {strong.sum(axis=0).max()}",
            np.all(strong.sum(axis=0) <= 1),
        ),
    ]


def _check18(manifests, quick):
    run = manifests["absolute"].group("absolute_3in6", "all")
    return absolute_value_neurons(run.arrays["W"][int(np.argmin(run.summary["final_loss"]))])


CHECKS = (
    Check(
        "18",
        "the absolute-value model: two opposite neurons per feature",
        f"{P} Computation in Superposition",
        ("absolute",),
        _check18,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="absolute",
    description="E11: computation in superposition, |x| through a ReLU hidden layer (untied weights)",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
)

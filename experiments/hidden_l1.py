"""E12: an L1 penalty on the hidden activations removes superposition, at a cost in loss.

Elhage et al. 2022, "The Strategic Picture of Superposition" (approach 1: models without
superposition) says that an L1 penalty on the hidden activations, λ‖h‖₁, removes superposition in
the toy models at the price of a higher loss, without giving numbers. This study measures that
trade-off on the model of "Basic results" (20 features of importance 0.7^i in 5 dimensions,
x' = ReLU(WᵀWx + b)) at density 0.05, where the plain model holds about 10 features in superposition:
a sweep of λ (the penalty is λ times the batch mean of Σ_h |h_h|, added to the mean squared error),
best of 4 seeds by final training loss.

A feature is represented when ‖W_i‖ > 0.5 and in superposition when it is represented and its
interference Σ_{j≠i} (Ŵ_i·W_j)² exceeds 0.1. The loss compared is the plain reconstruction loss on
fresh inputs (no penalty), against two references: the λ = 0 model, and the best model without
superposition (the 5 most important features in dedicated dimensions, the rest dropped with their
optimal bias s/2, loss Σ_{i≥5} I_i (s/3 − s²/4) / 20).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._removal import (
    DENSITY,
    IMPORTANCE_DECAY,
    N_FEATURES,
    N_HIDDEN,
    base,
    draw_counts,
    draw_norms,
)
from experiments._removal import measure as measure_best
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.toy.sweep import Sweep


def penalties(quick: bool) -> tuple[float, ...]:
    if quick:
        return (0.0, 1e-3, 3e-3, 6e-3, 1e-2)
    return (0.0,) + tuple(float(v) for v in np.round(np.logspace(-4, -1, 13), 7))


def sweeps(quick: bool) -> list[Sweep]:
    return [
        Sweep(name="hidden_l1", base=base(), axes={"hidden_l1": penalties(quick)}, best_of=2 if quick else 4)
    ]


def no_superposition_loss() -> float:
    """The loss of the best model without superposition: the top N_HIDDEN features dedicated, the rest
    dropped."""
    importance = IMPORTANCE_DECAY ** np.arange(N_FEATURES)
    return float(np.sum(importance[N_HIDDEN:]) * (DENSITY / 3 - DENSITY**2 / 4) / N_FEATURES)


def measure(manifest: Manifest) -> dict[str, np.ndarray]:
    """Per penalty (best seed): λ, ‖W_i‖, represented and superposed feature counts, plain loss on fresh
    inputs."""
    return measure_best(manifest.group("hidden_l1", "all"), "hidden_l1", "penalty")


def report(manifest: Manifest) -> str:
    m = measure(manifest)
    lines = [f"{'λ':>9} {'represented':>12} {'superposed':>11} {'loss':>10} {'loss / λ=0':>11}"]
    for lam, r, s, loss in zip(m["penalty"], m["represented"], m["superposed"], m["loss"]):
        lines.append(f"{lam:>9.2g} {r:>12d} {s:>11d} {loss:>10.3g} {loss / m['loss'][0]:>11.2f}")
    lines.append(
        f"best model without superposition: loss {no_superposition_loss():.3g} "
        f"({no_superposition_loss() / m['loss'][0]:.2f} x λ=0)"
    )
    return "\n".join(lines)


def _x(penalty: np.ndarray) -> np.ndarray:
    """λ on a log axis, with λ = 0 drawn one decade left of the smallest positive λ."""
    smallest = penalty[penalty > 0].min()
    return np.where(penalty > 0, penalty, smallest / 10)


def _mark_zero(ax, x: np.ndarray, limits: tuple[float, float] | None = None) -> None:
    """Label the λ = 0 position "0" beside the log axis' decades."""
    ax.set_xlim(limits or (x[0] / 2, x[-1] * 2))
    ticks = [t for t in ax.get_xticks() if x[0] * 3 <= t <= ax.get_xlim()[1]]
    ax.set_xticks([x[0], *ticks], ["0", *(f"$10^{{{int(np.round(np.log10(t)))}}}$" for t in ticks)])
    ax.axvline(np.sqrt(x[0] * x[1]), color="0.85", lw=0.6)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    m = measure(manifest)
    x = _x(m["penalty"])
    fig, (ax_w, ax_n, ax_l) = plotting.figure(1, 3, figsize=(13, 3.9))
    edges = np.sqrt(x[:-1] * x[1:])
    edges = np.concatenate([[x[0] ** 2 / edges[0]], edges, [x[-1] ** 2 / edges[-1]]])
    draw_norms(fig, ax_w, edges, m["norms"])
    ax_w.set(xscale="log", xlabel="L1 coefficient λ", title="feature norms: penalised features are dropped")
    _mark_zero(ax_w, x, (edges[0], edges[-1]))
    draw_counts(ax_n, x, m, label_right=True)
    ax_n.set(
        xscale="log",
        xlabel="L1 coefficient λ",
        ylabel="features",
        title="superposition goes first",
        ylim=(-0.5, 1.4 * max(m["represented"].max(), N_HIDDEN)),
    )
    ax_n.legend(fontsize=8, frameon=False, loc="upper right")
    ax_l.plot(x, m["loss"], "o-", color="tab:blue", label="trained with λ")
    ax_l.axhline(m["loss"][0], color="tab:red", ls="--", lw=0.9, label="λ = 0 (superposition)")
    ax_l.axhline(
        no_superposition_loss(),
        color="0.3",
        ls=":",
        lw=0.9,
        label=f"best without superposition\n(top {N_HIDDEN} dedicated)",
    )
    ax_l.set(
        xscale="log",
        yscale="log",
        xlabel="L1 coefficient λ",
        ylabel="reconstruction loss (no penalty)",
        title="at a cost in loss",
    )
    ax_l.legend(fontsize=8, frameon=False)
    for ax in (ax_n, ax_l):
        ax.set_xscale("log")
        _mark_zero(ax, x)
    free = np.flatnonzero((m["superposed"] == 0) & (m["penalty"] > 0))
    measured = (
        f"no feature is in superposition from λ = {m['penalty'][free[0]]:.2g}, at "
        f"{m['loss'][free[0]] / m['loss'][0]:.1f}x "
        f"the loss of λ = 0"
        if len(free)
        else "superposition survives every λ trained"
    )
    fig.suptitle(
        f"An L1 penalty λ‖h‖₁ on the hidden activations, {N_FEATURES} features (importance "
        f"{IMPORTANCE_DECAY}^i) in {N_HIDDEN} dimensions at density {DENSITY}, best of the seeds:\n"
        f"{measured}; the best model without superposition costs "
        f"{no_superposition_loss() / m['loss'][0]:.1f}x",
        fontsize=9.5,
    )
    fig.subplots_adjust(wspace=0.45, top=0.84)
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="hidden-l1",
    description="E12: an L1 penalty on the hidden activations removes superposition at a cost in loss",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

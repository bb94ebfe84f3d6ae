"""E8: learning dynamics: feature dimensionalities jump between sticky values during training.

Elhage et al. 2022, "Learning Dynamics": in the uniform superposition setup of their geometry section (400
features of equal importance in 30 dimensions), one model "where all the features converge into digons"; each
feature's dimensionality D_i jumps between sticky values and the loss drops at each jump. The paper states
neither the density, the optimiser nor the steps.

Here, at the paper's size (400 in 30), densities 0.2, 0.3 and 0.45 (the digon plateau of the geometry sweep
lies near 1/(1 − S) ≈ 2.2 to 3.5) and Adam at learning rates 3e-4, 1e-3 and 3e-3 (the notebook's: 1e-3),
10,000 steps, all nine models in one program, W and b kept every 25 steps; and as a variant 200 in 20 at
density 0.3 (the setup superpose 0.1 ran). The loss over training is the loss of each snapshot on one fixed
evaluation set (the training batch's loss is too noisy to show a drop per jump).

A jump is read off each learned feature's D_i: the step where it has made half its way from start to end
(`transitions`: middle) and the steps from 20% to 80% of the way (width). A move is isolated when its 20-80%
window overlaps no other feature's, and it has its own loss drop when the evaluation loss falls over its
window (widened by one snapshot each side) by more than twice what it fell over the window of the same length
just before (`jumps`). Discrete
jumps in the paper's sense are isolated moves with their own drops; moves that overlap in time and a loss that
falls smoothly are not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments._references import P
from superpose import results
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep
from superpose.train import rng

DENSITIES = (0.2, 0.3, 0.45)
LEARNING_RATES = (3e-4, 1e-3, 3e-3)
SHOWN = {"feature_probability": 0.3, "learning_rate": 1e-3}
"""The model the figure's left columns trace (the notebook's learning rate, inside the digon plateau)."""
EVAL_SAMPLES = 8192
OWN_DROP = 2.0


def sweeps(quick: bool) -> list[Sweep]:
    if quick:
        base = ToyConfig(n_features=100, n_hidden=10, feature_probability=0.3, steps=10_000, log_every=50,
                         snapshots=True)
        return [Sweep(name="dynamics", base=base)]
    paper = ToyConfig(n_features=400, n_hidden=30, steps=10_000, log_every=25, snapshots=True)
    variant = ToyConfig(n_features=200, n_hidden=20, feature_probability=0.3, steps=10_000, log_every=50,
                        snapshots=True)
    return [
        Sweep(name="dynamics", base=paper,
              axes={"feature_probability": DENSITIES, "learning_rate": LEARNING_RATES}),
        Sweep(name="dynamics_200x20", base=variant),
    ]


def dimensionality_history(run: results.Run, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(steps, D_CxF) of instance `i`."""
    return run.arrays["loss_step"], np.asarray(metrics.feature_dimensionality(run.arrays["W_history"][i]))


def evaluation_loss(run: results.Run, i: int = 0) -> np.ndarray:
    """The loss of every snapshot of instance `i` on one fixed evaluation set at its density (loss_C)."""
    p = float(run.arrays["feature_probability"][i, 0])
    n = run.arrays["W"].shape[1]
    u_active, u_value = rng.generator(0).random((2, EVAL_SAMPLES, n), dtype=np.float32)
    x = np.where(u_active < p, u_value, 0.0).astype(np.float32)
    W_C, b_C = run.arrays["W_history"][i], run.arrays["b_history"][i]
    importance = run.arrays["importance"][i]
    return np.asarray([
        np.mean(importance * (x - np.maximum((x @ W) @ W.T + b, 0.0)) ** 2) for W, b in zip(W_C, b_C)
    ])


def transitions(steps: np.ndarray, D_CxF: np.ndarray) -> dict[str, np.ndarray]:
    """Per feature: the step where D_i has made half its way from start to end (`middle`), the steps where it
    has made 20% and 80% of it (`start`, `end`), and the steps between (`width`). Discrete jumps have widths
    much shorter than the spread of their middles; a collective rise has widths as long as that spread."""

    def reach(fraction):
        target = D_CxF[0] + fraction * (D_CxF[-1] - D_CxF[0])
        ahead = D_CxF[-1] >= D_CxF[0]
        return steps[np.argmax(np.where(ahead, D_CxF >= target, D_CxF <= target), axis=0)]

    start, end = reach(0.2), reach(0.8)
    return {"middle": reach(0.5), "start": start, "end": end, "width": end - start}


def jumps(steps: np.ndarray, D_CxF: np.ndarray, loss_C: np.ndarray) -> dict[str, float]:
    """How jump-like the moves of these features are (module doc): their count, median width, the spread of
    their middles (10th to 90th percentile), the moves isolated in time, and the isolated moves with a loss
    drop of their own."""
    moves = transitions(steps, D_CxF)
    start, end = moves["start"], moves["end"]
    n = len(start)
    overlaps = (start[:, None] <= end[None, :]) & (start[None, :] <= end[:, None]) & ~np.eye(n, dtype=bool)
    isolated = ~overlaps.any(axis=1)

    def drop(a, b):
        return float(np.interp(a, steps, loss_C) - np.interp(b, steps, loss_C))

    pad = steps[1] - steps[0] if len(steps) > 1 else 1  # one snapshot each side: a step-like move has width 0
    own = [
        drop(s - pad, e + pad) > max(OWN_DROP * drop(s - pad - (e - s + 2 * pad), s - pad), 0.0)
        for s, e in zip(start[isolated], end[isolated])
    ]
    return {
        "moves": n,
        "median_width": float(np.median(moves["width"])) if n else float("nan"),
        "spread": float(np.subtract(*np.percentile(moves["middle"], [90, 10]))) if n else 0.0,
        "isolated": int(isolated.sum()),
        "own_drops": int(np.sum(own)),
    }


def analyse(run: results.Run) -> list[dict]:
    """Per instance: its setting, D* = m / ‖W‖²_F at the end, the share of learned features at D_i ≈ 1/2
    (digons), `jumps` of its learned features on the evaluation loss, and that loss (`loss_C`, per
    snapshot)."""
    out = []
    for i, config in enumerate(run.configs):
        steps, D = dimensionality_history(run, i)
        learned = np.asarray(metrics.feature_norms(run.arrays["W"][i])) > metrics.REPRESENTED_NORM
        loss = evaluation_loss(run, i)
        out.append({
            "n": config.n_features, "m": config.n_hidden,
            "density": config.feature_probability, "learning_rate": config.learning_rate,
            "learned": int(learned.sum()),
            "D_star": float(metrics.dimensions_per_feature(run.arrays["W"][i])),
            "digons": float(np.mean(np.abs(D[-1, learned] - 0.5) <= 0.02)) if learned.any() else 0.0,
            **jumps(steps, D[:, learned], loss),
            "loss_C": loss,
        })
    return out


def _runs(manifest: Manifest) -> list[results.Run]:
    """The paper's setup, then the 200-in-20 variant where the run has it."""
    names = manifest.names()
    return [manifest.group(name, "all") for name in ("dynamics", "dynamics_200x20")
            if any(n.startswith(f"{name}/") for n in names)]


def report(manifest: Manifest) -> str:
    lines = [f"{'n in m':>9} {'density':>7} {'lr':>7} {'learned':>7} {'D*':>5} {'digons':>6} {'width':>6} "
             f"{'spread':>6} {'isolated':>8} {'own drops':>9}"]
    for run in _runs(manifest):
        for r in analyse(run):
            lines.append(
                f"{r['n']:>4} in {r['m']:<2} {r['density']:>7g} {r['learning_rate']:>7g} {r['learned']:>7d} "
                f"{r['D_star']:>5.2f} {100 * r['digons']:>5.0f}% {r['median_width']:>6.0f} "
                f"{r['spread']:>6.0f} {r['isolated']:>8d} {r['own_drops']:>9d}"
            )
    lines.append("width: median steps of a move (20→80%); spread: 10th-90th percentile of the moves' "
                 "middles; isolated: moves overlapping no other; own drops: isolated moves with a loss "
                 "drop of their own")
    return "\n".join(lines)


def _shown(run: results.Run) -> int:
    """The instance the figure traces: SHOWN's setting where the run has it, else the first."""
    for i, c in enumerate(run.configs):
        if all(np.isclose(getattr(c, k), v) for k, v in SHOWN.items()):
            return i
    return 0


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    runs = _runs(manifest)
    run = runs[0]
    i = _shown(run)
    steps, D = dimensionality_history(run, i)
    rows = [r for one in runs for r in analyse(one)]
    loss = rows[i]["loss_C"]  # the first run's rows come first
    learned = np.asarray(metrics.feature_norms(run.arrays["W"][i])) > metrics.REPRESENTED_NORM
    fig, axes = plotting.figure(2, 3, figsize=(18, 7), gridspec_kw={"height_ratios": [2, 1]})
    (ax_d, ax_z, ax_t), (ax_l, ax_zl, ax_all) = axes
    colors = plotting.plt.cm.tab20(np.linspace(0, 1, int(learned.sum())))
    moves = transitions(steps, D[:, learned])
    shown = jumps(steps, D[:, learned], loss)
    end = float(np.percentile(moves["middle"], 95) * 2.5)
    zoom = steps <= end
    for c, f in zip(colors, np.flatnonzero(learned)):
        ax_d.plot(steps, D[:, f], color=c, lw=0.9, alpha=0.8)
        ax_z.plot(steps[zoom], D[zoom, f], color=c, lw=0.9, alpha=0.8)
    ax_z.set(ylim=(0, 1.05), xlim=(0, end))
    ax_z.set_title(
        f"linear axis: moves of a median {shown['median_width']:.0f} steps (20→80%),\nmiddles spread over "
        f"{shown['spread']:.0f}; {shown['isolated']} of {shown['moves']} moves overlap no other,\n"
        f"{shown['own_drops']} with a loss drop of their own",
        fontsize=8.5,
    )
    ax_zl.plot(steps[zoom], loss[zoom], color="k")
    ax_zl.set(xlabel="training step (linear)", ylabel="evaluation loss", xlim=(0, end))
    for v, name in ((1, "1"), (3 / 4, "3/4"), (2 / 3, "2/3"), (1 / 2, "1/2"), (2 / 5, "2/5")):
        ax_d.axhline(v, color="0.75", lw=0.6, ls=":")
        ax_z.axhline(v, color="0.75", lw=0.6, ls=":")
        ax_d.annotate(name, (steps[-1] * 1.15, v), fontsize=7, va="center", annotation_clip=False)
    config = run.configs[i]
    ax_d.set(xscale="log", ylabel="feature dimensionality D_i", ylim=(0, 1.05),
             title=f"density {config.feature_probability:g}, Adam {config.learning_rate:g}: the "
                   f"{int(learned.sum())} features learned by the end (one line each)")
    ax_d.title.set_fontsize(9)
    ax_l.plot(steps, loss, color="k")
    ax_l.set(xscale="log", yscale="log", xlabel="training step", ylabel="evaluation loss")
    ax_d.sharex(ax_l)
    ax_t.axis("off")
    table = [[f"{r['n']} in {r['m']}", f"{r['density']:g}", f"{r['learning_rate']:g}", f"{r['learned']}",
              f"{100 * r['digons']:.0f}%", f"{r['median_width']:.0f}", f"{r['spread']:.0f}",
              f"{r['isolated']}/{r['moves']}", f"{r['own_drops']}"] for r in rows]
    cells = ax_t.table(cellText=table, colLabels=["model", "density", "lr", "learned", "digons", "width",
                                                  "spread", "isolated", "own drops"], loc="center")
    cells.auto_set_font_size(False)
    cells.set_fontsize(7.5)
    cells.scale(1.15, 1.4)
    ax_t.set_title("every model trained: its moves (width, spread: steps),\nthe isolated ones, and those "
                   "with a loss drop of their own", fontsize=8.5)
    for one, first in zip(runs, np.cumsum([0] + [len(r.configs) for r in runs])):
        for k, c in enumerate(one.configs):
            label = f"{c.n_features}/{c.n_hidden}, p {c.feature_probability:g}, lr {c.learning_rate:g}"
            ax_all.plot(one.arrays["loss_step"], rows[first + k]["loss_C"], lw=0.9, label=label)
    ax_all.set(xscale="log", yscale="log", xlabel="training step", ylabel="evaluation loss")
    ax_all.legend(fontsize=6, frameon=False, loc="upper left", bbox_to_anchor=(1.02, 1.05))
    jumped = [r for r in rows if r["own_drops"] >= max(3, 0.25 * r["moves"])]
    verdict = (
        f"discrete jumps with their own loss drops in {len(jumped)} of {len(rows)} models"
        if jumped
        else "no model shows the paper's discrete jumps: the moves overlap in time and the evaluation loss "
             "falls without a drop per move"
    )
    n, m = run.arrays["W"].shape[1:]
    setup = "the paper's setup" if (n, m) == (400, 30) else "the paper's setup is 400 in 30"
    fig.suptitle(
        f"Learning dynamics, {n} features of equal importance in {m} dimensions ({setup}): "
        f"dimensionalities move between sticky values and settle at 1/2 (antipodal pairs);\n{verdict} "
        "(every density and Adam learning rate tried is in the table)",
        fontsize=9.5,
    )
    fig.subplots_adjust(top=0.82, wspace=0.3, hspace=0.35)
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def jump_rules(rows: list[dict]) -> list[Rule]:
    """Check 21 on `analyse`'s rows of the paper's setup: some model converges into digons (≥ 90% of its
    learned features at D_i = 1/2 ± 0.02), and in such a model at least half of the moves are discrete jumps:
    isolated in time, each with a loss drop of its own."""
    digon = [r for r in rows if r["digons"] >= 0.9]
    best = max(digon, key=lambda r: r["own_drops"] / max(r["moves"], 1), default=None)
    share = best["own_drops"] / max(best["moves"], 1) if best else 0.0
    where = (f"{best['own_drops']} of {best['moves']} moves (density {best['density']:g}, lr "
             f"{best['learning_rate']:g})" if best else "no digon model")
    return [
        judge("a model converges into digons (≥ 90% of learned features at D_i = 1/2 ± 0.02)",
              f"{len(digon)} of {len(rows)} models", bool(digon)),
        judge("in it, at least half of the moves are isolated jumps with a loss drop of their own", where,
              share >= 0.5),
    ]


CHECKS = (
    Check(
        "21",
        "feature dimensionalities jump between sticky values, the loss dropping at each jump",
        f"{P} Learning Dynamics",
        ("dynamics",),
        lambda manifests, quick: jump_rules(analyse(manifests["dynamics"].group("dynamics", "all"))),
        full_only=True,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="dynamics",
    description="E8: learning dynamics, feature dimensionalities over training",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

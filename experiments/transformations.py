"""E8, second half: learning dynamics as a sequence of geometric transformations.

Elhage et al. 2022, "Learning Dynamics": 6 features in 3 dimensions, as two sets of 3 correlated
features (one shared Bernoulli draw decides whether a whole set is active), pass through distinct
regimes visible in the loss curve, each a geometric transformation, and end in an octahedron whose
antipodal pairs join features of different sets, "a strong attractor", with a few alternative
trajectories. The paper does not give the density; this study uses 0.05 (training at 0.02 and 0.1
ends in the same geometries). W is kept every 50 steps for 32 seeds (8 at quick size).

Measured (full size): 30 of 32 seeds end in the octahedron, 24 of them through overlapping sets →
orthogonal frames → octahedron, 5 turning straight from overlapping sets into the octahedron; 2 seeds
drop a feature for good. The training loss falls steeply while the sets turn orthogonal and is flat,
within its noise, through the turn into the octahedron: only the first transformation is visible in the
loss curve here.

Each snapshot gets one regime label:
- ``overlapping sets``: all 6 features represented (‖W_i‖ > 0.5), but features of one set still share
  directions (mean |cos| within sets ≥ 0.1), as correlated features do early (the principal-component
  direction of a set is learned first);
- ``orthogonal frames``: within each set the features are orthogonal (mean |cos| < 0.1), the two sets
  not yet antipodal;
- ``octahedron``: every feature has an antipodal partner (cos < −0.9) from the other set;
- ``features missing``: fewer than 6 features represented (at the start, or for good when one is dropped).
A seed's trajectory is its sequence of regimes, ignoring stays shorter than 3 snapshots and the
initial growth (every seed starts with small, unrepresented features).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep

N_FEATURES, N_HIDDEN, SET_SIZE, DENSITY = 6, 3, 3, 0.05
ANTIPODAL_COS = -0.9
ORTHOGONAL_COS = 0.1
MIN_STAY = 3
REGIMES = ("features missing", "overlapping sets", "orthogonal frames", "octahedron")
REGIME_COLORS = ("0.85", "#fdd0a2", "#c6dbef", "#c7e9c0")
REGIME_SHORT = ("missing", "overlap", "frames", "octahedron")
SET_COLORS = ("tab:blue", "tab:red")


def sweeps(quick: bool) -> list[Sweep]:
    base = ToyConfig(n_features=N_FEATURES, n_hidden=N_HIDDEN, data="correlated", set_size=SET_SIZE,
                     feature_probability=DENSITY, steps=10_000, log_every=50, snapshots=True)
    return [Sweep(name="transformations", base=base, axes={"seed": tuple(range(8 if quick else 32))})]


def _cosines(W_FxH: np.ndarray) -> np.ndarray:
    unit = W_FxH / np.maximum(np.linalg.norm(W_FxH, axis=-1, keepdims=True), 1e-6)
    return unit @ np.swapaxes(unit, -1, -2)


def same_set() -> np.ndarray:
    s = np.arange(N_FEATURES) // SET_SIZE
    return (s[:, None] == s[None, :]) & ~np.eye(N_FEATURES, dtype=bool)


def geometry(W_FxH: np.ndarray) -> dict[str, np.ndarray]:
    """For W of any leading shape: represented count, mean |cos| within sets, and whether every feature has
    an antipodal partner from the other set."""
    cos = _cosines(W_FxH)
    within = np.abs(cos[..., same_set()]).mean(axis=-1)
    other = ~same_set() & ~np.eye(N_FEATURES, dtype=bool)
    partnered = np.all(np.any(np.where(other, cos, 1.0) < ANTIPODAL_COS, axis=-1), axis=-1)
    represented = np.sum(np.linalg.norm(W_FxH, axis=-1) > metrics.REPRESENTED_NORM, axis=-1)
    return {
        "represented": represented,
        "within": within,
        "octahedron": partnered & (represented == N_FEATURES),
    }


def regimes(W_CxFxH: np.ndarray) -> np.ndarray:
    """The regime index (into REGIMES) of every snapshot."""
    g = geometry(W_CxFxH)
    return np.select(
        [g["octahedron"], g["represented"] < N_FEATURES, g["within"] >= ORTHOGONAL_COS], [3, 0, 1], 2
    )


def trajectory(labels_C: np.ndarray) -> tuple[str, ...]:
    """The sequence of regimes a seed passes through, ignoring stays shorter than MIN_STAY snapshots."""
    runs, start = [], 0
    for c in range(1, len(labels_C) + 1):
        if c == len(labels_C) or labels_C[c] != labels_C[start]:
            if c - start >= MIN_STAY and (not runs or runs[-1] != labels_C[start]):
                runs.append(int(labels_C[start]))
            start = c
    if len(runs) > 1 and runs[0] == 0:
        runs = runs[1:]
    return tuple(REGIMES[r] for r in runs)


def measure(manifest: Manifest) -> dict:
    run = manifest.group("transformations", "all")
    history = run.arrays["W_history"]
    labels = np.stack([regimes(h) for h in history])
    return {
        "steps": run.arrays["loss_step"],
        "loss": run.arrays["loss"],
        "history": history,
        "labels": labels,
        "trajectories": [trajectory(lab) for lab in labels],
        "final": [REGIMES[lab[-1]] for lab in labels],
    }


def report(manifest: Manifest) -> str:
    m = measure(manifest)
    n = len(m["final"])
    lines = [f"final geometry of {n} seeds:"]
    lines += [f"  {count:>3} x {name}" for name, count in Counter(m["final"]).most_common()]
    lines.append("trajectories:")
    lines += [
        f"  {count:>3} x {' -> '.join(path)}" for path, count in Counter(m["trajectories"]).most_common()
    ]
    return "\n".join(lines)


def _typical(m: dict) -> int:
    """The seed drawn in detail: the first whose trajectory is the most common one."""
    common = Counter(m["trajectories"]).most_common(1)[0][0]
    return next(i for i, t in enumerate(m["trajectories"]) if t == common)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    m = measure(manifest)
    seed = _typical(m)
    steps, labels, W = m["steps"], m["labels"][seed], m["history"][seed]
    fig = plotting.figure(figsize=(14, 7.2))[0]
    fig.clf()
    grid = fig.add_gridspec(2, 4, height_ratios=[1, 1.05], hspace=0.4, wspace=0.3)
    ax_loss = fig.add_subplot(grid[0, 0:2])
    ax_geo = fig.add_subplot(grid[0, 2])
    for ax in (ax_loss, ax_geo):
        for c in range(len(steps)):
            left = steps[c - 1] if c else steps[0] / 2
            ax.axvspan(left, steps[c], color=REGIME_COLORS[labels[c]], lw=0)
        ax.set_xscale("log")
    ax_loss.plot(steps, m["loss"][seed], color="k", lw=1)
    ax_loss.set(
        yscale="log",
        xlabel="training step",
        ylabel="training loss (mean of 50 steps)",
        title=f"seed {seed}: the loss curve, shaded by regime",
    )
    handles = [plotting.plt.Rectangle((0, 0), 1, 1, color=c) for c in REGIME_COLORS]
    ax_loss.legend(handles, REGIMES, fontsize=8, frameon=False, loc="lower left")
    g = geometry(W)
    cos = _cosines(W)
    other = ~same_set() & ~np.eye(N_FEATURES, dtype=bool)
    ax_geo.plot(steps, g["within"], color="tab:purple", label="mean |cos| within a set")
    ax_geo.plot(
        steps,
        -np.where(other, cos, 1.0).min(axis=-1).mean(axis=-1),
        color="tab:green",
        label="−min cos to the other set (mean)",
    )
    ax_geo.plot(steps, np.linalg.norm(W, axis=-1).mean(axis=-1), color="0.3", ls="--", label="mean ‖W_i‖")
    ax_geo.set(xlabel="training step", ylim=(-0.05, 1.6), title="the geometric transformations")
    ax_geo.legend(fontsize=7, frameon=False, loc="upper left")
    firsts = sorted({int(np.argmax(labels == r)) for r in np.unique(labels)} - {len(steps) - 1})
    picks = firsts[-3:] + [len(steps) - 1]
    for k, c in enumerate(picks):
        ax = fig.add_subplot(grid[1, k], projection="3d")
        for f in range(N_FEATURES):
            ax.plot([0, W[c, f, 0]], [0, W[c, f, 1]], [0, W[c, f, 2]], color=SET_COLORS[f // SET_SIZE], lw=2)
        ax.set(xlim=(-1, 1), ylim=(-1, 1), zlim=(-1, 1), xticks=[], yticks=[], zticks=[])
        ax.set_title(f"step {steps[c]}: {REGIMES[labels[c]]}", fontsize=8.5)
    ax = fig.add_subplot(grid[0, 3])
    paths = Counter(m["trajectories"]).most_common()
    names = [" → ".join(REGIME_SHORT[REGIMES.index(r)] for r in p) for p, _ in paths]
    ax.barh(range(len(paths)), [c for _, c in paths], color="0.75")
    for k, name in enumerate(names):
        ax.text(0.3, k, name, va="center", fontsize=7)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set(xlabel="seeds", title=f"trajectories of {len(m['final'])} seeds")
    n_oct = m["final"].count("octahedron")
    fig.suptitle(
        f"6 features in 3 dimensions as two sets of 3 correlated features (blue, red) at density "
        f"{DENSITY}: training moves through regimes, each a geometric transformation;\n{n_oct} of "
        f"{len(m['final'])} seeds end in the octahedron with every antipodal pair joining the two sets",
        fontsize=9.5,
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="transformations",
    description="E8: learning dynamics as geometric transformations (two correlated sets of 3 in 3 "
                "dimensions)",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

"""How often does SPD succeed? A phase diagram over the importance-minimality coefficient β₃ and the seed.

Bushnaq, Braun & Sharkey (2025) call their TMS results robust to seeds and the residual-MLP ones
seed-sensitive, and give one β₃ per model (too low: a feature split over several pieces; too high:
importances below 1 and W_out split per feature). Here every (β₃, seed) cell is one decomposition of
the same target, the whole grid one vmapped program per target. A TMS cell succeeds when MMCS ≥ 0.99
and its causal-importance error is 0 (τ = 0.1); a residual-MLP cell when both CI errors are 0 at
τ = 0.2 (no MMCS exists there: the truth is SPD's own finding, see spd-resid-mlp).

Full size: TMS 40-10 and the 1-layer residual MLP, six β₃ around the paper's value x 8 seeds, at the
paper's recipes. Quick size (CI): TMS 5-2 at the spd-tms quick recipe, β₃ ∈ {1e-2, 1} x 1 seed (seed 0 at 1e-2
is spd-tms's quick seed 0, which succeeds). """

from __future__ import annotations

import dataclasses
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest

NAME = "spd-robustness"


def grids(quick: bool) -> dict:
    """target name -> (target config, SPD configs of the β₃ x seed grid)."""
    from superpose.decomposition import spd
    from superpose.targets import PRESETS

    if quick:
        base = dataclasses.replace(spd.PRESETS["tms_5-2"], steps=10_000, batch_size=512, learning_rate=2e-3,
                                   log_every=1000)
        return {"tms_5-2": (PRESETS["tms_5-2"], [dataclasses.replace(base, importance_minimality=b, seed=s)
                                                  for b in (1e-2, 1.0) for s in range(1)])}
    out = {}
    for name, betas in (
        ("tms_40-10", np.logspace(-5.5, -2.5, 6)),
        ("resid_mlp1", np.logspace(-6.5, -3.5, 6)),
    ):
        out[name] = (
            PRESETS[name],
            [
                dataclasses.replace(spd.PRESETS[name], importance_minimality=float(b), seed=s)
                for b in betas
                for s in range(8)
            ],
        )
    return out


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    from superpose.decomposition.group import run_spd_per_target

    quick = size == "quick"
    return run_spd_per_target(
        manifest.root / NAME,
        grids(quick),
        lambda name, c: {"beta3": c.importance_minimality, "seed": c.seed},
        progress=progress,
        skip_existing=skip_existing,
    )


def _has_pieces(run) -> bool:
    """Whether the target names its true rank-one pieces (TMS: then MMCS joins the CI error)."""
    from superpose.targets import TARGETS

    target = run.target_config
    return TARGETS.get(target.kind).true_pieces(target) is not None


def success(run) -> np.ndarray:
    """Per decomposition: the success criterion of the module doc."""
    if _has_pieces(run):
        return (run.metric("mmcs") >= 0.99) & (run.metric("ci_error") == 0)
    return run.metric("ci_error_tau0.2") == 0


def grid(run, metric: str | None = None) -> tuple[list[float], list[int], np.ndarray, np.ndarray]:
    """(β₃ values, seeds, success [β₃, seed], `metric` [β₃, seed]); by default MMCS for TMS targets and the
    CI error at τ = 0.2 for residual MLPs."""
    betas, seeds = run.labels("beta3"), run.labels("seed")
    rows, cols = sorted(set(betas)), sorted(set(seeds))
    ok = np.zeros((len(rows), len(cols)), bool)
    value = np.full(ok.shape, np.nan)
    metric = metric or ("mmcs" if _has_pieces(run) else "ci_error_tau0.2")
    shown = run.metric(metric)
    for k, (b, s) in enumerate(zip(betas, seeds)):
        ok[rows.index(b), cols.index(s)] = success(run)[k]
        value[rows.index(b), cols.index(s)] = shown[k]
    return rows, cols, ok, value


def _runs(manifest: Manifest) -> dict:
    from superpose.decomposition.group import spd_runs

    return spd_runs(manifest, NAME)


def report(manifest: Manifest) -> str:
    lines = []
    for name, run in _runs(manifest).items():
        betas, seeds, ok, _ = grid(run)
        lines.append(f"{name}: successes per β₃ (of {len(seeds)} seeds)")
        lines += [f"  β₃ = {b:.2g}: {int(k.sum())}/{len(seeds)}" for b, k in zip(betas, ok)]
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    runs = _runs(manifest)
    fig, axes = plotting.figure(
        1,
        2 * len(runs),
        figsize=(6.5 * len(runs), 4.2),
        squeeze=False,
        gridspec_kw={"width_ratios": [1.6, 1] * len(runs)},
    )
    for k, (name, run) in enumerate(runs.items()):
        betas, seeds, ok, value = grid(run)
        errors = grid(run, "ci_error")[3]
        ax = axes[0, 2 * k]
        ax.imshow(ok, cmap=plt.cm.RdYlGn, vmin=-0.3, vmax=1.3, aspect="auto")
        for (r, c), v in np.ndenumerate(value):
            text = f"{v:.3f}\nCI {int(errors[r, c])}" if _has_pieces(run) else f"{int(v)}"
            ax.text(c, r, text, ha="center", va="center", fontsize=6.5)
        ax.set_xticks(range(len(seeds)), seeds)
        ax.set_yticks(range(len(betas)), [f"{b:.2g}" for b in betas])
        ax.set_xlabel("seed")
        ax.set_ylabel("β₃ (importance minimality)")
        kind = "MMCS and CI error" if _has_pieces(run) else "CI error (τ = 0.2)"
        ax.set_title(f"{name}: success (green) per cell; text: {kind}", fontsize=9)
        ax = axes[0, 2 * k + 1]
        ax.plot(betas, ok.mean(axis=1), marker="o", color="#3b75af")
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("β₃")
        ax.set_ylabel("fraction of seeds that succeed")
        ax.set_title(f"{name}: success rate", fontsize=9)
    fig.suptitle(
        "SPD's success over the importance-minimality coefficient and the seed: each cell one decomposition "
        "of the same target, each target's grid one program.\nTMS: MMCS ≥ 0.99 and CI error 0; residual "
        "MLP: CI errors 0 at τ = 0.2.",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.88))
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="spd-robustness",
    description="SPD success over importance-minimality coefficient x seed (TMS 40-10, 1-layer residual MLP)",
    stages=lambda size: [train_stage],
    plot=plot,
    report=report,
)

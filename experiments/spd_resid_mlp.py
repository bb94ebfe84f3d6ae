"""SPD on the residual MLPs of "compressed computation" (Braun et al. 2025; Bushnaq, Braun & Sharkey 2025).

A residual MLP computes y = x + ReLU(x) for n sparse features through a frozen random embedding and
fewer neurons than features (superpose.targets). SPD should split W_in into one rank-1 piece
per feature (each causally important for exactly that feature) and keep W_out as one dense component
whose pieces fire together. This is SPD's empirical answer, not a planted truth (Bhagat et al. argue
the model mostly exploits the embedding's noise), so the figure shows it beside the model's own
neuron contributions NC(i) = (W_outᵀ e_i) ⊙ (W_in e_i): for SPD, W_in replaced by the single
subcomponent contributing most to feature i and W_out by the sum of its pieces.

Full size: the paper's 1-, 2- and 3-layer models and SPD recipes, 4 seeds each. Quick size (CI): a
small 1-layer model (20 features, 10 neurons, residual width 200, p = 0.05 so that one feature is
active per input on average, as in the paper's p = 0.01 with 100 features), 30 subcomponents per
matrix, 4k steps of batch 512, β₃ = 1e-3 (the paper's 1e-5 does not sparsify within 2M samples).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest

NAME = "spd-resid-mlp"
FULL = ("resid_mlp1", "resid_mlp2", "resid_mlp3")


def setups(quick: bool) -> dict:
    """name -> (target config, SPD configs)."""
    from superpose.decomposition import spd
    from superpose.targets import PRESETS, ResidMLPConfig

    if quick:
        target = ResidMLPConfig(
            n_features=20,
            n_hidden=10,
            d_resid=200,
            feature_probability=0.05,
            learning_rate=3e-3,
            schedule="cosine",
            batch_size=2048,
            steps=1000,
            log_every=100,
        )
        base = dataclasses.replace(
            spd.PRESETS["resid_mlp1"],
            n_components=30,
            steps=4000,
            batch_size=512,
            importance_minimality=1e-3,
            log_every=500,
        )
        return {"resid_mlp1-small": (target, [dataclasses.replace(base, seed=s) for s in range(2)])}
    return {
        name: (PRESETS[name], [dataclasses.replace(spd.PRESETS[name], seed=s) for s in range(4)])
        for name in FULL
    }


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    from superpose.decomposition.group import run_spd_per_target

    quick = size == "quick"
    return run_spd_per_target(
        manifest.root / NAME,
        setups(quick),
        lambda name, c: {"target": name, "seed": c.seed},
        progress=progress,
        skip_existing=skip_existing,
    )


def _runs(manifest: Manifest) -> dict:
    from superpose.decomposition.group import spd_runs

    return spd_runs(manifest, NAME)


def report(manifest: Manifest) -> str:
    lines = [
        (
            f"{'target':18s}{'seed':>5s}{'NC slope':>10s}{'NC corr':>9s}{'W_in err':>9s}{'W_out err':>10s}"
            f"{'CI-L0 W_in':>12s}{'CI-L0 W_out':>12s}   (CI errors at τ = 0.2)"
        )
    ]
    for name, run in _runs(manifest).items():
        for i, m in enumerate(run.summary["metrics"]):
            l0 = m["ci_l0"]
            l0_in = sum(v for k, v in l0.items() if k.startswith("W_in"))
            l0_out = sum(v for k, v in l0.items() if k.startswith("W_out"))
            lines.append(
                f"{name:18s}{i:5d}{m['nc_slope']:10.3f}{m['nc_correlation']:9.3f}"
                f"{m['ci_error_W_in_tau0.2']:9d}{m['ci_error_W_out_tau0.2']:10d}{l0_in:12.2f}{l0_out:12.2f}"
            )
    return "\n".join(lines)


def _ordered(ci_FxP: np.ndarray) -> np.ndarray:
    """Columns in the order of the feature each matches best (Hungarian), unmatched last, dead columns
    dropped."""
    from scipy.optimize import linear_sum_assignment

    alive = ci_FxP.max(axis=0) > 0.1
    ci = ci_FxP[:, alive]
    rows, cols = linear_sum_assignment(ci, maximize=True)
    order = list(cols[np.argsort(rows)]) + [c for c in range(ci.shape[1]) if c not in set(cols)]
    return ci[:, order]


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    from superpose.decomposition import spd
    from superpose.decomposition.spd import neuron_contributions
    from superpose.targets.group import one_hot_inputs

    runs = _runs(manifest)
    fig, axes = plotting.figure(len(runs), 3, figsize=(13, 3.9 * len(runs) + 0.8), squeeze=False)
    for row, (name, run) in enumerate(runs.items()):
        i = int(np.argmax(run.metric("nc_correlation")))
        target, params, tparams = run.target_config, run.params(i), run.target_params(i)
        model_nc, spd_nc = neuron_contributions(run.configs[i], target, params, tparams)
        ax = axes[row, 0]
        ax.scatter(model_nc.ravel(), spd_nc.ravel(), s=4, alpha=0.5, color="#3b75af")
        lim = np.abs(np.concatenate([model_nc.ravel(), spd_nc.ravel()])).max() * 1.05
        ax.plot([-lim, lim], [-lim, lim], color="k", lw=0.7, ls="--")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        m = run.summary["metrics"][i]
        ax.set_title(
            f"{name} ({target.n_layers} layer{'s' * (target.n_layers > 1)}, seed {i}): neuron contributions\n"
            f"slope {m['nc_slope']:.2f}, correlation {m['nc_correlation']:.3f}",
            fontsize=9,
        )
        ax.set_xlabel("model: (W_outᵀ e_i) ⊙ (W_in e_i)")
        ax.set_ylabel("SPD: best W_in piece, Σ W_out pieces")
        ci = spd.causal_importance(run.configs[i], target, params, tparams, one_hot_inputs(target))
        ci_in = np.concatenate([v for k, v in ci.items() if k.startswith("W_in")], axis=1)
        ci_out = np.concatenate([v for k, v in ci.items() if k.startswith("W_out")], axis=1)
        rank = target.n_hidden * target.n_layers
        top = ci_out[:, np.argsort(-ci_out.sum(0))]
        panels = (
            (_ordered(ci_in), f"W_in: one piece per feature? (CI error {m['ci_error_W_in_tau0.2']})"),
            (
                top[:, : max(rank + 10, 20)],
                (
                    f"W_out: one component of rank {rank}? CI error {m['ci_error_W_out_tau0.2']};\n"
                    f"its top {rank} pieces' mean importance {top[:, :rank].mean():.2f} (1: all fire on "
                    "every input)"
                ),
            ),
        )
        for col, (pattern, title) in enumerate(panels):
            ax = axes[row, col + 1]
            ax.imshow(pattern, vmin=0, vmax=1, cmap="Greys", aspect="auto", interpolation="nearest")
            ax.set_title(title + "\n(causal importance on one-hot inputs, errors at τ = 0.2)", fontsize=8.5)
            ax.set_xlabel(
                "subcomponent (live ones, matched to features)"
                if col == 0
                else "subcomponent (by total importance)"
            )
            ax.set_ylabel("one-hot input feature")
    fig.suptitle(
        "SPD on residual MLPs that compute x + ReLU(x) for more features than neurons. Left: SPD's "
        "neuron contributions against the model's (dashed: equal).\nMiddle: does W_in split into one piece "
        "per feature (a diagonal)? Right: does W_out stay one component whose pieces all fire together "
        "(black columns)?",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="spd-resid-mlp",
    description="SPD on compressed-computation residual MLPs: one W_in piece per feature, a dense W_out, "
                "neuron "
    "contributions",
    stages=lambda size: [train_stage],
    plot=plot,
    report=report,
)

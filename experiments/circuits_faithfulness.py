"""Do transcoders find the computation a model really does? Replacements judged on circuits known by
construction.

Two targets whose circuits are planted (superpose.targets):

* the **two-hop circuit**: sparse binary inputs A (6), B_j = ReLU(A_2j + A_2j+1 − ½) written to the residual
  stream by the first MLP, C_j = ReLU(B_j + B_j+1 − ¾) by the second, from B alone. A faithful replacement
  computes C from B; a cross-layer transcoder (CLT) may instead write C straight from its layer-0 latents,
  the "collapse" of multi-hop circuits Lange et al. (2025) report; a per-layer transcoder may read A instead
  of B. Also a two-hop model *trained* on the planted circuit's outputs (its weights are learned, not set).
* the **absolute value** with a repeated data point p = (1, 1, 1, 0, …) making up `repeat_frac` of the data:
  a transcoder may memorise p with a "datapoint feature" (Anthropic 2025, "A toy model of mechanistic
  (un)faithfulness"); Jacobian matching should remove it.

Each replacement (per-layer transcoder, skip transcoder, CLT; JumpReLU, tanh penalty) is swept over the
sparsity coefficient λ and seeds, with and without Jacobian matching (μ = 1), one program per kind, and
scored by superpose.transcoders.faithfulness: through_b (share of C computed through B), mediation (does
zeroing B change C as in the model), recovery of the planted B and C neurons, errors off the training
distribution, datapoint latents. The second figure draws the attribution graph of one input from the
replacement next to the true graph.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest

NAME = "circuits-faithfulness"
KINDS = ("plt", "skip", "clt")
KIND_LABELS = {"plt": "per-layer transcoder", "skip": "skip transcoder", "clt": "cross-layer transcoder"}
JACOBIAN = 1.0
GRAPH_INPUT = (1.0, 1.0, 0.0, 0.0, 1.0, 0.0)
"""A → B = (1.5, 0, 0.5) → C = (0.75, 0, 1.25)."""


@dataclasses.dataclass(frozen=True)
class Size:
    lambdas_two_hop: tuple[float, ...]
    lambdas_abs: tuple[float, ...]
    seeds: int
    steps: int
    repeat_fracs: tuple[float, ...]
    trained_target: bool


SIZES = {
    "full": Size((1e-3, 3e-3, 1e-2, 3e-2, 1e-1), (1e-2, 3e-2, 0.1, 0.3), 4, 10_000, (0.05, 0.2), True),
    "quick": Size((3e-3, 3e-2), (0.03, 0.3), 1, 3_000, (0.2,), False),
}


def targets(size: Size) -> dict:
    """name -> target configs (several: trained seeds, the transcoders replace the best)."""
    from superpose.targets import AbsMLPConfig, TwoHopConfig

    two_hop = TwoHopConfig(n_features=6, n_hidden=3, init="truth", feature_probability=0.3)
    out = {"two_hop": [two_hop]}
    if size.trained_target:
        trained = dataclasses.replace(
            two_hop,
            init="random",
            steps=10_000,
            batch_size=1024,
            learning_rate=3e-3,
            weight_decay=0.0,
            log_every=1000,
        )
        out["two_hop-trained"] = [dataclasses.replace(trained, seed=s) for s in range(4)]
    for frac in size.repeat_fracs:
        out[f"abs-repeat{frac:g}"] = [
            AbsMLPConfig(
                n_features=8,
                n_hidden=16,
                init="truth",
                feature_probability=0.05,
                repeat_frac=frac,
            )
        ]
    return out


def replacements(name: str, size: Size) -> dict:
    """kind -> transcoder configs for target `name` (λ x μ x seeds, one program)."""
    from superpose.transcoders.model import TranscoderConfig

    two_hop = name.startswith("two_hop")
    lambdas = size.lambdas_two_hop if two_hop else size.lambdas_abs
    n_latents = 6 if two_hop else 20
    kinds = KINDS if two_hop else ("plt", "skip")
    return {
        kind: [
            TranscoderConfig(
                kind=kind,
                n_latents=n_latents,
                sparsity_coefficient=lam,
                jacobian_coefficient=mu,
                steps=size.steps,
                log_every=500,
                seed=seed,
            )
            for lam in lambdas
            for mu in (0.0, JACOBIAN)
            for seed in range(size.seeds)
        ]
        for kind in kinds
    }


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    from superpose.decomposition.group import run_decomposition
    from superpose.targets.group import run_targets

    chosen = SIZES[size]
    folders = []
    for name, configs in targets(chosen).items():
        group = run_targets(
            manifest.root / NAME / f"target-{name}", configs, progress=progress, skip_existing=skip_existing
        )
        best = int(np.argmin(group.summary["label_error"]))
        folders.append(group.path)
        for kind, tcs in replacements(name, chosen).items():
            labels = [
                {
                    "target": name,
                    "kind": kind,
                    "lambda": c.sparsity_coefficient,
                    "jacobian": c.jacobian_coefficient,
                    "seed": c.seed,
                }
                for c in tcs
            ]
            run = run_decomposition(
                manifest.root / NAME / f"{kind}-{name}",
                "transcoder",
                tcs,
                group,
                [best] * len(tcs),
                labels=labels,
                progress=progress,
                skip_existing=skip_existing,
            )
            folders.append(run.path)
    return folders


def _runs(manifest: Manifest) -> dict:
    """(target name, kind) -> the loaded transcoder folder."""
    runs = {}
    for n in manifest.names():
        if n.startswith(f"{NAME}/") and not n.startswith(f"{NAME}/target-"):
            run = manifest.load(n)
            runs[(run.labels("target")[0], run.labels("kind")[0])] = run
    return runs


def table(manifest: Manifest) -> list[dict]:
    """One row per (target, kind, λ, μ): the seeds' mean of every score."""
    rows = []
    for (name, kind), run in _runs(manifest).items():
        lams, mus = np.asarray(run.labels("lambda")), np.asarray(run.labels("jacobian"))
        for lam in sorted(set(lams)):
            for mu in sorted(set(mus)):
                pick = np.flatnonzero((lams == lam) & (mus == mu))
                metrics = [run.summary["metrics"][i] for i in pick]
                row = {
                    "target": name,
                    "kind": kind,
                    "lambda": float(lam),
                    "jacobian": float(mu),
                    "seeds": len(pick),
                }
                for key in (
                    "through_b",
                    "mediation",
                    "direct_share",
                    "output_error",
                    "ood_dense",
                    "ood_values",
                    "jacobian_error",
                    "datapoint_latents",
                ):
                    if key in metrics[0]:
                        row[key] = float(np.mean([m[key] for m in metrics]))
                for key in ("recovery", "fvu", "l0"):
                    row[key] = np.mean([m[key] for m in metrics], axis=0).tolist()
                rows.append(row)
    return rows


def report(manifest: Manifest) -> str:
    lines = [
        (
            f"{'target':18s}{'replacement':>12s}{'λ':>8s}{'μ':>4s}{'FVU':>14s}{'L0':>12s}{'recovery':>13s}"
            f"{'through B':>10s}{'mediation':>10s}{'CLT A→C':>8s}{'OOD val':>8s}{'J err':>7s}{'datapt':>7s}"
        )
    ]
    for r in table(manifest):
        fvu = "/".join(f"{v:.3f}" for v in r["fvu"])
        l0 = "/".join(f"{v:.2f}" for v in r["l0"])
        rec = "/".join(f"{v:.2f}" for v in r["recovery"])
        two_hop = "through_b" in r
        lines.append(
            f"{r['target']:18s}{r['kind']:>12s}{r['lambda']:8.3g}{r['jacobian']:4.0f}{fvu:>14s}{l0:>12s}"
            f"{rec:>13s}"
            + (
                f"{r['through_b']:10.2f}{r['mediation']:10.2f}{r['direct_share']:8.2f}"
                if two_hop
                else " " * 28
            )
            + f"{r['ood_values']:8.3f}{r['jacobian_error']:7.2f}"
            + (f"{r['datapoint_latents']:7.2f}" if "datapoint_latents" in r else "")
        )
    lines.append(
        "FVU, L0, recovery: per layer (two-hop: B layer / C layer). through B, mediation: 1 = C computed "
        "from B "
        "as in the model. CLT A→C: share of layer-1 output written by layer-0 latents. OOD val: output error "
        "on non-binary (two-hop) or doubled (abs) inputs. datapt: latents memorising the repeated point "
        "(mean over seeds)."
    )
    return "\n".join(lines)


COLORS = {"plt": "#3b75af", "skip": "#519e3e", "clt": "#ef8636"}
MARKERS = {"plt": "o", "skip": "s", "clt": "^"}
SHIFT = {"plt": 0.86, "skip": 1.0, "clt": 1.16}
"""Each kind's points drawn slightly apart along λ so that equal values stay visible."""


def _series(ax, rows, key, target, kinds, *, ylabel, log=False):
    for kind in kinds:
        for mu, style in ((0.0, "-"), (JACOBIAN, "--")):
            sel = [r for r in rows if r["target"] == target and r["kind"] == kind and r["jacobian"] == mu]
            if not sel:
                continue
            shift = SHIFT[kind] * (1.04 if mu else 0.96)
            ax.plot(
                [r["lambda"] * shift for r in sel],
                [r[key] for r in sel],
                style,
                marker=MARKERS[kind],
                ms=4,
                color=COLORS[kind],
                mfc="white" if mu else COLORS[kind],
                label=f"{KIND_LABELS[kind]}{' + Jacobian' if mu else ''}",
            )
    _lambda_axis(ax, sorted({r["lambda"] for r in rows if r["target"] == target}))
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)


def _lambda_axis(ax, lambdas):
    ax.set_xscale("log")
    ax.set_xticks(lambdas, [f"{v:g}" for v in lambdas])
    ax.minorticks_off()
    ax.set_xlabel("sparsity coefficient λ")


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    rows = table(manifest)
    for r in rows:
        r["recovery_C"] = r["recovery"][-1]
        r["recovery_0"] = r["recovery"][0]
        r["ood_values_floor"] = max(r["ood_values"], 1e-5)
        if "mediation" in r:
            r["mediation_shown"] = max(r["mediation"], -0.58)
    abs_targets = sorted({r["target"] for r in rows if r["target"].startswith("abs")})
    fig, axes = plotting.figure(2, 4, figsize=(17, 8))
    panels = (
        ("through_b", "share of C computed through B\n(1 = as the model)", False),
        (
            "mediation_shown",
            "mediation: zeroing B changes C as in the model\n(1 = faithful, ≤ 0 = not at all)",
            False,
        ),
        ("recovery_C", "recovery of the planted C neurons\n(encoder and decoder cosine, matched)", False),
        ("ood_values_floor", "output error on non-binary inputs\n(off the training distribution)", True),
    )
    for ax, (key, ylabel, log) in zip(axes[0], panels):
        _series(ax, rows, key, "two_hop", KINDS, ylabel=ylabel, log=log)
        if key in ("through_b", "mediation_shown"):
            ax.axhline(1.0, color="k", lw=0.6, ls=":")
            ax.set_ylim(-0.6 if key == "mediation_shown" else -0.05, 1.08)
    axes[0, 1].text(
        0.02, 0.02, "(values below −0.6 drawn at the edge)", transform=axes[0, 1].transAxes, fontsize=7
    )
    axes[0, 0].legend(fontsize=7, frameon=False)
    axes[0, 0].set_title("Two-hop circuit A → B → C (planted)", fontsize=10, loc="left")
    if len(abs_targets) < 2:
        axes[1, 1].axis("off")
    for ax, target in zip(axes[1, :2], abs_targets[:2]):
        _series(
            ax,
            rows,
            "datapoint_latents",
            target,
            ("plt", "skip"),
            ylabel="datapoint latents (mean over seeds)",
        )
        frac = target.removeprefix("abs-repeat")
        ax.set_title(
            f"|x| with a repeated point p = (1,1,1,0,…) in {float(frac):.0%} of the data", fontsize=9
        )
    axes[1, 0].legend(fontsize=7, frameon=False)
    ax = axes[1, 2]
    for target, marker in zip(abs_targets, "os"):
        for mu, style in ((0.0, "-"), (JACOBIAN, "--")):
            sel = [r for r in rows if r["target"] == target and r["kind"] == "plt" and r["jacobian"] == mu]
            ax.plot(
                [r["lambda"] for r in sel],
                [r["recovery_0"] for r in sel],
                style,
                marker=marker,
                ms=4,
                color="#3b75af",
                mfc="white" if mu else "#3b75af",
                label=f"p in {float(target.removeprefix('abs-repeat')):.0%} of the "
                      f"data{' + Jacobian' if mu else ''}",
            )
    _lambda_axis(ax, sorted({r["lambda"] for r in rows if r["target"] in abs_targets}))
    ax.set(
        ylabel="recovery of the 16 true |x| features",
        title="per-layer transcoder on |x|: true features kept?",
    )
    ax.legend(fontsize=7, frameon=False)
    ax = axes[1, 3]
    for target, color in (("two_hop", COLORS["clt"]), ("two_hop-trained", "#8e44ad")):
        for mu, style in ((0.0, "-"), (JACOBIAN, "--")):
            sel = [r for r in rows if r["target"] == target and r["kind"] == "clt" and r["jacobian"] == mu]
            if sel:
                ax.plot(
                    [r["lambda"] for r in sel],
                    [r["direct_share"] for r in sel],
                    style,
                    marker="^",
                    ms=4,
                    color=color,
                    mfc="white" if mu else color,
                    label=f"{'planted' if target == 'two_hop' else 'trained'} "
                          f"model{' + Jacobian' if mu else ''}",
                )
    _lambda_axis(ax, sorted({r["lambda"] for r in rows if r["target"] == "two_hop"}))
    ax.set(
        ylim=(0, 1.02),
        ylabel="share of layer-1 output written by layer-0 latents",
        title="cross-layer transcoders collapse A→B→C into A→C\nmore as λ grows",
    )
    ax.legend(fontsize=7, frameon=False)
    fig.suptitle(
        "Are transcoders faithful to a computation known by construction? Solid: trained on reconstruction "
        "and the tanh sparsity penalty; dashed: plus Jacobian matching (μ = 1). Means over seeds.",
        fontsize=10.5,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    written = plotting.save(fig, figure_path)
    return written + draw_graphs(manifest, figure_path.with_name(figure_path.name + "-graph"))


def draw_graphs(manifest: Manifest, figure_path: Path) -> list[Path]:
    """The attribution graph of GRAPH_INPUT: true model, and the CLT and PLT at the smallest λ without and
    with Jacobian matching."""
    from superpose.transcoders import graphs

    runs = _runs(manifest)
    chosen = []
    for kind in ("clt", "plt"):
        run = runs.get(("two_hop", kind))
        if run is None:
            continue
        lams, mus = np.asarray(run.labels("lambda")), np.asarray(run.labels("jacobian"))
        for mu in (0.0, JACOBIAN):
            i = int(np.flatnonzero((lams == lams.min()) & (mus == mu))[0])
            chosen.append((run, i, f"{KIND_LABELS[kind]}, λ = {lams.min():g}{', + Jacobian' if mu else ''}"))
    fig, axes = plotting.figure(1, 1 + len(chosen), figsize=(4.2 * (1 + len(chosen)), 4.6), squeeze=False)
    target_run = chosen[0][0]
    x = np.asarray(GRAPH_INPUT, np.float32)
    graphs.draw(axes[0, 0], graphs.true_graph(target_run.target_config, x), "true circuit")
    for ax, (run, i, title) in zip(axes[0, 1:], chosen):
        m = run.summary["metrics"][i]
        graph = graphs.replacement_graph(
            run.configs[i], run.target_config, run.params(i), run.target_params(i), x
        )
        graphs.draw(ax, graph, f"{title}\nthrough B {m['through_b']:.2f}, mediation {m['mediation']:.2f}")
    fig.suptitle(
        f"Attribution graph of one input, A = {tuple(int(v) for v in GRAPH_INPUT)}: nodes are active units "
        "(inputs, latents per layer, outputs), edge width ∝ |attribution|, red positive, blue negative",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="circuits-faithfulness",
    description="transcoders, skip transcoders and CLTs on planted circuits: two-hop collapse, datapoint "
                "features, "
    "Jacobian matching",
    stages=lambda size: [train_stage],
    plot=plot,
    report=report,
)

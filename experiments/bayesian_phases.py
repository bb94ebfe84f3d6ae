"""Dynamical versus Bayesian phase transitions in TMS with 6 features and 2 dimensions (Chen, Lau, Mendel,
Wei & Murfet 2023, arXiv:2310.06301).

Their setup: f(x) = ReLU(WᵀW x + b), c = 6 features, 2 hidden dimensions, inputs x = μ e_i (one feature on,
uniform over the six, μ ~ U[0, 1]: superpose's `anticorrelated` data with one set of six at density 1). The
population loss H has a closed form (superpose.toy.kgons), the regular k-gons are its critical points, and
their local learning coefficients λ set which one the Bayesian posterior prefers at sample size n: the one
of least free energy F_n ≈ n H + λ log n, so the posterior moves from simple, high-loss k-gons to complex,
low-loss ones as n grows.

Three stages:
1. the critical points: every k-gon of k = 3..6 (each sign pattern of its dead rows), its loss (closed form,
   checked against quadrature), λ from the Hessian (rank / 2, where the point is Morse-Bott), whether it is
   a local minimum, and λ̂ from localised SGLD on the exact population loss; then the free energies of the
   minima against n, and a census of unlocalised chains started at random at several n (β = 1);
2. SGD runs from random starts (fresh batches of the high-sparsity data), snapshots along training;
3. the k-gon of every snapshot, λ̂ along the first runs, and the transitions between k-gons.
"""

from __future__ import annotations

import collections
from pathlib import Path

import matplotlib.ticker
import numpy as np

from superpose import results
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.toy import kgons
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep
from superpose.train import llc, rng

NAME = "bayesian_phases"
C = 6
PUBLISHED_CROSSING = 600
"""The sample size where Chen et al. find the posterior switching from the 5-gon to the 6-gon (about 600)."""

LLC_SETTINGS = dict(n=100_000, localization=20.0, step_size=1e-5)
"""λ̂ on the population loss H: nβ = n / log n = 8,686 makes the smallest curvature of the 6-gon's Hessian
(0.021) 9 times the localisation γ = 20, which confines the flat directions of a `-` dead row (bias -0.5) to
about 0.2; ε nβ times the largest curvature is 0.2, so SGLD's step bias stays small (measured: 6-gon 8.55,
5+ 8.52, 5- 7.18 against 8.5, 8.5, 7 with 8 chains of 10,000 draws)."""


def _sizes(quick: bool) -> dict:
    if quick:
        return dict(
            chains=4,
            draws=4000,
            census_chains=32,
            census_steps=10_000,
            runs=32,
            steps=10_000,
            llc_runs=4,
            llc_every=10,
            llc_chains=4,
            llc_draws=3000,
        )
    return dict(
        chains=16,
        draws=20_000,
        census_chains=128,
        census_steps=40_000,
        runs=512,
        steps=50_000,
        llc_runs=16,
        llc_every=5,
        llc_chains=4,
        llc_draws=5000,
    )


CENSUS_N = (30, 100, 300, 1000, 3000)


def sgd_sweep(quick: bool) -> Sweep:
    s = _sizes(quick)
    base = ToyConfig(
        n_features=C,
        n_hidden=2,
        data="anticorrelated",
        set_size=C,
        feature_probability=1.0,
        optimizer="sgd",
        weight_decay=0.0,
        learning_rate=0.1,
        batch_size=64,
        steps=s["steps"],
        log_every=s["steps"] // 200,
        snapshots=True,
    )
    return Sweep(name=f"{NAME}/sgd", base=base, axes={"seed": tuple(range(s["runs"]))})


def points() -> list[kgons.KGon]:
    return kgons.kgons(C, ks=range(6, 2, -1))


def critical_points_stage(
    manifest: Manifest, size: str, *, progress: bool, skip_existing: bool
) -> list[Path]:
    s = _sizes(size == "quick")
    job = {
        "c": C,
        "llc": LLC_SETTINGS,
        "chains": s["chains"],
        "draws": s["draws"],
        "census_n": CENSUS_N,
        "census_chains": s["census_chains"],
        "census_steps": s["census_steps"],
    }

    def compute(checkpoint):
        found = points()
        W = np.stack([p.W_FxH for p in found]).astype(np.float32)
        b = np.stack([p.b_F for p in found]).astype(np.float32)
        estimate = _llc_on_h(W, b, s["chains"], s["draws"], progress, "λ̂ of the k-gons")
        census, census_names = chain_census(s["census_chains"], s["census_steps"], progress)
        arrays = dict(
            W=W,
            b=b,
            loss=np.array([p.loss for p in found]),
            loss_quadrature=np.array([kgons.potential_by_quadrature(p.W_FxH, p.b_F) for p in found]),
            llc_theory=np.array([kgons.learning_coefficient(p) for p in found]),
            index=np.array([kgons.index(p) for p in found]),
            morse_bott=np.array([kgons.flat_directions_are_flat(p) for p in found]),
            llc=estimate.llc_I,
            llc_std=estimate.llc_std_I,
            llc_chains=estimate.llc_IxK,
            census=census,
            census_n=np.array(CENSUS_N),
        )
        summary = {
            "names": [p.name for p in found],
            "census_names": census_names,
            "warnings": estimate.warnings,
        }
        return arrays, summary, {}

    folder = Path(manifest.root) / NAME / "critical-points"
    return [results.run_or_load(kgons.CriticalPoints, folder, job, compute, skip_existing=skip_existing)]


def _llc_on_h(W, b, chains: int, draws: int, progress: bool, desc: str) -> llc.Estimate:
    """λ̂ of models (W, b), instance axis first, on H (`LLC_SETTINGS`, burn-in a quarter)."""
    return llc.estimate(
        kgons.PotentialLearner(kgons.PotentialSettings(c=C)),
        np.zeros(len(W), np.float32),
        np.arange(len(W)),
        {"W_FxH": np.asarray(W, np.float32), "b_F": np.asarray(b, np.float32)},
        n=LLC_SETTINGS["n"],
        chains=chains,
        settings=llc.Chains(steps=draws, burn_in=draws // 4, log_every=draws),
        step_size=LLC_SETTINGS["step_size"],
        localization=LLC_SETTINGS["localization"],
        progress=progress,
        desc=desc,
    )


def chain_census(chains: int, steps: int, progress: bool) -> tuple[np.ndarray, list[str]]:
    """Unlocalised SGLD at β = 1 on n H from random starts, `chains` per sample size: the k-gon each chain
    ends in (counts, sample size x name). γ = 0.01 is a weak prior; ε = 0.025 / n."""
    from superpose.train import trainer

    generator = rng.generator(2023)
    total = len(CENSUS_N) * chains
    nbeta = np.repeat(np.asarray(CENSUS_N, np.float32), chains)
    hyper = llc.Hyper(
        base=np.zeros(total, np.float32),
        center={
            "W_FxH": generator.normal(0, 0.7, (total, C, 2)).astype(np.float32),
            "b_F": generator.normal(0, 0.1, (total, C)).astype(np.float32),
        },
        step_size=(0.025 / nbeta).astype(np.float32),
        nbeta=nbeta,
        localization=np.full(total, 0.01, np.float32),
        chain=np.arange(total, dtype=np.uint32),
    )
    learner = llc.LLCLearner(
        kgons.PotentialLearner(kgons.PotentialSettings(c=C)),
        llc.Chains(steps=steps, log_every=min(steps, 5000)),
    )
    trained = trainer.train(learner, hyper, np.arange(total), progress=progress, desc="posterior census")
    names = [
        kgons.classify(w, b) for w, b in zip(trained.params["W_FxH"], trained.params["b_F"], strict=True)
    ]
    kinds = sorted(set(names), key=_name_order)
    counts = np.zeros((len(CENSUS_N), len(kinds)), np.int64)
    for i, name in enumerate(names):
        counts[i // chains, kinds.index(name)] += 1
    return counts, kinds


def _name_order(name: str):
    return (name == "other", -int(name[0]) if name[0].isdigit() else 0, name)


def trajectories_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    s = _sizes(size == "quick")
    sgd = manifest.under(f"{NAME}/sgd")[0]
    job = {
        "sgd": sgd.config["sweep"],
        "llc": LLC_SETTINGS,
        "llc_runs": s["llc_runs"],
        "llc_every": s["llc_every"],
        "chains": s["llc_chains"],
        "draws": s["llc_draws"],
    }

    def compute(checkpoint):
        W, b = sgd.arrays["W_history"], sgd.arrays["b_history"]
        runs, checkpoints = W.shape[:2]
        names_RxC = [[kgons.classify(W[r, t], b[r, t]) for t in range(checkpoints)] for r in range(runs)]
        names = sorted({n for row in names_RxC for n in row} - {"other"}, key=_name_order)
        label = np.array([[names.index(n) if n != "other" else -1 for n in row] for row in names_RxC])
        every = sorted(range(checkpoints - 1, -1, -s["llc_every"]))  # the last checkpoint included
        picked = [(r, t) for r in range(s["llc_runs"]) for t in every]
        W_picked = np.stack([W[r, t] for r, t in picked])
        b_picked = np.stack([b[r, t] for r, t in picked])
        estimate = _llc_on_h(W_picked, b_picked, s["llc_chains"], s["llc_draws"], progress, "λ̂ along SGD")
        llc_RxC = np.full((s["llc_runs"], checkpoints), np.nan)
        std_RxC = np.full_like(llc_RxC, np.nan)
        for (r, t), value, spread in zip(picked, estimate.llc_I, estimate.llc_std_I, strict=True):
            llc_RxC[r, t], std_RxC[r, t] = value, spread
        counts = transitions(label, names)
        arrays = dict(
            label=label,
            step=np.asarray(sgd.arrays["loss_step"]),
            loss=np.asarray(sgd.arrays["loss"]),
            llc=llc_RxC,
            llc_std=std_RxC,
        )
        summary = {"names": names, "transitions": [[a, b_, n] for (a, b_), n in counts.most_common()]}
        return arrays, summary, {}

    folder = Path(manifest.root) / NAME / "trajectories"
    return [results.run_or_load(kgons.Trajectories, folder, job, compute, skip_existing=skip_existing)]


def transitions(label_RxC: np.ndarray, names: list[str]) -> collections.Counter:
    """(from, to) -> how many runs go from one k-gon straight to the next (configurations that are no regular
    k-gon in between are skipped)."""
    counts = collections.Counter()
    for row in label_RxC:
        visited = [int(v) for v in row if v >= 0]
        path = [v for i, v in enumerate(visited) if i == 0 or v != visited[i - 1]]
        counts.update((names[a], names[b]) for a, b in zip(path, path[1:]))
    return counts


def crossing(loss_a: float, llc_a: float, loss_b: float, llc_b: float) -> float:
    """The n > 1 where n H_a + λ_a log n = n H_b + λ_b log n, for a (more loss, less λ) against b; nan if
    none."""
    from scipy.optimize import brentq

    gap = lambda n: n * (loss_a - loss_b) - (llc_b - llc_a) * np.log(n)  # noqa: E731
    if not (loss_a > loss_b and llc_b > llc_a):
        return float("nan")
    peak = (llc_b - llc_a) / (loss_a - loss_b)  # gap is smallest here
    return float(brentq(gap, peak, 1e12)) if gap(peak) < 0 else float("nan")


def measure(manifest: Manifest) -> dict:
    points_run = manifest.load(NAME, "critical-points")
    a, names = points_run.arrays, points_run.summary["names"]
    minima = [i for i, n in enumerate(names) if a["index"][i] == 0 and a["morse_bott"][i]]
    six = names.index("6")
    crossings = {}
    for i in minima:
        if i == six:
            continue
        crossings[names[i]] = dict(
            theory=crossing(a["loss"][i], a["llc_theory"][i], a["loss"][six], a["llc_theory"][six]),
            sampled=crossing(a["loss"][i], a["llc"][i], a["loss"][six], a["llc"][six]),
        )
    return dict(
        points=points_run,
        minima=minima,
        crossings=crossings,
        trajectories=manifest.load(NAME, "trajectories"),
    )


def report(manifest: Manifest) -> str:
    m = measure(manifest)
    a, names = m["points"].arrays, m["points"].summary["names"]
    lines = [
        "k-gon critical points of TMS (6 features, 2 dimensions; Chen et al. 2023)",
        f"{'k-gon':7s} {'loss H':>9s} {'|closed − quadrature|':>22s} {'minimum':>8s} {'λ theory':>9s} "
        f"{'λ̂':>13s}",
    ]
    for i, name in enumerate(names):
        kind = "yes" if a["index"][i] == 0 else f"saddle ({a['index'][i]})"
        theory = f"{a['llc_theory'][i]:g}" + ("" if a["morse_bott"][i] else "*")
        lines.append(
            f"{name:7s} {a['loss'][i]:9.5f} {abs(a['loss'][i] - a['loss_quadrature'][i]):22.1e} "
            f"{kind:>8s} {theory:>9s} {a['llc'][i]:7.2f} ± {a['llc_std'][i]:4.2f}"
        )
    lines.append(
        "* rank/2 of a Hessian whose null directions are not flat (a kink of the ReLU): not the "
        "learning coefficient"
    )
    lines.append(
        "Bayesian crossing against the 6-gon (n H + λ log n equal): "
        + "; ".join(
            f"{k}: n = {v['theory']:.0f} (theory), {v['sampled']:.0f} (sampled λ̂)"
            for k, v in m["crossings"].items()
        )
        + f"; Chen et al.: about {PUBLISHED_CROSSING} (5-gon to 6-gon)"
    )
    t = m["trajectories"]
    lines.append(
        f"SGD runs: {t.arrays['label'].shape[0]}; transitions between k-gons (count): "
        + ", ".join(f"{x} → {y} ({n})" for x, y, n in t.summary["transitions"][:8])
    )
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    m = measure(manifest)
    run = m["points"]
    a, names = run.arrays, run.summary["names"]
    fig, axes = plotting.figure(2, 3, figsize=(17, 9.5))
    axes = axes.ravel()

    ax = axes[0]  # (a) loss against complexity: the local minima (saddles have no λ to measure)
    saddles = []
    for i, name in enumerate(names):
        if a["index"][i] > 0 or a["llc"][i] < 0:
            saddles.append(name)
            continue
        color = "C0" if a["morse_bott"][i] else "0.6"
        ax.errorbar(a["llc"][i], a["loss"][i], xerr=a["llc_std"][i], fmt="o", color=color, ms=5, capsize=2)
        if a["morse_bott"][i]:
            ax.plot(a["llc_theory"][i], a["loss"][i], "x", color="C3", ms=9)
        ax.annotate(name, (a["llc"][i], a["loss"][i]), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.plot([], [], "o", color="C0", label="λ̂ ± sd over chains")
    ax.plot([], [], "o", color="0.6", label="λ̂ at a minimum on a ReLU kink (no closed λ)")
    ax.plot([], [], "x", color="C3", label="λ = rank(Hessian) / 2")
    ax.text(
        0.98,
        0.42,
        "no local minimum (chains descend, no λ̂):\n" + ", ".join(saddles),
        transform=ax.transAxes,
        fontsize=7,
        ha="right",
    )
    ax.set_xlabel("local learning coefficient")
    ax.set_ylabel("population loss H")
    ax.set_title("(a) k-gons: low loss costs complexity", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, 0.9))

    ax = axes[1]  # (b) free energy against n
    n = np.logspace(1, 4, 200)
    six = names.index("6")
    for i in m["minima"]:
        if i == six:
            continue
        for source, style in (("llc_theory", "-"), ("llc", "--")):
            diff = n * (a["loss"][i] - a["loss"][six]) + (a[source][i] - a[source][six]) * np.log(n)
            ax.semilogx(
                n, diff, style, label=f"{names[i]} − 6 ({'theory' if source == 'llc_theory' else 'λ̂'})"
            )
        crossing_n = m["crossings"][names[i]]["theory"]
        if np.isfinite(crossing_n):
            ax.axvline(crossing_n, color="C3", lw=0.8)
            ax.annotate(
                f"{names[i]} → 6 at n = {crossing_n:.0f}",
                (crossing_n, -12),
                fontsize=7,
                color="C3",
                ha="right",
                xytext=(-3, 0),
                textcoords="offset points",
            )
    ax.axhline(0, color="k", lw=0.6)
    ax.axvline(PUBLISHED_CROSSING, color="k", ls=":", lw=1, label=f"Chen et al.: about {PUBLISHED_CROSSING}")
    ax.set_ylim(-15, 15)
    ax.set_xlabel("sample size n")
    ax.set_ylabel("F_n(k-gon) − F_n(6-gon)  (n H + λ log n)")
    ax.set_title("(b) the posterior prefers the lower free energy", fontsize=9)
    ax.legend(fontsize=7)

    ax = axes[2]  # (c) chain census
    counts, kinds = a["census"], run.summary["census_names"]
    shares = counts / counts.sum(axis=1, keepdims=True)
    bottom = np.zeros(len(a["census_n"]))
    x = np.arange(len(a["census_n"]))
    colors = plotting.feature_colors(len(kinds))
    for j, kind in enumerate(kinds):
        ax.bar(x, shares[:, j], bottom=bottom, color="0.85" if kind == "other" else colors[j], label=kind)
        bottom += shares[:, j]
    ax.set_xticks(x, [str(v) for v in a["census_n"]])
    ax.set_xlabel("sample size n (β = 1, chains from random starts)")
    ax.set_ylabel("share of chains")
    ax.set_title("(c) where unlocalised chains end (not mixed between basins at large n)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)

    t = m["trajectories"]
    label, step, loss = t.arrays["label"], t.arrays["step"], t.arrays["loss"]
    traj_names = t.summary["names"]
    colors = [f"C{j % 10}" for j in range(len(traj_names))]
    ax = axes[3]  # (d) loss along SGD, coloured by k-gon
    for r in range(min(12, label.shape[0])):
        ax.loglog(step, loss[r], color="0.8", lw=0.8)
        for j in range(len(traj_names)):
            on = label[r] == j
            ax.loglog(step[on], loss[r][on], ".", color=colors[j], ms=3)
    for j, name in enumerate(traj_names):
        ax.plot([], [], "o", color=colors[j], label=name)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss (mean over features)")
    ax.set_title("(d) SGD runs pass through k-gons (12 runs)", fontsize=9)
    ax.legend(fontsize=6, ncol=2)

    ax = axes[4]  # (e) λ̂ along SGD
    llc_RxC = t.arrays["llc"]
    for r in range(llc_RxC.shape[0]):
        ok = np.isfinite(llc_RxC[r])
        ax.semilogx(step[ok], llc_RxC[r][ok], "-", lw=0.8, alpha=0.7)
    for value in sorted({float(a["llc_theory"][i]) for i in m["minima"]}):
        ax.axhline(value, color="k", ls=":", lw=0.6)
        who = ", ".join(names[i] for i in m["minima"] if a["llc_theory"][i] == value)
        ax.annotate(
            f"λ({who}) = {value:g}",
            (1.0, value),
            xycoords=("axes fraction", "data"),
            fontsize=7,
            ha="right",
            va="bottom",
        )
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_ylim(-5, 15)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("λ̂ (population loss)")
    ax.set_title("(e) complexity grows as the loss falls (λ of the minima dotted)", fontsize=9)

    ax = axes[5]  # (f) transitions
    pairs = t.summary["transitions"][:10]
    ax.barh(np.arange(len(pairs)), [c for _, _, c in pairs], color="C0")
    ax.set_yticks(np.arange(len(pairs)), [f"{x} → {y}" for x, y, _ in pairs], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"runs (of {label.shape[0]})")
    ax.set_title("(f) transitions between k-gons along SGD", fontsize=9)
    fig.suptitle(
        "Dynamical versus Bayesian phase transitions, TMS 6 features in 2 dimensions (Chen et al. 2023)"
    )
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="bayesian_phases",
    description="k-gon critical points of TMS 6-2: losses, learning coefficients, the Bayesian crossing, SGD "
    "transitions (Chen et al. 2023)",
    stages=lambda size: [critical_points_stage, sgd_sweep(size == "quick"), trajectories_stage],
    plot=plot,
    report=report,
)

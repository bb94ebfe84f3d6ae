"""Neural scaling from superposition: loss against width in the weak and the strong regime.

Liu, Liu & Gore 2025 ("Superposition Yields Robust Neural Scaling", NeurIPS; their code exp/exp-10.py): the
toy model x' = ReLU(W Wᵀ x + b) on n features with x_i = u_i v_i, u_i ~ Bernoulli(p_i), v_i ~ U(0, 2],
p_i ∝ i^-a summing to 1 (one active feature per input on average), trained with AdamW at 1e-2 (warm-up, then
cosine to 5%), W ~ N(0, 1/m), b ~ N(0, 1), and a weight decay on W that may be negative: positive decay keeps
only the most frequent features (weak superposition), negative decay pulls every row of W to unit norm
(strong superposition). Their findings: in the weak regime the loss falls as m^-(a-1), the mass of the
features left out; in the strong regime it falls as 1/m while frequencies fall slowly (a ≤ 1.5), because
the squared overlaps of many unit vectors in m dimensions are about 1/m, and faster beyond (their figure 6e:
about 2(a − 1)).

Their a − 1 is the limit of many features: with n features the mass left out, Σ_{m < i ≤ n} p_i, falls
faster than m^-(a-1) over the widths a sweep can afford (at n = 100 and m = 4-16 as m^-0.49 for a = 1.2, not
m^-0.2), so the report and the figure give that mass's exponent at the sweep's own n beside the published one.

One sweep of width m x weight decay x frequency exponent a; each width is one compiled program (all its
decays and exponents vmapped). The loss of a model is its mean training loss over the last 5% of steps, where
the learning rate sits at its floor.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.data.sparse_features import frequencies
from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep

NAME = "scaling"
STRONG_REPRESENTED = 0.9
"""A model is in strong superposition when this share of its features or more is represented (‖W_i‖ > 0.5);
in weak superposition when fewer than m / n + 10% are."""


def _sizes(quick: bool) -> dict:
    """Full: the paper's n = 1000 features and widths 10-100 (their exp-10), 10,000 steps of batch 512
    (theirs: 20,000 of 2048; about 17 minutes on 2 CPU cores), weight decay -1 (strong) and +0.1 (weak: at
    this batch and length a decay of +1 keeps 1-4 features at m = 25 whatever the width, so the loss cannot
    fall with m; +0.1 keeps 19 of 25, measured); quick: 100 features, widths 4-16, 2,000 steps, decay -1 and
    +1 (weak there: 6-9% of the features)."""
    if quick:
        return dict(
            n=100,
            widths=(4, 6, 8, 11, 16),
            decays=(-1.0, 1.0),
            exponents=(1.2, 1.6, 2.0),
            steps=2000,
            batch=512,
        )
    return dict(
        n=1000,
        widths=(10, 15, 25, 39, 63, 100),
        decays=(-1.0, 0.1),
        exponents=(1.2, 1.6, 2.0),
        steps=10_000,
        batch=512,
    )


def sweeps(quick: bool) -> list[Sweep]:
    s = _sizes(quick)
    base = ToyConfig(
        n_features=s["n"],
        n_hidden=s["widths"][0],
        steps=s["steps"],
        batch_size=s["batch"],
        learning_rate=1e-2,
        schedule="warmup_cosine",
        warmup_steps=s["steps"] // 10,
        final_learning_rate=0.05,
        log_every=s["steps"] // 20,
        init="normal",
        feature_max=2.0,
        weight_decay_form="signed_rows",
    )
    laws = tuple(tuple(float(v) for v in frequencies("power", s["n"], a)) for a in s["exponents"])
    return [
        Sweep(
            name=NAME,
            base=base,
            axes={"n_hidden": s["widths"], "weight_decay": s["decays"], "feature_probability": laws},
        )
    ]


def measure(manifest: Manifest) -> dict:
    """Per (decay, exponent, width): the loss, the share of represented features and the mean squared overlap
    of the represented features' directions; per (decay, exponent): the fitted exponent γ of loss ∝ m^-γ with
    its standard error, and the regime. Sizes are read from the results (quick or full alike)."""
    folders = manifest.under(NAME)
    axes = folders[0].config["sweep"]["axes"]
    widths, decays = [int(v) for v in axes["n_hidden"]], [float(v) for v in axes["weight_decay"]]
    laws = [tuple(p) for p in axes["feature_probability"]]
    exponents = [float(np.log2(p[0] / p[1])) for p in laws]  # p_i ∝ i^-a: p_1 / p_2 = 2^a
    n = len(laws[0])
    shape = (len(decays), len(exponents), len(widths))
    loss, represented, overlap = (np.full(shape, np.nan) for _ in range(3))
    for run in folders:
        for i, inst in enumerate(run.config["instances"]):
            d, e = (
                decays.index(inst["axes"]["weight_decay"]),
                laws.index(tuple(inst["axes"]["feature_probability"])),
            )
            k = widths.index(inst["config"]["n_hidden"])
            W = run.arrays["W"][i]
            loss[d, e, k] = run.arrays["loss"][i, -1]
            norms = metrics.feature_norms(W)
            kept = norms > metrics.REPRESENTED_NORM
            represented[d, e, k] = kept.mean()
            if kept.sum() > 1:
                U = W[kept] / norms[kept, None]
                gram = U @ U.T
                overlap[d, e, k] = np.mean(gram[~np.eye(len(U), dtype=bool)] ** 2)
    m = np.asarray(widths, float)
    gamma, error = np.zeros(shape[:2]), np.zeros(shape[:2])
    for d in range(shape[0]):
        for e in range(shape[1]):
            (slope, _), cov = np.polyfit(np.log(m), np.log(loss[d, e]), 1, cov=True)
            gamma[d, e], error[d, e] = -slope, np.sqrt(cov[0, 0])
    tail = np.zeros(len(exponents))  # the weak regime's prediction at this n: the mass of features i > m
    for e, law in enumerate(laws):
        mass = [np.sum(law[w:]) for w in widths]
        tail[e] = -np.polyfit(np.log(m), np.log(mass), 1)[0]
    weak_limit = m.max() / n + 0.1
    regime = np.where(
        represented.min(axis=2) >= STRONG_REPRESENTED,
        "strong",
        np.where(represented.max(axis=2) <= weak_limit, "weak", "between"),
    )
    sizes = dict(
        n=n,
        widths=widths,
        decays=decays,
        exponents=exponents,
        steps=folders[0].config["sweep"]["base"]["steps"],
    )
    return dict(
        sizes=sizes,
        loss=loss,
        represented=represented,
        overlap=overlap,
        exponent=gamma,
        error=error,
        regime=regime,
        tail=tail,
    )


def published(regime: str, a: float) -> float | None:
    """Liu, Liu & Gore's model exponent, the dashed lines of their figure 6e: a − 1 in weak superposition;
    in strong, 1 while the frequencies fall slowly (a ≤ 1.5) and 2(a − 1) beyond, where their measured
    exponents rise (about 1.1, 1.3 and 2.0-2.3 at a = 1.2, 1.6 and 2, read off that figure)."""
    return {"weak": a - 1, "strong": max(1.0, 2 * (a - 1))}.get(regime)


def report_text(measured: dict) -> str:
    s = measured["sizes"]
    lines = [
        f"Loss ∝ m^-γ, n = {s['n']} features, widths {', '.join(map(str, s['widths']))}, {s['steps']} steps",
        f"{'regime':8s} {'weight decay':>12s} {'a':>5s} {'γ (fit ± SE)':>14s} {'published':>9s} "
        f"{'mass > m':>9s} {'represented':>11s}",
    ]
    for d, wd in enumerate(s["decays"]):
        for e, a in enumerate(s["exponents"]):
            regime = measured["regime"][d, e]
            ref = published(regime, a)
            gamma, error = measured["exponent"][d, e], measured["error"][d, e]
            lines.append(
                f"{regime:8s} {wd:12.2f} {a:5.2f} {gamma:7.2f} ± {error:4.2f} "
                f"{'' if ref is None else f'{ref:.2f}':>9s} "
                f"{'' if regime == 'strong' else format(measured['tail'][e], '.2f'):>9s} "
                f"{measured['represented'][d, e].mean():11.2f}"
            )
    return "\n".join(lines)


def report(manifest: Manifest) -> str:
    return report_text(measure(manifest))


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    measured = measure(manifest)
    s = measured["sizes"]
    m = np.asarray(s["widths"], float)
    fig, axes = plotting.figure(1, 5, figsize=(21, 4.2))
    colors = plotting.feature_colors(len(s["exponents"]))
    ends = (0, len(s["decays"]) - 1)  # the strongest growth and the strongest decay
    for d, style in zip(ends, ("-", "--")):
        for e, a in enumerate(s["exponents"]):
            y = measured["loss"][d, e]
            axes[0].loglog(
                m,
                y,
                style,
                marker="o",
                ms=3,
                color=colors[e],
                label=f"a = {a:g}, wd = {s['decays'][d]:+g}: γ = {measured['exponent'][d, e]:.2f}",
            )
    axes[0].set_xlabel("width m")
    axes[0].set_ylabel("loss")
    axes[0].set_title("(a) loss against width: strong (solid) and weak (dashed)", fontsize=9)
    axes[0].legend(fontsize=6)
    a = np.asarray(s["exponents"])
    for d, wd in enumerate(s["decays"]):
        axes[1].errorbar(
            a + 0.01 * (d - len(s["decays"]) / 2),
            measured["exponent"][d],
            measured["error"][d],
            fmt="o",
            ms=4,
            capsize=2,
            label=f"wd = {wd:+g}",
        )
    axes[1].plot(a, a - 1, "k--", lw=1, label="published, weak: a − 1 (n → ∞)")
    axes[1].plot(a, measured["tail"], "k:", marker="x", lw=1, label=f"mass of features i > m at n = {s['n']}")
    grid = np.linspace(a.min(), a.max(), 50)
    axes[1].plot(
        grid, np.maximum(1.0, 2 * (grid - 1)), "k", lw=1, label="published, strong: max(1, 2(a − 1))"
    )
    axes[1].set_xlabel("frequency exponent a (p_i ∝ i^-a)")
    axes[1].set_ylabel("fitted exponent γ (loss ∝ m^-γ)")
    axes[1].set_title("(b) model exponent against the frequency law", fontsize=9)
    axes[1].legend(fontsize=6)
    mid = len(s["exponents"]) // 2
    for d, wd in enumerate(s["decays"]):
        axes[2].semilogx(m, measured["represented"][d, mid], marker="o", ms=3, label=f"wd = {wd:+g}")
    axes[2].semilogx(m, m / s["n"], "k:", lw=1, label="m / n")
    axes[2].set_xlabel("width m")
    axes[2].set_ylabel("share of features represented (‖W_i‖ > 0.5)")
    axes[2].set_title(f"(c) representation, a = {s['exponents'][mid]:g}", fontsize=9)
    axes[2].legend(fontsize=6)
    for e, a_e in enumerate(s["exponents"]):
        axes[3].loglog(m, measured["overlap"][0, e], marker="o", ms=3, color=colors[e], label=f"a = {a_e:g}")
    axes[3].loglog(m, 1 / m, "k--", lw=1, label="1 / m")
    axes[3].set_xlabel("width m")
    axes[3].set_ylabel("mean squared overlap (Ŵ_i · Ŵ_j)²")
    axes[3].set_title(f"(d) overlaps in strong superposition (wd = {s['decays'][0]:+g})", fontsize=9)
    axes[3].legend(fontsize=6)
    share = measured["represented"].mean(axis=2)
    image = axes[4].imshow(share, cmap="viridis", vmin=0, vmax=1, aspect="auto", origin="lower")
    for d in range(len(s["decays"])):
        for e in range(len(s["exponents"])):
            text = f"{measured['regime'][d, e]}\nγ = {measured['exponent'][d, e]:.2f}"
            axes[4].text(
                e, d, text, ha="center", va="center", fontsize=7, color="w" if share[d, e] < 0.6 else "k"
            )
    axes[4].set_xticks(range(len(s["exponents"])), [f"{a:g}" for a in s["exponents"]])
    axes[4].set_yticks(range(len(s["decays"])), [f"{wd:+g}" for wd in s["decays"]])
    axes[4].set_xlabel("frequency exponent a")
    axes[4].set_ylabel("weight decay (negative: growth)")
    axes[4].set_title("(e) regime: share of features represented", fontsize=9)
    fig.colorbar(image, ax=axes[4], fraction=0.05)
    fig.suptitle(
        f"Neural scaling from superposition, n = {s['n']} features with p_i ∝ i^-a. Liu, Liu & Gore 2025: "
        "with weight growth every feature is represented and the loss falls like 1/m (a ≤ 1.5); with decay "
        "only\nthe most frequent m are and it falls like the mass left out, m^-(a-1). Measured exponents in "
        "(b), with that mass at this n (dotted).",
        fontsize=9.5,
        y=1.04,
    )
    fig.tight_layout()
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="scaling",
    description="Liu, Liu & Gore 2025: loss against width in weak and strong superposition, fitted exponents",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

"""E9, second half: adversarial training reduces superposition, and how large an attack removes it.

Elhage et al. 2022, "Superposition and Adversarial Examples": training against the analytic attack on
a random feature reduces superposition, but the attacks must reach about 80% of the input's L2 norm to
remove it fully. The paper gives neither the model nor its density. This study uses the model of
"Basic results" (20 features of importance 0.7^i in 5 dimensions, x' = ReLU(WᵀWx + b)) at density 0.05,
where the plain model holds about 10 features in superposition. Each training input x is attacked along
(WᵀW)_i / ‖(WᵀW)_i‖ of one feature i drawn at random, with norm a·‖x‖, the direction held fixed in the
gradient (it is the optimum for the current weights), and the model is trained to output the clean x
(ToyConfig.attack_fraction). Best of 4 seeds by final training loss per attack fraction a.

Measured per a: superposition by two measures, the paper's own in this section, features per dimension
‖W‖²_F / m (with the rank of WᵀW), and superpose's count of features represented (‖W_i‖ > 0.5) and in
superposition (interference > 0.1); the plain loss on fresh inputs; and the vulnerability of the trained
model to the evaluation attack (the most harmful feature's direction) at 0.1 of the mean input norm, as the
paper evaluates it, and at 0.1 of each input's own norm. Superposition is gone by the paper's measure from the
smallest a from which ‖W‖²_F / m stays ≤ 1, by the count from the smallest a from which no feature interferes.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from experiments._references import P
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
from superpose.app.scorecard import Check, Rule, judge, not_judged
from superpose.data.sparse_features import sample_features
from superpose.measures import features as metrics
from superpose.toy.adversarial import relative_vulnerability
from superpose.toy.sweep import Sweep
from superpose.train import rng

PAPER_FRACTION = 0.8
EVAL_ATTACK = 0.1
EVAL_SAMPLES = 1 << 16


def fractions(quick: bool) -> tuple[float, ...]:
    if quick:
        return (0.0, 0.2, 0.5, 0.8, 1.2)
    return (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5)


def sweeps(quick: bool) -> list[Sweep]:
    return [Sweep(name="adversarial_training", base=base(), axes={"attack_fraction": fractions(quick)},
                  best_of=2 if quick else 4)]


def measure(manifest: Manifest) -> dict[str, np.ndarray]:
    """Per attack fraction (best seed): norms, represented / superposed counts, plain loss, vulnerability."""
    run = manifest.group("adversarial_training", "all")
    m = measure_best(run, "attack_fraction", "fraction")
    x_FxB = sample_features(rng.key(0), jnp.full((N_FEATURES,), DENSITY), EVAL_SAMPLES)
    importance_F = jnp.asarray(IMPORTANCE_DECAY ** np.arange(N_FEATURES), jnp.float32)
    m["vulnerability"] = np.asarray(
        [float(relative_vulnerability(run.model(i), x_FxB, importance_F, EVAL_ATTACK)) for i in m["best"]]
    )
    m["vulnerability_mean_norm"] = np.asarray([
        float(relative_vulnerability(run.model(i), x_FxB, importance_F, EVAL_ATTACK, per_input=False))
        for i in m["best"]
    ])
    W = run.arrays["W"][m["best"]]
    m["features_per_dim"] = np.asarray(metrics.features_per_dimension(W))
    m["gram_rank"] = np.asarray(metrics.gram_rank(W))
    return m


def removing_fraction(m: dict[str, np.ndarray], measure: str = "count") -> float:
    """The smallest attack fraction from which no trained model is in superposition, by the `count` (no
    feature interferes) or by `features_per_dim` (‖W‖²_F / m ≤ 1, the paper's measure); NaN if none."""
    free = m["superposed"] == 0 if measure == "count" else m["features_per_dim"] <= 1.0
    for k in range(len(free)):
        if m["fraction"][k] > 0 and free[k:].all():
            return float(m["fraction"][k])
    return float("nan")


def report(manifest: Manifest) -> str:
    m = measure(manifest)
    header = (
        f"{'attack':>7} {'‖W‖²/m':>7} {'rank':>5} {'represented':>12} {'superposed':>11} {'loss':>10} "
        f"{'loss / a=0':>11} {'vuln. mean‖x‖':>14} {'vuln. ‖x‖':>10}"
    )
    lines = [header]
    for k, a in enumerate(m["fraction"]):
        lines.append(
            f"{a:>7.2f} {m['features_per_dim'][k]:>7.2f} {m['gram_rank'][k]:>5d} {m['represented'][k]:>12d} "
            f"{m['superposed'][k]:>11d} {m['loss'][k]:>10.3g} {m['loss'][k] / m['loss'][0]:>11.2f} "
            f"{m['vulnerability_mean_norm'][k]:>14.3g} {m['vulnerability'][k]:>10.3g}"
        )
    lines.append(
        f"superposition gone (the paper: about {PAPER_FRACTION}) from attack fraction "
        f"{removing_fraction(m, 'features_per_dim'):.2g} by ‖W‖²_F / m ≤ 1 (the paper's measure), "
        f"{removing_fraction(m):.2g} by the count of interfering features"
    )
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    m = measure(manifest)
    a = m["fraction"]
    removed, by_density = removing_fraction(m), removing_fraction(m, "features_per_dim")
    fig, (ax_w, ax_n, ax_v) = plotting.figure(1, 3, figsize=(13, 3.9))
    edges = np.concatenate([[a[0] - (a[1] - a[0]) / 2], (a[:-1] + a[1:]) / 2, [a[-1] + (a[-1] - a[-2]) / 2]])
    draw_norms(fig, ax_w, edges, m["norms"])
    ax_w.set(xlabel="attack norm during training, × ‖x‖", title="feature norms")
    draw_counts(ax_n, a, m, label_right=False)
    ax_n.axvline(PAPER_FRACTION, color="tab:purple", ls="--", lw=0.9, label=f"the paper: {PAPER_FRACTION}")
    ax_n.set(
        xlabel="attack norm during training, × ‖x‖",
        ylabel="features",
        title="adversarial training removes superposition",
    )
    density_axis = ax_n.twinx()
    density_axis.plot(a, m["features_per_dim"], "d-", color="tab:green", ms=4,
                      label="features per dimension ‖W‖²_F / m (right)")
    density_axis.axhline(1.0, color="tab:green", ls=":", lw=0.8)
    density_axis.set_ylim(0, max(2.0, float(m["features_per_dim"].max()) * 1.1))
    density_axis.set_ylabel("‖W‖²_F / m", color="tab:green")
    density_axis.spines["right"].set_visible(True)
    counts, density = ax_n.get_legend_handles_labels(), density_axis.get_legend_handles_labels()
    ax_n.legend(counts[0] + density[0], counts[1] + density[1], fontsize=7, frameon=False)
    ax_v.plot(a, m["vulnerability_mean_norm"], "^-", color="tab:orange",
              label=f"vulnerability at {EVAL_ATTACK}·mean ‖x‖ (the paper's)")
    ax_v.plot(a, m["vulnerability"], "o-", color="tab:red", label=f"vulnerability at {EVAL_ATTACK}·‖x‖")
    ax_v.set(
        xlabel="attack norm during training, × ‖x‖",
        ylabel="relative loss increase (L′ − L) / L",
        title="robustness bought with loss",
        yscale="log",
    )
    twin = ax_v.twinx()
    twin.plot(a, m["loss"] / m["loss"][0], "s--", color="tab:blue", ms=4, label="plain loss, × that of a = 0")
    twin.set_ylabel("plain loss, × that of a = 0", color="tab:blue")
    twin.spines["right"].set_visible(True)
    lines = ax_v.get_legend_handles_labels()
    extra = twin.get_legend_handles_labels()
    ax_v.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=7, frameon=False, loc="upper center",
                bbox_to_anchor=(0.6, 1.0))
    def said(value, how):
        return f"from attacks of {value:.2g}·‖x‖ {how}" if np.isfinite(value) else f"never {how}"

    measured = (
        f"superposition is gone {said(by_density, 'by ‖W‖²_F / m ≤ 1 (the paper’s measure)')}, "
        f"{said(removed, 'by the count of interfering features')}; the paper: about {PAPER_FRACTION}"
    )
    fig.suptitle(
        f"Adversarial training against the analytic attack on a random feature, {N_FEATURES} features "
        f"(importance {IMPORTANCE_DECAY}^i) in {N_HIDDEN} dimensions at density {DENSITY}, best of the "
        f"seeds:\n{measured}",
        fontsize=9.5,
    )
    fig.subplots_adjust(wspace=0.55, top=0.84)
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def removal_rules(m: dict[str, np.ndarray]) -> list[Rule]:
    """Check 20: by the paper's measure, features per dimension ‖W‖²_F / m, superposition is gone (≤ 1 from
    then on) once the training attack reaches 0.6 to 1.0 of the input norm (the paper: about 0.8); superpose's
    count of interfering features is reported beside it, not judged (it is not the paper's measure)."""
    by_density, by_count = removing_fraction(m, "features_per_dim"), removing_fraction(m)
    plain = float(m["features_per_dim"][0])
    return [
        judge("‖W‖²_F / m above 1 without attack (superposition to remove)", f"{plain:.2f}", plain > 1),
        judge(f"‖W‖²_F / m ≤ 1 from an attack of 0.6 to 1.0 × ‖x‖ (the paper: about {PAPER_FRACTION})",
              f"from {by_density:.2g}", 0.6 <= by_density <= 1.0),
        not_judged("no feature interfering (superpose's count, not the paper's measure)",
                   f"from {by_count:.2g}" if np.isfinite(by_count) else "never, up to the largest attack"),
    ]


CHECKS = (
    Check(
        "20",
        "adversarial training removes superposition at attacks of about 0.8 of the input norm",
        f"{P} Superposition and Adversarial Examples",
        ("adversarial-training",),
        lambda manifests, quick: removal_rules(measure(manifests["adversarial-training"])),
        full_only=True,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="adversarial-training",
    description="E9: adversarial training against the analytic attack removes superposition",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

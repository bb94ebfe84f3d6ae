"""E9, second half: adversarial training reduces superposition, and how large an attack removes it.

Elhage et al. 2022, "Superposition and Adversarial Examples": training against the analytic attack on
a random feature reduces superposition, but the attacks must reach about 80% of the input's L2 norm to
remove it fully. The paper gives neither the model nor its density. This study uses the model of
"Basic results" (20 features of importance 0.7^i in 5 dimensions, x' = ReLU(WᵀWx + b)) at density 0.05,
where the plain model holds about 10 features in superposition. Each training input x is attacked along
(WᵀW)_i / ‖(WᵀW)_i‖ of one feature i drawn at random, with norm a·‖x‖, the direction held fixed in the
gradient (it is the optimum for the current weights), and the model is trained to output the clean x
(ToyConfig.attack_fraction). Best of 4 seeds by final training loss per attack fraction a.

Measured per a: features represented (‖W_i‖ > 0.5) and in superposition (interference > 0.1), the
plain loss on fresh inputs, and the vulnerability of the trained model to the paper's evaluation attack
(the most harmful feature's direction at 0.1·‖x‖, as in the `adversarial` study).
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
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
from superpose.data.sparse_features import sample_features
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
    return m


def removing_fraction(m: dict[str, np.ndarray]) -> float:
    """The smallest attack fraction from which no trained model keeps a feature in superposition; NaN if
    none."""
    free = m["superposed"] == 0
    for k in range(len(free)):
        if m["fraction"][k] > 0 and free[k:].all():
            return float(m["fraction"][k])
    return float("nan")


def report(manifest: Manifest) -> str:
    m = measure(manifest)
    header = (
        f"{'attack':>7} {'represented':>12} {'superposed':>11} {'loss':>10} {'loss / a=0':>11} "
        f"{'vulnerability':>14}"
    )
    lines = [header]
    for a, r, s, loss, v in zip(
        m["fraction"], m["represented"], m["superposed"], m["loss"], m["vulnerability"]
    ):
        lines.append(f"{a:>7.2f} {r:>12d} {s:>11d} {loss:>10.3g} {loss / m['loss'][0]:>11.2f} {v:>14.3g}")
    lines.append(
        f"superposition removed from attack fraction {removing_fraction(m):.2g} "
        f"(the paper: about {PAPER_FRACTION})"
    )
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    m = measure(manifest)
    a = m["fraction"]
    removed = removing_fraction(m)
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
    ax_n.legend(fontsize=8, frameon=False)
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
    ax_v.legend(lines[0] + extra[0], lines[1] + extra[1], fontsize=8, frameon=False, loc="center right")
    measured = (
        f"no feature stays in superposition from attacks of {removed:.2g}·‖x‖ (the paper: about "
        f"{PAPER_FRACTION})"
        if np.isfinite(removed)
        else "superposition survives every attack size trained"
    )
    fig.suptitle(
        f"Adversarial training against the analytic attack on a random feature, {N_FEATURES} features "
        f"(importance {IMPORTANCE_DECAY}^i) in {N_HIDDEN} dimensions at density {DENSITY}, best of the "
        f"seeds:\n{measured}",
        fontsize=9.5,
    )
    fig.subplots_adjust(wspace=0.55, top=0.84)
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="adversarial-training",
    description="E9: adversarial training against the analytic attack removes superposition",
    stages=lambda size: sweeps(size == "quick"),
    plot=plot,
    report=report,
)

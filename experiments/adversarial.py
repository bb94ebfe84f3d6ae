"""E9: adversarial vulnerability grows with superposition.

Elhage et al. 2022, "Superposition and adversarial examples"; check 16 of
docs/checks.md. Reuses the E2 sweep (`basic`: 20 features in 5 dimensions,
importance 0.7^i). Each ReLU model gets the analytic per-feature attack
(superpose.toy.adversarial), of L2 norm 0.1 x each input's norm, on fresh data at
its density, and, as the paper evaluates it, of 0.1 x the mean input norm for every
input. Vulnerability is the relative loss increase (L' − L) / L.

The paper normalises by a non-superposition model, (L' − L) / (L'₀ − L₀),
without saying which model that is. A fixed attack norm of 0.1 x the mean
input norm also breaks down at high sparsity: most inputs are then all zero,
and the attack is smaller than the ReLU model's negative biases.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from experiments import basic
from experiments._references import P
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge
from superpose.data.sparse_features import sample_features
from superpose.measures import features as metrics
from superpose.toy.adversarial import relative_vulnerability
from superpose.train import rng

N_SAMPLES = 50_000
EPS_FRACTION = 0.1


def vulnerability(manifest: Manifest) -> dict[str, np.ndarray]:
    """Per density of the basic sweep's ReLU models: relative vulnerability and features per dimension."""
    relu = basic.load_runs(manifest)["relu_output"]
    best = basic.best(relu)
    out = {
        "density": relu.arrays["feature_probability"][best, 0],
        "vulnerability": [],
        "vulnerability_mean_norm": [],
        "features_per_dim": [],
    }
    for point, i in enumerate(best):
        x_FxB = sample_features(rng.key(point), jnp.asarray(relu.arrays["feature_probability"][i]), N_SAMPLES)
        importance = jnp.asarray(relu.arrays["importance"][i])
        v = relative_vulnerability(relu.model(i), x_FxB, importance, EPS_FRACTION)
        out["vulnerability"].append(float(v))
        v_mean = relative_vulnerability(relu.model(i), x_FxB, importance, EPS_FRACTION, per_input=False)
        out["vulnerability_mean_norm"].append(float(v_mean))
        out["features_per_dim"].append(float(metrics.features_per_dimension(relu.arrays["W"][i])))
    return {k: np.asarray(v) for k, v in out.items()}


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    v = vulnerability(manifest)
    fig, (ax_s, ax_f) = plotting.figure(1, 2, figsize=(9, 3.6))
    ax_s.plot(v["density"], v["vulnerability"], "o-", color="tab:red", label=f"‖δ‖ = {EPS_FRACTION}·‖x‖")
    ax_s.plot(v["density"], v["vulnerability_mean_norm"], "^:", color="tab:orange",
              label=f"‖δ‖ = {EPS_FRACTION}·mean ‖x‖ (the paper's)")
    ax_s.legend(fontsize=7.5, frameon=False, loc="upper left")
    ax_s.set(xscale="log", xlabel="feature density 1 − S", ylabel="relative loss increase (L′ − L) / L")
    ax_s.invert_xaxis()
    twin = ax_s.twinx()
    twin.plot(v["density"], v["features_per_dim"], "s--", color="0.4", ms=4)
    twin.set_ylabel("features per dimension ‖W‖²_F / m", color="0.4")
    twin.spines["right"].set_visible(True)
    ax_s.set_title("vulnerability rises as superposition forms")
    ax_f.scatter(v["features_per_dim"], v["vulnerability"], color="tab:red")
    for d, x, y in zip(v["density"], v["features_per_dim"], v["vulnerability"]):
        ax_f.annotate(f"{d:g}", (x, y), textcoords="offset points", xytext=(4, 3), fontsize=7)
    ax_f.set(
        xlabel="features per dimension ‖W‖²_F / m",
        ylabel="relative vulnerability",
        title="it tracks features per dimension (labels: 1 − S)",
    )
    fig.suptitle(
        f"Worst per-feature attack of norm {EPS_FRACTION} × the input's (right: per input) on the ReLU "
        "models of E2 (20 features in 5 dimensions)",
        fontsize=10,
        y=1.03,
    )
    fig.subplots_adjust(wspace=0.5)
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------


def vulnerability_tracks_superposition(density, vulnerability, features_per_dim) -> list[Rule]:
    """Check 16. The sparsest model's vulnerability is 2.6x to 3.9x the dense one's over seed offsets 0 to
    5000 (quick size, best of 4 seeds), so the rule asks 2x."""
    from scipy.stats import spearmanr

    density, v = np.asarray(density), np.asarray(vulnerability)
    ratio = v[np.argmin(density)] / v[np.argmax(density)]
    rho = spearmanr(v, features_per_dim).statistic
    return [
        judge(
            f"vulnerability at 1 − S = {density.min():g} ≥ 2x that at {density.max():g}",
            f"{ratio:.1f}x",
            ratio >= 2,
        ),
        judge("Spearman ρ(vulnerability, ‖W‖²_F/m) ≥ 0.8", f"{rho:.2f}", rho >= 0.8),
    ]


def _check16(manifests, quick):

    v = vulnerability(manifests["basic"])
    return vulnerability_tracks_superposition(v["density"], v["vulnerability"], v["features_per_dim"])


CHECKS = (
    Check(
        "16",
        "adversarial vulnerability grows with superposition",
        f"{P} Superposition and Adversarial Examples",
        ("basic",),
        _check16,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="adversarial",
    description="E9: adversarial vulnerability vs superposition (analytic attack on the E2 models)",
    stages=lambda size: basic.sweeps(size == "quick"),
    plot=plot,
)

"""The 18 acceptance checks of docs/checks.md as scorecard checks (superpose.app.scorecard).

Each check's rules are computed by one function on arrays (what the tests call on what they train) and
read from the experiments' result folders by its `Check` (what `superpose check` evaluates). The rule
texts and tolerances are those of docs/checks.md; `measured` is the worst case over what the rule covers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from superpose.app.scorecard import Check, Rule, judge, not_judged
from superpose.measures import features as metrics
from superpose.toy.sweep import best_instances, by_point

P, NB, W_, DD, A, S = "[P]", "[NB]", "[W]", "[DD]", "[A]", "[S]"


def _range(values, fmt: str = ".3g") -> str:
    lo, hi = format(float(np.min(values)), fmt), format(float(np.max(values)), fmt)
    return lo if lo == hi else f"{lo} to {hi}"


def _densities(values) -> str:
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


# ---- 1-4, 14: the library itself -------------------------------------------------------------------------

def data_generator(n: int = 1_000_000) -> list[Rule]:
    """Check 1 on n draws: independent features at density 0.05, correlated pairs, anticorrelated triples."""
    from superpose.data.sparse_features import sample_features, sample_structured
    from superpose.train import rng

    p = 0.05
    x = np.asarray(sample_features(rng.key(3), jnp.full((1,), p), n))[0]
    nonzero = x[x > 0]
    tol = 4 * np.sqrt(p * (1 - p) / n)
    corr = np.asarray(sample_structured(rng.key(1), jnp.full((4,), 0.2), n, kind="correlated", set_size=2,
                                        signed=False)) > 0
    anti = np.asarray(sample_structured(rng.key(2), jnp.full((3,), 0.3), n, kind="anticorrelated", set_size=3,
                                        signed=False)) > 0
    active = anti.sum(axis=0)
    anti_tol = 4 * np.sqrt(0.3 * 0.7 / n)
    return [
        judge(f"fraction nonzero at p = {p}: |fraction − p| ≤ 4σ = {tol:.1e} (N = {n:.0e})",
              f"{nonzero.size / n:.5f}", abs(nonzero.size / n - p) <= tol),
        judge("nonzero values: mean 0.5 ± 0.005, variance 1/12 ± 0.002",
              f"mean {nonzero.mean():.4f}, variance {nonzero.var():.4f}",
              abs(nonzero.mean() - 0.5) <= 0.005 and abs(nonzero.var() - 1 / 12) <= 0.002),
        # an active value is U[0, 1) in float32, exactly 0 with probability 2⁻²³: about 1 pair in 10 runs of 10⁶
        # draws differs for that reason (seen at seed offset 2000); independent pairs would differ in 32%
        judge("correlated pairs are zero together (≤ 10⁻⁵ of draws differ: a value can be exactly 0)",
              f"{np.mean(corr[0::2] != corr[1::2]):.1e} of draws differ", np.mean(corr[0::2] != corr[1::2]) <= 1e-5),
        judge(f"anticorrelated triple: at most one active, active with probability 0.3 ± {anti_tol:.1e}",
              f"at most {active.max()} active, active {np.mean(active > 0):.4f}",
              active.max() == 1 and abs(np.mean(active > 0) - 0.3) <= anti_tol),
    ]


def known_geometries() -> dict[str, tuple[np.ndarray, float]]:
    """(W, expected dimensionality of each feature) of the fixed geometries of check 2."""
    def polygon(k):
        a = 2 * np.pi * np.arange(k) / k
        return np.stack([np.cos(a), np.sin(a)], axis=1)

    z = 1 / np.sqrt(3)
    r, a = np.sqrt(1 - z**2), np.pi / 2 * np.arange(4)
    antiprism = np.concatenate([np.stack([r * np.cos(a), r * np.sin(a), np.full(4, z)], 1),
                                np.stack([r * np.cos(a + np.pi / 4), r * np.sin(a + np.pi / 4), np.full(4, -z)], 1)])
    return {
        "orthonormal": (np.eye(3), 1.0),
        "antipodal pair": (np.array([[1.0], [-1.0]]), 1 / 2),
        "triangle": (polygon(3), 2 / 3),
        "pentagon": (polygon(5), 2 / 5),
        "tetrahedron": (np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3), 3 / 4),
        "square antiprism": (antiprism, 3 / 8),
    }


def dimensionality_of_geometries() -> list[Rule]:
    errors = {name: float(np.abs(np.asarray(metrics.feature_dimensionality(W)) - d).max())
              for name, (W, d) in known_geometries().items()}
    conserved = max(abs(float(np.sum(metrics.feature_dimensionality(W))) - W.shape[1])
                    for W, _ in known_geometries().values())
    zero = np.asarray(metrics.feature_dimensionality(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])))
    return [
        judge("D_i of orthonormal 1, antipodal 1/2, triangle 2/3, pentagon 2/5, tetrahedron 3/4, "
              "square antiprism 3/8, within 1e-6", f"worst error {max(errors.values()):.1e}",
              max(errors.values()) <= 1e-6),
        judge("Σ_i D_i = m within 1e-6", f"worst error {conserved:.1e}", conserved <= 1e-6),
        judge("a zero row has D = 0 (not NaN)", f"D = {zero[2]:g}", zero[2] == 0 and np.isfinite(zero).all()),
    ]


def closed_forms(n_samples: int = 2_000_000) -> list[Rule]:
    """Check 3: the toy-of-toy losses, and the simulator's Monte-Carlo loss of the same fixed weights."""
    from superpose.toy import models, theory
    from superpose.data.sparse_features import sample_features
    from superpose.train import rng

    s, r = 0.3, 0.5
    exact = max(abs(theory.loss_drop_unit(s) - (s / 3 - s**2 / 4)),
                abs(theory.loss_drop_weighted(s, r) - r * (s / 3 - s**2 / 4)),
                abs(theory.loss_antipodal(s, r) - (1 + r) * s**2 / 6))
    x = sample_features(rng.key(0), jnp.full((2,), s), n_samples)
    cases = [([[1.0], [0.0]], [0.0, s / 2], theory.loss_drop_weighted(s, r)),
             ([[0.0], [1.0]], [s / 2, 0.0], theory.loss_drop_unit(s)),
             ([[1.0], [-1.0]], [0.0, 0.0], theory.loss_antipodal(s, r))]
    worst = 0.0
    for W, b, expected in cases:
        model = models.from_arrays("relu_output", {"W_FxH": jnp.asarray(W), "b_F": jnp.asarray(b)})
        mc = 2 * float(model.loss(x, jnp.asarray([1.0, r])))  # the mean over 2 features, as the paper's sum
        worst = max(worst, abs(mc / expected - 1))
    return [
        judge("drop a feature s/3 − s²/4, drop the weight-r one r(s/3 − s²/4), antipodal (1 + r)s²/6 (exact)",
              f"largest difference {exact:.0e}", exact <= 1e-15),
        judge(f"Monte Carlo loss of those weights ({n_samples:.0e} samples) within 1%",
              f"worst {worst:.2%}", worst <= 0.01),
    ]


def phase_boundary() -> list[Rule]:
    from superpose.toy import theory

    values = [theory.antipodal_boundary(r) for r in (1.0, 0.1, 10.0)]
    error = max(abs(values[0] - 4 / 7), abs(values[1] - 0.16), abs(values[2] - 0.16))
    separates = all(theory.optimal_phase(theory.antipodal_boundary(r) * 0.98, r) == 1
                    and theory.optimal_phase(theory.antipodal_boundary(r) * 1.02, r) != 1 for r in (0.2, 0.7, 1, 3))
    return [
        judge("boundary 4/7 at r = 1, 0.16 at r = 0.1 and r = 10, exact to 1e-12",
              f"{values[0]:.6f}, {values[1]:.6f}, {values[2]:.6f}", error <= 1e-12),
        judge("antipodal optimal just below the boundary, not just above (r = 0.2, 0.7, 1, 3)",
              "yes" if separates else "no", separates),
    ]


def recipe_parity() -> list[Rule]:
    """Check 14: the notebook's initialisation and optimiser."""
    from superpose.toy import models, training
    from superpose.toy.config import ToyConfig

    c = ToyConfig()
    hyper = (c.learning_rate, c.weight_decay, c.batch_size, c.steps, c.schedule)
    model = models.MODELS.get("relu_output")(200, 50, jax.random.key(0))
    std = float(np.std(np.asarray(model.W_FxH[...]))) / np.sqrt(2 / 250)
    params = {"W": jnp.ones(3), "b": jnp.ones(2)}
    optimizer = training.learner([c]).optimizer(training.hyper_arrays([c]))
    updates, _ = optimizer.update(jax.tree.map(jnp.zeros_like, params), optimizer.init(params), params)
    decay = [float(u[0]) for u in jax.tree.leaves(updates)]  # zero gradient: only weight decay moves
    return [
        judge("lr 1e-3 constant, weight decay 0.01, batch 1024, 10,000 steps",
              f"lr {hyper[0]:g} {hyper[4]}, wd {hyper[1]:g}, batch {hyper[2]}, {hyper[3]:,} steps",
              hyper == (1e-3, 0.01, 1024, 10_000, "constant")),
        judge("Xavier-normal W: std √(2/(F + H)) within 3%, zero bias", f"std ratio {std:.3f}",
              abs(std - 1) <= 0.03 and not np.any(np.asarray(model.b_F[...]))),
        judge("weight decay acts on W and b alike (−lr·wd per step at zero gradient)",
              ", ".join(f"{d:.2e}" for d in decay), np.allclose(decay, -1e-5, rtol=1e-4)),
    ]


# ---- 5-7, 16: E2, 20 features in 5 dimensions ---------------------------------------------------------------

def linear_like(W_NxFxH, b_NxF, densities, label: str) -> list[Rule]:
    """Checks 5 and 6: exactly the 5 most important features, orthogonal; the others' bias their mean."""
    W_NxFxH, b_NxF, densities = np.asarray(W_NxFxH), np.asarray(b_NxF), np.asarray(densities)
    norms = np.linalg.norm(W_NxFxH, axis=-1)
    gram = W_NxFxH @ np.swapaxes(W_NxFxH, -1, -2)
    off = np.abs(gram - gram * np.eye(gram.shape[-1])).max()
    frob = np.sum(W_NxFxH**2, axis=(-1, -2))
    bias = np.abs(b_NxF[:, 5:] - 0.5 * densities[:, None]).max()
    at = f"{label}, 1 − S ∈ {_densities(densities)}"
    return [
        judge(f"{at}: ‖W_i‖ ∈ [0.95, 1.05] for the 5 most important", _range(norms[:, :5], ".3f"),
              np.all((norms[:, :5] >= 0.95) & (norms[:, :5] <= 1.05))),
        judge(f"{at}: ‖W_i‖ ≤ 0.05 for the others", f"max {norms[:, 5:].max():.3f}", np.all(norms[:, 5:] <= 0.05)),
        judge(f"{at}: ‖W‖²_F = 5 ± 0.1", _range(frob, ".3f"), np.all(np.abs(frob - 5) <= 0.1)),
        judge(f"{at}: |(WWᵀ)_ij| ≤ 0.05 off the diagonal", f"max {off:.3f}", off <= 0.05),
        judge(f"{at}: b_i = 0.5(1 − S) ± 0.02 for i ≥ 5", f"max error {bias:.3f}", bias <= 0.02),
    ]


def relu_superposition(W_NxKxFxH, b_NxKxF, loss_NxK, densities) -> list[Rule]:
    """Check 7 on k seeds per density: superposition grows with sparsity, least important features first;
    negative biases. Judged on the seed of lowest loss (`loss_NxK`: on a large common evaluation set; single
    seeds stop in local minima: at density 0.3 one of features 0-2 in superposition in 8 of 16 seeds, at 0.01
    antipodal pairs without negative biases in some), except the growth, judged on the seeds' mean."""
    W, b, loss, densities = (np.asarray(a) for a in (W_NxKxFxH, b_NxKxF, loss_NxK, densities))
    pick = np.argmin(np.where(np.isfinite(loss), loss, np.inf), axis=1)
    W_best, b_best = W[np.arange(len(W)), pick], b[np.arange(len(b)), pick]
    frob = np.sum(W_best**2, axis=(1, 2))
    mean_frob = np.sum(W**2, axis=(2, 3)).mean(axis=1)
    sparse = densities <= 0.01
    negative = np.sum(b_best[sparse] < -0.05, axis=-1)
    rules = [
        judge("‖W‖²_F ≥ 10 at 1 − S ≤ 0.01", f"min {frob[sparse].min():.2f}", np.all(frob[sparse] >= 10)),
        judge("mean ‖W‖²_F over seeds non-decreasing with sparsity (within 0.5)",
              f"largest drop {max(0, -np.diff(mean_frob).min()):.2f}", np.all(np.diff(mean_frob) >= -0.5)),
        judge("≥ 5 biases < −0.05 at 1 − S ≤ 0.01", f"min {negative.min()}", np.all(negative >= 5)),
    ]
    at = np.flatnonzero(np.isclose(densities, 0.3))
    if at.size:
        best = W_best[at[0]]
        interf, norms = np.asarray(metrics.interference(best)), np.asarray(metrics.feature_norms(best))
        superposed = int(np.sum((interf[3:] >= 0.8) & (norms[3:] > 0.5)))
        rules += [
            judge("1 − S = 0.3: ‖W‖²_F ≥ 6.5", f"{frob[at[0]]:.2f}", frob[at[0]] >= 6.5),
            judge("1 − S = 0.3: features 0-2 have interference ≤ 0.05", f"max {interf[:3].max():.3f}",
                  np.all(interf[:3] <= 0.05)),
            judge("1 − S = 0.3: ≥ 2 represented features i ≥ 3 with interference ≥ 0.8", str(superposed),
                  superposed >= 2),
        ]
    return rules


def vulnerability_tracks_superposition(density, vulnerability, features_per_dim) -> list[Rule]:
    """Check 16. The sparsest model's vulnerability is 2.6x to 3.9x the dense one's over seed offsets 0 to 5000
    (quick size, best of 4 seeds), so the rule asks 2x."""
    from scipy.stats import spearmanr

    density, v = np.asarray(density), np.asarray(vulnerability)
    ratio = v[np.argmin(density)] / v[np.argmax(density)]
    rho = spearmanr(v, features_per_dim).statistic
    return [
        judge(f"vulnerability at 1 − S = {density.min():g} ≥ 2x that at {density.max():g}", f"{ratio:.1f}x",
              ratio >= 2),
        judge("Spearman ρ(vulnerability, ‖W‖²_F/m) ≥ 0.8", f"{rho:.2f}", rho >= 0.8),
    ]


def _basic(manifests) -> dict:
    """Per model: the best seed's (W, b, density) per density, and every seed's (W, b, evaluation loss) by
    density."""
    from experiments import basic

    out = {}
    for m, run in basic.load_runs(manifests["basic"]).items():
        best = basic.best(run)
        seeds = tuple(by_point(run, v) for v in (run.arrays["W"], run.arrays["b"], basic.evaluation_losses(run)))
        out[m] = (run.arrays["W"][best], run.arrays["b"][best], run.arrays["feature_probability"][best, 0], seeds)
    return out


def _check5(manifests, quick):
    W, b, p, _ = _basic(manifests)["linear"]
    keep = np.isclose(p[:, None], (1.0, 0.1, 0.01)).any(axis=1)
    return linear_like(W[keep], b[keep], p[keep], "linear model")


def _check6(manifests, quick):
    W, b, p, _ = _basic(manifests)["relu_output"]
    dense = np.flatnonzero(p == 1.0)
    return linear_like(W[dense], b[dense], p[dense], "ReLU output model")


def _check7(manifests, quick):
    _, _, p, seeds = _basic(manifests)["relu_output"]
    return relu_superposition(*seeds, p)


def _check16(manifests, quick):
    from experiments import adversarial

    v = adversarial.vulnerability(manifests["basic"])
    return vulnerability_tracks_superposition(v["density"], v["vulnerability"], v["features_per_dim"])


# ---- 8, 9: the intro figure ---------------------------------------------------------------------------------

def _angle_gaps(W):
    rep = W[np.asarray(metrics.feature_norms(W)) > 0.5]
    angles = np.sort(np.degrees(np.arctan2(rep[:, 1], rep[:, 0])))
    return np.diff(np.concatenate([angles, angles[:1] + 360]))


def _represented(W) -> set[int]:
    return set(np.flatnonzero(np.asarray(metrics.feature_norms(W)) > 0.5).tolist())


def intro_geometries(W_NxFxH, b_NxF, densities) -> list[Rule]:
    """Check 8 on the best seed per density (5 features of importance 0.9^i in 2 dimensions)."""
    W_NxFxH, b_NxF, densities = np.asarray(W_NxFxH), np.asarray(b_NxF), np.asarray(densities)
    W, b = W_NxFxH[np.argmax(densities)], b_NxF[np.argmax(densities)]
    unit = W[:2] / np.maximum(np.linalg.norm(W[:2], axis=1, keepdims=True), 1e-9)
    norms = np.asarray(metrics.feature_norms(W))
    rules = [judge("dense: exactly features {0, 1} represented, |cos| ≤ 0.05, other norms < 0.1, biases 0.5 ± 0.02",
                   f"represented {sorted(_represented(W))}, |cos| {abs(unit[0] @ unit[1]):.3f}, "
                   f"max other norm {norms[2:].max():.3f}, bias error {np.abs(b[2:] - 0.5).max():.3f}",
                   _represented(W) == {0, 1} and abs(unit[0] @ unit[1]) <= 0.05 and np.all(norms[2:] < 0.1)
                   and np.all(np.abs(b[2:] - 0.5) <= 0.02))]
    for i in np.flatnonzero((densities >= 0.19) & (densities <= 0.26)):
        W = W_NxFxH[i]
        gaps, D = _angle_gaps(W), np.asarray(metrics.feature_dimensionality(W))
        ok = _represented(W) == {0, 1, 2, 3} and gaps.size == 4
        rules.append(judge(f"1 − S = {densities[i]:.3g}: features 0-3 as two antipodal pairs at 90° ± 3°, "
                           "D_i = 0.50 ± 0.05, ‖W_4‖ ≤ 0.1",
                           f"represented {sorted(_represented(W))}, gaps {_range(gaps)}°, D {_range(D[:4])}, "
                           f"‖W_4‖ {np.linalg.norm(W[4]):.2f}",
                           ok and np.all(np.abs(gaps - 90) <= 3) and np.all(np.abs(D[:4] - 0.5) <= 0.05)
                           and np.linalg.norm(W[4]) <= 0.1))
    for i in np.flatnonzero(np.isclose(densities, 0.05)):
        W, b = W_NxFxH[i], b_NxF[i]
        gaps, D = _angle_gaps(W), np.asarray(metrics.feature_dimensionality(W))
        rules.append(judge("1 − S = 0.05: a regular pentagon: gaps 72° ± 4°, D_i = 0.40 ± 0.03, all b_i < −0.1, "
                           "all ‖W_i‖ > 1",
                           f"gaps {_range(gaps)}°, D {_range(D)}, max b {b.max():.2f}, "
                           f"min ‖W_i‖ {np.linalg.norm(W, axis=1).min():.2f}",
                           gaps.size == 5 and np.all(np.abs(gaps - 72) <= 4) and np.all(np.abs(D - 0.4) <= 0.03)
                           and np.all(b < -0.1) and np.all(np.linalg.norm(W, axis=1) > 1)))
    return rules


def best_of_picks_the_pentagon(W_NxKxFxH, loss_NxK, densities) -> list[Rule]:
    """Check 9: wherever both a pentagon and two antipodal pairs occur among the seeds of a density ≤ 0.1,
    every pentagon has the lower final loss."""
    both, worst = [], np.inf
    for i, p in enumerate(densities):
        n_rep = np.asarray(metrics.n_represented(W_NxKxFxH[i]))
        pent, anti = loss_NxK[i][n_rep == 5], loss_NxK[i][n_rep == 4]
        if pent.size and anti.size and p <= 0.1:
            both.append(p)
            worst = min(worst, anti.min() - pent.max())
    rule = "where both occur (1 − S ≤ 0.1): every pentagon's final loss < every 4-antipodal one's"
    if not both:
        return [not_judged(rule, "never both among these seeds")]
    return [judge(rule, f"both at 1 − S ∈ {_densities(both)}; smallest margin {worst:.2e}", worst > 0)]


def _intro(manifests):
    run = manifests["intro"].group("intro", "model=relu_output")
    best = best_instances(run)
    W, loss = by_point(run, run.arrays["W"]), by_point(run, run.summary["final_loss"])
    return run.arrays["W"][best], run.arrays["b"][best], run.arrays["feature_probability"][best, 0], W, loss


def _check8(manifests, quick):
    W, b, p, _, _ = _intro(manifests)
    return intro_geometries(W, b, p)


def _check9(manifests, quick):
    _, _, p, W, loss = _intro(manifests)
    return best_of_picks_the_pentagon(W, loss, p)


# ---- 10, 11: uniform superposition ------------------------------------------------------------------------

def uniform_superposition(W_NxFxH, densities, *, full_size: bool) -> list[Rule]:
    """Check 10: D* = m/‖W‖²_F is 1 dense and sticks at 1/2 (200 features in 20 dimensions at full size)."""
    inv = 1 / np.asarray(densities)
    d_star = np.asarray(metrics.dimensions_per_feature(W_NxFxH))
    plateau = np.flatnonzero((inv >= 2.2) & (inv <= 3.5))
    at_half = []
    for i in plateau:
        W = W_NxFxH[i]
        D = np.asarray(metrics.feature_dimensionality(W))[np.asarray(metrics.feature_norms(W)) > 0.5]
        at_half.append(np.mean(np.abs(D - 0.5) <= 0.02))
    rules = [
        judge("dense: D* = 1.00 ± 0.03", f"{d_star[np.argmin(inv)]:.3f}", abs(d_star[np.argmin(inv)] - 1) <= 0.03),
        judge("1/(1 − S) ∈ [2.2, 3.5]: D* = 0.50 ± 0.03", _range(d_star[plateau]),
              plateau.size and np.all(np.abs(d_star[plateau] - 0.5) <= 0.03)),
        judge("1/(1 − S) ∈ [2.2, 3.5]: ≥ 95% of represented features at |D_i − 1/2| ≤ 0.02", _range(at_half),
              plateau.size and np.all(np.asarray(at_half) >= 0.95)),
        judge("D* ≤ 0.45 from 1/(1 − S) = 4.8", f"max {d_star[inv >= 4.8].max():.3f}",
              np.all(d_star[inv >= 4.8] <= 0.45)),
    ]
    last = "D* ≤ 0.2 at 1/(1 − S) = 20"
    rules.append(judge(last, f"{d_star[np.argmax(inv)]:.3f}", d_star[np.argmax(inv)] <= 0.2) if full_size
                 else not_judged(last, f"quick grid ends at 1/(1 − S) = {inv.max():.3g}"))
    return rules


def fractional_dimensionalities(W_NxFxH, densities, *, full_size: bool) -> list[Rule]:
    """Check 11: beyond the plateau, pentagons (2/5) and square antiprisms (3/8); Σ D_i = m."""
    from experiments.geometry import sticky_counts

    inv = 1 / np.asarray(densities)
    m = W_NxFxH.shape[-1]
    sums = np.asarray([float(np.sum(metrics.feature_dimensionality(W))) for W in W_NxFxH])
    window = np.flatnonzero((inv >= 4) & (inv <= 6))
    counts = [sticky_counts(W_NxFxH[i]) for i in window]
    found = [(c[2 / 5], c[3 / 8]) for c in counts]
    rule = "some 1/(1 − S) ∈ [4, 6] has ≥ 5 features within 0.02 of 2/5 and ≥ 5 of 3/8"
    measured = "; ".join(f"{inv[i]:.3g}: {a} and {b}" for i, (a, b) in zip(window, found)) or "no density there"
    return [
        judge(rule, measured, any(a >= 5 and b >= 5 for a, b in found)) if full_size
        else not_judged(rule, f"full size only (200 in 20); quick: {measured}"),
        judge(f"Σ_i D_i = m = {m} ± 0.1 at every density", f"worst {np.abs(sums - m).max():.3f} off",
              np.all(np.abs(sums - m) <= 0.1)),
    ]


def _geometry(manifests):
    run = manifests["geometry"].group("geometry", "all")
    return run.arrays["W"], run.arrays["feature_probability"][:, 0]


# ---- 12: the n = 2, m = 1 phase diagram ------------------------------------------------------------------------

def phase_diagram(empirical, theory, densities) -> list[Rule]:
    empirical, theory = np.asarray(empirical), np.asarray(theory)
    agree = float((empirical == theory).mean())
    sparse = float((empirical[np.asarray(densities) <= 0.1] == 1).mean())
    return [
        judge("≥ 75% of cells match the closed forms' argmin", f"{agree:.1%}", agree >= 0.75),
        judge("(r = 0.1, dense): extra feature not learned; (r = 10, dense): dedicated",
              f"{'not learned' if empirical[0, 0] == 0 else empirical[0, 0]}, "
              f"{'dedicated' if empirical[0, -1] == 2 else empirical[0, -1]}",
              empirical[0, 0] == 0 and empirical[0, -1] == 2),
        judge("≥ 80% of cells at 1 − S ≤ 0.1 in superposition", f"{sparse:.1%}", sparse >= 0.8),
    ]


def _check12(manifests, quick):
    from experiments import phase

    run = manifests["phase"].group("phase_n2m1", "all")
    densities, ratios = phase.grid_of(run)
    return phase_diagram(phase.empirical_phases(run), phase.theory_phases(densities, ratios), densities)


# ---- 13: SAEs on the pentagon --------------------------------------------------------------------------------

def sae_recovers_the_pentagon(mmcs_with, alive_with, rate_with, mmcs_without, *, without_full_size: bool = True
                              ) -> list[Rule]:
    """Check 13, per SAE: MMCS, alive latents (of 5) and mean firing rate with resampling; MMCS without
    resampling (judged only when those SAEs trained as long, `without_full_size`). The published setup asks
    12 of 16; about 1 SAE in 7 stops in a local minimum resampling cannot leave (experiments/sae_recovery.py),
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
        judge(rule, f"{without} of {n}", without < good) if without_full_size
        else not_judged(rule, f"{without} of {n}; quick trains these 5,000 of 20,000 steps"),
    ]


def _check13(manifests, quick):
    from experiments import sae_recovery
    from superpose.sae import group as sae_group

    runs = {r: manifests["sae-recovery"].load(sae_recovery.NAME, f"check13-resample={r}") for r in ("random", "none")}
    on = runs["random"]
    return sae_recovers_the_pentagon(sae_group.metric(on, "mmcs_true"), 5 - sae_group.metric(on, "dead_latents"),
                                     sae_group.metric(on, "l0") / 5, sae_group.metric(runs["none"], "mmcs_true"),
                                     without_full_size=not quick)


# ---- 15: double descent --------------------------------------------------------------------------------------

def double_descent(T, data_dim, W, test_loss, bumps, *, full_size: bool) -> list[Rule]:
    """Check 15 (2 dimensions; `bumps` from the m = 4 runs). Three points are reconstructed exactly without a
    triangle (two antipodal, one orthogonal: zero training loss; docs/checks.md), so T = 3 is reported, not
    judged."""
    T = np.asarray(T)
    rules = []
    for t, d in zip(T, data_dim):
        if t > 10:
            continue
        d = np.asarray(d)
        within = int(np.sum(np.abs(d - 2 / t) <= 0.05))
        rule = f"T = {t}: every training point at D = 2/{t} ± 0.05"
        measured = f"{within} of {t} (D {_range(d)})"
        if t == 3:
            rules.append(not_judged(rule, f"{measured}; zero loss without a triangle, see docs/checks.md"))
        elif full_size or t <= 5:
            rules.append(judge(rule, measured, within == t))
        else:
            rules.append(not_judged(rule, f"{measured}; quick runs 8,000 of 15,000 steps"))
    D_last = np.asarray(metrics.feature_dimensionality(W[-1]))
    rules.append(judge(f"largest T = {T[-1]}: ≥ 4 features with D > 0.2", str(int(np.sum(D_last > 0.2))),
                       np.sum(D_last > 0.2) >= 4))
    polygon = [t for t, d in zip(T, data_dim) if t > 3 and np.all(np.abs(np.asarray(d) - 2 / t) <= 0.5 * 2 / t)]
    general = [t for t, w in zip(T, W) if np.sum(np.asarray(metrics.feature_dimensionality(w)) > 0.2) >= 4]
    peak = T[np.argmax(test_loss)]
    rules.append(judge("test-loss peak strictly between the last T-gon and the first generalising T",
                       f"T-gons up to {max(polygon, default='none')}, peak at {peak}, "
                       f"generalising from {min(general, default='none')}",
                       polygon and general and max(polygon) < peak < min(general)))
    low, high = bumps[0.01]["bump"], bumps[1.0]["bump"]
    rules.append(judge("m = 4: bump (peak / larger end) lower at weight decay 1.0 than at 0.01",
                       f"{high:.2f} vs {low:.2f}", high < low))
    return rules


def _check15(manifests, quick):
    from experiments import double_descent as dd

    m = manifests["double_descent"]
    a = dd.analyse(m)
    return double_descent(a["T"], a["data_dim"], a["W"], a["test_loss"], dd.weight_decay_bumps(m), full_size=not quick)


# ---- 17, 18: correlated features, the absolute-value model ----------------------------------------------------

def correlated_pairs(cos_correlated, p_correlated, cos_anti, p_anti) -> list[Rule]:
    c, a = np.abs(np.asarray(cos_correlated)), np.asarray(cos_anti)
    return [
        judge(f"2 correlated pairs at 1 − S ∈ {_densities(np.round(p_correlated, 4))}: |cos| ≤ 0.1 within each pair",
              f"max {c.max():.3f}", np.all(np.asarray(p_correlated) <= 0.05 + 1e-9) and np.all(c <= 0.1)),
        judge(f"2 anticorrelated pairs at 1 − S ∈ {_densities(np.round(p_anti, 4))}: cos ≤ −0.95 within each pair",
              f"max {a.max():.3f}", np.all(a <= -0.95)),
    ]


def _check17(manifests, quick):
    from experiments import correlated

    m = manifests["correlated"]
    W, p = correlated.best_W(m, "correlated_pairs")
    W_anti, p_anti = correlated.best_W(m, "anticorrelated_pairs")
    return correlated_pairs(correlated.pair_cosines(W), p, correlated.pair_cosines(W_anti), p_anti)


def absolute_value_neurons(W_FxH) -> list[Rule]:
    """Check 18 on W₁ rescaled so each neuron's largest |weight| is 1."""
    from experiments.absolute import rescaled_input_weights

    W = rescaled_input_weights(np.asarray(W_FxH))
    strong = np.abs(W) > 0.5
    opposite = all(sorted(np.sign(W[f, strong[f]]).tolist()) == [-1.0, 1.0] for f in range(len(W)))
    return [
        judge("each feature has exactly two neurons above 0.5, of opposite signs",
              f"neurons per feature {strong.sum(axis=1).tolist()}, opposite signs: {'yes' if opposite else 'no'}",
              np.all(strong.sum(axis=1) == 2) and opposite),
        judge("no neuron carries two features", f"features per neuron max {strong.sum(axis=0).max()}",
              np.all(strong.sum(axis=0) <= 1)),
    ]


def _check18(manifests, quick):
    run = manifests["absolute"].group("absolute_3in6", "all")
    return absolute_value_neurons(run.arrays["W"][int(np.argmin(run.summary["final_loss"]))])


CHECKS = [
    Check("1", "the data generator's densities, values and set structure", f"{P} setup; {NB}", (),
          lambda m, q: data_generator()),
    Check("2", "feature dimensionality of fixed geometries", f"{P} Geometry of Superposition", (),
          lambda m, q: dimensionality_of_geometries()),
    Check("3", "the closed-form losses of 2 features in 1 dimension", W_, (), lambda m, q: closed_forms()),
    Check("4", "the n = 2, m = 1 phase boundary", f"derived from {W_}", (), lambda m, q: phase_boundary()),
    Check("5", "the linear model keeps the 5 most important features, orthogonal",
          f"{P} Demonstrating Superposition", ("basic",), _check5),
    Check("6", "the ReLU output model is linear-like on dense features", f"{P} Demonstrating Superposition",
          ("basic",), _check6),
    Check("7", "ReLU superposition grows with sparsity, least important first", f"{P} Demonstrating Superposition",
          ("basic",), _check7),
    Check("8", "the intro figure: orthogonal, two antipodal pairs, pentagon", f"{P} figure 2; {NB}", ("intro",),
          _check8),
    Check("9", "local minima are real; best-of picks the pentagon", f"{P} Non-uniform Superposition", ("intro",),
          _check9),
    Check("10", "uniform superposition sticks at 1/2 dimension per feature", f"{P} Geometry of Superposition; {NB}",
          ("geometry",), lambda m, q: uniform_superposition(*_geometry(m), full_size=not q)),
    Check("11", "fractional dimensionalities; dimensions are conserved", f"{P} Geometry of Superposition",
          ("geometry",), lambda m, q: fractional_dimensionalities(*_geometry(m), full_size=not q)),
    Check("12", "the n = 2, m = 1 phase diagram agrees with theory", f"{P} Superposition as a Phase Change; {W_}",
          ("phase",), _check12),
    Check("13", "L1 SAEs recover the pentagon, with resampling", f"{A}; MMCS {S}", ("sae-recovery",), _check13),
    Check("14", "recipe parity with the notebook", NB, (), lambda m, q: recipe_parity()),
    Check("15", "double descent: T-gons, a test-loss peak, generalisation", DD, ("double_descent",), _check15),
    Check("16", "adversarial vulnerability grows with superposition", f"{P} Superposition and Adversarial Examples",
          ("basic",), _check16),
    Check("17", "correlated pairs orthogonal, anticorrelated antipodal", f"{P} Correlated and Anticorrelated Features",
          ("correlated",), _check17),
    Check("18", "the absolute-value model: two opposite neurons per feature", f"{P} Computation in Superposition",
          ("absolute",), _check18),
]

"""Posterior sampling and the local learning coefficient: the samplers against a Gaussian posterior, λ̂ against
models whose learning coefficient is known in closed form, chains vmapped against chains run alone, and the
k-gon critical points of Chen et al. (2023) against their closed-form loss."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from superpose.data.sparse_features import sample_structured
from superpose.toy import kgons
from superpose.toy.models import from_arrays
from superpose.train import llc, rng, sampling
from superpose.train.learner import Learner


class Weights(nnx.Module):
    def __init__(self, d: int):
        self.w = nnx.Param(jnp.zeros((d,), jnp.float32))


@dataclasses.dataclass(frozen=True)
class Regression:
    d: int = 2
    n: int = 10_000
    model: str = "linear"
    """`linear`: y = w·x (regular, λ = d/2); `square`: y = w₀² x₀ + w₁ x₁ (λ = 1/4 + 1/2)."""
    steps: int = 1
    log_every: int = 1


@dataclasses.dataclass(frozen=True)
class RegressionLearner(Learner):
    """Fits y = 0 from n Gaussian inputs (a realisable truth: the minimum is w = 0)."""

    config: Regression

    def init(self, seed, hyper):
        x = jax.random.normal(rng.key(seed), (self.config.d, self.config.n))
        return Weights(self.config.d), x

    def optimizer(self, hyper):
        return optax.sgd(0.0)

    def batch(self, carry, hyper, data, t):
        return carry

    def loss(self, model, x, hyper, carry):
        w = model.w[...]
        y = w[0] ** 2 * x[0] + w[1] * x[1] if self.config.model == "square" else w @ x
        return jnp.mean(y**2), None

    def bytes_per_instance(self):
        return 8 * self.config.d * self.config.n


def _llc(model: str, d: int, seeds=(0,), chains=8, steps=3000, step_size=3e-5):
    base = RegressionLearner(Regression(d=d, model=model))
    return llc.estimate(
        base,
        np.zeros(len(seeds)),
        list(seeds),
        {"w": np.zeros((len(seeds), d), np.float32)},
        n=10_000,
        chains=chains,
        settings=llc.Chains(steps=steps, burn_in=steps // 4, log_every=steps),
        step_size=step_size,
        localization=1.0,
        progress=False,
    )


@pytest.mark.parametrize("preconditioned", [False, True])
def test_sampler_draws_the_gaussian_posterior(preconditioned):
    """L(w) = ½ (w − m)ᵀ A (w − m), nβ = 10, γ = 2 around c: the draws are N(μ, P⁻¹) with P = nβ A + γ I and
    μ = P⁻¹ (nβ A m + γ c). 4,096 independent chains, each 6,000 steps from c; their last states' mean within
    4 standard errors, variances within 10% (the SGLD step's own bias, ε P / 4, is 0.5% here). RMSProp's
    preconditioner changes the path, not the target (its G settles where g² does)."""
    a, m, c = jnp.array([0.4, 4.0]), jnp.array([0.5, -0.2]), jnp.array([0.3, 0.1])
    nbeta, gamma = 10.0, 2.0
    precision = nbeta * a + gamma
    mean = (nbeta * a * m + gamma * c) / precision
    step = 0.02 / float(precision.max()) * (10.0 if preconditioned else 1.0)

    def chain(key):
        transform = sampling.langevin(key, step, nbeta, gamma, preconditioned=preconditioned, eps=1.0)
        state = transform.init(c)

        def one(carry, _):
            w, state = carry
            updates, state = transform.update(a * (w - m), state, w)
            return (w + updates, state), None

        (w, _), _ = jax.lax.scan(one, (c, state), None, length=6000)
        return w

    draws = np.asarray(jax.jit(jax.vmap(chain))(jax.random.split(rng.key(7), 4096)), np.float64)
    se = draws.std(axis=0) / np.sqrt(len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - np.asarray(mean)) < 4 * se + 1e-4)
    assert np.allclose(draws.var(axis=0) * np.asarray(precision), 1.0, atol=0.1)


def test_llc_of_a_regular_model_is_half_its_dimension():
    """λ = d / 2 for a regular model; measured 0.95-1.05 and 2.90-3.12 at d = 2 and 6 (seed offsets 0, 1000,
    2000; AVX2 alike)."""
    found = _llc("linear", 2).llc_I[0], _llc("linear", 6).llc_I[0]
    assert found[0] == pytest.approx(1.0, abs=0.15)
    assert found[1] == pytest.approx(3.0, abs=0.35)


def test_llc_of_a_singular_model_is_below_its_half_dimension():
    """y = w₀² x₀ + w₁ x₁ fitting 0: K ∝ w₀⁴ + w₁², λ = 1/4 + 1/2 = 3/4 (a regular model of two parameters
    would give 1); measured 0.74-0.85 with 8 chains (seed offsets 0, 1000, 2000; AVX2 alike), 16 here."""
    found = _llc("square", 2, chains=16).llc_I[0]
    assert found == pytest.approx(0.75, abs=0.15)
    assert found < 0.92


def test_vmapped_chains_equal_separate_runs():
    together = _llc("linear", 2, seeds=(3, 4), chains=3, steps=200)
    alone = [_llc("linear", 2, seeds=(s,), chains=3, steps=200) for s in (3, 4)]
    for i in range(2):
        np.testing.assert_allclose(together.trace_IxKxT[i], alone[i].trace_IxKxT[0], rtol=1e-5, atol=1e-9)
        np.testing.assert_allclose(together.llc_IxK[i], alone[i].llc_IxK[0], rtol=1e-4, atol=1e-6)


def test_diagnostics_name_what_went_wrong():
    flat = np.ones((4, 100))
    assert (
        llc.diagnose(np.array([1.0, 1.1, 0.9, 1.0]), flat + 0.01 * np.random.default_rng(0).random((4, 100)))
        == []
    )
    assert "diverged" in llc.diagnose(np.ones(4), np.where(np.arange(100) > 50, np.nan, flat))[0]
    assert "not a local minimum" in llc.diagnose(np.full(4, -2.0), flat)[0]
    rising = np.tile(np.linspace(0, 1, 100), (4, 1)) + 0.001 * np.random.default_rng(1).random((4, 100))
    assert any("still rises" in w for w in llc.diagnose(np.ones(4), rising))
    assert any("disagree" in w for w in llc.diagnose(np.array([0.1, 3.0, 0.2, 2.5]), flat))


def test_kgon_losses_equal_the_closed_formula_and_quadrature():
    """Every k-gon of 6 features (k = 3..6, every dead-row sign pattern): the closed form equals adaptive
    quadrature to 1e-12, the point is critical (gradient < 1e-8), and the toy engine's own model and data
    (`relu_output`, one feature on, U[0, 1]) give the same loss within 5 Monte Carlo standard errors."""
    points = kgons.kgons(6, ks=range(6, 2, -1))
    x_FxB = sample_structured(
        rng.key(0), jnp.ones(6), 200_000, kind="anticorrelated", set_size=6, signed=False
    )
    for p in points:
        assert abs(p.loss - kgons.potential_by_quadrature(p.W_FxH, p.b_F)) < 1e-12
        assert np.abs(kgons.gradient(p.W_FxH, p.b_F)).max() < 1e-8
        model = from_arrays(
            "relu_output",
            {"W_FxH": jnp.asarray(p.W_FxH, jnp.float32), "b_F": jnp.asarray(p.b_F, jnp.float32)},
        )
        error_B = np.asarray(jnp.sum((x_FxB - model(x_FxB)) ** 2, axis=0), np.float64)
        assert abs(error_B.mean() - p.loss) < 5 * error_B.std() / np.sqrt(error_B.size)


def test_kgon_minima_and_their_learning_coefficients():
    """The 6-gon and both 5-gons are local minima whose critical set is a manifold; λ = (18 − flat) / 2: the
    rotation (6-gon, 5+) and also a dead row's three parameters (5-)."""
    for name, expected in (("6", 8.5), ("5+", 8.5), ("5-", 7.0)):
        point = kgons.kgon(int(name[0]), 6, name[1:])
        assert kgons.index(point) == 0 and kgons.flat_directions_are_flat(point)
        assert kgons.learning_coefficient(point) == expected
    assert kgons.index(kgons.kgon(4, 6, "++")) > 0  # a saddle


def test_classify_names_a_rotated_relabelled_kgon():
    generator = np.random.default_rng(0)
    for k, signs in ((6, ""), (5, "+"), (4, "+-")):
        p = kgons.kgon(k, 6, signs)
        angle = generator.uniform(0, 2 * np.pi)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        order = generator.permutation(6)
        W = (p.W_FxH @ rotation.T)[order] + 0.01 * generator.normal(size=(6, 2))
        assert kgons.classify(W, p.b_F[order]) == p.name
    assert kgons.classify(generator.normal(size=(6, 2)) * np.array([[1.0, 0.1]]), np.zeros(6)) == "other"


def test_llc_command_writes_lambda_beside_the_arrays(tmp_path, capsys):
    from superpose.app.cli import main

    out = tmp_path / "out"
    study = tmp_path / "s.toml"
    study.write_text(
        'name = "tiny"\n[base]\nn_features = 6\nn_hidden = 2\nsteps = 300\nlog_every = 100\n'
        'data = "anticorrelated"\nset_size = 6\n[axes]\nseed = [0, 1]\n'
    )
    assert main(["run", str(study), "--out", str(out), "--no-progress", "--no-figures"]) == 0
    folder = next((out / "results" / "tiny").iterdir())
    assert (
        main(["llc", str(folder), "--draws", "60", "--burn-in", "10", "--chains", "2", "--no-progress"]) == 0
    )
    found = json.loads((folder / "llc.json").read_text())
    assert len(found["llc"]) == 2 and all(np.isfinite(found["llc"]))
    assert np.load(folder / "llc.npz")["trace"].shape == (2, 2, 60)
    from superpose import load

    load(folder)  # the folder's checksum still holds
    capsys.readouterr()
    assert main(["llc", str(tmp_path)]) == 2
    assert "config.json is missing" in capsys.readouterr().err

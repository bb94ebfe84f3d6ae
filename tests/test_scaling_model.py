"""The toy model of Liu, Liu & Gore 2025 ("Superposition Yields Robust Neural Scaling") as ToyConfig options:
frequency laws, features uniform on (0, 2], W ~ N(0, 1/H) and b ~ N(0, 1), and a weight decay that may be
negative (`weight_decay_form = "signed_rows"`), checked against their definitions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from superpose.data.sparse_features import frequencies
from superpose.measures.features import n_represented
from superpose.toy import training
from superpose.toy.config import ToyConfig
from superpose.validate import ConfigError

LIU = dict(feature_max=2.0, init="normal", weight_decay_form="signed_rows", schedule="warmup_cosine",
           learning_rate=1e-2, final_learning_rate=0.05)
"""Their recipe (exp/exp-10.py of their code): AdamW at 1e-2, warm-up then cosine down to 5%."""


def test_frequency_laws_are_their_formulas():
    p = frequencies("power", 1000, 1.2)
    i = np.arange(1, 1001)
    np.testing.assert_allclose(p, i**-1.2 / np.sum(i**-1.2), rtol=1e-6)
    assert p.sum() == pytest.approx(1.0, rel=1e-6)
    e = frequencies("exponential", 500, 100.0, total=3.0)
    np.testing.assert_allclose(e / e[0], np.exp(-(i[:500] - 1) / 100.0), rtol=1e-5)
    assert e.sum() == pytest.approx(3.0, rel=1e-6)
    np.testing.assert_allclose(frequencies("linear", 4, total=1.0), [0.4, 0.3, 0.2, 0.1], rtol=1e-6)
    np.testing.assert_allclose(frequencies("uniform", 10, total=2.0), 0.2, rtol=1e-6)
    assert frequencies("power", 3, 0.0, total=6.0).tolist() == [1.0, 1.0, 1.0]  # capped at 1
    with pytest.raises(ConfigError, match="unknown frequency law 'zipf'"):
        frequencies("zipf", 10)


def test_the_generator_draws_their_frequencies_and_magnitudes():
    """10^6 inputs of 50 features with p_i ∝ i^-1.2 summing to 1: each feature's count within 5 standard
    errors of n p_i (all 50 at once: a wrong law or a dropped factor is off by many), active values uniform on
    (0, 2] (mean 1, variance 1/3, quartiles 0.5, 1, 1.5)."""
    config = ToyConfig(n_features=50, n_hidden=2, batch_size=1_000_000, feature_max=2.0,
                       feature_probability=tuple(frequencies("power", 50, 1.2)))
    toy = training.learner([config])
    x_FxB = np.asarray(toy.sample(jax.random.key(0), jnp.asarray(config.probability_F())))
    n = x_FxB.shape[1]
    p = config.probability_F().astype(np.float64)
    counts = (x_FxB > 0).sum(axis=1)
    z = (counts - n * p) / np.sqrt(n * p * (1 - p))
    assert np.abs(z).max() < 5, z
    values = x_FxB[x_FxB > 0]
    assert values.max() <= 2.0
    se = np.sqrt(1 / 3 / values.size)
    assert abs(values.mean() - 1.0) < 5 * se
    assert abs(values.var() - 1 / 3) < 0.01
    np.testing.assert_allclose(np.quantile(values, [0.25, 0.5, 0.75]), [0.5, 1.0, 1.5], atol=0.01)


def test_normal_init_has_their_scales():
    config = ToyConfig(n_features=4000, n_hidden=8, init="normal")
    toy = training.learner([config])
    model, _ = toy.init(np.uint32(3), jax.tree.map(lambda a: a[0], training.hyper_arrays([config])))
    W, b = np.asarray(model.W_FxH[...]), np.asarray(model.b_F[...])
    assert W.std() == pytest.approx(1 / np.sqrt(8), rel=0.02)
    assert b.std() == pytest.approx(1.0, rel=0.05) and abs(b.mean()) < 0.05


@pytest.mark.parametrize("weight_decay", [-1.0, 0.5])
def test_signed_row_decay_is_their_update(weight_decay):
    """With a zero gradient Adam's update is 0, so one step is the decay alone, as their AdamW writes it:
    W ← W (1 − lr wd) for wd ≥ 0; W_i ← W_i + lr wd W_i (1 − 1/(‖W_i‖ + 1e-8)) for wd < 0; b untouched."""
    lr = 0.1
    W = np.array([[0.5, 0.0], [3.0, 4.0], [0.1, -0.2]], np.float32)
    params = {"W_FxH": jnp.asarray(W), "b_F": jnp.ones(3)}
    optimizer = optax.chain(
        optax.scale_by_adam(),
        optax.masked(training.signed_row_decay(jnp.float32(weight_decay)), training._weights_only),
        optax.scale_by_learning_rate(lr),
    )
    zero = jax.tree.map(jnp.zeros_like, params)
    updates, _ = optimizer.update(zero, optimizer.init(params), params)
    new = optax.apply_updates(params, updates)
    norms = np.linalg.norm(W, axis=1, keepdims=True) + 1e-8
    grown = W + lr * weight_decay * W * (1 - 1 / norms)
    expected = W * (1 - lr * weight_decay) if weight_decay >= 0 else grown
    np.testing.assert_allclose(new["W_FxH"], expected, rtol=1e-6)
    np.testing.assert_array_equal(new["b_F"], params["b_F"])
    if weight_decay < 0:  # rows move toward unit norm: short ones grow, long ones shrink
        after = np.linalg.norm(np.asarray(new["W_FxH"]), axis=1)
        assert after[0] > 0.5 and after[1] < 5.0 and after[2] > norms[2, 0]


def test_a_negative_weight_decay_needs_the_signed_rows_form():
    with pytest.raises(ConfigError, match="weight_decay must be a finite number >= 0.0, got -1.0"):
        ToyConfig(weight_decay=-1.0)
    ToyConfig(weight_decay=-1.0, weight_decay_form="signed_rows")


def test_weight_decay_sets_how_many_features_are_represented_and_how_much_they_overlap():
    """100 features (p_i ∝ i^-1.2, one active per input) in 8 dimensions, 1,500 steps, weight decay -1, 0
    and 1 in one program: growth represents every feature (‖W_i‖ > 0.5) and decay few, and the mean
    squared overlap of distinct rows (W_i · W_j)² falls with them. Measured at seed offsets 0, 1000 and 2000
    (AVX2 as AVX-512): 100 / 25-28 / 4-8 features, overlaps 0.060-0.063 / 0.0069-0.0103 / 0.0000-0.0001."""
    configs = [ToyConfig(n_features=100, n_hidden=8, steps=1500, warmup_steps=150, batch_size=512,
                         log_every=500, weight_decay=wd,
                         feature_probability=tuple(frequencies("power", 100, 1.2)), **LIU)
               for wd in (-1.0, 0.0, 1.0)]
    W_IxFxH = training.train(configs, progress=False).W_IxFxH
    represented = [int(n_represented(W)) for W in W_IxFxH]
    gram_IxFxF = np.einsum("ifh,igh->ifg", W_IxFxH, W_IxFxH)
    off = ~np.eye(100, dtype=bool)
    overlap = [float((g[off] ** 2).mean()) for g in gram_IxFxF]
    assert represented[0] == 100 and represented[0] > 2 * represented[1] > 2 * represented[2] > 0, represented
    assert overlap[0] > 3 * overlap[1] > 3 * overlap[2], overlap

"""Model equations on hand-built weights and the structured data generators (check 1, structure)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from superpose.data.sparse_features import sample_structured
from superpose.toy import models, training
from superpose.toy.config import ToyConfig
from superpose.train import rng

W = jnp.asarray([[1.0, 0.0], [-1.0, 0.5], [0.0, 2.0]])
b = jnp.asarray([0.1, -0.2, 0.0])
x = jnp.asarray([[0.5, 0.0], [0.2, 1.0], [0.0, 0.3]])  # F x B


def test_model_equations():
    Wn, bn, xn = np.asarray(W), np.asarray(b), np.asarray(x)
    gram = Wn @ Wn.T
    params = {"W_FxH": W, "b_F": b}
    np.testing.assert_allclose(models.from_arrays("linear", params)(x), gram @ xn + bn[:, None], rtol=1e-6)
    np.testing.assert_allclose(
        models.from_arrays("relu_output", params)(x), np.maximum(gram @ xn + bn[:, None], 0), rtol=1e-6
    )
    hidden = np.maximum(Wn.T @ xn, 0)
    np.testing.assert_allclose(
        models.from_arrays("relu_hidden", params)(x), np.maximum(Wn @ hidden + bn[:, None], 0), rtol=1e-6
    )
    W_out = jnp.asarray([[0.5, 1.0], [2.0, -1.0], [0.0, 1.0]])
    signed = x - 0.4
    abs_model = models.from_arrays("abs", {**params, "W_out_FxH": W_out})
    expected = np.maximum(np.asarray(W_out) @ np.maximum(Wn.T @ np.asarray(signed), 0) + bn[:, None], 0)
    np.testing.assert_allclose(abs_model(signed), expected, rtol=1e-6)
    np.testing.assert_allclose(abs_model.target(signed), np.abs(np.asarray(signed)))
    assert models.MODELS.get("abs")(3, 2, rng.key(0)).W_out_FxH.shape == (3, 2)
    assert not hasattr(models.MODELS.get("relu_output")(3, 2, rng.key(0)), "W_out_FxH")


N = 200_000


def test_correlated_sets_are_zero_together():
    x = np.asarray(
        sample_structured(rng.key(1), jnp.full((6,), 0.2), N, kind="correlated", set_size=2, signed=False)
    )
    on = x > 0
    # an active value is exactly 0 with probability 2⁻²³ (float32 U[0, 1)): allow that, not independence (32%)
    assert np.mean(on[0::2] != on[1::2]) <= 1e-5
    assert abs(on[0].mean() - 0.2) <= 4 * np.sqrt(0.2 * 0.8 / N)
    assert abs(x[x > 0].mean() - 0.5) <= 0.005
    assert abs(np.corrcoef(on[0], on[2])[0, 1]) < 0.02  # different sets are independent


def test_anticorrelated_sets_have_at_most_one_active_member():
    x = np.asarray(
        sample_structured(rng.key(2), jnp.full((6,), 0.3), N, kind="anticorrelated", set_size=3, signed=False)
    )
    active = (x > 0).reshape(2, 3, N).sum(axis=1)
    assert active.max() == 1
    assert abs(active[0].mean() - 0.3) <= 4 * np.sqrt(0.3 * 0.7 / N)
    members = (x[:3] > 0).mean(axis=1)
    np.testing.assert_allclose(members, 0.1, atol=4 * np.sqrt(0.1 * 0.9 / N))


@pytest.mark.parametrize("kind", ["independent", "correlated"])
def test_signed_values_are_uniform_on_minus_one_one(kind):
    x = np.asarray(sample_structured(rng.key(3), jnp.full((4,), 0.5), N, kind=kind, set_size=2, signed=True))
    nz = x[x != 0]
    assert abs(nz.mean()) <= 0.01 and abs(nz.var() - 1 / 3) <= 0.005 and np.abs(nz).max() <= 1


@pytest.mark.parametrize("F, H, I", [(5, 2, 10), (200, 20, 20), (20, 5, 1)])
def test_the_notebook_initialisation_has_pytorchs_std_for_an_instances_x_features_x_hidden_tensor(F, H, I):
    """PyTorch's xavier_normal_ on a 3-D (I, F, H) tensor: fan_in = F·H, fan_out = I·H, std √(2 / (H (F + I)))
    (0.2582 for the notebook's introduction figure); every W_* of the model gets it, and the default stays
    √(2 / (F + H))."""
    for model in ("relu_output", "abs"):
        config = ToyConfig(model=model, n_features=F, n_hidden=H, init="notebook", init_instances=I)
        learner, hyper = training.learner([config]), training.hyper_arrays([config])
        toys = [learner.init(s, hyper)[0] for s in range(max(1, 4000 // (F * H)))]
        for name in [n for n in vars(toys[0]) if n.startswith("W_")]:
            drawn = np.concatenate([np.ravel(getattr(t, name)[...]) for t in toys])
            assert abs(np.std(drawn) / np.sqrt(2 / (H * (F + I))) - 1) <= 0.05, (model, name)
    assert ToyConfig(n_features=F, n_hidden=H).init_scale() == 1.0
    assert abs(0.2582 - np.sqrt(2 / (2 * 15))) < 1e-4


def test_recipe_parity_with_the_notebook():
    """Check 14 of docs/checks.md: Xavier-normal W of std sqrt(2 / (F + H)), zero bias, and the notebook's
    AdamW (lr 1e-3 constant, weight decay 0.01 on W and b), batch 1024, 10,000 steps."""
    c = ToyConfig()
    assert (c.learning_rate, c.weight_decay, c.batch_size, c.steps, c.schedule) == (
        1e-3,
        0.01,
        1024,
        10_000,
        "constant",
    )
    model = models.MODELS.get("relu_output")(200, 50, jax.random.key(0))
    std = float(np.std(np.asarray(model.W_FxH[...])))
    assert abs(std / np.sqrt(2 / 250) - 1) <= 0.03
    assert not np.any(np.asarray(model.b_F[...]))
    # weight decay acts on W and b alike: with a zero gradient both shrink by lr * wd per step
    toy = training.learner([c])
    params = {"W": jnp.ones(3), "b": jnp.ones(2)}
    optimizer = toy.optimizer(
        training.hyper_arrays([c])._replace(learning_rate=jnp.float32(1e-3), weight_decay=jnp.float32(0.01))
    )
    updates, _ = optimizer.update(jax.tree.map(jnp.zeros_like, params), optimizer.init(params), params)
    for u in jax.tree.leaves(updates):
        np.testing.assert_allclose(u, -1e-3 * 0.01, rtol=1e-5)

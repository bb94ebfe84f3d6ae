"""Targets: one config per kind, read back from result folders, and TMS the same model as the toy model's."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from superpose import targets
from superpose.toy import models as toy_models
from superpose.validate import ConfigError

pytestmark = pytest.mark.fast


def test_the_tms_target_is_the_toy_models_relu_output_in_the_decomposition_convention():
    """The target's W (H x F, d_out x d_in) is the toy model's W_FxH transposed; on batch-major inputs the
    target gives the toy model's output transposed, for a random W and bias, with and without the identity."""
    F, H, B = 7, 3, 64
    k_w, k_b, k_x = jax.random.split(jax.random.key(3), 3)
    W_FxH = jax.random.normal(k_w, (F, H))
    b_F = jax.random.normal(k_b, (F,))
    x_FxB = jax.random.uniform(k_x, (F, B))
    toy = toy_models.from_arrays("relu_output", {"W_FxH": W_FxH, "b_F": b_F})
    for identity in (False, True):
        config = targets.TMSConfig(n_features=F, n_hidden=H, identity=identity)
        params = {"W": W_FxH.T, "b": b_F} | ({"I": jnp.eye(H)} if identity else {})
        target = targets.from_arrays(config, params)
        np.testing.assert_allclose(np.asarray(target(x_FxB.T)), np.asarray(toy(x_FxB)).T, rtol=1e-6,
                                   atol=1e-6)


def test_every_kind_has_its_own_config_and_reads_back_from_its_dict():
    configs = [
        targets.TMSConfig(n_hidden=3, identity=True),
        targets.ResidMLPConfig(n_features=10, n_hidden=4, n_layers=2, d_resid=16),
        targets.AbsMLPConfig(init="truth", repeat_frac=0.1),
        targets.TwoHopConfig(n_features=8, n_hidden=4),
        targets.MixingMLPConfig(mixing="embedding", mixing_scale=0.5),
    ]
    assert {c.kind for c in configs} == {n for n in targets.TARGETS.names() if not n.startswith("test_")}
    for c in configs:
        saved = c.to_dict()
        assert saved["kind"] == c.kind
        assert targets.config_from_dict(saved) == c
        assert targets.config(**saved) == c
    two_hop = configs[3]
    assert (two_hop.n_layers, two_hop.d_resid) == (2, 16)  # derived, not fields a user could contradict
    assert (configs[2].n_layers, configs[2].d_resid) == (1, 8)
    # a folder of superpose 0.1 saved every kind's fields with each target: the ones a kind lacks are dropped
    legacy = configs[0].to_dict() | {"d_resid": 1000, "n_layers": 1, "mixing": "random", "repeat_frac": 0.0}
    assert targets.config_from_dict(legacy) == configs[0]


def test_a_field_another_kind_owns_is_a_clear_error():
    with pytest.raises(ConfigError, match="the tms target has no field 'd_resid'"):
        targets.config("tms", d_resid=10)
    with pytest.raises(TypeError):
        targets.TMSConfig(repeat_frac=0.1)
    with pytest.raises(ConfigError, match="n_hidden must be"):
        dataclasses.replace(targets.ResidMLPConfig(), n_hidden=0)


def test_only_the_mixing_mlp_has_a_per_instance_mixing_scale():
    assert targets.MixingMLPConfig.per_instance_fields() == (
        "feature_probability", "learning_rate", "weight_decay", "seed", "mixing_scale")
    assert "mixing_scale" not in targets.TMSConfig.per_instance_fields()

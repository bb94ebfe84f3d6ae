"""The residual MLP of "compressed computation" (Braun et al. 2025, the SPD paper's second target): a frozen
random unit embedding ``W_E`` (``n_features x d_resid``), ``r₀ = W_Eᵀ x``, per layer
``r += W_out ReLU(W_in r)``, output ``W_E r``, trained on labels ``x + ReLU(x)`` with inputs U[−1, 1] when
active."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.targets.residual import ResidualTarget
from superpose.targets.target import TargetConfig, uniform


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResidMLPConfig(TargetConfig):
    """A residual MLP: `n_layers` MLPs of `n_hidden` neurons in a residual stream of `d_resid` dimensions (the
    SPD paper's recipes are `superpose.targets.PRESETS` ``resid_mlp1`` to ``resid_mlp3``)."""

    kind = "resid_mlp"
    n_hidden: int = 2
    """Neurons per MLP layer."""
    n_layers: int = 1
    """MLP layers."""
    d_resid: int = 1000
    """The residual stream's width (the SPD paper: 1000)."""


class ResidMLP(ResidualTarget, name="resid_mlp"):
    """Frozen unit embedding W_E; r += W_out ReLU(W_in r) per layer; output W_E r; labels x + ReLU(x)."""

    Config = ResidMLPConfig
    signed_inputs = True
    neuron_contributions = True

    @classmethod
    def one_hot_check(cls, config, model):
        """Input e_i gives ŷ_i ≈ 1.6 against a label of 2 (the published model undershoots the ReLU)."""
        out = np.diag(np.asarray(model(jnp.asarray(np.eye(config.n_features, dtype=np.float32)))))
        return {"one_hot_output": out.tolist(), "one_hot_mean": float(out.mean())}

    def __init__(self, config: ResidMLPConfig, key: jax.Array):
        n, d, m, n_layers = config.n_features, config.d_resid, config.n_hidden, config.n_layers
        k_e, k_in, k_out = jax.random.split(key, 3)
        W_E = jax.random.normal(k_e, (n, d), jnp.float32)
        self.W_E = nnx.Variable(W_E / jnp.linalg.norm(W_E, axis=1, keepdims=True))
        self.W_in = nnx.Param(uniform(k_in, (n_layers, m, d), d))
        self.W_out = nnx.Param(uniform(k_out, (n_layers, d, m), m))

    def embed(self, x_BxF):
        return x_BxF @ self.W_E[...]

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD @ self.W_E[...].T

    def label(self, x_BxF):
        return x_BxF + jax.nn.relu(x_BxF)

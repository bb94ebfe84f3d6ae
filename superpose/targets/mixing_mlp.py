"""The mixing MLP of Bhagat et al. (2025), their equivalent of the residual MLP: ``ŷ = W_out ReLU(W_in x)``
trained on ``ReLU(x) + M x`` with a fixed symmetric mixing matrix M: a random one of a chosen scale, or the
residual MLP's own ``I − W_E W_Eᵀ``; with M = 0 the labels are clean (superpose.targets.compressed scores
it)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.targets.target import Target, TargetConfig, uniform
from superpose.train.per_instance import per_instance
from superpose.validate import check_choice, check_float

MIXINGS = ("random", "embedding")
MIXING_KEY = 20250623
"""The fixed key of every mixing matrix's direction (instances differ only in its scale)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class MixingMLPConfig(TargetConfig):
    """ŷ = W_out ReLU(W_in x) of `n_hidden` neurons on labels ReLU(x) + x M."""

    kind = "mixing_mlp"
    n_hidden: int = 2
    """Neurons."""
    mixing: str = "random"
    """M = scale · (a fixed random symmetric matrix of unit off-diagonal std, zero diagonal), or
    `embedding`: M = scale · (I − W_E W_Eᵀ) of a fixed random unit embedding in d_resid dimensions."""
    d_resid: int = 1000
    """The width of the embedding whose mixing `embedding` takes (the residual MLP's: 1000)."""
    mixing_scale: float = per_instance(0.0)
    """The scale of the mixing matrix M (0: the labels are ReLU(x) alone)."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("mixing", self.mixing, MIXINGS)
        check_float("mixing_scale", self.mixing_scale, lower=0.0)


class MixingMLP(Target, name="mixing_mlp"):
    """ŷ = W_out ReLU(W_in x) on labels ReLU(x) + x M (module doc).

    M (frozen, saved with the weights) is `mixing_scale` times a fixed symmetric direction: random with unit
    off-diagonal standard deviation, or I − W_E W_Eᵀ of a fixed random unit embedding (`mixing="embedding"`,
    where scale 1 is exactly the residual MLP's mixing). Inputs are U[−1, 1] when active.
    """

    Config = MixingMLPConfig
    signed_inputs = True

    @staticmethod
    def direction(config: MixingMLPConfig) -> np.ndarray:
        n = config.n_features
        generator = np.random.default_rng(MIXING_KEY)
        if config.mixing == "embedding":
            W_E = generator.standard_normal((n, config.d_resid))
            W_E /= np.linalg.norm(W_E, axis=1, keepdims=True)
            return (np.eye(n) - W_E @ W_E.T).astype(np.float32)
        upper = np.triu(generator.standard_normal((n, n)), 1)
        return (upper + upper.T).astype(np.float32)

    @classmethod
    def activation_width(cls, config):
        return config.n_features + config.n_hidden

    def __init__(self, config: MixingMLPConfig, key: jax.Array):
        n, m = config.n_features, config.n_hidden
        k_in, k_out = jax.random.split(key)
        self.W_in = nnx.Param(uniform(k_in, (m, n), n))
        self.W_out = nnx.Param(uniform(k_out, (n, m), m))
        self.M = nnx.Variable(jnp.asarray(self.direction(config)))

    def set_hyper(self, hyper):
        self.M = nnx.Variable(self.M[...] * hyper["mixing_scale"])

    def matrices(self):
        return {"W_in": self.W_in[...], "W_out": self.W_out[...]}

    def forward(self, x_BxF, apply):
        return apply("W_out", jax.nn.relu(apply("W_in", x_BxF)))

    def label(self, x_BxF):
        return jax.nn.relu(x_BxF) + x_BxF @ self.M[...]

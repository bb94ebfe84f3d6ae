"""A planted two-hop circuit: sparse binary inputs A (n = 2k), a first MLP computing
``B_j = ReLU(A_2j + A_2j+1 − ½)`` written to k residual directions of their own, a second MLP computing
``C_j = ReLU(B_j + B_j+1 − ¾)`` (indices mod k) from B alone. The truth: the B and C neurons and the edges
A→B→C. No binary input puts a neuron exactly at its kink (pre-activations −0.5, 0.5, 1.5 and −0.75, −0.25,
0.25, 0.75, 1.25, 2.25: at least ¼ from the kink), so the model's Jacobian is defined on the data."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.targets.residual import ResidualTarget
from superpose.targets.target import PlantedConfig, planted_or_random
from superpose.validate import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class TwoHopConfig(PlantedConfig):
    """The two-hop circuit on n_features = 2·n_hidden binary inputs, in a residual stream of n_features +
    2·n_hidden dimensions (A, then B, then C)."""

    kind = "two_hop"
    n_features: int = 6
    """The binary inputs A: 2·n_hidden."""
    n_hidden: int = 3
    """k, the B neurons (and the C neurons): at least 2."""

    def __post_init__(self):
        super().__post_init__()
        if self.n_features != 2 * self.n_hidden or self.n_hidden < 2:
            raise ConfigError(
                "two_hop needs n_features = 2·n_hidden (n_hidden ≥ 2), got "
                f"{self.n_features} and {self.n_hidden}"
            )

    @property
    def n_layers(self) -> int:
        """Two MLPs: A → B, then B → C."""
        return 2

    @property
    def d_resid(self) -> int:
        """A, B and C side by side."""
        return self.n_features + 2 * self.n_hidden


class TwoHop(ResidualTarget, name="two_hop"):
    """A planted two-hop circuit in a residual stream of n + 2k dimensions (n = 2k binary inputs A).

    Layer 0: B_j = ReLU(A_2j + A_2j+1 − ½), written to dimension n + j. Layer 1: C_j = ReLU(B_j + B_(j+1 mod
    k) − ¾), written to dimension n + k + j, reading only B. The output is the whole final residual stream.
    """

    Config = TwoHopConfig
    B_BIAS, C_BIAS = -0.5, -0.75

    @classmethod
    def planted(cls, config: TwoHopConfig) -> dict[str, np.ndarray]:
        n, k = config.n_features, config.n_hidden
        W_in = np.zeros((2, k, n + 2 * k), np.float32)
        W_out = np.zeros((2, n + 2 * k, k), np.float32)
        for j in range(k):
            W_in[0, j, [2 * j, 2 * j + 1]] = 1.0
            W_out[0, n + j, j] = 1.0
            W_in[1, j, [n + j, n + (j + 1) % k]] = 1.0
            W_out[1, n + k + j, j] = 1.0
        b_in = np.stack([np.full(k, cls.B_BIAS), np.full(k, cls.C_BIAS)]).astype(np.float32)
        return {"W_in": W_in, "b_in": b_in, "W_out": W_out}

    @classmethod
    def draw(cls, config, key, probability, batch):
        return (jax.random.uniform(key, (batch, config.n_features)) < probability).astype(jnp.float32)

    @classmethod
    def other_values(cls, x_BxF, key):
        """Active inputs of non-binary value U[0.25, 1]."""
        return x_BxF * np.asarray(jax.random.uniform(jax.random.fold_in(key, 1), x_BxF.shape, minval=0.25,
                                                     maxval=1.0))

    @staticmethod
    def parts(config: TwoHopConfig) -> tuple[slice, slice, slice]:
        """The A, B and C parts of the residual stream."""
        n, k = config.n_features, config.n_hidden
        return slice(0, n), slice(n, n + k), slice(n + k, n + 2 * k)

    def __init__(self, config: TwoHopConfig, key: jax.Array):
        params = planted_or_random(config, key, self.planted(config))
        self.W_in, self.b_in, self.W_out = (nnx.Param(params[k]) for k in ("W_in", "b_in", "W_out"))
        self.config = config

    def embed(self, x_BxF):
        k = self.W_in.shape[1]
        return jnp.pad(x_BxF, ((0, 0), (0, 2 * k)))

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD

    def label(self, x_BxF):
        p = self.planted(self.config)
        r = self.embed(x_BxF)
        for layer in range(2):
            r = r + jax.nn.relu(r @ p["W_in"][layer].T + p["b_in"][layer]) @ p["W_out"][layer].T
        return r

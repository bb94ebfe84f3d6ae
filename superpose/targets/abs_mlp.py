"""The absolute value through one MLP (Elhage et al. 2022 E11, and the toy model of mechanistic
(un)faithfulness of Anthropic 2025): ``|x| = ReLU(x) + ReLU(−x)``, read as a residual layer whose output is
``|x|``. Planted: 2n neurons ReLU(x_i), ReLU(−x_i). Trained from random weights: any number of neurons (fewer
than 2n: computation in superposition, E11). Optionally a repeated data point ``(1, 1, 1, 0, …)`` makes up
`repeat_frac` of the data."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.targets.residual import ResidualTarget
from superpose.targets.target import PlantedConfig, planted_or_random
from superpose.validate import ConfigError, check_float


@dataclasses.dataclass(frozen=True, kw_only=True)
class AbsMLPConfig(PlantedConfig):
    """|x| through one MLP of `n_hidden` neurons, reading and writing the n_features inputs directly."""

    kind = "abs_mlp"
    n_features: int = 8
    """F, the sparse inputs (at least 3: the repeated point has three ones)."""
    n_hidden: int = 16
    """Neurons (the planted circuit has 2·n_features)."""
    repeat_frac: float = 0.0
    """The fraction of samples replaced by the repeated point (1, 1, 1, 0, …)."""

    def __post_init__(self):
        super().__post_init__()
        check_float("repeat_frac", self.repeat_frac, lower=0.0)
        if self.repeat_frac > 1:
            raise ConfigError(f"repeat_frac must be in [0, 1], got {self.repeat_frac}")
        if self.planted and self.n_hidden != 2 * self.n_features:
            raise ConfigError(f"the planted abs_mlp has n_hidden = 2·n_features neurons, got {self.n_hidden}")
        if self.n_features < AbsMLP.REPEATED:
            raise ConfigError(f"abs_mlp needs at least {AbsMLP.REPEATED} features")

    @property
    def n_layers(self) -> int:
        """One MLP."""
        return 1

    @property
    def d_resid(self) -> int:
        """The residual stream is the input itself."""
        return self.n_features


class AbsMLP(ResidualTarget, name="abs_mlp"):
    """|x| through one MLP (the output is the MLP's; module doc). Inputs are U[−1, 1] when active; with
    `repeat_frac` > 0 that fraction of samples is the repeated point (1, 1, 1, 0, …)."""

    Config = AbsMLPConfig
    signed_inputs = True
    REPEATED = 3

    @classmethod
    def planted(cls, config: AbsMLPConfig) -> dict[str, np.ndarray]:
        n = config.n_features
        eye = np.eye(n, dtype=np.float32)
        return {
            "W_in": np.concatenate([eye, -eye])[None],
            "b_in": np.zeros((1, 2 * n), np.float32),
            "W_out": np.concatenate([eye, eye], axis=1)[None],
        }

    @classmethod
    def repeated_point(cls, config: AbsMLPConfig) -> np.ndarray:
        return (np.arange(config.n_features) < cls.REPEATED).astype(np.float32)

    @classmethod
    def draw(cls, config, key, probability, batch):
        k_x, k_repeat = jax.random.split(key)
        x = super().draw(config, k_x, probability, batch)
        if config.repeat_frac == 0:
            return x
        repeat = jax.random.uniform(k_repeat, (batch, 1)) < config.repeat_frac
        return jnp.where(repeat, jnp.asarray(cls.repeated_point(config)), x)

    def __init__(self, config: AbsMLPConfig, key: jax.Array):
        n, m = config.n_features, config.n_hidden
        shapes = {"W_in": np.zeros((1, m, n)), "b_in": np.zeros((1, m)), "W_out": np.zeros((1, n, m))}
        params = planted_or_random(config, key, self.planted(config) if config.planted else shapes)
        self.W_in, self.b_in, self.W_out = (nnx.Param(params[k]) for k in ("W_in", "b_in", "W_out"))

    @classmethod
    def differentiable(cls, x_BxF):
        """|x| has its kink at 0: an inactive feature's derivative is undefined."""
        return x_BxF != 0

    def embed(self, x_BxF):
        return x_BxF

    def unembed(self, r_BxD, r0_BxD):
        return r_BxD - r0_BxD

    def label(self, x_BxF):
        return jnp.abs(x_BxF)

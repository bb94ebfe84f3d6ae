"""The toy model of superposition as a decomposition target (Elhage et al. 2022, as Bushnaq, Braun & Sharkey
2025 use it): ``x' = ReLU(Wᵀ W x + b)``, optionally with a frozen identity between ``W`` and ``Wᵀ`` (TMS+ID).

This is the toy model superpose.toy trains as ``relu_output``, in the decomposition convention: the target's
``W`` (``n_hidden x n_features``, d_out x d_in) is the toy model's ``W_FxH`` transposed, its inputs are
batch-major, and both compute the same function (tests/test_targets.py). The truth: column j of ``W`` (row j
of ``Wᵀ``) is used iff feature j is active; the identity is one dense piece of rank ``n_hidden``.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from superpose.targets.target import Target, TargetConfig, uniform
from superpose.validate import ConfigError, check_choice

ONE_HOT_REFERENCE = (
    "0.75 ± 0.1 is the SPD authors' logged sanity plot, not an assertion; TMS 40-10 trained with their "
    "recipe returns about 0.61 (here, and in their code by an audit's re-run)"
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TMSConfig(TargetConfig):
    """TMS: ReLU(Wᵀ [I] W x + b) trained to reconstruct x (defaults: the SPD paper's TMS 5-2)."""

    kind = "tms"
    n_hidden: int = 2
    """Hidden dimensions m (the rows of W)."""
    identity: bool = False
    """A frozen identity between W and Wᵀ (TMS+ID)."""
    bias_init: str = "zero"
    """The output bias starts at `zero` or `random` (PyTorch's U(±1/√fan_in))."""

    def __post_init__(self):
        super().__post_init__()
        check_choice("bias_init", self.bias_init, ("zero", "random"))
        if not isinstance(self.identity, (bool, np.bool_)):
            raise ConfigError(f"identity must be true or false, got {self.identity!r}")


class TMS(Target, name="tms"):
    """x' = ReLU(Wᵀ [I] W x + b), W: n_hidden x n_features, tied; I frozen when present."""

    Config = TMSConfig
    one_hot_scale = 0.75
    clean_seed_needed = True

    @classmethod
    def true_pieces(cls, config):
        return "W"

    @classmethod
    def transposed(cls, config):
        return {"WT": "W"}

    @classmethod
    def importance_truth(cls, config):
        truth = {"W": (("W",), 0), "WT": (("WT",), 0)}
        return truth | {"I": (("I",), config.n_hidden)} if config.identity else truth

    @classmethod
    def one_hot_check(cls, config, model):
        """Input 0.75·e_i should come back as 0.75 ± 0.1 at index i (for every feature it represents): the SPD
        authors' sanity check, which their code logs as a plot and does not assert. TMS 40-10 trained with
        their recipe returns about 0.61 for every feature (seeds 0-3: 0.612 to 0.615 on average; an audit of
        their code found 0.61 there too), so it "fails" the band without anything being wrong with it."""
        out = np.diag(np.asarray(model(jnp.asarray(0.75 * np.eye(config.n_features, dtype=np.float32)))))
        ok = np.abs(out - 0.75) <= 0.1
        return {"one_hot_output": out.tolist(), "one_hot_mean": float(out.mean()),
                "one_hot_ok": int(ok.sum()), "one_hot_features": config.n_features,
                "one_hot_reference": ONE_HOT_REFERENCE}

    @classmethod
    def activation_width(cls, config):
        return config.n_features + config.n_hidden

    def __init__(self, config: TMSConfig, key: jax.Array):
        f, h = config.n_features, config.n_hidden
        k_w, k_b = jax.random.split(key)
        self.W = nnx.Param(uniform(k_w, (h, f), f))
        self.b = nnx.Param(
            uniform(k_b, (f,), h) if config.bias_init == "random" else jnp.zeros((f,), jnp.float32)
        )
        self.I = nnx.Variable(jnp.eye(h, dtype=jnp.float32)) if config.identity else None

    def matrices(self):
        W = self.W[...]
        return {"W": W, "I": self.I[...], "WT": W.T} if self.I is not None else {"W": W, "WT": W.T}

    def forward(self, x_BxF, apply):
        h = apply("W", x_BxF)
        if self.I is not None:
            h = apply("I", h)
        return jax.nn.relu(apply("WT", h) + self.b[...])

    def label(self, x_BxF):
        return x_BxF

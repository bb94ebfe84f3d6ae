"""Toy models of superposition as flax NNX modules, each written for ONE instance.

Every model holds ``W_FxH``: feature i's direction is row ``W[i]`` (the paper's column
W_i of its m x n matrix), so the paper's WᵀW is ``W @ W.T`` here (F x F), and a bias
``b_F``. Batches are feature-major, ``x_FxB``: with the batch as the minor (contiguous)
axis XLA's CPU code vectorises over the batch, which made the step 4-7x faster than
``x_BxF`` for the paper's tiny F and H.

A model is one class, registered by its name:

    class MyModel(ToyModel, name="my_model"):
        def hidden(self, x_FxB): ...            # required: the hidden activations h_HxB
        def readout(self, h_HxB): ...           # required: the output x'_FxB from them

and optionally `target` (what the output should be; x by default) and
`signed_inputs = True` (inputs uniform on [-1, 1]). `ToyConfig(model="my_model")` then
trains it. The trainer vmaps the class over instances; nothing here has an instance axis.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from flax import nnx

from superpose.registry import Registered, Registry
from superpose.train.trainer import module_from_arrays

MODELS = Registry("toy model", required=("hidden", "readout"))


def from_arrays(name: str, params: dict[str, jax.Array]) -> ToyModel:
    """Toy model `name` holding `params` (arrays by attribute name: W_FxH, b_F, ...; one instance)."""
    n_features, n_hidden = jnp.shape(params["W_FxH"])
    return module_from_arrays(lambda: MODELS.get(name)(n_features, n_hidden, jax.random.key(0)), params)


class ToyModel(nnx.Module, Registered):
    """W_FxH with Xavier-normal entries (std sqrt(2 / (F + H))) and a zero bias b_F."""

    registry = MODELS
    signed_inputs: ClassVar[bool] = False
    """Inputs uniform on [-1, 1] instead of [0, 1]."""

    def __init__(self, n_features: int, n_hidden: int, key: jax.Array):
        std = jnp.sqrt(2.0 / (n_features + n_hidden))
        self.W_FxH = nnx.Param(std * jax.random.normal(key, (n_features, n_hidden), jnp.float32))
        self.b_F = nnx.Param(jnp.zeros((n_features,), jnp.float32))

    def hidden(self, x_FxB: jax.Array) -> jax.Array:
        """The hidden activations h_HxB (what an SAE on this model reads)."""
        raise NotImplementedError

    def readout(self, h_HxB: jax.Array) -> jax.Array:
        """The output x'_FxB computed from the hidden activations."""
        raise NotImplementedError

    def __call__(self, x_FxB: jax.Array) -> jax.Array:
        return self.readout(self.hidden(x_FxB))

    def target(self, x_FxB: jax.Array) -> jax.Array:
        """What the model must output."""
        return x_FxB

    def loss(self, x_FxB: jax.Array, importance_F: jax.Array) -> jax.Array:
        """Importance-weighted squared error, mean over batch and features (the notebook's scale).

        The paper sums over features; the mean is that sum / F, which only rescales the loss.
        """
        return jnp.mean(importance_F[:, None] * (self.target(x_FxB) - self(x_FxB)) ** 2)


class ReLUOutput(ToyModel, name="relu_output"):
    """x' = ReLU(WᵀWx + b), the paper's main model."""

    def hidden(self, x_FxB):
        return self.W_FxH[...].T @ x_FxB

    def readout(self, h_HxB):
        return jax.nn.relu(self.W_FxH[...] @ h_HxB + self.b_F[...][:, None])


class Linear(ToyModel, name="linear"):
    """x' = WᵀWx + b."""

    def hidden(self, x_FxB):
        return self.W_FxH[...].T @ x_FxB

    def readout(self, h_HxB):
        return self.W_FxH[...] @ h_HxB + self.b_F[...][:, None]


class ReLUHidden(ToyModel, name="relu_hidden"):
    """x' = ReLU(Wᵀ ReLU(Wx) + b): a privileged hidden basis (E10)."""

    def hidden(self, x_FxB):
        return jax.nn.relu(self.W_FxH[...].T @ x_FxB)

    def readout(self, h_HxB):
        return jax.nn.relu(self.W_FxH[...] @ h_HxB + self.b_F[...][:, None])


class Abs(ToyModel, name="abs"):
    """y' = ReLU(W₂ ReLU(W₁x) + b), untied, trained to output |x| on x uniform in [-1, 1]
    (computation in superposition, E11). W₁ is `W_FxH`, W₂ is `W_out_FxH`."""

    signed_inputs = True

    def __init__(self, n_features: int, n_hidden: int, key: jax.Array):
        super().__init__(n_features, n_hidden, key)
        std = jnp.sqrt(2.0 / (n_features + n_hidden))
        self.W_out_FxH = nnx.Param(std * jax.random.normal(jax.random.fold_in(key, 1), (n_features, n_hidden),
                                                           jnp.float32))

    def hidden(self, x_FxB):
        return jax.nn.relu(self.W_FxH[...].T @ x_FxB)

    def readout(self, h_HxB):
        return jax.nn.relu(self.W_out_FxH[...] @ h_HxB + self.b_F[...][:, None])

    def target(self, x_FxB):
        return jnp.abs(x_FxB)

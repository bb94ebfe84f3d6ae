"""Targets with a residual stream: ``r₀ = embed(x)``, ``r_{l+1} = r_l + mlp(l, r_l)``, output
``unembed(r_L, r₀)``. They expose their MLP layers one by one (`embed`, `mlp`, `unembed`, `mlp_io`), which is
what a transcoder replaces (superpose.transcoders)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from superpose.targets.target import Apply, Target


class ResidualTarget(Target):
    """A residual stream of `d_resid` dimensions through `n_layers` MLPs of `n_hidden` neurons (module doc).

    Subclasses hold ``W_in`` (layers x neurons x d_resid), ``W_out`` (layers x d_resid x neurons) and
    optionally ``b_in`` (layers x neurons), define `embed` and `unembed`, and their config answers
    ``n_hidden``, ``n_layers`` and ``d_resid`` (as fields or as properties).
    """

    @classmethod
    def importance_truth(cls, config):
        """One subcomponent per feature in the W_in of all layers; n_hidden x n_layers dense ones in W_out."""
        layers = range(config.n_layers)
        return {"W_in": (tuple(f"W_in.{i}" for i in layers), 0),
                "W_out": (tuple(f"W_out.{i}" for i in layers), config.n_hidden * config.n_layers)}

    @classmethod
    def activation_width(cls, config):
        return config.n_features + config.d_resid * (config.n_layers + 1) + config.n_hidden * config.n_layers

    def embed(self, x_BxF: jax.Array) -> jax.Array:
        raise NotImplementedError

    def unembed(self, r_BxD: jax.Array, r0_BxD: jax.Array) -> jax.Array:
        raise NotImplementedError

    @property
    def n_mlp(self) -> int:
        return self.W_in.shape[0]

    def mlp(self, layer: int, r_BxD: jax.Array, apply: Apply | None = None) -> jax.Array:
        """MLP `layer`'s output for residual r (its weights applied by `apply` when given)."""
        apply = apply or self.own()
        pre = apply(f"W_in.{layer}", r_BxD)
        if getattr(self, "b_in", None) is not None:
            pre = pre + self.b_in[layer]
        return apply(f"W_out.{layer}", jax.nn.relu(pre))

    def matrices(self):
        out = {}
        for layer in range(self.n_mlp):
            out[f"W_in.{layer}"] = self.W_in[layer]
            out[f"W_out.{layer}"] = self.W_out[layer]
        return out

    def forward(self, x_BxF, apply):
        r0 = r = self.embed(x_BxF)
        for layer in range(self.n_mlp):
            r = r + self.mlp(layer, r, apply)
        return self.unembed(r, r0)

    def mlp_io(self, x_BxF: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(inputs, outputs) of every MLP layer on x, each layers x B x d_resid."""
        r = self.embed(x_BxF)
        ins, outs = [], []
        for layer in range(self.n_mlp):
            out = self.mlp(layer, r)
            ins.append(r)
            outs.append(out)
            r = r + out
        return jnp.stack(ins), jnp.stack(outs)

"""What may differ between instances of one compiled program, as arrays with the instance axis first."""

from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp


def hyper_arrays(configs: Sequence, hyper_class: type):
    """The per-instance fields `hyper_class` names, one array each with the instance axis first."""
    return hyper_class(
        *(jnp.asarray([getattr(c, f) for c in configs], jnp.float32) for f in hyper_class._fields)
    )

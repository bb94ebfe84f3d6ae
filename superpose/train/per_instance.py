"""What fixes a compiled program and what may differ between its instances: one declaration per config.

A config is a frozen dataclass. A field declared with `per_instance(default)` (a learning rate, a penalty
coefficient, a feature probability, a seed) may differ between the instances of one program: the trainer
passes it as an array with the instance axis first (`hyper_arrays`), so a new value never recompiles. Every
other field fixes the program's shape (sizes, steps, the model's name, the schedule): instances train
together only when those agree (`shared_static`).

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class MyConfig(InstanceConfig):
        n_latents: int = 64                       # fixes the program
        learning_rate: float = per_instance(1e-3)  # one value per instance
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp

from superpose.validate import ConfigError

PER_INSTANCE = "per_instance"
"""The dataclass field metadata key that marks a per-instance field."""


OMITTED_AT_DEFAULT = "omitted_at_default"
"""The dataclass field metadata key of a field `to_dict` leaves out while it holds its default."""


def per_instance(default: Any, **kwargs) -> Any:
    """A config field that may differ between the instances of one compiled program."""
    return dataclasses.field(default=default, metadata={PER_INSTANCE: True}, **kwargs)


def added_field(default: Any, **kwargs) -> Any:
    """A (static) field added after result folders were saved: `to_dict` leaves it out while it holds its
    default, so a folder saved before it existed still holds the same job and is not retrained."""
    return dataclasses.field(default=default, metadata={OMITTED_AT_DEFAULT: True}, **kwargs)


class InstanceConfig:
    """Mixin of a frozen dataclass config (module doc): its static part, its fields by role, its dict."""

    @classmethod
    def per_instance_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if f.metadata.get(PER_INSTANCE))

    @classmethod
    def static_fields(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls) if not f.metadata.get(PER_INSTANCE))

    def static(self):
        """The part that fixes the program: this config with every per-instance field at its default."""
        defaults = {f.name: f.default for f in dataclasses.fields(self) if f.metadata.get(PER_INSTANCE)}
        return dataclasses.replace(self, **defaults)

    def to_dict(self) -> dict[str, Any]:
        """The fields by name; an `added_field` only where it differs from its default."""
        out = dataclasses.asdict(self)
        for f in dataclasses.fields(self):
            if f.metadata.get(OMITTED_AT_DEFAULT) and out[f.name] == f.default:
                del out[f.name]
        return out


def shared_static(configs: Sequence[InstanceConfig], what: str):
    """The static config every one of `configs` shares (what one program trains); a one-line ConfigError
    naming the fields that differ otherwise."""
    if not configs:
        raise ConfigError(f"{what} needs at least one instance")
    statics = {c.static() for c in configs}
    if len(statics) != 1:
        differ = [f for f in type(configs[0]).static_fields()
                  if len({repr(getattr(c, f)) for c in configs}) > 1]
        allowed = ", ".join(type(configs[0]).per_instance_fields())
        raise ConfigError(f"{what} trained together must share every field but {allowed}; "
                          f"these differ: {', '.join(differ)}")
    return statics.pop()


def hyper_arrays(configs: Sequence, hyper_class: type):
    """The per-instance fields `hyper_class` names, one float32 array each with the instance axis first."""
    return hyper_class(
        *(jnp.asarray([getattr(c, f) for c in configs], jnp.float32) for f in hyper_class._fields)
    )

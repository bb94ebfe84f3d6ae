"""Name -> class registries for the definitions superpose trains (toy models, SAE architectures).

A base class derives from `Registered` and holds one `Registry`; each subclass that names
itself is registered:

    class ToyModel(nnx.Module, Registered):
        registry = Registry("toy model", required=("hidden", "readout"))

    class ReLUOutput(ToyModel, name="relu_output"): ...

Registration checks that the subclass defines every method the base class marks as required,
so a forgotten method fails when the class is defined, never by silently running the base
class's (or another architecture's) behaviour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from superpose.validate import ConfigError


class Registry:
    def __init__(self, kind: str, required: Sequence[str]):
        self.kind = kind
        self.required = tuple(required)
        self._classes: dict[str, type] = {}

    def add(self, cls: type, name: str, base: type) -> None:
        missing = [m for m in self.required if getattr(cls, m, None) is getattr(base, m, None)]
        if missing:
            raise TypeError(f"{self.kind} '{name}' ({cls.__qualname__}) must define {', '.join(missing)}")
        if name in self._classes and self._classes[name].__qualname__ != cls.__qualname__:
            raise TypeError(f"{self.kind} '{name}' is already defined by {self._classes[name].__qualname__}")
        self._classes[name] = cls

    def names(self) -> tuple[str, ...]:
        return tuple(self._classes)

    def get(self, name: str) -> type:
        if name not in self._classes:
            raise ConfigError(f"unknown {self.kind} {name!r}; known: {', '.join(self._classes)}")
        return self._classes[name]


class Registered:
    """Mixin of a registry's base class: `class X(Base, name="x")` registers X under "x" (and sets
    `X.name`)."""

    registry: ClassVar[Registry]
    name: ClassVar[str]

    def __init_subclass__(cls, *, name: str | None = None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name is not None:
            base = next(c for c in cls.__mro__ if "registry" in vars(c))
            cls.registry.add(cls, name, base)
            cls.name = name

"""The errors a user sees as one line (`ConfigError`, `ResultError`) and the config checks that raise them.

Light on purpose (no numpy at import): the command line imports it before anything else."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from typing import Any

MAX_SEED = 2**32 - 1
"""Seeds are unsigned 32-bit integers (the PRNG key's)."""


class ConfigError(ValueError):
    """A user-facing configuration error; its message is one line."""


class ResultError(ValueError):
    """A result folder that cannot be read or written; the message names the file."""


def env_number(name: str, default: float) -> float:
    """A non-negative number from environment variable `name`, `default` when unset."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"${name} must be a non-negative number, got {text!r}")
    return value


def check_known_key(key: str, names: Sequence[str], kind: str = "config") -> None:
    """A ConfigError for a key outside `names`, with the closest match."""
    names = list(names)
    if key not in names:
        hint = difflib.get_close_matches(key, names, n=1)
        suffix = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(names)}"
        raise ConfigError(f"unknown {kind} key '{key}'{suffix}")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def check_int(name: str, value: Any, *, minimum: int, maximum: int | None = None) -> None:
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, (int, _np().integer)):
        raise ConfigError(f"{name} must be an integer {bound}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(f"{name} must be an integer {bound}, got {value}")


def check_float(name: str, value: Any, *, lower: float, open_lower: bool = False) -> None:
    bound = f"> {lower}" if open_lower else f">= {lower}"
    if isinstance(value, bool) or not isinstance(value, (int, float, _np().floating, _np().integer)):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value!r}")
    if not math.isfinite(value) or value < lower or (open_lower and value == lower):
        raise ConfigError(f"{name} must be a finite number {bound}, got {value}")


def as_floats(name: str, value: Any) -> tuple[float, ...]:
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, _np().floating, _np().integer)):
            raise ConfigError(f"{name} must be numbers, got {v!r}")
        if not math.isfinite(v):
            raise ConfigError(f"{name} must be finite, got {v}")
    return tuple(float(v) for v in values)


def _np():
    import numpy

    return numpy

"""superpose: a simulator for superposition in neural networks.

The package has three layers (README, "How superpose is built"):
  superpose.train      the trainer: any `Learner`, many instances in one compiled program
  superpose.toy        toy models of superposition: configs, data, models, metrics, theory, sweeps
  superpose.decompose  decompositions with known ground truth: sources, SAEs, recovery metrics

`superpose.train` is the trainer's subpackage; toy models train with `superpose.toy.training.train`.
The names below are imported on first use, so that `import superpose` (and the command
line) does not pay for JAX until it needs it.
"""

import importlib

from superpose.validate import ConfigError, ResultError

_LAZY = {
    "load": "superpose.loading",
    "ToyConfig": "superpose.toy.config",
    "Sweep": "superpose.toy.sweep",
    "run_sweep": "superpose.toy.sweep",
}

__all__ = ["ConfigError", "ResultError", "Sweep", "ToyConfig", "load", "run_sweep"]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'superpose' has no attribute {name!r}")

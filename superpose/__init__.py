"""superpose: a simulator for superposition in neural networks.

The package, one layer per folder, each importing only the layers below it (tests/test_layers.py):
  superpose.validate, registry, processor, activations, dimensions   errors, registries, the machine,
                         activation functions, the dimension alphabet
  superpose.train        the trainer: any `Learner`, many instances in one compiled program
  superpose.measures     pure metrics (feature geometry, dictionary recovery, decomposition pieces)
  superpose.data         data sources: the toy's sparse features, ground truth, SynthSAEBench, user arrays
  superpose.results      result folders: one kind per class, `run_or_load`, `load`
  superpose.toy          toy models of superposition: configs, models, training, theory, sweeps
  superpose.sae          sparse autoencoders: architectures, groups, evaluation, SAELens, steering
  superpose.targets      models with known computation (TMS, residual MLPs, circuits)
  superpose.decomposition  parameter decompositions of targets (SPD, APD)
  superpose.transcoders  MLP replacements of targets: transcoders, faithfulness, attribution graphs
  superpose.app          the application: command line, experiment runner, scorecard, plotting, studies

The names below are imported on first use, so that `import superpose` (and the command
line) does not pay for JAX until it needs it.
"""

import importlib

from superpose.validate import ConfigError, ResultError

_LAZY = {
    "ToyConfig": "superpose.toy.config",
    "Sweep": "superpose.toy.sweep",
    "run_sweep": "superpose.toy.sweep",
}

RESULT_MODULES = (
    "superpose.toy.sweep",
    "superpose.sae.group",
    "superpose.sae.baselines",
    "superpose.targets.group",
    "superpose.decomposition.group",
    "superpose.transcoders",
    "superpose.toy.kgons",
)
"""The modules that define the built-in result kinds and decomposition methods (imported by `load`)."""

__all__ = ["ConfigError", "ResultError", "Sweep", "ToyConfig", "load", "run_sweep"]


def load(folder):
    """A result folder as its kind's class (the `kind` in its config.json): a `ToyGroup` (a shape group of a
    toy-model sweep), an `SAEGroup` (SAEs trained together on one source), a `TargetGroup` (models with known
    computation), a `DecompositionGroup` (SPD, APD or transcoder runs), k-gon `CriticalPoints` and
    `Trajectories` (superpose.toy.kgons), or any kind a user module defines
    (`class MyResult(superpose.results.Run, kind="mine")`, imported before loading). Each is a
    `superpose.results.Run` (path, config, arrays, summary); the groups add `configs` and `model(i)`."""
    for module in RESULT_MODULES:
        importlib.import_module(module)
    from superpose import results

    return results.load(folder)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'superpose' has no attribute {name!r}")

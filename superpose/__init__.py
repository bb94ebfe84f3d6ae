"""superpose: a simulator for superposition in neural networks.

The package has three layers (README, "How superpose is built"):
  superpose.train      the trainer: any `Learner`, many instances in one compiled program
  superpose.toy        toy models of superposition: configs, data, models, metrics, theory, sweeps
  superpose.decompose  decompositions with known ground truth: sources, SAEs, recovery metrics
"""

from superpose.loading import load
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, run_sweep
from superpose.toy.training import train
from superpose.validate import ConfigError

__all__ = ["ConfigError", "Sweep", "ToyConfig", "load", "run_sweep", "train"]

"""superpose: a simulator for superposition in neural networks."""

from superpose.config import ConfigError, ToyConfig
from superpose.sweep import Sweep, run_sweep
from superpose.train import train

__all__ = ["ConfigError", "Sweep", "ToyConfig", "run_sweep", "train"]

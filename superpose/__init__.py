"""superpose: a simulator for superposition in neural networks."""

from superpose.config import ConfigError, ToyConfig
from superpose.engine import train
from superpose.sweep import Sweep, run_sweep

__all__ = ["ConfigError", "Sweep", "ToyConfig", "run_sweep", "train"]

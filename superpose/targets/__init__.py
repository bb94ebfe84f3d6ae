"""Targets: models whose computation is known, trained or planted as a group and saved as a folder.

One module per kind, each holding its config and its model: `tms` (TMS and TMS with a hidden identity),
`resid_mlp` (the residual MLPs of compressed computation), `abs_mlp` (the absolute value), `two_hop` (a
planted two-hop circuit), `mixing_mlp` (Bhagat et al.'s mixing MLP); `target` holds what they share,
`training` how a group trains, `presets` the SPD paper's recipes, `group` their result folder.
"""

from superpose.targets.abs_mlp import AbsMLP, AbsMLPConfig
from superpose.targets.mixing_mlp import MixingMLP, MixingMLPConfig
from superpose.targets.presets import PRESETS
from superpose.targets.resid_mlp import ResidMLP, ResidMLPConfig
from superpose.targets.residual import ResidualTarget
from superpose.targets.target import (
    SCHEDULES,
    TARGETS,
    Target,
    TargetConfig,
    config,
    config_from_dict,
    sample,
)
from superpose.targets.tms import TMS, TMSConfig
from superpose.targets.training import from_arrays, one_hot_check, planted_params, schedule, train
from superpose.targets.two_hop import TwoHop, TwoHopConfig

__all__ = [
    "PRESETS", "SCHEDULES", "TARGETS", "TMS", "AbsMLP", "AbsMLPConfig", "MixingMLP", "MixingMLPConfig",
    "ResidMLP", "ResidMLPConfig", "ResidualTarget", "TMSConfig", "Target", "TargetConfig", "TwoHop",
    "TwoHopConfig", "config", "config_from_dict", "from_arrays", "one_hot_check", "planted_params", "sample",
    "schedule", "train",
]

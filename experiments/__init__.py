"""The studies superpose regenerates, one module each.

Each module defines `EXPERIMENT` (superpose.experiment.Experiment). `EXPERIMENTS` lists them in
the order `superpose figures` draws them; pyproject.toml registers it under the
`superpose.experiments` entry point group, which is how the command line finds them.
"""

from experiments import (
    absolute,
    adversarial,
    basic,
    correlated,
    double_descent,
    dynamics,
    geometry,
    intro,
    perturb,
    phase,
    privileged,
    sae_architectures,
    sae_recovery,
    sae_sharkey,
    sae_steering,
)

EXPERIMENTS = (
    intro.EXPERIMENT,
    basic.EXPERIMENT,
    phase.EXPERIMENT,
    geometry.EXPERIMENT,
    perturb.EXPERIMENT,
    adversarial.EXPERIMENT,
    correlated.EXPERIMENT,
    privileged.EXPERIMENT,
    absolute.EXPERIMENT,
    dynamics.EXPERIMENT,
    double_descent.EXPERIMENT,
    sae_recovery.EXPERIMENT,
    sae_sharkey.EXPERIMENT,
    sae_architectures.EXPERIMENT,
    sae_steering.EXPERIMENT,
)

"""The studies superpose regenerates, one module each.

Each module defines `EXPERIMENT` (superpose.experiment.Experiment); adding a study is adding a
module here. `EXPERIMENTS` holds every one, in the paper's order and then new ones by name: the
order `superpose figures` draws them. pyproject.toml registers it under the
`superpose.experiments` entry point group, which is how the command line finds them.
"""

import importlib
import pkgutil

PAPER_ORDER = ("intro", "basic", "phase", "geometry", "perturb", "adversarial", "correlated", "privileged",
               "absolute", "dynamics", "double_descent", "sae_recovery", "sae_sharkey", "sae_architectures",
               "sae_steering")


def _modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(names, key=lambda n: (PAPER_ORDER.index(n) if n in PAPER_ORDER else len(PAPER_ORDER), n))


EXPERIMENTS = tuple(
    module.EXPERIMENT for module in (importlib.import_module(f"{__name__}.{name}") for name in _modules())
    if hasattr(module, "EXPERIMENT")
)

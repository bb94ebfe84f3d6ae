"""The studies superpose regenerates, one module each.

Each module defines `EXPERIMENT` (superpose.app.experiment.Experiment); adding a study is adding a
module here. They come in the paper's order and then new ones by name: the order `superpose
figures` draws them. pyproject.toml registers this package under the `superpose.experiments`
entry point group, which is how the command line finds it: `experiments()` imports them,
`checks()` gives the acceptance checks on the library itself (each experiment holds its own), `describe()`
reads each module's `Experiment(name=..., description=...)` from its source without importing it (so
`superpose list` starts instantly; name and description must be string literals there). """

import ast
import importlib
import pkgutil
from pathlib import Path

PAPER_ORDER = (
    "intro",
    "basic",
    "phase",
    "geometry",
    "perturb",
    "adversarial",
    "adversarial_training",
    "correlated",
    "privileged",
    "absolute",
    "dynamics",
    "transformations",
    "double_descent",
    "hidden_l1",
    "sae_recovery",
    "sae_sharkey",
    "sae_architectures",
    "sae_steering",
)


def modules() -> list[str]:
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    return sorted(names, key=lambda n: (PAPER_ORDER.index(n) if n in PAPER_ORDER else len(PAPER_ORDER), n))


def experiments() -> list:
    found = (importlib.import_module(f"{__name__}.{name}") for name in modules())
    return [module.EXPERIMENT for module in found if hasattr(module, "EXPERIMENT")]


def checks() -> list:
    """The acceptance checks on the library itself (docs/checks.md 1-4 and 14); each experiment holds its
    own."""
    from experiments._library_checks import CHECKS

    return list(CHECKS)


def describe() -> list[tuple[str, str]]:
    out = []
    for name in modules():
        tree = ast.parse((Path(__path__[0]) / f"{name}.py").read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Experiment":
                fields = {k.arg: k.value.value for k in node.keywords if isinstance(k.value, ast.Constant)}
                out.append((fields["name"], fields["description"]))
    return out

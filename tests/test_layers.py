"""The package's layers import one way: each folder of superpose/ only from the layers below it, no module
cycle (counting imports inside functions, where a cycle hides), and nothing below the application draws.

Every `import superpose...` / `from superpose... import ...` of every module is read from its source (ast),
so the test needs no import and fails on the line that breaks the rule."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.fast

PACKAGE = Path(__file__).resolve().parent.parent / "superpose"

LAYERS = (
    ("superpose.validate", "superpose.registry", "superpose.processor", "superpose.activations",
     "superpose.dimensions"),
    ("superpose.train",),
    ("superpose.measures",),
    ("superpose.data",),
    ("superpose.results",),
    ("superpose.toy",),
    ("superpose.targets",),
    ("superpose.sae",),
    ("superpose.decomposition",),
    ("superpose.transcoders",),
    ("superpose.app",),
)
"""Bottom to top. A module may import its own layer's modules and any layer below."""

DRAWING = ("matplotlib", "superpose.app.plotting")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, wherever it sits; `from a import b` gives a.b when a.b is a
    module of the package, else a."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                out.append((node.lineno, sub if sub in MODULES else node.module))
    return out


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> int | None:
    for i, members in enumerate(LAYERS):
        if any(module == m or module.startswith(m + ".") for m in members):
            return i
    return None


def test_every_module_has_a_layer():
    assert [m for m in MODULES if m != "superpose" and layer(m) is None] == []


def test_imports_run_down_the_layers():
    upward = []
    for name, path in MODULES.items():
        if name == "superpose":  # the package's front door (superpose.load) stands above every layer
            continue
        for line, imported in imports(path):
            target = layer(imported)
            if imported.startswith("superpose.") and target is not None and target > layer(name):
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}")
    assert upward == []


def test_nothing_below_the_application_draws():
    drawing = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}"
               for name, path in MODULES.items() if layer(name) != len(LAYERS) - 1 and name != "superpose"
               for line, imported in imports(path) if imported.startswith(DRAWING)]
    assert drawing == []


def test_measures_are_pure():
    """superpose.measures imports numpy, jax and scipy (and the standard library) only: metrics a reader can
    lift out of the package."""
    allowed = ("numpy", "jax", "scipy", "__future__", "collections", "dataclasses", "functools", "math", "re",
               "typing")
    found = [f"{path.relative_to(PACKAGE.parent)}:{line} imports {imported}"
             for name, path in MODULES.items() if name.startswith("superpose.measures")
             for line, imported in imports(path) if not imported.startswith(allowed)]
    assert found == []


def test_no_import_cycle():
    """Depth-first search over module -> imported module; a package's __init__ importing its own submodules
    (to register built-ins) is the package's, not a cycle."""
    graph = {name: {m for _, m in imports(path) if m in MODULES and m != name
                    and not (path.name == "__init__.py" and m.startswith(name + "."))}
             for name, path in MODULES.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_the_rules_catch_a_violation(tmp_path, monkeypatch):
    """The checks fail on an upward import, on a cycle and on a drawing import (a mutant package in tmp)."""
    import shutil

    fake = tmp_path / "superpose"
    shutil.copytree(PACKAGE, fake, ignore=shutil.ignore_patterns("__pycache__"))
    (fake / "train" / "leak.py").write_text("from superpose.toy import sweep\nimport matplotlib.pyplot\n")
    (fake / "measures" / "loop_a.py").write_text("def f():\n    from superpose.measures import loop_b\n")
    (fake / "measures" / "loop_b.py").write_text("from superpose.measures import loop_a\n")
    monkeypatch.setitem(globals(), "PACKAGE", fake)
    monkeypatch.setitem(globals(), "MODULES", {module_name(p): p for p in fake.rglob("*.py")})
    checks = (test_imports_run_down_the_layers, test_nothing_below_the_application_draws,
              test_no_import_cycle)
    for check in checks:
        with pytest.raises(AssertionError):
            check()

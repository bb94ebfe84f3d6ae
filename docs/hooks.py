"""mkdocs hooks: the figures of figures/ and one page per experiment join the site at build time, so neither
is copied into docs/ by hand (and neither can go stale)."""

from __future__ import annotations

import inspect
from pathlib import Path

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent


def _experiments():
    import experiments

    return [
        (name, __import__(f"experiments.{name}", fromlist=["EXPERIMENT"])) for name in experiments.modules()
    ]


def experiment_page(module) -> str:
    """An experiment's page: what it reproduces (its description), the figure and its caption (the module's
    docstring: setup, sizes, findings), the commands, and the acceptance checks it owns."""
    e = module.EXPERIMENT
    doc = inspect.getdoc(module) or ""
    title, _, body = doc.partition("\n")
    figures = sorted(ROOT.glob(f"figures/{e.name}*.png"))
    lines = [f"# {e.name}", "", f"**{e.description}**", ""]
    lines += [f"![{e.name}](../figures/{f.name})" for f in figures] + [""]
    lines += [f"*{title.strip()}*", "", body.strip(), ""]
    lines += [
        "## Run it",
        "",
        "```bash",
        f"superpose run {e.name} --quick    # minutes on 2 CPU cores",
        f"superpose run {e.name}            # full size",
    ]
    lines += [f"superpose run {e.name} --size {s}" for s in e.sizes if s not in ("quick", "full")]
    lines += ["```", "", f"Source: `experiments/{module.__name__.split('.')[-1]}.py`."]
    if e.checks:
        lines += ["", "## Acceptance checks", ""]
        lines += [f"- **{c.id}.** {c.claim} ({c.source})" for c in e.checks]
        lines += ["", "Their rules and tolerances: [the acceptance checks](../checks.md)."]
    return "\n".join(lines) + "\n"


LAYERS = (
    "train",
    "measures",
    "data",
    "results",
    "toy",
    "targets",
    "sae",
    "decomposition",
    "transcoders",
    "app",
)
"""The API reference's pages, one per layer of the package (tests/test_layers.py), bottom to top."""


def api_page(layer: str) -> str:
    """Every module of a layer, from its docstrings (a module added to the folder appears by itself)."""
    import pkgutil

    if layer == "index":
        modules = [
            "superpose",
            "superpose.validate",
            "superpose.registry",
            "superpose.processor",
            "superpose.activations",
        ]
    elif (ROOT / "superpose" / layer).is_dir():
        found = sorted(m.name for m in pkgutil.iter_modules([str(ROOT / "superpose" / layer)]))
        modules = [f"superpose.{layer}"] + [f"superpose.{layer}.{m}" for m in found]
    else:
        modules = [f"superpose.{layer}"]
    title = "superpose" if layer == "index" else f"superpose.{layer}"
    return f"# `{title}`\n\n" + "\n\n".join(f"::: {m}" for m in modules) + "\n"


def on_files(files: Files, config) -> Files:
    for layer in ("index", *LAYERS):
        files.append(File.generated(config, f"api/{layer}.md", content=api_page(layer)))
    site = config["site_dir"]
    for png in sorted((ROOT / "figures").glob("*.png")):
        files.append(File(f"figures/{png.name}", str(ROOT), site, config["use_directory_urls"]))
    pages = []
    for _name, module in _experiments():
        if hasattr(module, "EXPERIMENT"):
            path = f"experiments/{module.EXPERIMENT.name}.md"
            files.append(File.generated(config, path, content=experiment_page(module)))
            pages.append(
                f"- [{module.EXPERIMENT.name}]({module.EXPERIMENT.name}.md): {module.EXPERIMENT.description}"
            )
    index = (
        "# Experiments\n\nEvery study superpose regenerates, in the paper's order and then by name. Each "
        "page "
        "is made from the experiment's own module when the site is built.\n\n" + "\n".join(pages) + "\n"
    )
    files.append(File.generated(config, "experiments/index.md", content=index))
    return files

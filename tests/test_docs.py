"""The documentation builds with warnings as errors (`mkdocs build --strict`), and every runnable example
on it runs: each ```python block of README.md and of docs/, the blocks of one page in order in one namespace,
in an empty folder. (```py blocks are excerpts that need more than the page holds: a cluster, a result folder
on disk, a class defined elsewhere on the page.)"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)


def test_the_site_builds_with_warnings_as_errors(tmp_path):
    pytest.importorskip("mkdocs")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=os.environ | {"NO_MKDOCS_2_WARNING": "1"},
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "experiments" / "intro" / "index.html").is_file()
    assert "superpose.toy.sweep.run_sweep" in (tmp_path / "site" / "api" / "toy" / "index.html").read_text()


@pytest.mark.parametrize(
    "page", [p for p in PAGES if python_blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_the_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for i, block in enumerate(python_blocks(page)):
        exec(compile(block, f"{page.relative_to(ROOT)} block {i}", "exec"), namespace)  # noqa: S102


def test_the_readme_test_command_is_what_ci_runs():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if '".[test]"' in line)
    ci = (ROOT / ".ci" / "run").read_text().replace("pip install -q", "pip install")
    assert command in ci.splitlines(), (command, ci)

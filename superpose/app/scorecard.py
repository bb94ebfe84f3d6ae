"""The reproduction scorecard: acceptance checks evaluated on result folders.

A `Check` is one published claim with the rules that decide it (docs/checks.md lists them with their
sources). It reads the result folders of the experiments it names, which `evaluate` trains first where
they are missing (at quick or full size), and returns one `Rule` per condition: what must hold, what was
measured, and whether it held. A rule that needs more than a quick run provides (a larger grid, more
seeds) is reported at quick size without a verdict (`passed` is None) rather than judged on too little.

`superpose check` prints the table and writes it to check.json beside the results; the tests call the
same check functions on what they train, so each check has one definition.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from superpose.app.experiment import Manifest


@dataclasses.dataclass(frozen=True)
class Rule:
    rule: str
    """What must hold, with its tolerance."""
    measured: str
    """The value found, in the rule's terms."""
    passed: bool | None
    """None: not judged at this size (the reason is in `measured`)."""


def judge(rule: str, measured: str, passed) -> Rule:
    return Rule(rule, measured, bool(passed))


def not_judged(rule: str, why: str) -> Rule:
    return Rule(rule, why, None)


@dataclasses.dataclass(frozen=True)
class Check:
    id: str
    claim: str
    source: str
    experiments: tuple[str, ...]
    """The experiments whose results it reads (none for checks on the library itself)."""
    rules: Callable[[dict[str, Manifest], bool], list[Rule]]
    """(manifests by experiment name, quick) -> its rules, evaluated."""
    full_only: bool = False
    """Judged at full size only: at quick size it trains nothing and is reported as not judged (a claim the
    quick sizes cannot speak to, such as a regime list over 1000 seeds). The tests call its rules' functions
    on quick results where those mean something."""


def value_range(values, fmt: str = ".3g") -> str:
    """"lo to hi" of `values` (one value when they print alike): how a rule states what it measured."""
    lo, hi = format(float(np.min(values)), fmt), format(float(np.max(values)), fmt)
    return lo if lo == hi else f"{lo} to {hi}"


def value_set(values) -> str:
    """{a, b, c}: the densities (or other settings) a rule covers."""
    return "{" + ", ".join(f"{v:g}" for v in values) + "}"


def failed(rules: Iterable[Rule]) -> list[Rule]:
    return [r for r in rules if r.passed is False]


def assert_holds(rules: list[Rule], *, allow_unjudged: bool = False) -> None:
    """For tests: every rule passed (and, unless allowed, every rule was judged)."""
    bad = [r for r in rules if r.passed is False or (r.passed is None and not allow_unjudged)]
    assert not bad, "\n".join(f"{r.rule}: measured {r.measured}" for r in bad)


def evaluate(checks: list[Check], root: Path, quick: bool, *, progress: bool = True,
             experiments: dict | None = None) -> list[dict]:
    """Every check's rules on the results under `root` (training the experiments that are missing), the
    experiments found by name in `experiments` (default: every installed one)."""
    from superpose.app.experiment import registry

    experiments = registry() if experiments is None else experiments
    manifests: dict[str, Manifest] = {}
    rows = []
    for check in checks:
        if quick and check.full_only:
            rules = [not_judged(check.claim, "judged at full size only")]
        else:
            for name in check.experiments:
                if name not in manifests:
                    manifests[name] = experiments[name].run(root, "quick" if quick else "full",
                                                            progress=progress)
            rules = check.rules(manifests, quick)
        rows.append({"check": check.id, "claim": check.claim, "source": check.source,
                     "experiments": list(check.experiments),
                     "rules": [dataclasses.asdict(r) for r in rules],
                     "passed": None if all(r.passed is None for r in rules) else not failed(rules)})
    return rows


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "n/a"}[passed]


def table(rows: list[dict], *, markdown: bool = False) -> str:
    """One line per rule: check, source, rule, measured, verdict (markdown for the README)."""
    lines = ["| check | source | rule | measured | |", "|---|---|---|---|---|"] if markdown else []
    for row in rows:
        if not markdown:
            lines.append(f"{row['check']:>2}  {verdict(row['passed']):4s}  {row['claim']}  ({row['source']})")
        for k, r in enumerate(row["rules"]):
            if markdown:
                head = (f"{row['check']}. {row['claim']}", row["source"]) if k == 0 else ("", "")
                cells = (*head, r["rule"], r["measured"], verdict(r["passed"]))
                lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
            else:
                lines.append(f"    {verdict(r['passed']):4s}  {r['rule']}: {r['measured']}")
    return "\n".join(lines)


def summary(rows: list[dict]) -> str:
    counts = {
        v: sum(row["passed"] is p for row in rows)
        for v, p in (("pass", True), ("FAIL", False), ("n/a", None))
    }
    return f"{counts['pass']} checks pass, {counts['FAIL']} fail, {counts['n/a']} not judged at this size"


def write(rows: list[dict], path: Path, *, quick: bool) -> Path:
    from superpose.results import environment

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"quick": quick, "checks": rows, "environment": environment()}, indent=1))
    return path

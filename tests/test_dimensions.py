"""Every array name's dimension suffix (W_FxH, loss_IxC) uses letters of the one alphabet,
superpose.dimensions.DIMENSIONS."""

import re
from pathlib import Path

import pytest

from superpose.dimensions import DIMENSIONS

pytestmark = pytest.mark.fast

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = re.compile(r"\b[A-Za-z][A-Za-z0-9]*_((?:[A-Z]x)*[A-Z])\b")


def suffix_letters(text: str) -> set[str]:
    return {letter for m in SUFFIX.finditer(text) for letter in m.group(1).split("x")}


def test_every_suffix_letter_is_in_the_alphabet():
    unknown = {}
    for path in [*ROOT.glob("superpose/**/*.py"), *ROOT.glob("experiments/*.py")]:
        for letter in suffix_letters(path.read_text()) - set(DIMENSIONS):
            unknown.setdefault(letter, []).append(str(path.relative_to(ROOT)))
    assert unknown == {}


def test_the_check_sees_a_new_letter():
    assert suffix_letters("x_BxZ = f(W_FxH)") == {"B", "Z", "F", "H"}
    assert "Z" not in DIMENSIONS

"""Refactors keep results bit for bit: arrays trained at fixed seeds equal those of golden.npz.

golden.npz was written before the trainer moved to flax NNX definitions (tests/golden/make.py):
the intro experiment's quick sweep (1,000 steps), every toy model kind and data option, and
every SAE architecture (with resampling, shared and per-SAE sources).
"""

from pathlib import Path

import numpy as np
import pytest
from golden import cases

GOLDEN = np.load(Path(__file__).parent / "golden" / "golden.npz")


def _compare(kind: str, trained: dict[str, dict[str, np.ndarray]]):
    for name, arrays in trained.items():
        expected = {k.split("/")[-1] for k in GOLDEN.files if k.startswith(f"{kind}/{name}/")}
        assert set(arrays) == expected, name
        for key, value in arrays.items():
            np.testing.assert_array_equal(value, GOLDEN[f"{kind}/{name}/{key}"], err_msg=f"{name}/{key}")


@pytest.mark.parametrize("kind", ["toy", "sae"])
def test_results_are_bit_identical_to_the_golden_file(kind):
    _compare(kind, cases.toy_cases() if kind == "toy" else cases.sae_cases())

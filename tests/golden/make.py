"""Regenerates golden.npz: arrays trained at fixed seeds, to prove that refactors of the trainer keep
results bit-identical. Run from the repository root: `python tests/golden/make.py` (only when a change
of results is intended and explained). tests/test_golden.py trains the same cases and compares."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import cases

if __name__ == "__main__":
    arrays = {}
    for name, result in cases.toy_cases().items():
        arrays.update({f"toy/{name}/{k}": v for k, v in result.items()})
    for name, result in cases.sae_cases().items():
        arrays.update({f"sae/{name}/{k}": v for k, v in result.items()})
    np.savez_compressed(Path(__file__).with_name("golden.npz"), **arrays)
    print(f"{len(arrays)} arrays")

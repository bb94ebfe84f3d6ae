"""Regenerates golden.npz: arrays trained at fixed seeds, to prove that refactors of the trainer keep
results bit-identical. Run from the repository root: `python tests/golden/make.py` (only when a change
of results is intended and explained). It also writes platform.json, the processor and versions the arrays
come from (superpose.processor.record()): tests/test_golden.py trains the same cases and compares bit for bit
where its platform matches, within the measured cross-platform tolerance elsewhere (tests/golden/spread.py)."""

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import cases

if __name__ == "__main__":
    from superpose import processor

    if os.environ.get("SUPERPOSE_SEED_OFFSET", "0").strip() not in ("", "0"):
        sys.exit("the golden cases are at fixed seeds: unset SUPERPOSE_SEED_OFFSET")
    arrays = {}
    for name, result in cases.toy_cases().items():
        arrays.update({f"toy/{name}/{k}": v for k, v in result.items()})
    for name, result in cases.sae_cases().items():
        arrays.update({f"sae/{name}/{k}": v for k, v in result.items()})
    np.savez_compressed(Path(__file__).with_name("golden.npz"), **arrays)
    Path(__file__).with_name("platform.json").write_text(json.dumps(processor.record(), indent=2) + "\n")
    print(f"{len(arrays)} arrays, written on {processor.describe()}")

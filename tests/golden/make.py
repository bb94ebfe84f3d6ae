"""Regenerates golden.npz: arrays trained at fixed seeds, to prove that refactors of the trainer keep results
bit-identical. Run from the repository root: `python tests/golden/make.py` (only when a change of results is
intended and explained). It also writes platform.json, the processor and versions the arrays come from
(superpose.processor.record()): tests/test_golden.py trains the same cases and compares bit for bit where its
platform matches, within the measured cross-platform tolerance elsewhere (tests/golden/spread.py)."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import cases

if __name__ == "__main__":
    from superpose import processor
    from superpose.train import rng

    if rng.seed_offset():
        sys.exit(f"the golden cases are at fixed seeds: unset {rng.SEED_OFFSET_VARIABLE}")
    arrays = cases.all_arrays()
    np.savez_compressed(Path(__file__).with_name("golden.npz"), **arrays)
    Path(__file__).with_name("platform.json").write_text(json.dumps(processor.record(), indent=2) + "\n")
    print(f"{len(arrays)} arrays, written on {processor.describe()}")

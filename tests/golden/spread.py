"""Measures how far the golden cases move when only the floating-point round-off changes: trains them under
each of XLA's narrower vector ISAs (--xla_cpu_max_isa: what an AVX2 laptop or an older server compiles for)
and prints, per case, the largest absolute difference from golden.npz and the largest relative to the array's
scale (max |value|). tests/test_golden.py's cross-platform tolerance is the largest of these times a margin.

Run from the repository root: `python tests/golden/spread.py [ISA ...]` (default: AVX2 AVX SSE4_2).
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from superpose.train import rng

HERE = Path(__file__).parent
TRAIN = """
import sys
import numpy as np
sys.path.insert(0, sys.argv[2])
import cases
np.savez(sys.argv[1], **cases.all_arrays())
"""


def train_under(isa: str | None, path: Path) -> dict[str, np.ndarray]:
    env = {k: v for k, v in os.environ.items() if k != rng.SEED_OFFSET_VARIABLE}
    env["XLA_FLAGS"] = " ".join(
        filter(None, [env.get("XLA_FLAGS", ""), f"--xla_cpu_max_isa={isa}" if isa else ""])
    )
    subprocess.run([sys.executable, "-c", TRAIN, str(path), str(HERE)], env=env, check=True)
    return dict(np.load(path))


def differences(trained: dict[str, np.ndarray], golden) -> dict[str, tuple[float, float]]:
    """case -> (max absolute difference, max difference relative to the array's largest |value|)."""
    out: dict[str, tuple[float, float]] = {}
    for key, value in trained.items():
        case = key.rsplit("/", 1)[0]
        expected = golden[key].astype(np.float64)
        diff = float(np.max(np.abs(value.astype(np.float64) - expected), initial=0.0))
        rel = diff / max(float(np.max(np.abs(expected), initial=0.0)), 1e-30)
        old = out.get(case, (0.0, 0.0))
        out[case] = (max(old[0], diff), max(old[1], rel))
    return out


if __name__ == "__main__":
    isas = sys.argv[1:] or ["AVX2", "AVX", "SSE4_2"]
    golden = np.load(HERE / "golden.npz")
    table = {}
    with tempfile.TemporaryDirectory() as tmp:
        for isa in isas:
            table[isa] = differences(train_under(isa, Path(tmp) / f"{isa}.npz"), golden)
    cases = sorted(next(iter(table.values())))
    print(f"{'case':34s}" + "".join(f"{isa + ' abs':>12s}{isa + ' rel':>12s}" for isa in isas))
    for case in cases:
        print(f"{case:34s}" + "".join(f"{table[i][case][0]:12.2e}{table[i][case][1]:12.2e}" for i in isas))
    for kind in ("toy", "sae", "decompose"):
        worst = max(table[i][c][1] for i in isas for c in cases if c.startswith(kind + "/"))
        print(f"largest relative difference, {kind}: {worst:.2e}")

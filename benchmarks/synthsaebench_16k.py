"""The SAE architectures on the published SynthSAEBench-16k world, at the published size (an accelerator's
job).

    python benchmarks/synthsaebench_16k.py [--samples 200e6] [--out results] [--only l1,batchtopk,...]

The world is the `synthsaebench-16k` preset (16,384 features in 768 dimensions, true L0 ≈ 34); the recipe is
the published one (Chanin & Garriga-Alonso 2026): 4,096 latents, lr 3e-4, batch 1024, AuxK for the top-k
family, and the comparison at L0 = 25. The top-k family trains at k = 25; L1 and JumpReLU over a coefficient
grid, and the SAE whose L0 is closest to 25 (in log scale) is reported. Every SAE is a folder under
OUT/synthsaebench_16k/ (the bench's format: `superpose.load` reads it), so a re-run with the same job only
prints the table. Prints a markdown table beside the published numbers, with SynthSAEBench's metric
definitions (MCC over matched pairs; F1 and uniqueness over all latents, dead ones 0).

On two CPU cores this takes days (drawing one batch of the world alone takes 0.4 s); `sae-architectures`
runs the same generator at CPU size (`superpose run sae-architectures`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from experiments.sae_architectures import JUMPRELU, PUBLISHED, matched_instance
from superpose.data import synthsaebench
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib

NAME = "synthsaebench_16k"
TARGET_L0 = 25
COEFFICIENTS = {"l1": (1.0, 2.0, 4.0, 8.0), "jumprelu": (0.5, 1.0, 1.5, 2.5)}
"""λ·d grids; the top-k family has none (k = 25)."""


def configs(
    arch: str, steps: int, aux_coefficient: float = 1 / 32
) -> tuple[list[sae_lib.SAEConfig], list[float]]:
    d = synthsaebench.PRESETS["synthsaebench-16k"].n_dims
    base = sae_lib.SAEConfig(
        architecture=arch,
        n_latents=4096,
        k=TARGET_L0,
        steps=steps,
        batch_size=1024,
        learning_rate=3e-4,
        log_every=1000,
        aux_coefficient=aux_coefficient,
        **(JUMPRELU if arch == "jumprelu" else {}),
    )
    grid = COEFFICIENTS.get(arch, (0.0,))
    return [sae_lib.sae_replace(base, sparsity_coefficient=c / d, seed=i) for i, c in enumerate(grid)], list(
        grid
    )


def row(run) -> dict:
    i = matched_instance(sae_group.metric(run, "l0"), TARGET_L0)
    return {
        **run.summary["metrics"][i],
        "instance": i,
        "coefficient": sae_group.labels(run, "coefficient_times_d")[i],
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=float, default=200e6, help="training samples per SAE")
    parser.add_argument("--out", type=Path, default=Path("results"))
    parser.add_argument("--only", default=",".join(PUBLISHED), help="architectures, comma-separated")
    parser.add_argument(
        "--aux-coefficient",
        type=float,
        default=1 / 32,
        help="AuxK's weight (OpenAI: 1/32, the default; SAELens: 1)",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    steps = max(1, round(args.samples / 1024))
    start = time.perf_counter()
    world_config = synthsaebench.PRESETS["synthsaebench-16k"]
    world = synthsaebench.build(world_config)
    print(f"world built in {time.perf_counter() - start:.1f} s", flush=True)
    spec = {"kind": "synthsaebench", "world": world_config.to_dict(), "preset": "synthsaebench-16k"}
    rows = {}
    for arch in args.only.split(","):
        cs, grid = configs(arch, steps, args.aux_coefficient)
        t = time.perf_counter()
        run = sae_group.run_group(
            args.out / NAME / arch,
            cs,
            world,
            labels=[{"coefficient_times_d": c} for c in grid],
            source_spec=spec,
            progress=not args.no_progress,
            skip_existing=True,
        )
        rows[arch] = row(run)
        m = rows[arch]
        print(
            f"{arch}: {time.perf_counter() - t:.0f} s for {len(cs)} SAEs x {steps} steps; L0 per setting "
            f"{np.round(sae_group.metric(run, 'l0'), 2).tolist()}; true L0 {m['true_l0']:.2f}",
            flush=True,
        )
    print(
        f"\nSynthSAEBench-16k, 4,096 latents, {steps * 1024 / 1e6:.0f}M samples per SAE, matched at L0 = "
        f"{TARGET_L0}\n"
    )
    print(
        "| architecture | setting | L0 | F1 | MCC | uniqueness | expl. var. | dead / 4096 | published F1 / "
        "MCC / "
        "uniq. / expl. var. (200M samples) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for arch, m in rows.items():
        setting = f"λd = {m['coefficient']:g}" if arch in COEFFICIENTS else f"k = {TARGET_L0}"
        published = " / ".join(f"{v:.3f}" for v in PUBLISHED[arch]) if arch in PUBLISHED else "–"
        print(
            f"| {arch} | {setting} | {m['l0']:.2f} | {m['f1_all_latents']:.3f} | "
            f"{m['mcc_matched_pairs']:.3f} | "
            f"{m['uniqueness_all_latents']:.3f} | {m['explained_variance']:.3f} | {m['dead_latents']} | "
            f"{published} |"
        )
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()

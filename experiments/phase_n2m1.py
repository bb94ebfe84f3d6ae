"""E3: the n=2, m=1 phase diagram ("Superposition as a Phase Change").

Elhage et al. 2022; REFERENCE.md section 3 E3, checks 4 and 12. Two
features, one hidden dimension; feature 0 has importance 1, the "extra"
feature importance r; both have density p. Each cell is trained best-of-k
and the extra feature is classified as not learned, in (antipodal)
superposition, or dedicated. The closed-form boundary of Wattenberg's
toy-of-toy model (superpose.theory) is drawn over the empirical grid.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors
import matplotlib.lines
import matplotlib.patches
import numpy as np

from superpose import plotting, results, theory
from superpose.config import ToyConfig
from superpose.experiments import Experiment
from superpose.sweep import Sweep, best_instances, group_folder

PHASES = ("not learned", "in superposition (antipodal)", "dedicated", "same sign as feature 0")
COLORS = ("#d9d9d9", "#3b75af", "#e1812c", "#8c564b")
THRESHOLD = 0.5


def grid(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    n = 9 if quick else 20
    return np.logspace(-1, 1, n), np.logspace(0, -2, n)


def sweeps(quick: bool) -> list[Sweep]:
    ratios, densities = grid(quick)
    return [
        Sweep(
            name="phase_n2m1",
            base=ToyConfig(n_features=2, n_hidden=1, steps=10_000),
            axes={
                "feature_probability": tuple(float(p) for p in densities),
                "importance": tuple((1.0, float(r)) for r in ratios),
            },
            best_of=4 if quick else 6,
        )
    ]


def classify(W_Ix2x1: np.ndarray) -> np.ndarray:
    """Phase of the extra feature (index into PHASES) for each instance."""
    w0, w1 = W_Ix2x1[:, 0, 0], W_Ix2x1[:, 1, 0]
    on0, on1 = np.abs(w0) > THRESHOLD, np.abs(w1) > THRESHOLD
    phase = np.zeros(len(w0), int)
    phase[on1 & ~on0] = 2
    phase[on1 & on0 & (np.sign(w0) != np.sign(w1))] = 1
    phase[on1 & on0 & (np.sign(w0) == np.sign(w1))] = 3
    return phase


def empirical_phases(run: results.Run) -> np.ndarray:
    """(densities, ratios) grid of the best replica's phase; points are density-major."""
    axes = run.config["sweep"]["axes"]
    shape = (len(axes["feature_probability"]), len(axes["importance"]))
    return classify(run.arrays["W"][best_instances(run)]).reshape(shape)


def theory_phases(densities: np.ndarray, ratios: np.ndarray) -> np.ndarray:
    """Argmin of the closed forms: 0 drop extra, 1 antipodal, 2 dedicated (drop feature 0)."""
    return theory.optimal_phase(densities[:, None], ratios[None, :])


def plot(results_dir: Path, figure_path: Path) -> list[Path]:
    run = results.load(group_folder(results_dir, "phase_n2m1", "all"))
    axes_cfg = run.config["sweep"]["axes"]
    densities = np.asarray(axes_cfg["feature_probability"])
    ratios = np.asarray([imp[1] for imp in axes_cfg["importance"]])
    cmap = matplotlib.colors.ListedColormap(COLORS)
    fig, axes = plotting.figure(1, 2, figsize=(9.5, 4.2), sharey=True)
    r_line = np.logspace(-1, 1, 400)
    for ax, phases, title in (
        (axes[0], empirical_phases(run), f"trained (best of {run.config['sweep']['best_of']} seeds per cell)"),
        (axes[1], theory_phases(densities, ratios), "theory: argmin of the closed-form losses"),
    ):
        ax.pcolormesh(_edges(ratios), _edges(densities), phases, cmap=cmap, vmin=-0.5, vmax=3.5, shading="flat")
        ax.plot(r_line, theory.antipodal_boundary(r_line), color="k", lw=1.5)
        top = np.geomspace(theory.antipodal_boundary(1.0), densities.max() * 1.2, 20)
        ax.plot(np.ones_like(top), top, color="k", lw=1.5)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("relative importance r of the extra feature")
        ax.set_title(title)
    axes[0].set_ylabel("feature density 1 − S")
    handles = [matplotlib.patches.Patch(color=c, label=f"extra feature {p}") for p, c in zip(PHASES, COLORS)]
    handles.append(matplotlib.lines.Line2D([], [], color="k", label="theoretical phase boundary"))
    fig.legend(handles=handles, loc="lower center", ncol=5, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("Phase diagram, 2 features in 1 dimension: sparse features go into superposition", fontsize=10)
    return plotting.save(fig, figure_path)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges on a log grid."""
    logc = np.log10(centres)
    step = np.diff(logc).mean()
    return 10 ** np.concatenate([logc - step / 2, logc[-1:] + step / 2])


EXPERIMENT = Experiment(
    name="phase_n2m1",
    description="E3: phase diagram of 2 features in 1 dimension over importance x density, with theory",
    sweeps=sweeps,
    plot=plot,
)

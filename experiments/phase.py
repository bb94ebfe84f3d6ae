"""E3: phase diagrams ("Superposition as a Phase Change"), n=2, m=1 and n=3, m=2.

Elhage et al. 2022; checks 4 and 12 of docs/checks.md. The last
("extra") feature has importance r, the others importance 1, and all have
density p. Each cell is trained best-of-k, and its extra feature is
classified as not learned, in (antipodal) superposition, or dedicated.
Beside each empirical grid is the argmin of the closed-form losses of
Wattenberg's toy-of-toy model (superpose.toy.theory); the n=2, m=1 boundary
curve is drawn over both.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.colors
import matplotlib.lines
import matplotlib.patches
import numpy as np

from superpose import plotting, results
from superpose.experiment import Experiment, Manifest
from superpose.toy import theory
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import Sweep, best_instances

PHASES = ("not learned", "in superposition (antipodal)", "dedicated", "same sign as feature 0")
COLORS = ("#d9d9d9", "#3b75af", "#e1812c", "#8c564b")
THRESHOLD = 0.5


def grid(quick: bool) -> tuple[np.ndarray, np.ndarray]:
    n = 9 if quick else 20
    return np.logspace(-1, 1, n), np.logspace(0, -2, n)


SIZES = {"phase_n2m1": (2, 1), "phase_n3m2": (3, 2)}


def sweeps(quick: bool) -> list[Sweep]:
    ratios, densities = grid(quick)
    return [
        Sweep(
            name=name,
            base=ToyConfig(n_features=n, n_hidden=m, steps=10_000),
            axes={
                "feature_probability": tuple(float(p) for p in densities),
                "importance": tuple((1.0,) * (n - 1) + (float(r),) for r in ratios),
            },
            best_of=4 if quick else 6,
        )
        for name, (n, m) in SIZES.items()
    ]


def classify(W_IxFxH: np.ndarray) -> np.ndarray:
    """Phase of the extra (last) feature, an index into PHASES, for each instance: superposition
    when it shares its direction with a learned feature (|cos| > 0.5); same sign when that cosine is positive."""
    norms = np.linalg.norm(W_IxFxH, axis=-1)
    unit = W_IxFxH / np.maximum(norms, 1e-9)[..., None]
    cos = np.einsum("ifh,ih->if", unit[:, :-1], unit[:, -1])
    shared = (np.abs(cos) > 0.5) & (norms[:, :-1] > THRESHOLD)
    on = norms[:, -1] > THRESHOLD
    phase = np.where(on, 2, 0)
    phase[on & np.any(shared & (cos < 0), axis=1)] = 1
    phase[on & np.any(shared & (cos > 0), axis=1) & ~np.any(shared & (cos < 0), axis=1)] = 3
    return phase


def empirical_phases(run: results.Run) -> np.ndarray:
    """(densities, ratios) grid of the best replica's phase; points are density-major."""
    axes = run.config["sweep"]["axes"]
    shape = (len(axes["feature_probability"]), len(axes["importance"]))
    return classify(run.arrays["W"][best_instances(run)]).reshape(shape)


def theory_phases(densities: np.ndarray, ratios: np.ndarray, n_features: int = 2) -> np.ndarray:
    """Argmin of the closed forms: 0 drop extra, 1 antipodal, 2 dedicated."""
    phase = theory.optimal_phase if n_features == 2 else theory.optimal_phase_n3m2
    return phase(densities[:, None], ratios[None, :])


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    cmap = matplotlib.colors.ListedColormap(COLORS)
    fig, axes = plotting.figure(2, 2, figsize=(9.5, 8.4), sharey=True, sharex=True)
    r_line = np.logspace(-1, 1, 400)
    for row, (name, (n, m)) in enumerate(SIZES.items()):
        run = manifest.group(name, "all")
        axes_cfg = run.config["sweep"]["axes"]
        densities = np.asarray(axes_cfg["feature_probability"])
        ratios = np.asarray([imp[-1] for imp in axes_cfg["importance"]])
        best_of = run.config["sweep"]["best_of"]
        for ax, phases, title in (
            (axes[row, 0], empirical_phases(run), f"n={n}, m={m}: trained (best of {best_of} seeds per cell)"),
            (axes[row, 1], theory_phases(densities, ratios, n), f"n={n}, m={m}: theory (argmin of closed forms)"),
        ):
            ax.pcolormesh(_edges(ratios), _edges(densities), phases, cmap=cmap, vmin=-0.5, vmax=3.5)
            if n == 2:
                ax.plot(r_line, theory.antipodal_boundary(r_line), color="k", lw=1.5)
                top = np.geomspace(theory.antipodal_boundary(1.0), densities.max() * 1.2, 20)
                ax.plot(np.ones_like(top), top, color="k", lw=1.5)
            ax.set(xscale="log", yscale="log", title=title)
        axes[row, 0].set_ylabel("feature density 1 − S")
    for ax in axes[1]:
        ax.set_xlabel("relative importance r of the extra feature")
    handles = [matplotlib.patches.Patch(color=c, label=f"extra feature {p}") for p, c in zip(PHASES, COLORS)]
    handles.append(matplotlib.lines.Line2D([], [], color="k", label="n=2, m=1 theoretical boundary"))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False, bbox_to_anchor=(0.5, -0.03))
    fig.suptitle("Phase diagrams: sparse features go into superposition; dense ones are dropped or get a dimension.\n"
                 "n=3, m=2, low density, r < 1: training often lands in a near-degenerate alternative (features 0 "
                 "and 1 antipodal, the extra one dedicated)", fontsize=10)
    fig.subplots_adjust(bottom=0.12, hspace=0.25)
    return plotting.save(fig, figure_path)


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges on a log grid."""
    logc = np.log10(centres)
    step = np.diff(logc).mean()
    return 10 ** np.concatenate([logc - step / 2, logc[-1:] + step / 2])


EXPERIMENT = Experiment(
    name="phase",
    description="E3: phase diagrams (2 features in 1 dim, 3 in 2) over importance x density, with theory",
    sweeps=sweeps,
    plot=plot,
)

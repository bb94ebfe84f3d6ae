"""Shared drawing helpers. Plotting reads result folders and never trains."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def figure(*args, **kwargs):
    plt.rcParams.update(STYLE)
    return plt.subplots(*args, **kwargs)


def save(fig, path: Path, *, pdf: bool = True) -> list[Path]:
    """Write PNG (and PDF) atomically next to each other; closes the figure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix in (".png", ".pdf") if pdf else (".png",):
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.name}.tmp{suffix}")
        # no creation date in PDFs, so redrawing unchanged results changes no file
        metadata = {"CreationDate": None} if suffix == ".pdf" else None
        fig.savefig(tmp, bbox_inches="tight", metadata=metadata)
        os.replace(tmp, target)
        written.append(target)
    plt.close(fig)
    return written


def feature_colors(n_features: int) -> np.ndarray:
    """One colour per feature in importance order: yellow = most important, purple = least."""
    return plt.cm.viridis(np.linspace(0.95, 0.05, n_features))


def draw_directions(ax, W_FxH: np.ndarray, *, lim: float = 1.5, colors=None) -> None:
    """Feature directions in a 2-D hidden space, coloured by importance rank (paper figure 2 style)."""
    for w, c in zip(W_FxH, feature_colors(len(W_FxH)) if colors is None else colors):
        ax.plot([0, w[0]], [0, w[1]], color=c, lw=1.6)
        ax.scatter([w[0]], [w[1]], color=c, s=14, zorder=3)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.axhline(0, color="0.85", lw=0.5, zorder=0)
    ax.axvline(0, color="0.85", lw=0.5, zorder=0)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_color("0.8")
        spine.set_visible(True)


def draw_gram_and_bias(ax, W_FxH: np.ndarray, b_F: np.ndarray):
    """The paper's WᵀW (F x F) with the bias b as an extra right-hand column, red-blue in [-1, 1]."""
    gram = W_FxH @ W_FxH.T
    n = gram.shape[0]
    image = np.full((n, n + 2), np.nan)
    image[:, :n] = gram
    image[:, n + 1] = b_F
    cmap = plt.cm.RdBu.with_extremes(bad="white")
    im = ax.imshow(image, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_xticks([(n - 1) / 2, n + 1], ["WᵀW", "b"])
    ax.set_yticks([])
    ax.tick_params(length=0)
    for side in ("left", "bottom"):
        ax.spines[side].set_visible(False)
    return im


SUPERPOSITION_CMAP = "plasma"


def draw_feature_bars(ax, W_FxH: np.ndarray, *, n_hidden: int | None = None):
    """The paper's bar plot: ||W_i|| per feature (top = most important), coloured by
    superposition sqrt(sum_{j!=i} (Ŵ_i·W_j)²) in [0, 1] as the notebook does; a dashed
    line separates the first `n_hidden` features."""
    from superpose.measures import features as metrics

    norms = np.asarray(metrics.feature_norms(W_FxH))
    colour = np.sqrt(np.asarray(metrics.interference(W_FxH)))
    cmap = plt.get_cmap(SUPERPOSITION_CMAP)
    n = len(norms)
    ax.barh(np.arange(n), norms, color=cmap(np.clip(colour, 0, 1)), height=0.8)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_xlim(0, max(1.2, norms.max() * 1.05))
    if n_hidden is not None and n_hidden < n:
        ax.axhline(n_hidden - 0.5, color="0.4", lw=0.8, ls="--")
    ax.set_yticks([])
    return plt.cm.ScalarMappable(norm=plt.Normalize(0, 1), cmap=cmap)

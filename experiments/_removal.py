"""What the two studies that remove superposition (`adversarial-training`, `hidden-l1`) share: the model
of "Basic results" at density 0.05, what is measured of each best seed, and the two panels drawn alike."""

from __future__ import annotations

import numpy as np

from superpose.measures import features as metrics
from superpose.toy.config import ToyConfig
from superpose.toy.sweep import best_instances

N_FEATURES, N_HIDDEN, DENSITY, IMPORTANCE_DECAY = 20, 5, 0.05, 0.7


def base() -> ToyConfig:
    """20 features of importance 0.7^i in 5 dimensions at density 0.05, the notebook's recipe."""
    return ToyConfig(n_features=N_FEATURES, n_hidden=N_HIDDEN, feature_probability=DENSITY,
                     importance_decay=IMPORTANCE_DECAY, steps=10_000)


def measure(run, swept: str, key: str) -> dict[str, np.ndarray]:
    """Per value of the `swept` field (best seed): that value (under `key`), ‖W_i‖, represented and superposed
    feature counts, the plain loss on fresh inputs, and the best instances' indices."""
    best = best_instances(run)
    W = run.arrays["W"][best]
    return {
        key: np.asarray([getattr(run.configs[i], swept) for i in best]),
        "best": best,
        "norms": np.asarray(metrics.feature_norms(W)),
        "represented": np.asarray(metrics.n_represented(W)),
        "superposed": np.asarray(metrics.n_superposed(W)),
        "loss": np.asarray([run.evaluation_loss(i) for i in best]),
    }


def draw_norms(fig, ax, edges: np.ndarray, norms_XxF: np.ndarray) -> None:
    """‖W_i‖ of every feature (rows) at every swept value (columns between `edges`)."""
    image = ax.pcolormesh(edges, np.arange(N_FEATURES + 1) - 0.5, norms_XxF.T, cmap="viridis", vmin=0,
                          vmax=max(1.0, norms_XxF.max()))
    fig.colorbar(image, ax=ax, label="‖W_i‖")
    ax.set(ylabel=f"feature i (importance {IMPORTANCE_DECAY}^i)", yticks=[0, 5, 10, 15, 19])
    ax.invert_yaxis()


def draw_counts(ax, x: np.ndarray, m: dict[str, np.ndarray], *, label_right: bool) -> None:
    """Represented and superposed features against the swept value, with the number of dimensions."""
    ax.plot(x, m["represented"], "o-", color="k", label="represented (‖W_i‖ > 0.5)")
    ax.plot(x, m["superposed"], "s-", color="tab:red",
            label=f"in superposition (interference > {metrics.SUPERPOSED_INTERFERENCE})")
    ax.axhline(N_HIDDEN, color="0.5", ls=":", lw=0.9)
    ax.annotate(f"m = {N_HIDDEN} dimensions", (x[-1] if label_right else x[0], N_HIDDEN + 0.25),
                ha="right" if label_right else "left", fontsize=8, color="0.4")

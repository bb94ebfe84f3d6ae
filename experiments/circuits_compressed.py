"""Does "compressed computation" survive removing the mixing matrix? (Bhagat et al. 2025)

The residual MLP of Braun et al. computes x + ReLU(x) for 100 sparse features (p = 0.01) with 50 neurons
and beats the naive solution (50 features exact, the rest zero). Its MLP must output ReLU(x) + M x with
M = I − W_E W_Eᵀ from the random embedding (superpose.targets.compressed). This experiment trains the
equivalent model ŷ = W_out ReLU(W_in x) on labels ReLU(x) + M x with

* a random symmetric M of off-diagonal standard deviation σ, swept from 0 (clean labels) to 0.08, and
* the embedding's own M scaled by 0 … 2 (scale 1 is exactly the residual MLP's),

next to the residual MLP itself, the naive baseline and semi-NMF of I + M (which uses nothing but M), all
scored by the loss per feature probability L/p on one fixed evaluation set. A second panel asks where the
neurons point: the share of W_in's energy in the span of M's top-50 eigenvectors (0.5 for a random
subspace; Bhagat et al. report that it concentrates there).
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np

from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest

NAME = "circuits-compressed"
N_FEATURES, N_NEURONS, PROBABILITY = 100, 50, 0.01


@dataclasses.dataclass(frozen=True)
class Size:
    sigmas: tuple[float, ...]
    embedding_scales: tuple[float, ...]
    seeds: int
    steps: int
    batch_size: int


SIZES = {
    "full": Size(tuple(np.round(np.linspace(0, 0.08, 21), 4)), (0.0, 0.5, 1.0, 1.5, 2.0), 2, 10_000, 2048),
    "quick": Size((0.0, 0.02, 0.04, 0.08), (0.0, 1.0), 1, 3000, 1024),
}


def targets(quick: bool) -> dict:
    """folder name -> target configs trained in one program."""
    from superpose.targets import PRESETS, MixingMLPConfig

    size = SIZES["quick" if quick else "full"]
    base = MixingMLPConfig(
        n_features=N_FEATURES,
        n_hidden=N_NEURONS,
        feature_probability=PROBABILITY,
        learning_rate=3e-3,
        weight_decay=0.01,
        schedule="cosine",
        steps=size.steps,
        batch_size=size.batch_size,
        log_every=500,
    )
    resid = (
        dataclasses.replace(PRESETS["resid_mlp1"], batch_size=size.batch_size)
        if quick
        else PRESETS["resid_mlp1"]
    )
    return {
        "mixing-random": [
            dataclasses.replace(base, mixing="random", mixing_scale=float(s), seed=seed)
            for s in size.sigmas
            for seed in range(size.seeds)
        ],
        "mixing-embedding": [
            dataclasses.replace(base, mixing="embedding", mixing_scale=float(s), seed=seed)
            for s in size.embedding_scales
            for seed in range(size.seeds)
        ],
        "resid_mlp1": [dataclasses.replace(resid, seed=seed) for seed in range(size.seeds)],
    }


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    from superpose.targets.group import run_targets

    quick = size == "quick"
    return [
        run_targets(manifest.root / NAME / name, configs, progress=progress, skip_existing=skip_existing).path
        for name, configs in targets(quick).items()
    ]


@functools.lru_cache(maxsize=256)
def _semi_nmf_loss(M_bytes: bytes) -> float:
    """L/p of semi-NMF of I + M (M as float32 bytes; the report and the figure share one computation)."""
    from superpose.targets import compressed

    M = np.frombuffer(M_bytes, np.float32).reshape(N_FEATURES, N_FEATURES)
    U, V = compressed.semi_nmf(np.eye(N_FEATURES) + M, N_NEURONS)
    x = compressed.eval_inputs(N_FEATURES, PROBABILITY)
    return compressed.loss_per_probability(
        compressed.semi_nmf_prediction(x, U, V), compressed.labels(x, M), PROBABILITY
    )


def _measure(manifest: Manifest) -> dict:
    """Per folder: σ (off-diagonal std of M), L/p of the trained model, semi-NMF's L/p, the top-eigenspace
    share of W_in, naive L/p with M ignored."""
    import jax.numpy as jnp

    from superpose.targets import compressed

    x = compressed.eval_inputs(N_FEATURES, PROBABILITY)
    out = {}
    for name in ("mixing-random", "mixing-embedding", "resid_mlp1"):
        group = manifest.load(NAME, name)
        rows = []
        for i, config in enumerate(group.configs):
            model = group.model(i)
            if name == "resid_mlp1":
                W_E = group.arrays["W_E"][i]
                M = np.eye(N_FEATURES) - W_E @ W_E.T
                xs = x[: 1 << 14]
                prediction = np.asarray(model(jnp.asarray(xs))) - xs @ (W_E @ W_E.T)  # the MLP's part
                W_in = group.arrays["W_in"][i][0] @ W_E.T  # neurons x features
            else:
                M = group.arrays["M"][i]
                xs = x
                prediction = np.asarray(model(jnp.asarray(xs)))
                W_in = group.arrays["W_in"][i]
            lp = compressed.loss_per_probability(prediction, compressed.labels(xs, M), PROBABILITY)
            nmf = _semi_nmf_loss(M.astype(np.float32).tobytes())
            share = np.nan
            if np.any(M):
                eigenvalues, vectors = np.linalg.eigh(M)
                top = vectors[:, np.argsort(eigenvalues)[::-1][:N_NEURONS]]
                share = float(np.sum((W_in @ top) ** 2) / np.sum(W_in**2))
            rows.append(
                {
                    "sigma": compressed.off_diagonal_std(M),
                    "scale": getattr(config, "mixing_scale", None),  # the residual MLP has none
                    "seed": config.seed,
                    "loss_per_p": lp,
                    "semi_nmf": nmf,
                    "top_share": share,
                    "naive_ignoring_M": compressed.naive_loss_per_probability(N_FEATURES, N_NEURONS)
                    + float(np.sum(M**2)) / (3 * N_FEATURES),
                }
            )
        out[name] = rows
    return out


def report(manifest: Manifest) -> str:
    from superpose.targets import compressed

    naive = compressed.naive_loss_per_probability(N_FEATURES, N_NEURONS)
    lines = [
        f"naive L/p (50 features exact, clean labels): {naive:.4f}",
        (
            f"{'model':18s}{'scale':>7s}{'σ(M)':>8s}{'seed':>5s}{'L/p':>9s}{'vs naive':>9s}{'semi-NMF':>10s}"
            f"{'naive, M ignored':>17s}{'W_in in top-50 of M':>21s}"
        ),
    ]
    for name, rows in _measure(manifest).items():
        for r in rows:
            lines.append(
                f"{name:18s}{r['scale']:7.3g}{r['sigma']:8.4f}{r['seed']:5d}{r['loss_per_p']:9.4f}"
                f"{r['loss_per_p'] / naive:9.3f}{r['semi_nmf']:10.4f}{r['naive_ignoring_M']:17.4f}"
                f"{r['top_share']:21.3f}"
            )
    return "\n".join(lines)


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    from superpose.targets import compressed

    data = _measure(manifest)
    naive = compressed.naive_loss_per_probability(N_FEATURES, N_NEURONS)
    fig, (ax, ax_share) = plotting.figure(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1.5, 1]})
    random_rows, embedding_rows, resid_rows = (
        data["mixing-random"],
        data["mixing-embedding"],
        data["resid_mlp1"],
    )

    def mean_by(rows, key):
        xs = sorted({r["sigma"] for r in rows})
        return np.asarray(xs), np.asarray([np.mean([r[key] for r in rows if r["sigma"] == s]) for s in xs])

    s, lp = mean_by(random_rows, "loss_per_p")
    ax.plot(s, lp, "o-", color="#3b75af", ms=4, label="trained MLP, random symmetric M")
    s, nmf = mean_by(random_rows, "semi_nmf")
    ax.plot(s, nmf, "s--", color="#3b75af", ms=4, mfc="white", label="semi-NMF of I + M (random M)")
    s, ignore = mean_by(random_rows, "naive_ignoring_M")
    ax.plot(s, ignore, ":", color="0.5", label="naive, M ignored")
    s, lp = mean_by(embedding_rows, "loss_per_p")
    ax.plot(s, lp, "D-", color="#ef8636", ms=5, label="trained MLP, the embedding's M × 0 … 2")
    s, nmf = mean_by(embedding_rows, "semi_nmf")
    ax.plot(s, nmf, "D--", color="#ef8636", ms=5, mfc="white", label="semi-NMF (embedding's M)")
    ax.scatter(
        [r["sigma"] for r in resid_rows],
        [r["loss_per_p"] for r in resid_rows],
        marker="*",
        s=160,
        color="#c0392b",
        zorder=5,
        label="the residual MLP itself (Braun et al.)",
    )
    ax.axhline(
        naive, color="k", ls="--", lw=0.8, label=f"naive: 50 features exact, clean labels ({naive:.4f})"
    )
    clean = [r["loss_per_p"] for r in random_rows if r["sigma"] == 0]
    ax.set(
        xlabel="size of the mixing matrix M (off-diagonal standard deviation σ)",
        ylabel="loss per feature probability L/p",
        title=f"With M = 0 (clean labels) the trained MLP scores L/p = {np.mean(clean):.4f}, "
        f"{np.mean(clean) / naive:.2f}x naive:\nno compression without the mixing matrix",
    )
    ax.set_ylim(0, 0.21)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    for rows, color, label in (
        (random_rows, "#3b75af", "random M"),
        (embedding_rows, "#ef8636", "embedding's M"),
        (resid_rows, "#c0392b", "residual MLP"),
    ):
        pts = [(r["sigma"], r["top_share"]) for r in rows if np.isfinite(r["top_share"])]
        if pts:
            ax_share.scatter(
                *zip(*pts), color=color, s=22, label=label, marker="*" if rows is resid_rows else "o"
            )
    ax_share.axhline(N_NEURONS / N_FEATURES, color="k", ls="--", lw=0.8, label="a random subspace (0.5)")
    ax_share.set(
        xlabel="σ of M",
        ylabel="share of W_in's energy in M's top-50 eigenvectors",
        ylim=(0, 1.02),
        title="Where the neurons read: the top of M's spectrum",
    )
    ax_share.legend(fontsize=7.5, frameon=False)
    fig.suptitle(
        f"Compressed computation (100 features, 50 neurons, p = {PROBABILITY}): the MLP beats the naive "
        "solution only as far as the labels carry a mixing matrix M = I − W_E W_Eᵀ",
        fontsize=10.5,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return plotting.save(fig, figure_path)


EXPERIMENT = Experiment(
    name="circuits-compressed",
    description="compressed computation without its mixing matrix: trained MLPs, semi-NMF and naive "
                "baselines "
    "(Bhagat et al.)",
    stages=lambda size: [train_stage],
    plot=plot,
    report=report,
)

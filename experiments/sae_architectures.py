"""Architecture comparison at matched L0 on the SynthSAEBench world, with classical baselines.

Data (superpose.data.synthsaebench): the `synthsaebench-cpu` preset, SynthSAEBench-16k's generator
(Chanin & Garriga-Alonso 2026) at a size two CPU cores train on: 2,048 features in 96 dimensions (the
16k world's 21 features per dimension), Zipf firing (exponent 0.5, p from 0.4 to 5e-4), 16 trees of
depth 3 and branching 4 with mutually exclusive children scaled by their parent, a rank-25 correlation,
magnitudes ≈ 5 → 4, a dictionary bias of norm 0.5. Quick: 256 features in 32 dimensions, 2 trees.

The published recipe, shrunk with the world: SAEs have a quarter as many latents as true features (4,096
for 16,384 there), lr 3e-4, batch 1024 (quick: lr 1e-3, fewer steps). The top-k family trains with SAELens's
recipe behind the published table (`SAELENS_RECIPE`: free decoder rows initialised at norm 0.1, selection by
ReLU(h)·‖W_dec,l‖, AuxK of weight 1 on the dead latents' raw pre-activations, the squared error summed over
dimensions, Matryoshka widths 1/32, 1/8 and 1/2 of the dictionary) and k = the measured true L0 (rounded);
L1, JumpReLU and Gated are trained over a coefficient grid and the one whose L0 is closest to the true L0 is
reported ("matched L0"). The table
uses SynthSAEBench's definitions (superpose.sae.evaluation): MCC over matched pairs, F1 and
uniqueness over all latents; the published table (SynthSAEBench-16k at L0 = 25) sits beside it.
Baselines from scikit-learn: PCA and FastICA (at most d directions), MiniBatchDictionaryLearning, and
per-sample lasso codes on the best SAE's decoder and on the true dictionary (amortisation gap: same
dictionary, iterative inference).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from experiments._references import SB
from superpose import results
from superpose.app import plotting
from superpose.app.experiment import Experiment, Manifest
from superpose.app.scorecard import Check, Rule, judge
from superpose.data import groundtruth, synthsaebench, user_arrays
from superpose.measures import recovery
from superpose.sae import baselines
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib
from superpose.train import rng
from superpose.validate import ConfigError

NAME = "sae_architectures"
COEFFICIENTS = {  # λ·d, log-spaced over the range where L0 passes the true L0
    "l1": (1.0, 2.0, 4.0, 8.0, 16.0),
    "jumprelu": (1.0, 1.5, 1.75, 2.0, 2.5),
    "gated": (1.0, 2.0, 4.0, 8.0, 16.0),
}
JUMPRELU = {"bandwidth": 0.5, "initial_threshold": 1.0}
"""ε and the initial θ scaled to this world's magnitudes (≈ 5 where the toy sources' are ≈ 1): at the
defaults (0.05, 0.1) the threshold barely moves and L0 stays ~8x the true L0 at every λ (quick: 22 vs 2.9)."""
QUICK_COEFFICIENTS = {
    "l1": (2.0, 4.0, 8.0),
    "jumprelu": (1.0, 3.0, 10.0),
    "gated": (2.0, 4.0, 8.0),
}
ARCHITECTURES = ("l1", "topk", "batchtopk", "jumprelu", "gated", "matryoshka")
SAELENS_RECIPE = ("topk", "batchtopk", "matryoshka")
"""The top-k family trains with SAELens's recipe, the one behind the published table (`SAEConfig.recipe`:
decoder rows initialised at norm 0.1 and left free, selection by ReLU(h)·‖W_dec,l‖, AuxK of weight 1 on raw
pre-activations, Matryoshka widths 1/32, 1/8, 1/2 of the dictionary)."""
COLUMNS = ("l0", "f1_all_latents", "mcc_matched_pairs", "uniqueness_all_latents", "explained_variance",
           "shrinkage", "dead_latents", "absorption")
# SynthSAEBench-16k, L0 = 25, width 4,096, 200M samples (Chanin & Garriga-Alonso 2026): F1, MCC, uniqueness,
# explained variance
PUBLISHED = {
    "batchtopk": (0.7316, 0.7574, 0.9837, 0.7923),
    "matryoshka": (0.8793, 0.7927, 0.9987, 0.7792),
    "l1": (0.5562, 0.6039, 0.8976, 0.7654),
    "jumprelu": (0.7317, 0.7527, 0.9885, 0.7951),
}
LASSO_ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0)
"""The lasso baselines' α, in units of the median true code (the one whose L0 is closest to the true L0 is
kept)."""
QUICK_WORLD = synthsaebench.WorldConfig(
    n_features=256, n_dims=32, roots=2, correlation_rank=8, orthogonalize_steps=100
)


def setting(quick: bool) -> dict:
    if quick:
        return {
            "world": QUICK_WORLD,
            "n_latents": 64,
            "steps": 1500,
            "batch_size": 512,
            "learning_rate": 1e-3,
            "n_eval": 4096,
        }
    return {
        "world": synthsaebench.PRESETS["synthsaebench-cpu"],
        "n_latents": 512,
        "steps": 15_000,
        "batch_size": 1024,
        "learning_rate": 3e-4,
        "n_eval": 8192,
    }


def source(s: dict) -> synthsaebench.World:
    return synthsaebench.build(s["world"])


def true_l0(src, n: int = 8192) -> float:
    codes, _ = groundtruth.sample(src, rng.key(3, "hash"), n)
    return float((np.asarray(codes) > 0).sum(0).mean())


def train_stage(manifest: Manifest, size: str, *, progress: bool, skip_existing: bool) -> list[Path]:
    quick = size == "quick"
    results_dir = manifest.root
    s = setting(quick)
    src = source(s)
    spec = {"kind": "synthsaebench", **s, "world": s["world"].to_dict()}
    k = max(1, round(true_l0(src)))
    d = s["world"].n_dims
    folders = []
    recorded = {}

    def batches():  # a batch of this world costs more to draw than an SAE step: draw once for every group
        if not recorded:
            recorded["source"] = user_arrays.record(
                src, s["steps"], s["batch_size"], scratch / "batches.npy", progress=progress
            )
        return recorded["source"]

    results_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".batches-", dir=results_dir))
    try:
        for arch in ARCHITECTURES:
            folders.append(
                _train_architecture(
                    arch,
                    s,
                    src,
                    spec,
                    k,
                    d,
                    results_dir,
                    batches,
                    quick=quick,
                    progress=progress,
                    skip_existing=skip_existing,
                )
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    folders.append(_baselines(Manifest(results_dir, tuple(folders)), src, s, spec, skip_existing))
    return folders


def _train_architecture(
    arch, s, src, spec, k, d, results_dir, batches, *, quick, progress, skip_existing
) -> Path:
    """One architecture's group: the top-k family at k, the others over their coefficient grid."""
    base = sae_lib.SAEConfig(
        architecture=arch,
        n_latents=s["n_latents"],
        k=k,
        steps=s["steps"],
        batch_size=s["batch_size"],
        learning_rate=s["learning_rate"],
        log_every=500,
        recipe="saelens" if arch in SAELENS_RECIPE else "superpose",
        **(JUMPRELU if arch == "jumprelu" else {}),
    )
    coefficients = (QUICK_COEFFICIENTS if quick else COEFFICIENTS).get(arch, (0.0,))
    configs = [
        sae_lib.sae_replace(base, sparsity_coefficient=c / d, seed=i) for i, c in enumerate(coefficients)
    ]
    folder = results_dir / NAME / arch
    sae_group.run_group(
        folder,
        configs,
        src,
        labels=[{"coefficient_times_d": c} for c in coefficients],
        source_spec=spec,
        progress=progress,
        skip_existing=skip_existing,
        train_on=batches,
    )
    return folder


def _baselines(trained: Manifest, src, s, spec, skip_existing: bool) -> Path:
    """Baselines against the best SAE among the `trained` ones."""
    folder = trained.root / NAME / "baselines"
    arch, i = _best_sae(trained)
    job = {
        "source": spec,
        "best_sae": arch,
        "scikit_learn": importlib.util.find_spec("sklearn") is not None,
        "lasso_alphas": list(LASSO_ALPHAS),
    }

    def compute(_checkpoint):
        codes_GxN, x = groundtruth.sample(src, rng.key(7, "hash"), s["n_eval"])
        x, codes = np.asarray(x, np.float64), np.asarray(codes_GxN).T
        truth = np.asarray(src.directions_GxD)
        sae_arrays = trained.load(NAME, arch).arrays
        decoder, decoder_bias = sae_arrays["W_dec_LxD"][i], sae_arrays["b_dec_D"][i]
        try:
            baselines.pca(x[:10], 1)
        except ConfigError as e:  # scikit-learn is an optional extra: the table says how to get the rows
            return {}, {"metrics": {}, "missing": str(e)}, {}
        directions = {
            "PCA": baselines.pca(x, s["world"].n_dims),
            "FastICA": baselines.ica(x, s["world"].n_dims),
            "dictionary learning": baselines.dictionary_learning(x, s["n_latents"], alpha=0.1),
        }
        metrics = {name: recovery.direction_metrics(truth, d) for name, d in directions.items()}
        n_code = min(2048, len(x))
        target = (codes[:n_code] > 0).sum(1).mean()
        scale = np.median(codes[codes > 0])  # the lasso's α is in units of the codes' magnitude
        for name, dictionary, bias in (
            (f"lasso on {arch} decoder", decoder, decoder_bias),
            ("lasso on true dictionary", truth, np.asarray(src.bias_D)),
        ):
            feature_of = recovery.cosine_matrix(truth, dictionary).argmax(axis=0)
            tried = [
                baselines.sparse_codes(x[:n_code] - bias, dictionary, alpha=a * scale) for a in LASSO_ALPHAS
            ]
            sparse = min(tried, key=lambda c: abs(np.log(max((c > 1e-6).sum(1).mean(), 1e-3) / target)))
            metrics[name] = {
                "f1": baselines.support_f1(sparse, codes[:n_code], feature_of),
                "l0": float((sparse > 1e-6).sum(1).mean()),
                **recovery.direction_metrics(truth, dictionary),
            }
        return {name.replace(" ", "_"): d for name, d in directions.items()}, {"metrics": metrics}, {}

    return results.run_or_load(baselines.BaselineGroup, folder, job, compute, skip_existing=skip_existing)


def _best_sae(manifest: Manifest) -> tuple[str, int]:
    """(architecture, instance) with the highest F1 among the matched-L0 SAEs."""
    rows = table(manifest)
    arch = max(rows, key=lambda a: rows[a]["f1_all_latents"])
    return arch, rows[arch]["instance"]


def matched_instance(l0: np.ndarray, target: float) -> int:
    """The SAE whose L0 is closest to `target` in log scale ("matched L0")."""
    return int(np.nanargmin(np.abs(np.log(np.maximum(l0, 1e-3) / target))))


def table(manifest: Manifest) -> dict[str, dict]:
    """Per architecture, the metrics of its SAE at matched L0 (closest to the true L0 in log scale)."""
    rows = {}
    for arch in ARCHITECTURES:
        run = manifest.load(NAME, arch)
        l0, true_l0 = sae_group.metric(run, "l0"), sae_group.metric(run, "true_l0")
        i = matched_instance(l0, true_l0)
        rows[arch] = {
            **run.summary["metrics"][i],
            "instance": i,
            "setting": (
                f"k={sae_group.config(run, i).k}"
                if arch not in COEFFICIENTS
                else f"λd={sae_group.labels(run, 'coefficient_times_d')[i]:g}"
            ),
        }
    return rows


def plot(manifest: Manifest, figure_path: Path) -> list[Path]:
    rows = table(manifest)
    base_run = manifest.load(NAME, "baselines")
    base = base_run.summary["metrics"]
    fig = plt.figure(figsize=(14, 9))
    ax = fig.add_axes([0.02, 0.45, 0.96, 0.41])
    ax.axis("off")
    header = [
        "",
        "setting",
        "L0",
        "F1",
        "MCC",
        "uniqueness",
        "expl. var.",
        "shrinkage γ",
        "dead",
        "absorption",
        "published F1 / MCC / uniq. / expl. var.",
    ]
    cells = []
    for arch, m in rows.items():
        published = " / ".join(f"{v:.3f}" for v in PUBLISHED[arch]) if arch in PUBLISHED else "–"
        cells.append(
            [
                arch,
                m["setting"],
                f"{m['l0']:.2f}",
                f"{m['f1_all_latents']:.3f}",
                f"{m['mcc_matched_pairs']:.3f}",
                f"{m['uniqueness_all_latents']:.3f}",
                f"{m['explained_variance']:.3f}",
                f"{m['shrinkage']:.3f}",
                f"{m['dead_latents']}",
                f"{m['absorption']:.2f}",
                published,
            ]
        )
    for name, m in base.items():
        cells.append(
            [
                name,
                "baseline",
                f"{m['l0']:.2f}" if "l0" in m else "–",
                f"{m['f1']:.3f}" if "f1" in m else "–",
                f"{m['mcc_matched_pairs']:.3f}",
                "–",
                "–",
                "–",
                "–",
                "–",
                "–",
            ]
        )
    if "missing" in base_run.summary:
        cells.append(["baselines", "–", "–", "–", base_run.summary["missing"].split(": ")[-1]] + ["–"] * 6)
    widths = [0.15, 0.06] + [0.07] * 8 + [0.2]
    t = ax.table(cellText=cells, colLabels=header, loc="center", cellLoc="center", colWidths=widths)
    t.auto_set_font_size(False)
    t.set_fontsize(8.5)
    t.scale(1, 1.35)
    best_f1 = max(rows, key=lambda a: rows[a]["f1_all_latents"])
    for (r, _c), cell in t.get_celld().items():
        if r == 0:
            cell.set_text_props(fontweight="bold")
        elif r - 1 < len(rows) and list(rows)[r - 1] == best_f1:
            cell.set_facecolor("#e8f0fa")
        elif r - 1 >= len(rows):
            cell.set_facecolor("#f4f4f4")
    ax.set_title(
        "SAEs at matched L0 (rows 1–6) and baselines (grey; lasso rows: per-sample codes at matched L0 on a "
        "fixed dictionary; their F1 over fired atoms). SynthSAEBench's definitions: MCC = one-to-one matched "
        "|cos|\naveraged over the matched pairs; F1 (latent fires vs its feature is active) and uniqueness "
        "over all latents, dead ones 0; γ < 1: shrinkage; absorption: parent latent silent while a child is "
        "active.\nLast column: SynthSAEBench-16k at L0 = 25 (16,384 features in 768 dims, 4,096 latents, "
        "200M samples; Chanin & Garriga-Alonso 2026)",
        fontsize=8.5,
    )
    for j, arch in enumerate((best_f1, "l1")):
        run = manifest.load(NAME, arch)
        i = rows[arch]["instance"]
        cos = recovery.ordered_by_matching(
            recovery.cosine_matrix(run.arrays["truth"], run.arrays["W_dec_LxD"][i])
        )
        ax = fig.add_axes([0.1 + 0.42 * j, 0.05, 0.38, 0.36])
        n = 64
        im = ax.imshow(cos[:n, :n], vmin=0, vmax=1, cmap="viridis")
        ax.set_xlabel("learned latent (ordered by matching)")
        ax.set_ylabel("true feature (most frequent first)")
        ax.set_title(
            f"{arch}: |cos|, first {n} true features (MCC {rows[arch]['mcc_matched_pairs']:.3f})", fontsize=9
        )
    fig.colorbar(im, cax=fig.add_axes([0.93, 0.05, 0.01, 0.36]))
    spec = manifest.load(NAME, "l1").config["job"]["source"]
    world, true = spec["world"], rows["l1"]["true_l0"]
    fig.suptitle(
        f"Which SAE recovers what? The SynthSAEBench world: {world['n_features']:,} known features in "
        f"{world['n_dims']} dimensions, {spec['n_latents']} latents (Zipf firing, correlations, hierarchies "
        f"of depth {world['depth']}), true L0 = {true:.2f}",
        fontsize=11,
        y=0.995,
    )
    return plotting.save(fig, figure_path)


# ---- acceptance checks (docs/checks.md) --------------------------------------------------------------------

SAME_F1 = 0.05
"""|F1(BatchTopK) − F1(JumpReLU)| within which the two count as alike (published: 0.7316 and 0.7317)."""
MAX_DEAD = 0.05


def ordering_rules(rows: dict[str, dict], n_latents: int) -> list[Rule]:
    """Check 23, the published ordering at matched L0 on F1: Matryoshka ≥ BatchTopK ≈ JumpReLU > L1, with
    dead latents below 5% of the dictionary for each of them."""
    f1 = {a: float(rows[a]["f1_all_latents"]) for a in ("matryoshka", "batchtopk", "jumprelu", "l1")}
    dead = {a: int(rows[a]["dead_latents"]) for a in f1}
    shown = ", ".join(f"{a} {v:.3f}" for a, v in f1.items())
    return [
        judge("F1: Matryoshka ≥ BatchTopK", shown, f1["matryoshka"] >= f1["batchtopk"]),
        judge(f"F1: BatchTopK ≈ JumpReLU (within {SAME_F1})", f"{abs(f1['batchtopk'] - f1['jumprelu']):.3f}",
              abs(f1["batchtopk"] - f1["jumprelu"]) <= SAME_F1),
        judge("F1: BatchTopK and JumpReLU > L1", shown, min(f1["batchtopk"], f1["jumprelu"]) > f1["l1"]),
        judge(f"dead latents below {100 * MAX_DEAD:.0f}% of {n_latents} for each",
              ", ".join(f"{a} {d}" for a, d in dead.items()), max(dead.values()) < MAX_DEAD * n_latents),
    ]


def _ordering(manifests, quick):
    manifest = manifests["sae-architectures"]
    run = manifest.load(NAME, "l1")
    return ordering_rules(table(manifest), sae_group.config(run, 0).n_latents)


CHECKS = (
    Check(
        "23",
        "SAE architectures on SynthSAEBench at matched L0: Matryoshka ≥ BatchTopK ≈ JumpReLU > L1 on F1",
        SB,
        ("sae-architectures",),
        _ordering,
        full_only=True,
    ),
)


EXPERIMENT = Experiment(
    checks=CHECKS,
    name="sae-architectures",
    description="six SAE architectures at matched L0 vs PCA, ICA, dictionary learning, lasso (table + cos "
                "matrices)",
    stages=lambda size: [train_stage],
    plot=plot,
)

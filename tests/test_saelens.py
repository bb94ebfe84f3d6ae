"""SAEs in SAELens's on-disk format: the written files follow the format, and every architecture reads back
with identical latents (the batch top-k family as the JumpReLU it is at inference)."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from safetensors.numpy import load_file

from superpose.app.cli import main
from superpose.sae import model as sae_lib
from superpose.sae import saelens

N_DIMS, N_LATENTS = 6, 10
EXTRA = {
    "jumprelu": ["threshold"],
    "batchtopk": ["threshold"],
    "matryoshka": ["threshold"],
    "gated": ["b_gate", "r_mag", "b_mag"],
}


def _random_sae(architecture: str, seed: int = 0):
    """An SAE of `architecture` with every parameter random (biases too), as arrays by name."""
    config = sae_lib.SAEConfig(architecture=architecture, n_latents=N_LATENTS, k=3)
    shapes = {
        "W_enc_DxL": (N_DIMS, N_LATENTS),
        "b_enc_L": (N_LATENTS,),
        "W_dec_LxD": (N_LATENTS, N_DIMS),
        "b_dec_D": (N_DIMS,),
    }
    shapes |= {
        "jumprelu": {"log_threshold_L": (N_LATENTS,)},
        "gated": {"r_mag_L": (N_LATENTS,), "b_mag_L": (N_LATENTS,)},
    }.get(architecture, {})
    rng = np.random.default_rng(seed)
    params = {name: (0.6 * rng.normal(size=shape)).astype(np.float32) for name, shape in shapes.items()}
    if "log_threshold_L" in params:
        params["log_threshold_L"] -= 1.5
    return config, params


TO_SAELENS = {
    "l1": "standard",
    "topk": "topk",
    "batchtopk": "jumprelu",
    "matryoshka": "jumprelu",
    "jumprelu": "jumprelu",
    "gated": "gated",
}
"""The mapping superpose.sae.saelens documents (each architecture's `to_saelens`)."""
FROM_SAELENS = {"standard": "l1", "topk": "topk", "jumprelu": "jumprelu", "gated": "gated"}


@pytest.mark.parametrize("architecture", list(TO_SAELENS))
def test_round_trip_keeps_every_latent(tmp_path, architecture):
    config, params = _random_sae(architecture)
    x = jax.random.normal(jax.random.key(7), (256, N_DIMS))
    original = sae_lib.model(config, params)
    threshold = 0.2 if architecture in ("batchtopk", "matryoshka") else None
    f, _ = original.encode(x, training=False, threshold=threshold)
    assert 0 < np.mean(np.asarray(f) > 0) < 0.9  # a test that can tell supports apart

    folder = saelens.write(tmp_path / "sae", config, params, threshold=threshold)
    cfg = json.loads((folder / "cfg.json").read_text())
    tensors = load_file(str(folder / "sae_weights.safetensors"))
    assert cfg["architecture"] == TO_SAELENS[architecture]
    assert (cfg["d_in"], cfg["d_sae"], cfg["apply_b_dec_to_input"], cfg["normalize_activations"]) == (
        N_DIMS,
        N_LATENTS,
        True,
        "none",
    )
    assert cfg.get("k") == (3 if architecture == "topk" else None)
    expected = {
        "W_enc": (N_DIMS, N_LATENTS),
        "b_enc": (N_LATENTS,),
        "W_dec": (N_LATENTS, N_DIMS),
        "b_dec": (N_DIMS,),
        **{name: (N_LATENTS,) for name in EXTRA.get(architecture, [])},
    }
    if architecture == "gated":
        del expected["b_enc"]
    assert {k: v.shape for k, v in tensors.items()} == expected
    assert all(v.dtype == np.float32 for v in tensors.values())

    read_config, read_params = saelens.read(folder)
    assert read_config.architecture == FROM_SAELENS[cfg["architecture"]]
    g, _ = sae_lib.model(read_config, read_params).encode(x, training=False)
    np.testing.assert_array_equal(np.asarray(g) > 0, np.asarray(f) > 0)  # the same support
    np.testing.assert_allclose(np.asarray(g), np.asarray(f), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("architecture", ["topk", "batchtopk"])
def test_the_saelens_recipe_round_trips_with_its_decoder_norm_selection(tmp_path, architecture):
    """A TopK of recipe `saelens` is exported with `rescale_acts_by_decoder_norm` and read back with that
    recipe; a BatchTopK's threshold (on ReLU(h)·‖W_dec,l‖) becomes the JumpReLU threshold θ / ‖W_dec,l‖: the
    same latents either way, with decoder rows of unequal norms."""
    config, params = _random_sae(architecture)
    config = sae_lib.sae_replace(config, recipe="saelens")
    params["W_dec_LxD"] *= np.linspace(0.2, 2.0, N_LATENTS, dtype=np.float32)[:, None]
    x = jax.random.normal(jax.random.key(8), (256, N_DIMS))
    threshold = 0.2 if architecture == "batchtopk" else None
    f, _ = sae_lib.model(config, params).encode(x, training=False, threshold=threshold)
    folder = saelens.write(tmp_path / "sae", config, params, threshold=threshold)
    read_config, read_params = saelens.read(folder)
    assert read_config.recipe == ("saelens" if architecture == "topk" else "superpose")
    g, _ = sae_lib.model(read_config, read_params).encode(x, training=False)
    np.testing.assert_array_equal(np.asarray(g) > 0, np.asarray(f) > 0)
    np.testing.assert_allclose(np.asarray(g), np.asarray(f), rtol=1e-5, atol=1e-6)


def test_an_sae_that_encodes_x_itself_gets_its_decoder_bias_folded_in(tmp_path):
    """SAELens SAEs with apply_b_dec_to_input = false encode x, not x − b_dec: same latents after reading."""
    config, params = _random_sae("l1")
    folder = saelens.write(tmp_path / "sae", config, params)
    cfg = json.loads((folder / "cfg.json").read_text())
    cfg["apply_b_dec_to_input"] = False
    (folder / "cfg.json").write_text(json.dumps(cfg))
    x = jax.random.normal(jax.random.key(3), (64, N_DIMS))
    t = load_file(str(folder / "sae_weights.safetensors"))
    expected = np.maximum(np.asarray(x) @ t["W_enc"] + t["b_enc"], 0)  # SAELens "standard" without b_dec
    g, _ = sae_lib.model(*saelens.read(folder)).encode(x, training=False)
    np.testing.assert_allclose(np.asarray(g), expected, rtol=1e-5, atol=1e-5)


def test_export_and_evaluate_from_the_command_line(tmp_path, quick_results, capsys):
    """`superpose export` writes a result folder's SAEs; `superpose evaluate` scores one against its toy model
    as the bench did; bad input ends in one line."""
    manifest = quick_results("sae-recovery")
    run = manifest.load("sae_recovery", "check13-resample=random")
    toys = manifest.group("sae_recovery_toys", "all")
    assert main(["export", str(run.path), "--out", str(tmp_path), "--instance", "2"]) == 0
    capsys.readouterr()
    toy = run.config["job"]["saes"][2]["labels"]["toy"]  # the toy model SAE 2 was trained on
    assert main(["evaluate", str(tmp_path / "sae-2"), "--source", f"toy:{toys.path}:{toy}", "--json"]) == 0
    scored, stored = json.loads(capsys.readouterr().out), run.summary["metrics"][2]
    for name in ("mmcs_true", "mcc", "dead_latents", "n_true_features"):
        assert scored[name] == pytest.approx(stored[name], abs=1e-6), name
    assert scored["f1"] == pytest.approx(stored["f1"], abs=0.05)  # a different evaluation sample
    for argv in (
        ["evaluate", str(tmp_path / "sae-2"), "--source", "toy"],
        ["evaluate", str(tmp_path / "nothing"), "--source", "sharkey"],
        ["export", str(toys.path), "--out", str(tmp_path / "x")],
    ):
        assert main(argv) == 2
        assert capsys.readouterr().err.count("\n") == 1


def test_exported_result_folder_and_bad_folders(tmp_path, quick_results):
    manifest = quick_results("sae-recovery")
    run = manifest.load("sae_recovery", "grid-n_features=5-l1")
    (folder,) = saelens.export(run, tmp_path, instances=[0])
    meta = json.loads((folder / "cfg.json").read_text())["metadata"]["superpose"]
    assert meta["instance"] == 0 and meta["config"]["architecture"] == "l1"
    x = jnp.asarray(np.random.default_rng(0).normal(size=(32, run.arrays["b_dec_D"].shape[-1])), jnp.float32)
    f, _ = run.model(0).encode(x, training=False)
    g, _ = sae_lib.model(*saelens.read(folder)).encode(x, training=False)
    np.testing.assert_allclose(np.asarray(g), np.asarray(f), rtol=1e-5, atol=1e-6)
    with pytest.raises(saelens.ResultError, match="instance 9"):
        saelens.export(run, tmp_path, instances=[9])
    with pytest.raises(saelens.ResultError, match="not a SAELens SAE folder"):
        saelens.read(tmp_path / "nothing")


def test_saelens_itself_loads_the_files_with_identical_latents(tmp_path):
    sae_lens = pytest.importorskip("sae_lens")
    import torch

    for architecture in ("l1", "topk", "batchtopk", "jumprelu", "gated"):
        config, params = _random_sae(architecture)
        threshold = 0.2 if architecture == "batchtopk" else None
        folder = saelens.write(tmp_path / architecture, config, params, threshold=threshold)
        x = np.random.default_rng(1).normal(size=(128, N_DIMS)).astype(np.float32)
        f, _ = sae_lib.model(config, params).encode(jnp.asarray(x), training=False, threshold=threshold)
        theirs = sae_lens.SAE.load_from_disk(str(folder), device="cpu").encode(torch.from_numpy(x))
        np.testing.assert_allclose(theirs.detach().numpy(), np.asarray(f), rtol=1e-4, atol=1e-5)


def test_saelens_conventions_of_the_metrics_match_saelens():
    """On identical arrays, superpose's SAELens-convention metrics equal SAELens's synthetic evaluation."""
    pytest.importorskip("sae_lens")
    import torch
    from sae_lens.synthetic import evals

    from superpose.measures import recovery
    from superpose.sae import evaluation

    config, params = _random_sae("l1")
    params["b_enc_L"][:3] = -100.0  # three dead latents
    rng = np.random.default_rng(2)
    truth = rng.normal(size=(8, N_DIMS)).astype(np.float32)
    codes = (rng.random((4096, 8)) < 0.2) * rng.random((4096, 8)).astype(np.float32)
    x = (codes @ truth).astype(np.float32)
    stats = evaluation._stats_one(
        config, {k: jnp.asarray(v) for k, v in params.items()}, 0.0, jnp.asarray(codes.T), jnp.asarray(x)
    )
    cos = recovery.cosine_matrix(truth, params["W_dec_LxD"])
    ours = evaluation.activation_metrics(jax.tree.map(np.asarray, stats), cos) | recovery.direction_metrics(
        truth, params["W_dec_LxD"]
    )

    f, _ = sae_lib.model(config, params).encode(jnp.asarray(x), training=False)
    f = np.array(f)  # writable, for torch
    latents, x_hat = torch.from_numpy(f), torch.from_numpy(f @ params["W_dec_LxD"] + params["b_dec_D"])
    classification = evals.ClassificationMetricsCalculator(
        torch.from_numpy(params["W_dec_LxD"]), torch.from_numpy(truth)
    )
    classification.add_batch(latents, torch.from_numpy(codes))
    theirs = classification.compute()
    shrinkage = evals.ShrinkageCalculator()
    shrinkage.add_batch(x_hat, torch.from_numpy(x))
    assert ours["dead_latents"] >= 3  # where the two conventions differ
    assert ours["mcc_matched_pairs"] == pytest.approx(
        evals.mean_correlation_coefficient(torch.from_numpy(params["W_dec_LxD"]), torch.from_numpy(truth)),
        abs=1e-6,
    )
    assert ours["uniqueness_all_latents"] == pytest.approx(
        evals.feature_uniqueness(torch.from_numpy(params["W_dec_LxD"]), torch.from_numpy(truth)), abs=1e-9
    )
    assert ours["precision_all_latents"] == pytest.approx(theirs.precision, abs=1e-6)
    assert ours["recall_all_latents"] == pytest.approx(theirs.recall, abs=1e-6)
    assert ours["f1_all_latents"] == pytest.approx(theirs.f1_score, abs=1e-6)
    assert ours["norm_ratio"] == pytest.approx(shrinkage.compute(), rel=1e-5)


@pytest.mark.parametrize("architecture", ["topk", "batchtopk"])
def test_decoder_norm_selection_equals_saelens_on_identical_arrays(architecture):
    """Recipe `saelens` against SAELens itself (skipped where `sae-lens` is not installed): the same encoder,
    decoder and biases, with decoder rows of unequal norms so that selecting by ReLU(h) alone would differ,
    keep the same latents on the same batch, and reconstruct the same inputs. SAELens's latent values carry
    the decoder norm (ReLU(h)·‖W_dec,l‖, decoded by W_dec/‖W_dec,l‖); superpose's are ReLU(h), decoded by
    W_dec."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("sae_lens")
    from sae_lens.saes.batchtopk_sae import BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig
    from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig

    k, batch = 3, 32
    rng = np.random.default_rng(5)
    params = {
        "W_enc_DxL": rng.normal(size=(N_DIMS, N_LATENTS)),
        "b_enc_L": 0.2 * rng.normal(size=N_LATENTS),
        "W_dec_LxD": rng.normal(size=(N_LATENTS, N_DIMS)) * rng.uniform(0.05, 2.0, size=(N_LATENTS, 1)),
        "b_dec_D": 0.3 * rng.normal(size=N_DIMS),
    }
    params = {name: value.astype(np.float32) for name, value in params.items()}
    x = rng.normal(size=(batch, N_DIMS)).astype(np.float32)

    config = sae_lib.SAEConfig(architecture=architecture, n_latents=N_LATENTS, k=k, recipe="saelens")
    sae = sae_lib.ARCHITECTURES.get(architecture)(config, N_DIMS, jax.random.key(0))
    for name, value in params.items():
        getattr(sae, name)[...] = jnp.asarray(value)
    f = np.asarray(sae.encode(jnp.asarray(x))[0])
    x_hat = np.asarray(sae.decode(jnp.asarray(f)))
    plain = sae_lib.ARCHITECTURES.get(architecture)(
        sae_lib.sae_replace(config, recipe="superpose"), N_DIMS, jax.random.key(0)
    )
    for name, value in params.items():
        getattr(plain, name)[...] = jnp.asarray(value)
    assert not np.array_equal(np.asarray(plain.encode(jnp.asarray(x))[0]) != 0, f != 0)  # the recipe matters

    kinds = {
        "topk": (TopKTrainingSAE, TopKTrainingSAEConfig),
        "batchtopk": (BatchTopKTrainingSAE, BatchTopKTrainingSAEConfig),
    }
    cls, cfg = kinds[architecture]
    theirs = cls(
        cfg(
            d_in=N_DIMS,
            d_sae=N_LATENTS,
            k=k,
            rescale_acts_by_decoder_norm=True,
            apply_b_dec_to_input=True,
            dtype="float32",
            device="cpu",
        )
    )
    with torch.no_grad():
        for name, value in params.items():
            getattr(theirs, name.rsplit("_", 1)[0]).copy_(torch.from_numpy(value))
        acts = theirs.encode(torch.from_numpy(x))
        acts = acts.to_dense() if acts.is_sparse else acts
        their_hat = theirs.decode(acts).numpy()
        acts = acts.numpy()
    norm_L = np.linalg.norm(params["W_dec_LxD"], axis=1)
    np.testing.assert_array_equal(acts != 0, f != 0)
    np.testing.assert_allclose(acts, f * norm_L, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(their_hat, x_hat, rtol=1e-5, atol=1e-5)

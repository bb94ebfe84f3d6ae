"""SAE architectures against their equations, and the recovery metrics against oracles."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from superpose.activations import jump_relu, step_function
from superpose.data import groundtruth
from superpose.measures import recovery
from superpose.sae import evaluation
from superpose.sae import model as sae_lib
from superpose.validate import ConfigError


def _sae(config, n_dims, seed=0):
    return sae_lib.ARCHITECTURES.get(config.architecture)(config, n_dims, jax.random.key(seed))


def test_topk_keeps_exactly_k_per_sample():
    config = sae_lib.SAEConfig(architecture="topk", n_latents=12, k=3)
    x = jax.random.normal(jax.random.key(1), (64, 6))
    f, h = _sae(config, 6).encode(x)
    np.testing.assert_array_equal(np.sum(np.asarray(f) != 0, axis=1) <= 3, True)
    # every kept value is a ReLU'd row maximum: nothing outside the top 3 survives
    kth = np.sort(np.asarray(h), axis=1)[:, -3]
    assert np.all(np.asarray(f)[np.asarray(h) < kth[:, None]] == 0)
    assert np.all(np.sum(np.asarray(f) > 0, axis=1) == np.minimum(3, np.sum(np.asarray(h) > 0, axis=1)))


def test_sparse_decoding_equals_dense_decoding_in_values_and_gradients():
    """Decoding only each sample's k rows is `densify(values, indices) @ W_dec`, and so are the gradients of
    a loss through it (for W_dec: a scatter-add into the used rows), as is the whole TopK training loss."""
    from superpose.activations import densify, sparse_decode, top_k, top_k_mask
    from superpose.sae.model import SAE

    h = jax.random.normal(jax.random.key(3), (64, 20))
    W = jax.random.normal(jax.random.key(4), (20, 6))
    target = jax.random.normal(jax.random.key(5), (64, 6))
    values, indices = top_k(h, 4)
    np.testing.assert_array_equal(densify(values, indices, 20) > 0, top_k_mask(h, 4))
    rank = np.argsort(np.argsort(-np.asarray(h), axis=1), axis=1)
    np.testing.assert_array_equal(top_k_mask(h, 4), (rank < 4) & (np.asarray(h) > 0))
    np.testing.assert_array_equal(top_k_mask(h, 17), (rank < 17) & (np.asarray(h) > 0))  # by bisection

    def loss(decode, h, W):
        values, indices = top_k(h, 4)
        return jnp.sum((decode(values, indices, W) - target) ** 2)

    sparse = lambda v, i, W: sparse_decode(v, i, W)
    dense = lambda v, i, W: densify(v, i, 20) @ W
    np.testing.assert_allclose(sparse(values, indices, W), dense(values, indices, W), rtol=1e-5, atol=1e-6)
    for g_sparse, g_dense in zip(jax.grad(loss, (1, 2))(sparse, h, W), jax.grad(loss, (1, 2))(dense, h, W)):
        assert np.abs(g_dense).max() > 0.1
        np.testing.assert_allclose(g_sparse, g_dense, rtol=1e-5, atol=1e-5)

    config = sae_lib.SAEConfig(architecture="topk", n_latents=20, k=4, dead_window=1)
    x = jax.random.normal(jax.random.key(6), (64, 6))
    dead = jnp.arange(20) % 3 == 0  # with the AuxK term

    def total(module_loss, W_enc):
        sae = _sae(config, 6)
        sae.W_enc_DxL[...] = W_enc
        return module_loss(sae, x, 0.0, dead)[0]

    W_enc = _sae(config, 6).W_enc_DxL[...]
    sparse_loss, dense_loss = type(_sae(config, 6)).loss, SAE.loss
    assert sparse_loss is not dense_loss
    value_sparse, grad_sparse = jax.jit(jax.value_and_grad(lambda w: total(sparse_loss, w)))(W_enc)
    value_dense, grad_dense = jax.jit(jax.value_and_grad(lambda w: total(dense_loss, w)))(W_enc)
    np.testing.assert_allclose(value_sparse, value_dense, rtol=1e-6)
    np.testing.assert_allclose(grad_sparse, grad_dense, rtol=1e-4, atol=1e-7)


def test_aux_k_is_skipped_only_when_no_sae_of_the_group_has_a_dead_latent():
    """Under the trainer's named vmap the AuxK branch is decided for the group: an SAE without dead latents
    gets 0 from it either way, one with dead latents gets the same value as alone."""
    from superpose.train.learner import INSTANCES

    config = sae_lib.SAEConfig(architecture="topk", n_latents=20, k=4)
    sae = _sae(config, 6)
    x = jax.random.normal(jax.random.key(7), (64, 6))
    h = sae.pre_activations(x)
    x_hat = sae.decode(sae.encode(x)[0])
    dead = jnp.stack([jnp.zeros(20, bool), jnp.arange(20) % 2 == 0])
    alone = [float(sae.aux_k_loss(x, x_hat, h, d)) for d in dead]
    grouped = jax.vmap(lambda d: sae.aux_k_loss(x, x_hat, h, d), axis_name=INSTANCES)(dead)
    assert alone[0] == 0 and alone[1] > 1e-3
    np.testing.assert_allclose(grouped, alone, rtol=1e-6)
    jaxpr = str(jax.make_jaxpr(jax.vmap(lambda d: sae.aux_k_loss(x, x_hat, h, d), axis_name=INSTANCES))(dead))
    assert "cond[" in jaxpr  # a real branch, not both sides selected per instance


def test_saelens_recipe_selects_by_activation_times_decoder_norm():
    """Latent 0 has the larger pre-activation but a decoder row of norm 0.1; latent 1 a smaller one of norm
    1: superpose's recipe keeps latent 0, SAELens's keeps latent 1 (0.5 x 1 > 0.9 x 0.1), for TopK and for
    BatchTopK in training and at inference (whose threshold is on the same scores)."""
    x = jnp.asarray([[0.9, 0.5, 0.0, 0.0]])
    for architecture in ("topk", "batchtopk"):
        kept = {}
        for recipe in ("superpose", "saelens"):
            config = sae_lib.SAEConfig(architecture=architecture, n_latents=4, k=1, recipe=recipe)
            sae = _sae(config, 4)
            sae.W_enc_DxL[...] = jnp.eye(4)
            sae.W_dec_LxD[...] = jnp.diag(jnp.asarray([0.1, 1.0, 1.0, 1.0]))
            f = np.asarray(sae.encode(x)[0])
            kept[recipe] = np.flatnonzero(f[0])
            np.testing.assert_allclose(f[0, kept[recipe]], np.asarray(x)[0, kept[recipe]])  # values: ReLU(h)
        assert list(kept["superpose"]) == [0] and list(kept["saelens"]) == [1], architecture
    f = np.asarray(sae.encode(x, training=False, threshold=0.3)[0])  # scores 0.09 and 0.5
    assert list(np.flatnonzero(f[0])) == [1]


def test_saelens_recipe_auxk_uses_raw_pre_activations_of_dead_latents():
    """Dead latents 2 and 3 have pre-activations −0.5 and 0.2, alive latent 0 has 3: with k_aux = 2 SAELens's
    AuxK reconstructs the residual from h_2 = −0.5 and h_3 = 0.2 as they are (superpose's from ReLU: 0 and
    0.2), summing the squared error over dimensions, scaled by min(n_dead / k_aux, 1) = 1, weight 1."""
    x = jnp.asarray([[3.0, 0.0, -0.5, 0.2]])
    dead = jnp.asarray([False, False, True, True])
    x_hat = jnp.zeros((1, 4))
    for recipe, f_aux in (("saelens", [0, 0, -0.5, 0.2]), ("superpose", [0, 0, 0.0, 0.2])):
        config = sae_lib.SAEConfig(architecture="topk", n_latents=4, k=1, aux_k=2, recipe=recipe)
        sae = _sae(config, 4)
        sae.W_dec_LxD[...] = jnp.eye(4)
        h = x  # W_enc = I, zero biases
        residual = np.asarray(x - x_hat)[0]
        error = (residual - np.asarray(f_aux)) ** 2
        expected = error.sum() if recipe == "saelens" else error.mean()
        np.testing.assert_allclose(float(sae.aux_k_loss(x, x_hat, h, dead)), expected, rtol=1e-6)
        weight = 1.0 if recipe == "saelens" else config.aux_coefficient
        penalty = sae.penalties(x, h, None, x_hat, 0.0, dead)[0]
        np.testing.assert_allclose(float(penalty), weight * expected, rtol=1e-6)


def test_saelens_recipe_initialisation_widths_and_free_decoder():
    config = sae_lib.SAEConfig(architecture="matryoshka", n_latents=4096, k=8, recipe="saelens")
    assert config.widths() == (128, 512, 2048, 4096)
    small = sae_lib.SAEConfig(architecture="matryoshka", n_latents=512, recipe="saelens")
    assert small.widths() == (16, 64, 256, 512)  # the same fractions of a smaller dictionary
    assert sae_lib.SAEConfig(architecture="matryoshka", n_latents=512).widths() == (128, 256, 512)
    assert not config.renormalises and sae_lib.SAEConfig().renormalises
    sae = _sae(sae_lib.SAEConfig(architecture="topk", n_latents=32, recipe="saelens"), 8)
    np.testing.assert_allclose(np.linalg.norm(np.asarray(sae.W_dec_LxD[...]), axis=1), 0.1, rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(sae.W_enc_DxL[...]), np.asarray(sae.W_dec_LxD[...]).T)
    x = jax.random.normal(jax.random.key(0), (16, 8))
    assert float(sae_lib.reconstruction_error(config, x, 0 * x)) == pytest.approx(float(jnp.mean(x**2)) * 8)
    with pytest.raises(ConfigError, match="recipe 'saelens' applies to the top-k family"):
        sae_lib.SAEConfig(architecture="l1", recipe="saelens")


def test_batch_topk_keeps_batch_times_k_values():
    config = sae_lib.SAEConfig(architecture="batchtopk", n_latents=12, k=3)
    sae = _sae(config, 6)
    sae.b_enc_L[...] = jnp.full(12, 5.0)  # every pre-activation positive
    x = jax.random.normal(jax.random.key(2), (32, 6))
    f, h = sae.encode(x)
    counts = np.sum(np.asarray(f) > 0, axis=1)
    assert counts.sum() == 32 * 3
    assert counts.min() != counts.max()  # a batch budget, not a per-sample one
    kept = np.sort(np.asarray(h).ravel())[-96:]
    np.testing.assert_allclose(np.sort(np.asarray(f)[np.asarray(f) > 0]), kept, rtol=1e-6)


def test_batch_topk_inference_uses_the_threshold():
    config = sae_lib.SAEConfig(architecture="batchtopk", n_latents=4, k=1)
    sae = _sae(config, 4)
    sae.W_enc_DxL[...] = jnp.eye(4)
    x = jnp.asarray([[0.1, 0.5, 0.9, -1.0]])
    f, _ = sae.encode(x, threshold=0.4, training=False)
    np.testing.assert_allclose(np.asarray(f), [[0.0, 0.5, 0.9, 0.0]])


def test_jumprelu_forward_and_pseudo_derivatives():
    eps = 0.01
    h = jnp.asarray([0.5, 0.996, 1.004, 1.5])
    theta = jnp.full(4, 1.0)
    np.testing.assert_allclose(jump_relu(h, theta, eps), [0.0, 0.0, 1.004, 1.5])
    grad_theta = jax.grad(lambda t: jnp.sum(jump_relu(h, t, eps)))(theta)
    np.testing.assert_allclose(grad_theta, [0.0, -1.0 / eps, -1.0 / eps, 0.0])  # -(θ/ε)·K, θ = 1
    grad_h = jax.grad(lambda v: jnp.sum(jump_relu(v, theta, eps)))(h)
    np.testing.assert_allclose(grad_h, [0.0, 0.0, 1.0, 1.0])
    grad_step = jax.grad(lambda t: jnp.sum(step_function(h, t, eps)))(jnp.full(4, 2.0) / 2)
    np.testing.assert_allclose(grad_step, [0.0, -1.0 / eps, -1.0 / eps, 0.0])
    grad_step_h = jax.grad(lambda v: jnp.sum(step_function(v, theta, eps)))(h)
    np.testing.assert_allclose(grad_step_h, 0.0)


def test_gated_forward_matches_its_equation():
    config = sae_lib.SAEConfig(architecture="gated", n_latents=3)
    rng = np.random.default_rng(0)
    p = {"W_enc_DxL": rng.normal(size=(2, 3)).astype(np.float32), "b_enc_L": np.asarray([0.1, -0.2, 0.0]),
         "W_dec_LxD": rng.normal(size=(3, 2)).astype(np.float32), "b_dec_D": np.asarray([0.3, -0.1]),
         "r_mag_L": np.asarray([0.0, 0.5, -0.5]), "b_mag_L": np.asarray([0.2, 0.1, -0.3])}
    x = jnp.asarray(rng.normal(size=(5, 2)), jnp.float32)
    f, _ = sae_lib.model(config, p).encode(x)
    xc = np.asarray(x) - p["b_dec_D"]
    gate = (xc @ p["W_enc_DxL"] + p["b_enc_L"]) > 0
    mag = xc @ (p["W_enc_DxL"] * np.exp(p["r_mag_L"])) + p["b_mag_L"]
    np.testing.assert_allclose(np.asarray(f), gate * np.maximum(mag, 0), rtol=1e-5, atol=1e-6)


def test_config_refuses_bad_values():
    with pytest.raises(ConfigError, match="k .* cannot exceed n_latents"):
        sae_lib.SAEConfig(architecture="topk", n_latents=4, k=5)
    with pytest.raises(ConfigError, match="architecture must be one of"):
        sae_lib.SAEConfig(architecture="relu")
    with pytest.raises(ConfigError, match="did you mean 'n_latents'"):
        sae_lib.sae_replace(sae_lib.SAEConfig(), n_latent=3)


# --- metric oracles -----------------------------------------------------------------------------------------


def test_permuted_flipped_rescaled_truth_scores_one():
    true = groundtruth.random_directions(40, 16, seed=3)  # superposed: 40 features in 16 dims
    rng = np.random.default_rng(4)
    signs, scales = rng.choice([-1.0, 1.0], 40)[:, None], rng.uniform(0.1, 5, 40)[:, None]
    learned = true[rng.permutation(40)] * signs * scales
    m = recovery.direction_metrics(true, learned)
    for key in ("mmcs_true", "mmcs_learned", "mcc", "recovered_99"):
        assert m[key] == pytest.approx(1.0, abs=1e-5), key


def test_both_conventions_of_mcc_f1_uniqueness_and_shrinkage():
    """superpose's conventions and SAELens's (synthetic evals), named apart. Two perfect latents, one dead
    latent pointing at a feature the others cover, on 4 true features; the SAE halves its input."""
    true = np.eye(4)
    learned = np.eye(4)[[0, 1, 0]] * 0.5
    cos = recovery.cosine_matrix(true, learned)
    assert recovery.mcc(cos[:, :2]) == pytest.approx(0.5) and recovery.mcc_matched_pairs(cos[:, :2]) == 1.0
    assert recovery.mcc_matched_pairs(cos) == pytest.approx(
        2 / 3
    )  # 3 pairs; the duplicate gets a cos-0 partner
    assert recovery.mcc_matched_pairs(cos[:2]) == recovery.mcc(cos[:2]) == 1.0  # L >= G: the same number

    x = jnp.asarray(
        np.abs(np.random.default_rng(0).normal(size=(512, 4)))
        * (np.random.default_rng(1).random((512, 4)) < 0.3),
        jnp.float32,
    )
    config = sae_lib.SAEConfig(architecture="l1", n_latents=3)
    params = {
        "W_enc_DxL": jnp.asarray(learned.T * 2),
        "b_enc_L": jnp.asarray([0.0, 0.0, -100.0]),
        "W_dec_LxD": jnp.asarray(learned),
        "b_dec_D": jnp.zeros(4),
    }
    stats = evaluation._stats_one(config, params, 0.0, (x > 0).T.astype(jnp.float32), x)
    m = evaluation.activation_metrics(jax.tree.map(np.asarray, stats), cos)
    assert m["dead_latents"] == 1 and m["f1"] == pytest.approx(1.0) and m["uniqueness"] == 1.0
    assert m["f1_all_latents"] == pytest.approx(2 / 3) and m["precision_all_latents"] == pytest.approx(2 / 3)
    assert m["uniqueness_all_latents"] == pytest.approx(2 / 3)  # features 0 and 1 over 3 latents
    on_01 = np.asarray(x)[:, :2]
    keep = np.linalg.norm(np.asarray(x), axis=1) > 1e-6
    expected = np.mean(
        0.5 * np.linalg.norm(on_01[keep], axis=1) / np.linalg.norm(np.asarray(x)[keep], axis=1)
    )
    assert m["norm_ratio"] == pytest.approx(expected, rel=1e-5)  # SAELens: mean ‖x̂‖/‖x‖
    assert m["shrinkage"] == pytest.approx(0.5, rel=1e-5)  # γ = E‖x̂‖²/E[x·x̂] = 0.25/0.5 on the kept part


def test_random_dictionary_scores_low():
    true = groundtruth.random_directions(64, 64, seed=5)
    learned = groundtruth.random_directions(64, 64, seed=6)
    m = recovery.direction_metrics(true, learned)
    assert m["mcc"] < 0.4 and m["mmcs_true"] < 0.6 and m["recovered_90"] == 0.0


def test_sae_at_the_ground_truth_scores_above_099():
    """Orthonormal features, encoder = decoder = truth and a tiny negative bias (so that float round-off
    in x·d_g does not count as firing): the codes are recovered."""
    source = groundtruth.synthetic_source(
        groundtruth.random_directions(16, 24, seed=7), groundtruth.constant_probabilities(16, 0.1)
    )
    config = sae_lib.SAEConfig(architecture="l1", n_latents=16)
    truth = np.asarray(source.directions_GxD)
    params = {
        "W_enc_DxL": truth.T,
        "b_enc_L": np.full(16, -1e-4),
        "W_dec_LxD": truth,
        "b_dec_D": np.zeros(24),
    }
    result = sae_lib.SAEResult(
        {k: np.asarray(a, np.float32)[None] for k, a in params.items()}, np.zeros(1), None, None, None
    )
    stats = evaluation.activation_stats(config, result, source, n_eval=4096)
    cos = recovery.cosine_matrix(truth, truth)
    m = evaluation.activation_metrics(jax.tree.map(lambda a: a[0], stats), cos)
    assert m["f1"] > 0.99 and m["uniqueness"] == 1.0 and m["explained_variance"] > 0.999
    assert m["l0"] == pytest.approx(m["true_l0"], rel=1e-3) and m["true_l0"] == pytest.approx(1.6, rel=0.1)
    assert m["shrinkage"] == pytest.approx(1.0, abs=1e-3) and m["dead_latents"] == 0
    assert recovery.direction_metrics(truth, truth)["mcc"] > 0.99


def test_absorption_rate_counts_silent_parent_latents():
    """Parent 0 with children 1, 2: a parent latent that never fires with a child is fully absorbed."""
    cos = np.eye(3)
    both = np.asarray([[50.0, 0.0, 0.0], [0.0, 10.0, 0.0], [0.0, 0.0, 10.0]])
    stats = evaluation.ActivationStats(
        100.0,
        both.diagonal(),
        np.asarray([50.0, 10.0, 10.0]),
        both,
        0.0,
        np.zeros(3),
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert evaluation.absorption_rate(stats, cos, np.asarray([-1, 0, 0])) == 1.0
    both[0, 1:] = 10.0
    assert evaluation.absorption_rate(stats._replace(both_LxG=both), cos, np.asarray([-1, 0, 0])) == 0.0


def test_hierarchy_children_fire_only_with_their_parent():
    source = groundtruth.hierarchical_source(16, 2, 3, parent_probability=0.3, child_probability=0.5)
    codes, x = groundtruth.sample(source, jax.random.key(0), 20000)
    on = np.asarray(codes) > 0
    assert not np.any(on[2:5] & ~on[0]) and not np.any(on[5:8] & ~on[1])
    np.testing.assert_allclose(on[2:].mean(1), 0.15, atol=0.01)
    np.testing.assert_allclose(
        np.asarray(x), np.asarray(codes).T @ np.asarray(source.directions_GxD), atol=1e-5
    )


def test_copula_keeps_marginals_and_correlates():
    corr = np.asarray([[1.0, 0.8], [0.8, 1.0]])
    source = groundtruth.synthetic_source(
        np.eye(2, dtype=np.float32), np.asarray([0.2, 0.2]), correlation_GxG=corr
    )
    codes, _ = groundtruth.sample(source, jax.random.key(0), 50000)
    on = np.asarray(codes) > 0
    np.testing.assert_allclose(on.mean(1), 0.2, atol=0.01)
    assert np.corrcoef(on)[0, 1] > 0.4

"""Bring-your-own activations: an SAE trained on arrays drawn from a generated source matches one trained on
the source itself, and the array files are read as the documented format, streamed."""

import jax
import numpy as np
import pytest
from safetensors.numpy import save_file

from superpose.data import groundtruth, user_arrays
from superpose.sae import group as sae_group
from superpose.sae import model as sae_lib
from superpose.validate import ConfigError

SOURCE = groundtruth.synthetic_source(groundtruth.random_directions(12, 6, 0),
                                      groundtruth.constant_probabilities(12, 0.08))
CONFIGS = [
    sae_lib.SAEConfig(
        architecture="topk",
        n_latents=12,
        k=2,
        steps=1500,
        batch_size=256,
        log_every=250,
        seed=s,
        resample="random",
    )
    for s in range(2)
]


@pytest.fixture(scope="module")
def drawn(tmp_path_factory):
    """200,000 samples of SOURCE written as .npz (with the truth), .npy and safetensors."""
    codes_GxN, x_NxD = (np.asarray(a) for a in groundtruth.sample(SOURCE, jax.random.key(5), 200_000))
    folder = tmp_path_factory.mktemp("arrays")
    truth = np.asarray(SOURCE.directions_GxD)
    np.savez(folder / "all.npz", activations=x_NxD, directions=truth, codes=codes_GxN.T)
    np.save(folder / "x.npy", x_NxD)
    save_file(
        {"activations": x_NxD, "directions": truth, "codes": np.ascontiguousarray(codes_GxN.T)},
        str(folder / "all.safetensors"),
    )
    return folder, codes_GxN, x_NxD


@pytest.fixture(scope="module")
def trained_on_source():
    return sae_lib.train(CONFIGS, SOURCE, progress=False)


def test_training_on_drawn_arrays_matches_training_on_the_source(drawn, trained_on_source):
    """Same SAEs, same seeds; only the batches differ (rows of the file vs fresh draws). 1,500 steps x 256
    samples is 1.9 epochs of the 200,000 rows. True codes misaligned with their rows by one fail this
    (F1 0.08 instead of 0.35-0.47); the order of the rows is tested below."""
    folder = drawn[0]
    on_source = sae_group.evaluate(CONFIGS, trained_on_source, SOURCE)
    source = user_arrays.open_source(folder / "all.npz")
    on_arrays = sae_group.evaluate(CONFIGS, sae_lib.train(CONFIGS, source, progress=False), source)
    for a, b in zip(on_source, on_arrays):
        for name, tolerance in [
            ("mcc", 0.03),
            ("mmcs_true", 0.02),
            ("f1", 0.04),
            ("explained_variance", 0.01),
            ("l0", 0.05),
        ]:
            assert a[name] == pytest.approx(b[name], abs=tolerance), (name, a[name], b[name])
        assert a["mcc"] > 0.75 and a["explained_variance"] > 0.85


def test_array_files_are_memory_mapped_and_read_alike(drawn):
    folder, codes_GxN, x_NxD = drawn
    npy = user_arrays.open_source(folder / "x.npy")
    tensors = user_arrays.open_source(folder / "all.safetensors")
    assert isinstance(npy.activations, np.memmap) and isinstance(tensors.activations, np.memmap)
    np.testing.assert_array_equal(tensors.codes, codes_GxN.T)
    np.testing.assert_array_equal(tensors.directions, np.asarray(SOURCE.directions_GxD))
    batches = npy.chunk(3, 2, 64)  # steps 3 and 4 at batch 64
    np.testing.assert_array_equal(batches, tensors.chunk(3, 2, 64))
    np.testing.assert_array_equal(batches.reshape(-1, 6), x_NxD[npy.rows(3 * 64, 2 * 64)])
    codes, x = tensors.evaluation_batch(100)
    np.testing.assert_array_equal(x, x_NxD[:100])
    np.testing.assert_array_equal(codes, codes_GxN[:, :100])


def test_each_epoch_visits_every_training_row_once():
    source = user_arrays.ArraySource(
        np.arange(70, dtype=np.float32).reshape(35, 2), train_rows=slice(5, None)
    )
    rows = source.rows(0, 90)  # three epochs of 30
    for epoch in range(3):
        assert sorted(rows[30 * epoch : 30 * (epoch + 1)]) == list(range(5, 35))
    assert not np.array_equal(rows[:30], rows[30:60])  # a fresh order every epoch
    np.testing.assert_array_equal(source.rows(45, 20), rows[45:65])  # any window of the stream agrees


def test_bad_arrays_end_in_one_line(tmp_path):
    np.save(tmp_path / "ints.npy", np.zeros((4, 3), np.int32))
    np.savez(tmp_path / "other.npz", weights=np.zeros((4, 3)))
    np.savez(tmp_path / "mismatch.npz", activations=np.zeros((4, 3), np.float32), directions=np.zeros((5, 2)))
    for name, message in [
        ("missing.npy", "no such array file"),
        ("ints.npy", "floating point"),
        ("other.npz", "no array named 'activations'"),
        ("mismatch.npz", "G x 3"),
    ]:
        with pytest.raises(ConfigError, match=message):
            user_arrays.open_source(tmp_path / name)


def test_superpose_evaluate_scores_an_sae_on_an_array_file(drawn, tmp_path, capsys):
    """`superpose evaluate SAE --source file:PATH`: the SAE at the ground truth scores MCC 1 on the file's
    truth; without a truth in the file only reconstruction metrics come back."""
    import json

    from superpose.app.cli import main
    from superpose.sae import saelens

    folder = drawn[0]
    truth = np.asarray(SOURCE.directions_GxD)
    params = {
        "W_enc_DxL": truth.T,
        "b_enc_L": np.full(12, -1e-4, np.float32),
        "W_dec_LxD": truth,
        "b_dec_D": np.zeros(6, np.float32),
    }
    saelens.write(tmp_path / "sae", sae_lib.SAEConfig(architecture="l1", n_latents=12), params)
    assert main(["evaluate", str(tmp_path / "sae"), "--source", f"file:{folder / 'all.npz'}", "--json"]) == 0
    full = json.loads(capsys.readouterr().out)
    assert full["mcc"] > 0.999 and full["mmcs_true"] > 0.999 and 0 < full["f1"] < 1  # 12 features in 6 dims
    assert main(["evaluate", str(tmp_path / "sae"), "--source", f"file:{folder / 'x.npy'}", "--json"]) == 0
    bare = json.loads(capsys.readouterr().out)
    assert "mcc" not in bare and "f1" not in bare
    assert bare["explained_variance"] == pytest.approx(full["explained_variance"], rel=1e-6)
    assert main(["evaluate", str(tmp_path / "sae"), "--source", f"file:{tmp_path / 'none.npy'}"]) == 2


def test_recorded_batches_train_bit_for_bit_like_the_source(tmp_path, trained_on_source):
    """`user_arrays.record` writes exactly the batches a group draws from its source, so SAEs trained on the
    recording equal SAEs trained on the source."""
    recorded = user_arrays.record(SOURCE, CONFIGS[0].steps, CONFIGS[0].batch_size, tmp_path / "batches.npy")
    on_record = sae_lib.train(CONFIGS, recorded, progress=False)
    for name, value in trained_on_source.params.items():
        np.testing.assert_array_equal(on_record.params[name], value, err_msg=name)

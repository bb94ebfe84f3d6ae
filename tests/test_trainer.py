"""The trainer on toy models: equivalence, determinism, compile-once, divergence, blocks and pieces."""

import dataclasses

import numpy as np
import pytest

from superpose.toy.config import ToyConfig
from superpose.toy.training import hyper_arrays, learner, train
from superpose.train.trainer import block_size, compiled_chunk, graphdef
from superpose.validate import ConfigError

SMALL = ToyConfig(n_features=5, n_hidden=2, importance_decay=0.9, steps=300, batch_size=256, log_every=100)


def _configs(probs, seeds=None):
    seeds = seeds or [0] * len(probs)
    return [dataclasses.replace(SMALL, feature_probability=p, seed=s) for p, s in zip(probs, seeds)]


def test_vmapped_instances_equal_separate_runs():
    configs = _configs([1.0, 0.1, 0.03], seeds=[0, 1, 2])
    together = train(configs, progress=False)
    for i, c in enumerate(configs):
        alone = train([c], progress=False)
        np.testing.assert_allclose(together.W_IxFxH[i], alone.W_IxFxH[0], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(together.b_IxF[i], alone.b_IxF[0], rtol=1e-5, atol=1e-6)


def test_a_group_too_big_for_memory_trains_in_pieces(monkeypatch):
    configs = _configs([1.0, 0.1, 0.03], seeds=[0, 1, 2])
    whole = train(configs, progress=False)
    monkeypatch.setenv("SUPERPOSE_MEMORY_BUDGET_GB", str(2.5 * learner(configs).bytes_per_instance() / 2**30))
    pieces = train(configs, progress=False)  # 2 + 1 instances
    np.testing.assert_allclose(pieces.W_IxFxH, whole.W_IxFxH, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pieces.loss_steps_C, whole.loss_steps_C)
    assert pieces.loss_IxC.shape == whole.loss_IxC.shape


def test_instances_in_cache_sized_blocks_equal_one_vmap(monkeypatch):
    configs = _configs([1.0, 0.3, 0.1, 0.05, 0.02], seeds=[0, 1, 2, 3, 4])
    monkeypatch.setenv("SUPERPOSE_BLOCK_INSTANCES", "0")
    whole = train(configs, progress=False)
    monkeypatch.setenv("SUPERPOSE_BLOCK_INSTANCES", "2")  # blocks of 2, 2 and a remainder of 1
    blocked = train(configs, progress=False)
    np.testing.assert_allclose(blocked.W_IxFxH, whole.W_IxFxH, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(blocked.loss_IxC, whole.loss_IxC, rtol=1e-5, atol=1e-7)


def test_blocks_by_default_only_many_small_instances_on_cpu(monkeypatch):
    monkeypatch.delenv("SUPERPOSE_BLOCK_INSTANCES", raising=False)
    phase = learner([ToyConfig(n_features=2, n_hidden=1)])
    assert 100 <= block_size(phase) <= 200  # ~98 kB each in a 16 MiB block
    assert block_size(learner([ToyConfig(n_features=200, n_hidden=20)])) is None  # 7 MB each
    monkeypatch.setenv("SUPERPOSE_BLOCK_INSTANCES", "lots")
    with pytest.raises(ConfigError, match="SUPERPOSE_BLOCK_INSTANCES"):
        block_size(phase)


def test_same_seed_gives_identical_arrays_and_new_seed_differs():
    a = train(_configs([0.1, 0.05], seeds=[3, 4]), progress=False)
    b = train(_configs([0.1, 0.05], seeds=[3, 4]), progress=False)
    c = train(_configs([0.1, 0.05], seeds=[5, 6]), progress=False)
    assert np.array_equal(a.W_IxFxH, b.W_IxFxH) and np.array_equal(a.loss_IxC, b.loss_IxC)
    assert not np.allclose(a.W_IxFxH, c.W_IxFxH)


def _chunk(configs):
    """The compiled chunk the trainer runs for these configs (one device, no blocks here)."""
    toy = learner(configs)
    hyper = hyper_arrays(configs)
    definition = graphdef(toy, np.uint32(0), type(hyper)(*[a[0] for a in hyper]))
    return compiled_chunk(toy, definition, 100, block_size(toy))


def test_new_sparsity_does_not_recompile():
    first = _configs([0.5, 0.2])
    train(first, progress=False)
    fn = _chunk(first)
    size = fn._cache_size()
    train(_configs([0.01, 0.9], seeds=[7, 8]), progress=False)
    train([dataclasses.replace(c, learning_rate=3e-3, importance_decay=0.5) for c in first], progress=False)
    assert fn._cache_size() == size


def test_divergence_is_reported_per_instance():
    configs = _configs([0.5, 0.5])
    configs[1] = dataclasses.replace(configs[1], learning_rate=1e30)
    out = train(configs, progress=False)
    assert out.diverged_step_I[0] == -1
    assert out.diverged_step_I[1] > 0
    assert np.isfinite(out.W_IxFxH[0]).all()


def test_loss_decreases():
    """In 300 steps the last chunk's loss falls to 0.34-0.86 of the first's over seeds 0-7, 1000 and 2000."""
    out = train(_configs([0.1] * 4, seeds=[0, 1, 2, 3]), progress=False)
    assert out.loss_IxC.shape == (4, 3)
    ratio = out.loss_IxC[:, -1] / out.loss_IxC[:, 0]
    assert np.all(ratio < 0.95) and np.median(ratio) < 0.75, ratio


def test_an_sae_group_split_into_memory_pieces_equals_one_program(monkeypatch):
    """Three SAEs, each on its own source, in pieces of 2 + 1: the sources are split with the SAEs."""
    from superpose.data import groundtruth
    from superpose.sae import model as sae_lib

    sources = [groundtruth.synthetic_source(groundtruth.random_directions(10, 6, s),
                                            groundtruth.constant_probabilities(10, 0.1)) for s in range(3)]
    configs = [
        sae_lib.SAEConfig(
            architecture="topk", n_latents=12, k=2, steps=200, log_every=100, batch_size=64, seed=s
        )
        for s in range(3)
    ]
    whole = sae_lib.train(configs, groundtruth.stack(sources), progress=False)
    per_sae = sae_lib.SAELearner(sae_lib.static_config(configs), 6, True).bytes_per_instance()
    monkeypatch.setenv("SUPERPOSE_MEMORY_BUDGET_GB", str(2.5 * per_sae / 2**30))
    pieces = sae_lib.train(configs, groundtruth.stack(sources), progress=False)
    for name, value in whole.params.items():
        np.testing.assert_allclose(pieces.params[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    np.testing.assert_allclose(pieces.loss_IxC, whole.loss_IxC, rtol=1e-5, atol=1e-7)
    assert not np.allclose(whole.params["W_dec_LxD"][0], whole.params["W_dec_LxD"][1])  # each its own source

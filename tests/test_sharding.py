"""The instance axis shards over devices and gives the single-device results, for toy models and SAEs."""

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys, numpy as np, jax
from superpose.train import trainer
assert jax.device_count() == int(sys.argv[1]), jax.devices()
if sys.argv[3] == "toy":
    from superpose.toy.config import ToyConfig
    from superpose.toy.training import train
    configs = [ToyConfig(feature_probability=p, seed=s, steps=200, batch_size=128)
               for p, s in zip([1.0, 0.3, 0.1, 0.05, 0.02], range(5))]   # 5: not a multiple of 4
    out = train(configs, progress=False)
    arrays = dict(W=out.W_IxFxH, b=out.b_IxF, loss=out.loss_IxC)
    from superpose.toy import training
    learner, hyper = training.learner(configs), training.hyper_arrays(configs)
else:
    from superpose.data import groundtruth
    from superpose.sae import model as sae
    source = groundtruth.synthetic_source(groundtruth.random_directions(12, 6, 0),
                                          groundtruth.constant_probabilities(12, 0.15))
    if sys.argv[3] == "sae-stacked":
        source = groundtruth.stack([source] * 5)
    configs = [sae.SAEConfig(architecture="jumprelu", n_latents=16, steps=200, batch_size=128, log_every=100,
                             sparsity_coefficient=c, resample="random", resample_every=100,
                             resample_window=20, seed=s) for s, c in enumerate([0.01, 0.02, 0.03, 0.05, 0.1])]
    out = sae.train(configs, source, progress=False)
    arrays = dict(loss=out.loss_IxC, threshold=out.threshold_I, **out.params)
    learner = sae.SAELearner(sae.static_config(configs), 6, sys.argv[3] == "sae-stacked")
    hyper = sae.Hyper(np.zeros(5, np.float32), np.ones(5, np.float32))
definition = trainer.graphdef(learner, np.uint32(0), jax.tree.map(lambda a: a[0], hyper))
chunk = trainer.compiled_chunk(learner, definition, 100, trainer.block_size(learner))
assert chunk._cache_size() == 1, "the sharded state from init must not make the chunk compile again"
np.savez(sys.argv[2], **arrays)
"""


def _run(n_devices, path, kind, block=0):
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n_devices}".strip()
    env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu", SUPERPOSE_BLOCK_INSTANCES=str(block))
    subprocess.run([sys.executable, "-c", SCRIPT, str(n_devices), str(path), kind], env=env, check=True)
    return np.load(path)


CONTINUOUS = dict(rtol=1e-5, atol=1e-6)
"""Toy models: a smooth loss, so 1 and N devices differ only where a reduction is ordered differently, and
training carries that round-off along without jumps. Measured: bit for bit here (AVX-512, and under
--xla_cpu_max_isa=AVX); the bound is 20x the largest cross-platform difference of the golden cases
(4.4e-7)."""

JUMPRELU = dict(rtol=1e-5, atol=1e-3)
"""JumpReLU SAEs are discontinuous: a Heaviside gate in the forward pass and a rectangle pseudo-derivative of
width `bandwidth` for the threshold. When round-off moves one pre-activation across the threshold or the
kernel's edge, that step's gradient jumps by a finite amount, and Adam turns it into a changed update of at
most about the learning rate (1e-3 here) per parameter; later steps carry it on. Measured: 2.4e-7 at most on
this machine (AVX-512, and under AVX), 8.7e-5 on log_threshold_L on an AMD EPYC with AVX2 only. A sharding
bug (instances swapped, a device's data or resampling applied to another's) moves parameters by O(0.1-1)."""


def _same(one, other, tolerance):
    assert set(one.files) == set(other.files)
    for key in one.files:
        assert one[key].shape == other[key].shape, key
        np.testing.assert_allclose(one[key], other[key], err_msg=key, **tolerance)


def test_four_devices_equal_one(tmp_path):
    one = _run(1, tmp_path / "one.npz", "toy")
    _same(one, _run(4, tmp_path / "four.npz", "toy"), CONTINUOUS)
    _same(
        one, _run(4, tmp_path / "four_blocked.npz", "toy", block=1), CONTINUOUS
    )  # 2 instances per device, one at a time


def test_sae_groups_shard_over_four_devices_like_one(tmp_path):
    """Shared and per-SAE sources; jumprelu with resampling, so the threshold and the resampled Adam
    moments travel through the sharded program."""
    for kind in ("sae", "sae-stacked"):
        _same(_run(1, tmp_path / f"{kind}1.npz", kind), _run(4, tmp_path / f"{kind}4.npz", kind), JUMPRELU)

"""The instance axis shards over devices and gives the single-device results."""

import os
import subprocess
import sys

import numpy as np

SCRIPT = """
import sys, numpy as np, jax
from superpose.config import ToyConfig
from superpose.engine import block_size, compiled_chunk, static_config, train
assert jax.device_count() == int(sys.argv[1]), jax.devices()
configs = [ToyConfig(feature_probability=p, seed=s, steps=200, batch_size=128)
           for p, s in zip([1.0, 0.3, 0.1, 0.05, 0.02], range(5))]   # 5: not a multiple of 4
out = train(configs, progress=False)
static = static_config(configs)
chunk = compiled_chunk(static, min(static.log_every, static.steps), block_size(static))
assert chunk._cache_size() == 1, "the sharded state from init must not make the chunk compile again"
np.savez(sys.argv[2], W=out.W_IxFxH, b=out.b_IxF, loss=out.loss_IxC)
"""


def _run(n_devices, path, block=0):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={n_devices}", JAX_PLATFORMS="cpu",
               SUPERPOSE_BLOCK_INSTANCES=str(block))
    subprocess.run([sys.executable, "-c", SCRIPT, str(n_devices), str(path)], env=env, check=True)
    return np.load(path)


def test_four_devices_equal_one(tmp_path):
    one = _run(1, tmp_path / "one.npz")
    four = _run(4, tmp_path / "four.npz")
    four_blocked = _run(4, tmp_path / "four_blocked.npz", block=1)  # 2 instances per device, one at a time
    for key in ("W", "b", "loss"):
        for other in (four, four_blocked):
            assert one[key].shape == other[key].shape
            np.testing.assert_allclose(one[key], other[key], rtol=1e-5, atol=1e-6)

import os

import jax
import pytest

os.environ.setdefault("SUPERPOSE_COMPILATION_CACHE", "0")  # tests write nothing outside their tmp folders

jax.config.update("jax_debug_key_reuse", True)
# Start JAX's backend now, with its default single CPU device, so the device count of this process does not
# depend on which test runs first (the command line's `main` asks for one device per core when it is the
# first to start JAX; a golden result trained on two devices differs from one trained on one in the last bit).
jax.devices()


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")

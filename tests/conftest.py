import os

import jax
import pytest

os.environ.setdefault("SUPERPOSE_COMPILATION_CACHE", "0")  # tests write nothing outside their tmp folders

jax.config.update("jax_debug_key_reuse", True)


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")

import jax
import pytest

jax.config.update("jax_debug_key_reuse", True)


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")

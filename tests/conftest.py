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


@pytest.fixture(scope="session")
def quick_root(tmp_path_factory):
    """One output root for the experiments' quick results, shared by every test that reads them (each
    experiment is trained once per session) and by the scorecard test, which then only evaluates."""
    return tmp_path_factory.mktemp("quick")


@pytest.fixture(scope="session")
def quick_results(quick_root):
    """`quick_results(name)`: the experiment's quick results under quick_root, trained on first use."""
    from superpose.experiment import registry

    manifests = {}

    def get(name: str):
        if name not in manifests:
            manifests[name] = registry()[name].train(quick_root / "results", quick=True, progress=False)
        return manifests[name]

    return get

import os

import jax
import pytest

os.environ.setdefault("SUPERPOSE_COMPILATION_CACHE", "0")  # tests write nothing outside their tmp folders

jax.config.update("jax_debug_key_reuse", True)
# Start JAX's backend now, with its default single CPU device, so the device count of this process does not
# depend on which test runs first (the command line's `main` asks for one device per core when it is the
# first to start JAX; a golden result trained on two devices differs from one trained on one in the last bit).
jax.devices()


TRAINING_MODULES = {
    "test_circuits_experiments",
    "test_sae_experiments",
    "test_spd_experiments",
    "test_science_basic",
    "test_science_circuits",
    "test_science_dynamics",
    "test_science_geometry",
    "test_science_intro",
    "test_science_panels",
    "test_science_perturb",
    "test_science_sae",
    "test_science_scaling",
    "test_scorecard",
    "test_notebook",
    "test_docs",
    "test_extending",
    "test_command_line",
    "test_reliability",
    "test_sharding",
    "test_golden",
    "test_cli",
    "test_phase",
    "test_processes",
}
"""Test files that train experiments, goldens or whole command runs: marked `trains`, as is every test that
asks for the experiments' quick results (fixtures below). Every other test (oracles, units, small trainings of
a few hundred steps) is marked `fast`: `python -m pytest -m fast` is the edit-test loop."""


QUICK_FIXTURES = {"quick_results", "quick_root"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    for item in items:
        uses_quick = bool(QUICK_FIXTURES & set(item.fixturenames))
        if item.path.stem in TRAINING_MODULES or uses_quick:
            item.add_marker(pytest.mark.trains)
        elif "slow" not in item.keywords:
            item.add_marker(pytest.mark.fast)


def pytest_report_header(config):
    """Where the suite runs: float results' last bits depend on it (superpose.processor)."""
    import platform

    from superpose import processor
    from superpose.train import rng

    return [
        f"processor: {processor.describe()}; python {platform.python_version()}",
        f"vector flags: {' '.join(processor.vector_flags()) or 'unknown'}",
        f"seed offset: {rng.seed_offset()} (${rng.SEED_OFFSET_VARIABLE})",
    ]


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
    from superpose.app.experiment import registry

    manifests = {}

    def get(name: str):
        if name not in manifests:
            manifests[name] = registry()[name].run(quick_root / "results", "quick", progress=False)
        return manifests[name]

    return get

"""The parameter-decomposition experiments at quick size, end to end: each asserts its figure's fact.

Calibration (2-core CPU, quick sizes, the TMS target the first clean one of
superpose.targets.group.TMS_CANDIDATES seeds):
SPD on TMS 5-2 succeeded (MMCS ≥ 0.99, ML2R in [0.95, 1.05]) in 2, 1 and 2 of 4 seeds at seed offsets 0, 1000
and 2000 (its best run MMCS 1.00 at each), so only the best run is asserted; APD reached MMCS ≥ 0.99 in 3, 2
and 3 of 4 with ML2R 0.88-0.90 (published 0.893); the identity of TMS 5-2+ID was covered by 2 dense pieces at
each. At quick size about half the SPD seeds fail: the paper's recipe (40k steps of batch 4096) is not what CI
affords.

Marked slow: the three experiments train for about 3.5 minutes on 2 cores, a third of the default suite's
budget. The methods themselves are tested in the default suite (tests/test_spd.py: SPD and APD at the truth,
vmapped decompositions equal separate runs, the targets)."""


import numpy as np
import pytest

from experiments import spd_resid_mlp, spd_robustness, spd_tms
from superpose.app import cli

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def out(tmp_path_factory):
    root = tmp_path_factory.mktemp("spd")
    manifests = {e.EXPERIMENT.name: e.EXPERIMENT.run(root / "results", "quick", progress=False)
                 for e in (spd_tms, spd_resid_mlp, spd_robustness)}
    return root, manifests


def test_spd_tms_reproduces_the_published_pattern(out):
    root, manifests = out
    manifest = manifests["spd-tms"]
    rows = {(r["target"], r["method"]): r for r in spd_tms.table(manifest)}
    spd_mmcs = manifest.load("spd-tms", "spd-tms_5-2").metric("mmcs")
    assert rows[("tms_5-2", "spd")]["successes"] >= 1 and spd_mmcs.max() >= 0.99
    apd = manifest.load("spd-tms", "apd-tms_5-2")
    good = apd.metric("mmcs") >= 0.99
    assert good.sum() >= 2
    assert np.all((apd.metric("ml2r")[good] > 0.85) & (apd.metric("ml2r")[good] < 0.93))  # APD shrinks: 0.893
    identity = manifest.load("spd-tms", "spd-tms_5-2-id")
    assert np.all(identity.metric("ci_error_I") == 0)  # I covered by 2 dense pieces
    assert rows[("tms_5-2", "sae")]["mmcs"] < 0.99 <= spd_mmcs.max()  # the SAE does not recover W's pieces
    paths = spd_tms.plot(manifest, root / "figures" / "spd-tms")
    assert all(p.stat().st_size > 10_000 for p in paths)


def test_spd_resid_mlp_splits_w_in_and_keeps_w_out_whole(out):
    root, manifests = out
    manifest = manifests["spd-resid-mlp"]
    run = manifest.load("spd-resid-mlp", "spd-resid_mlp1-small")
    assert np.all(run.metric("nc_correlation") > 0.95)  # measured 0.99
    # W_out kept whole (CI error 0) in 5 of 6 seeds over offsets 0, 1000, 2000 (one seed at 2000: 1)
    assert np.sum(run.metric("ci_error_W_out_tau0.2") == 0) >= 1
    l0_in = np.array([m["ci_l0"]["W_in.0"] for m in run.summary["metrics"]])
    assert np.all((l0_in > 0.5) & (l0_in < 1.5))  # about one W_in piece per active feature (E = 1)
    assert all(
        p.stat().st_size > 10_000 for p in spd_resid_mlp.plot(manifest, root / "figures" / "spd-resid-mlp")
    )


def test_spd_robustness_fails_when_minimality_dominates(out, capsys):
    root, manifests = out
    run = manifests["spd-robustness"].load("spd-robustness", "spd-tms_5-2")
    betas, _, ok, _ = spd_robustness.grid(run)
    assert betas == [1e-2, 1.0]
    assert ok[1].sum() == 0  # fails at β₃ = 1 (at 1e-2 one seed succeeds or fails as in spd-tms: no claim)
    # the command line finds the trained folders, prints the table and draws the figure
    assert cli.main(["run", "spd-robustness", "--quick", "--out", str(root), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "β₃ = 1: 0/1" in printed and (root / "figures" / "spd-robustness.png").is_file()


def test_decomposition_folders_load_as_what_was_trained(out):
    import superpose
    from superpose.decomposition.group import DecompositionGroup
    from superpose.targets.group import TargetGroup

    root, _ = out
    run = superpose.load(root / "results" / "spd-tms" / "spd-tms_5-2")
    assert isinstance(run, DecompositionGroup) and run.method == "spd"
    assert run.configs == spd_tms.spd_configs("tms_5-2", "quick")
    targets = superpose.load(root / "results" / "spd-tms" / "target-tms_5-2-id")
    assert isinstance(targets, TargetGroup)
    np.testing.assert_array_equal(targets.model(0).I[...], np.eye(2))  # frozen through training and saving
    decomposed = run.config["decomposition"]["target"]["instances"][
        0
    ]  # the first clean one of the candidates
    np.testing.assert_array_equal(
        run.target_params(0)["W"],
        superpose.load(root / "results" / "spd-tms" / "target-tms_5-2").arrays["W"][decomposed],
    )

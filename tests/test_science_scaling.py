"""Neural scaling from superposition (experiments/scaling.py; Liu, Liu & Gore 2025) at quick size: 100
features with p_i ∝ i^-a, widths 4-16, weight decay -1 (strong superposition) and +1 (weak).

Measured at seed offsets 0, 1000 and 2000 (AVX2 as AVX-512 at offset 0):
- strong: 99 or 100 of the 100 features represented at every width (100 at offsets 0 and 2000; at 1000 one
  is left out at one width); γ = 0.95, 1.18, 1.10 at a = 1.2, rising with a to 1.40,
  1.61, 1.42 at a = 2 (the paper's figure 6e: about 1 for a ≤ 1.5, rising beyond; docs/results/toy-models.md);
- weak: 6-9% of features represented; γ = 0.47, 0.42, 0.52 at a = 1.2 and 1.06, 0.69, 0.99 at a = 2 (the
  paper: a − 1, so 0.2 and 1.0);
- the mean squared overlap of the represented directions falls as m^-0.91 to m^-1.03 (the paper: 1/m)."""

import numpy as np
import pytest

from experiments import scaling


@pytest.fixture(scope="module")
def measured(quick_results):
    return scaling.measure(quick_results("scaling"))


def test_growth_gives_strong_and_decay_weak_superposition(measured):
    assert measured["regime"].tolist() == [["strong"] * 3, ["weak"] * 3]
    assert measured["represented"][0].min() >= 0.99
    m = np.asarray(measured["sizes"]["widths"])
    assert np.all(measured["represented"][1] <= m / 100 + 0.05)  # about the m most frequent, never more


def test_strong_superposition_scales_like_one_over_m(measured):
    """The loss exponent at a = 1.2 (near Zipf's law) within 0.25 of 1, and the squared overlaps of the
    represented directions falling like m^-1 within 0.2 at every a: the paper's mechanism."""
    assert abs(measured["exponent"][0, 0] - 1.0) <= 0.25, measured["exponent"][0]
    m = np.asarray(measured["sizes"]["widths"], float)
    overlap_exponents = [-np.polyfit(np.log(m), np.log(o), 1)[0] for o in measured["overlap"][0]]
    assert all(abs(g - 1.0) <= 0.2 for g in overlap_exponents), overlap_exponents


def test_weak_superposition_exponent_grows_with_the_frequency_exponent(measured):
    """The published direction: γ = a − 1 grows by 0.8 from a = 1.2 to 2; measured 0.27 to 0.59."""
    gamma = measured["exponent"][1]
    assert gamma[-1] > gamma[0] + 0.15, gamma


def test_the_figure_and_report(quick_results, tmp_path):
    manifest = quick_results("scaling")
    text = scaling.report(manifest)
    assert "strong          -1.00  1.20" in text and "weak             1.00  2.00" in text
    assert scaling.plot(manifest, tmp_path / "scaling")[0].stat().st_size > 50_000

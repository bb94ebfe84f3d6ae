"""Configuration names (superpose.measures.configuration): built geometries, their tegum products, dropped
and dedicated features, under rotation, reflection, permutation and noise."""

import numpy as np
import pytest
from scipy.stats import ortho_group

from experiments._library_checks import known_geometries
from superpose.measures import configuration

pytestmark = pytest.mark.fast

NAMES = {
    "orthonormal": "3 dedicated",
    "antipodal pair": "digon",
    "triangle": "triangle",
    "pentagon": "pentagon",
    "tetrahedron": "tetrahedron",
    "square antiprism": "square antiprism",
}


def _tegum(*blocks: np.ndarray) -> np.ndarray:
    """Blocks (features x dims each) in orthogonal subspaces."""
    F, H = sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)
    W, f, h = np.zeros((F, H)), 0, 0
    for b in blocks:
        W[f : f + b.shape[0], h : h + b.shape[1]] = b
        f, h = f + b.shape[0], h + b.shape[1]
    return W


def _disguise(W: np.ndarray, rng, *, noise: float = 0.0, extra_dims: int = 2):
    """W rotated and reflected into more dimensions, its features permuted, with noise of `noise` on every
    weight; also returns the permutation (new row i is old row perm[i])."""
    F, H = W.shape
    R = ortho_group.rvs(H + extra_dims, random_state=rng)
    perm = rng.permutation(F)
    out = np.pad(W, ((0, 0), (0, extra_dims)))[perm] @ R
    return out + noise * rng.standard_normal(out.shape), perm


@pytest.mark.parametrize("geometry", list(NAMES))
def test_check_twos_geometries_are_named_through_rotation_permutation_and_noise(geometry):
    W = known_geometries()[geometry][0]
    rng = np.random.default_rng(0)
    for trial in range(20):
        disguised, _ = _disguise(W, rng, noise=0.01 * (trial % 3))  # cosines move by up to ~0.03
        c = configuration.name(disguised)
        assert (c.name, c.certain) == (NAMES[geometry], True), (trial, c.name)


def test_tegum_products_with_dedicated_and_dropped_features():
    g = known_geometries()
    cases = {
        "triangle + digon": _tegum(g["triangle"][0], g["antipodal pair"][0]),
        "pentagon + tetrahedron + dedicated": _tegum(g["pentagon"][0], g["tetrahedron"][0], np.ones((1, 1))),
        "2 digons": _tegum(g["antipodal pair"][0], g["antipodal pair"][0]),  # a square
        "triangle + 2 dedicated + 3 dropped": np.concatenate(
            [_tegum(g["triangle"][0], np.eye(2)), np.zeros((3, 4))]
        ),
    }
    rng = np.random.default_rng(1)
    for expected, W in cases.items():
        for _ in range(10):
            c = configuration.name(_disguise(W, rng, noise=0.015)[0])
            assert (c.name, c.certain) == (expected, True)


def test_marks_say_where_a_singled_out_feature_sits_and_permutations_of_the_others_do_not_matter():
    """n=4, m=2 with feature 3 of importance r: a square whose feature 3 is antipodal to one of the
    others is 'digon + digon (f3)', whichever unit feature it pairs with."""
    digon_pair = np.array([[1.0, 0], [0, 1], [0, -1], [-1, 0]])
    importance, probability = [1, 1, 1, 3.0], [0.1] * 4
    assert configuration.name(digon_pair, importance, probability).name == "digon + digon (f3)"
    swapped = digon_pair[[2, 1, 0, 3]]  # feature 3 now antipodal to what was feature 2
    assert configuration.name(swapped, importance, probability).name == "digon + digon (f3)"
    triangle_and_dropped = np.array([[1.0, 0], [-0.5, 0.866], [-0.5, -0.866], [0, 0]])
    named = configuration.name(triangle_and_dropped, importance, probability).name
    assert named == "triangle + 1 dropped (f3)"
    assert configuration.name(triangle_and_dropped[[3, 1, 2, 0]], importance, probability).name == (
        "triangle (f3) + 1 dropped"
    )
    # all interchangeable: no marks, and the unmarked name is the same configuration as either marking
    plain = configuration.name(digon_pair).name
    assert plain == "2 digons" and configuration.same(plain, "digon + digon (f3)")
    assert not configuration.same("triangle + 1 dropped (f3)", "triangle (f3) + 1 dropped")


@pytest.mark.parametrize(
    "deform",
    [
        "norm",  # feature 1 of a digon shrinks from 1 to 0 (digon -> dedicated + 1 dropped)
        "angle",  # two dedicated features tilt towards each other (2 dedicated -> 2 in 2 dims)
    ],
)
def test_a_deformation_past_the_tolerance_is_flagged_before_the_name_changes(deform):
    """Between two configurations the name never jumps from one to the other without a stretch of
    uncertain ('?') names: noise beyond the tolerance does not silently give a wrong name."""
    seen = []
    for t in np.linspace(0, 1, 201):
        if deform == "norm":
            W = np.array([[1.0, 0.0], [-(1 - t), 0.0]])
        else:
            a = np.radians(90 - 40 * t)  # the angle between them closes from 90 to 50 degrees
            W = np.array([[1.0, 0.0], [np.cos(a), np.sin(a)]])
        c = configuration.name(W)
        seen.append(c.name if c.certain else "?")
    first, last = seen[0], seen[-1]
    assert first != last and "?" in seen
    changes = [(a, b) for a, b in zip(seen, seen[1:]) if a != b]
    assert all("?" in pair for pair in changes), changes  # every change passes through doubt
    assert set(seen) == {first, "?", last}


def test_within_tolerance_noise_keeps_the_name_and_a_tilted_polygon_is_not_regular():
    rng = np.random.default_rng(2)
    pentagon = known_geometries()["pentagon"][0]
    for _ in range(50):
        scale = 1 + rng.uniform(-0.1, 0.1, size=(5, 1))  # norms within ±0.1
        assert configuration.name(pentagon * scale).name == "pentagon"
    a = np.radians([0, 90, 225])  # three in a plane, 15-30 degrees off the triangle's 120
    c = configuration.name(np.stack([np.cos(a), np.sin(a)], 1))
    assert c.name == "3 in 2 dims" and c.certain
    c = configuration.name(
        np.stack([np.cos(np.radians([0, 120, 260])), np.sin(np.radians([0, 120, 260]))], 1)
    )
    assert not c.certain  # 20 degrees off: inside the band of doubt


def test_names_of_many_instances():
    W = np.stack([np.eye(2), np.array([[1.0, 0], [-1.0, 0]]), np.array([[1.0, 0], [0.5, 0]])])
    assert configuration.names(W) == ["2 dedicated", "digon", "dedicated + 1 dropped?"]

"""The name of a toy model's configuration: which features are dropped, dedicated, in antipodal pairs, in
k-gons, in polytopes of more dimensions, and how those pieces sit in orthogonal subspaces (a tegum product,
Elhage et al. 2022, "The Geometry of Superposition").

A feature is represented when ‖W_i‖ > 0.5. Represented features whose directions overlap (|cos| > 0.2) are
joined; each connected component is one piece, orthogonal to the others. A piece of k features spanning d
dimensions (the rank of its unit directions: singular values above 0.3 of the largest) is named

- k = 1: ``dedicated``; k = 2, d = 1: ``digon`` (an antipodal pair; ``2 in 1 dim, same sign`` if not);
- d = 2: ``triangle``, ``pentagon``, ``hexagon``, ... when the k directions are evenly spaced around the
  circle (every gap within 15° of 360°/k; a square splits into two orthogonal digons);
- d ≥ 3: ``tetrahedron`` (4 in 3), ``square antiprism`` (8 in 3), ``5-cell`` (5 in 4) when every feature's
  dimensionality within the piece is d/k (within 0.05);
- otherwise ``k in d dims``.

The name lists the pieces, largest first, joined by ``+`` (orthogonal subspaces), then the dropped features.
It is invariant to rotations and reflections of W (it reads only the Gram matrix) and to permutations of
interchangeable features (features of equal importance and density). Where a study singles out up to 3
features (features outside the most common class of importance and density, or outside feature 0's when
classes tie, like the "extra" feature of a phase diagram), the piece that holds each is marked with it,
``digon (f3) + digon``; with more, the name gives the geometry only.

Tolerances: training noise of up to ±0.1 in a norm around 1 or 0, ±0.1 in a cosine around 0 and a few
degrees in an angle leaves the name unchanged. A decision that falls inside its band of doubt (a norm in
[0.35, 0.65]; a partition into pieces that changes between the cosine thresholds 0.1 and 0.3; a singular
value between 0.2 and 0.4 of the largest; a polygon's gap 15°-25° off) marks the name uncertain: it then
ends in ``?``, rather than silently naming another configuration.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter

import numpy as np
from scipy.sparse import csgraph

NORM = 0.5
NORM_DOUBT = (0.35, 0.65)
EDGE_COS = 0.2
EDGE_DOUBT = (0.1, 0.3)
RANK = 0.3
RANK_DOUBT = (0.2, 0.4)
GAP_DEGREES = 15.0
GAP_DOUBT_DEGREES = 25.0
UNIFORM_D = 0.05
MAX_MARKED = 3

POLYGONS = {3: "triangle", 5: "pentagon", 6: "hexagon", 7: "heptagon", 8: "octagon"}
POLYTOPES = {(4, 3): "tetrahedron", (8, 3): "square antiprism", (5, 4): "5-cell"}
"""(features, dimensions) of a piece whose features all have dimensionality d/k -> its name."""


@dataclasses.dataclass(frozen=True)
class Piece:
    shape: str
    """"dedicated", "digon", "triangle", ..., "k in d dims", or "dropped"."""
    features: tuple[int, ...]
    dims: int


@dataclasses.dataclass(frozen=True)
class Configuration:
    pieces: tuple[Piece, ...]
    name: str
    certain: bool

    @property
    def topology(self) -> tuple:
        """Which features are dropped and how the others split into pieces, with each piece's dimensions:
        what re-optimisation must keep (a triangle whose angles move with its features' importances keeps
        it; one that opens into a digon and a dedicated feature does not)."""
        return tuple(sorted((p.features, p.dims) for p in self.pieces))

    def piece_of(self, feature: int) -> Piece:
        """The piece that holds `feature` (a "dropped" piece for a dropped feature)."""
        return next(p for p in self.pieces if feature in p.features)


def classes(importance_F, probability_F) -> np.ndarray:
    """Each feature's class: features of equal importance and density share one (numbered by first
    appearance)."""
    keys = [(round(float(i), 9), round(float(p), 9)) for i, p in zip(importance_F, probability_F)]
    first: dict = {}
    return np.asarray([first.setdefault(k, len(first)) for k in keys])


def name(W_FxH, importance_F=None, probability_F=None) -> Configuration:
    """The configuration of one model's W (features x hidden); importance and density say which features
    are interchangeable (all of them when not given)."""
    W = np.asarray(W_FxH, np.float64)
    n = W.shape[0]
    cls = classes(
        np.ones(n) if importance_F is None else importance_F,
        np.ones(n) if probability_F is None else probability_F,
    )
    norms = np.linalg.norm(W, axis=1)
    certain = not np.any((norms > NORM_DOUBT[0]) & (norms < NORM_DOUBT[1]))
    on = norms > NORM
    unit = W / np.maximum(norms, 1e-12)[:, None]
    cos = unit @ unit.T
    parts = _components(np.abs(cos) > EDGE_COS, on)
    doubtful = [_components(np.abs(cos) > t, on) for t in EDGE_DOUBT]
    certain &= all(_partition(d) == _partition(parts) for d in doubtful)
    pieces = []
    for members in parts:
        shape, dims, sure = _shape(unit[members])
        certain &= sure
        pieces.append(Piece(shape, tuple(int(i) for i in members), dims))
    dropped = tuple(int(i) for i in np.flatnonzero(~on))
    if dropped:
        pieces.append(Piece("dropped", dropped, 0))
    marked = _distinguished(cls)
    return Configuration(tuple(pieces), _compose(pieces, marked, cls), bool(certain))


def names(W_IxFxH, importance_IxF=None, probability_IxF=None) -> list[str]:
    """Every instance's configuration name (ending in ``?`` where uncertain)."""
    W = np.asarray(W_IxFxH)
    out = []
    for i in range(W.shape[0]):
        c = name(
            W[i],
            None if importance_IxF is None else np.asarray(importance_IxF)[i],
            None if probability_IxF is None else np.asarray(probability_IxF)[i],
        )
        out.append(c.name if c.certain else c.name + "?")
    return out


def _distinguished(cls: np.ndarray) -> set[int]:
    """The features a name marks: those outside the most common class (feature 0's class on a tie), when
    there are at most MAX_MARKED of them."""
    counts = Counter(cls.tolist())
    top = max(counts.values())
    reference = next(c for c in cls.tolist() if counts[c] == top)
    marked = {i for i in range(len(cls)) if cls[i] != reference}
    return marked if len(marked) <= MAX_MARKED else set()


_MARK = re.compile(r" \(f\d+(?:, f\d+)*\)")


def same(a: str, b: str) -> bool:
    """Whether two names can be one configuration: equal once their doubt (``?``) is set aside, where a
    name without marks (a cell whose features are all interchangeable, such as the extra feature's
    importance equal to the others') matches any marking of the same geometry."""
    a, b = a.rstrip("?"), b.rstrip("?")
    if a == b:
        return True
    plain_a, plain_b = _pieces(_MARK.sub("", a)), _pieces(_MARK.sub("", b))
    return plain_a == plain_b and ("(f" not in a or "(f" not in b)


def _pieces(name: str) -> list[str]:
    """The pieces a (mark-free) name lists, one entry per piece: "2 digons + dedicated" -> digon, digon,
    dedicated."""
    out = []
    for word in name.split(" + "):
        count, _, rest = word.partition(" ")
        if count.isdigit() and rest and not rest.startswith(("in ", "dropped")):
            rest = rest.removeprefix("× (").removesuffix(")")
            singular = rest if rest == "dedicated" or " in " in rest else rest.removesuffix("s")
            out += [singular] * int(count)
        else:
            out.append(word)
    return sorted(out)


def components(W_FxH) -> list[np.ndarray]:
    """The pieces of W: represented features (‖W_i‖ > 0.5) joined where |cos| > 0.2, connected components,
    largest first, as arrays of feature indices (the feature geometry graphs of E5)."""
    W = np.asarray(W_FxH)
    norms = np.linalg.norm(W, axis=1)
    unit = W / np.maximum(norms, 1e-6)[:, None]
    parts = _components(np.abs(unit @ unit.T) > EDGE_COS, norms > NORM)
    return sorted(parts, key=len, reverse=True)


def _components(edges: np.ndarray, on: np.ndarray) -> list[np.ndarray]:
    _, label = csgraph.connected_components(edges & on[:, None] & on[None, :], directed=False)
    return [np.flatnonzero((label == c) & on) for c in np.unique(label[on])]


def _partition(parts: list[np.ndarray]) -> set:
    return {tuple(p.tolist()) for p in parts}


def _shape(unit_KxH: np.ndarray) -> tuple[str, int, bool]:
    """(name, dimensions, certain) of one piece from its members' unit directions."""
    k = len(unit_KxH)
    if k == 1:
        return "dedicated", 1, True
    _, s, vt = np.linalg.svd(unit_KxH, full_matrices=False)
    ratio = s / s[0]
    d = int(np.sum(ratio > RANK))
    sure = not np.any((ratio > RANK_DOUBT[0]) & (ratio < RANK_DOUBT[1]))
    if d == 1:
        if k == 2:
            return ("digon" if unit_KxH[0] @ unit_KxH[1] < 0 else "2 in 1 dim, same sign"), 1, sure
        return f"{k} in 1 dim", 1, sure
    if d == 2:
        xy = unit_KxH @ vt[:2].T
        angles = np.sort(np.arctan2(xy[:, 1], xy[:, 0]))
        gaps = np.degrees(np.diff(np.concatenate([angles, angles[:1] + 2 * np.pi])))
        off = float(np.max(np.abs(gaps - 360.0 / k)))
        sure &= not GAP_DEGREES < off < GAP_DOUBT_DEGREES
        if off <= GAP_DEGREES and k in POLYGONS:
            return POLYGONS[k], 2, sure
        return f"{k} in 2 dims", 2, sure
    gram = unit_KxH @ unit_KxH.T
    D = 1.0 / np.sum(gram**2, axis=1)
    if (k, d) in POLYTOPES and np.all(np.abs(D - d / k) <= UNIFORM_D):
        return POLYTOPES[(k, d)], d, sure
    return f"{k} in {d} dims", d, sure


def _compose(pieces: list[Piece], marked: set[int], cls: np.ndarray) -> str:
    def mark(p: Piece) -> str:
        shown = sorted(i for i in p.features if i in marked)
        return f" (f{', f'.join(map(str, shown))})" if shown else ""

    shapes = [p for p in pieces if p.shape != "dropped"]
    order = sorted(shapes, key=lambda p: (-len(p.features), -p.dims, p.shape, mark(p)))
    words, seen = [], Counter((p.shape, mark(p)) for p in order)
    for key in dict.fromkeys((p.shape, mark(p)) for p in order):
        count = seen[key]
        shape = key[0] if count == 1 else f"{count} {_plural(key[0])}"
        words.append(shape + key[1])
    for p in pieces:
        if p.shape == "dropped":
            words.append(f"{len(p.features)} dropped{mark(p)}")
    return " + ".join(words) if words else "nothing represented"


def _plural(shape: str) -> str:
    if shape == "dedicated":
        return "dedicated"
    if " in " in shape:
        return f"× ({shape})"
    return shape + "s"

"""A phase diagram of any toy-model study: every point's configuration, its best seed by expected loss,
the best known configuration in every cell, and the points that refine its boundaries.

The study's result folders (its grid, and the refinement rounds that `refine` adds) are read together:

- every instance is named (superpose.measures.configuration) and priced by its stratified expected loss
  with its standard error (superpose.toy.best_known); a point's result is its seed with the lowest expected
  loss, not the last chunk of training loss, which at low density holds too few inputs with two active
  features to rank seeds;
- every distinct configuration found anywhere is re-optimised at every cell of the grid
  (superpose.toy.best_known.reoptimise); the best of them is the cell's best known configuration. The gap
  is how far the cell's best trained seed sits above it (a local minimum where it is positive beyond the
  standard error), and the basin fraction the share of the cell's seeds that found it;
- `refinement` lists the midpoints between neighbouring points (along one axis, in log space on a log
  axis) whose configurations differ: trained, they halve the uncertainty of the boundary there.

An axis is a config field; a field whose values are lists that differ in one entry only (the importance
of one feature) is drawn as that entry ("importance of feature 3").
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from superpose import results
from superpose.measures import configuration
from superpose.toy import best_known
from superpose.toy import llc as llc_lib
from superpose.toy.config import ToyConfig

LABELS = {
    "feature_probability": "feature density",
    "importance": "importance",
    "weight_decay": "weight decay",
    "learning_rate": "learning rate",
    "n_hidden": "hidden dimensions m",
    "n_features": "features n",
    "importance_decay": "importance decay",
    "hidden_l1": "hidden L1 penalty",
}


@dataclasses.dataclass(frozen=True)
class Axis:
    field: str
    values: tuple
    """The grid's values of the field (as the study lists them)."""
    entry: int | None = None
    """For a list-valued field, the one entry that varies."""

    @property
    def label(self) -> str:
        base = LABELS.get(self.field, self.field.replace("_", " "))
        if self.entry is None:
            return base
        what = {"feature_probability": "density", "importance": "importance"}.get(self.field, base)
        return f"{what} of feature {self.entry}"

    @property
    def numeric(self) -> bool:
        return all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.coordinates)

    @property
    def coordinates(self) -> list:
        return [self.coordinate(v) for v in self.values]

    @property
    def log(self) -> bool:
        c = np.asarray(self.coordinates, float) if self.numeric else None
        return bool(c is not None and np.all(c > 0) and c.max() / c.min() >= 10)

    def coordinate(self, value) -> Any:
        if self.entry is not None:
            return float(value[self.entry])
        if isinstance(value, (list, tuple)):
            return self.values.index(tuple(value)) if tuple(value) in self.values else str(value)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    def value(self, coordinate: float, like) -> Any:
        """The field's value at `coordinate` (a list field keeps `like`'s other entries)."""
        if self.entry is None:
            return int(round(coordinate)) if isinstance(like, int) else float(coordinate)
        out = list(like)
        out[self.entry] = float(coordinate)
        return tuple(out)

    def midpoint(self, a: float, b: float) -> float:
        return float(np.sqrt(a * b)) if self.log else (a + b) / 2


def axes_of(sweep: dict) -> list[Axis]:
    """The study's axes (its sweep's `axes`, in order)."""
    out = []
    for field, values in sweep["axes"].items():
        values = tuple(tuple(v) if isinstance(v, list) else v for v in values)
        entry = None
        if values and all(isinstance(v, tuple) for v in values):
            varying = [j for j in range(len(values[0])) if len({v[j] for v in values}) > 1]
            entry = varying[0] if len(varying) == 1 else None
        out.append(Axis(field, values, entry))
    return out


@dataclasses.dataclass
class Instances:
    """Every trained instance of a study, across its folders."""

    W: list[np.ndarray]
    """Each instance's weights (instances of several shapes when a study sweeps a size)."""
    b: list[np.ndarray]
    probability: np.ndarray | list
    importance: np.ndarray | list
    coords: list[tuple]
    """Each instance's point, as its axes' coordinates."""
    axis_values: list[dict]
    """Each instance's point, as field values."""
    configs: list[ToyConfig]
    names: list[str]
    loss: np.ndarray
    se: np.ndarray
    selection: str
    """"expected loss" or, where the stratified loss does not apply, "final training loss"."""


def instances(runs: Sequence[results.Run], axes: list[Axis]) -> Instances:
    W, b, p, imp, coords, values, configs, final = [], [], [], [], [], [], [], []
    for run in runs:
        for i, inst in enumerate(run.config["instances"]):
            W.append(run.arrays["W"][i])
            b.append(run.arrays["b"][i])
            p.append(run.arrays["feature_probability"][i])
            imp.append(run.arrays["importance"][i])
            values.append({k: tuple(v) if isinstance(v, list) else v for k, v in inst["axes"].items()})
            coords.append(tuple(a.coordinate(values[-1][a.field]) for a in axes))
            configs.append(run.configs[i])
        final.extend(run.summary["final_loss"])
    names = [""] * len(W)
    loss, se = np.asarray(final, float), np.full(len(final), np.nan)
    applies = all(_stratified_applies(c) for c in configs)
    for members in shapes(configs).values():
        stack = [np.stack([x[i] for i in members]) for x in (W, b, p, imp)]
        for i, n in zip(members, configuration.names(stack[0], stack[3], stack[2])):
            names[i] = n
        if applies:
            loss[members], se[members] = best_known.expected_losses(*stack, model=configs[members[0]].model)
    selection = "expected loss" if applies else "final training loss"
    return Instances(
        W,
        b,
        np.stack(p) if _same_width(p) else p,
        np.stack(imp) if _same_width(imp) else imp,
        coords,
        values,
        configs,
        names,
        loss,
        se,
        selection,
    )


def shapes(configs: list[ToyConfig]) -> dict[tuple, np.ndarray]:
    """Instance indices by what fixes their arrays' shapes and their loss: (model, features, hidden)."""
    out: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        out.setdefault((c.model, c.n_features, c.n_hidden), []).append(i)
    return {k: np.asarray(v) for k, v in out.items()}


def _same_width(rows) -> bool:
    return len({len(r) for r in rows}) == 1


def _stratified_applies(c: ToyConfig) -> bool:
    return (
        c.model in best_known.MODELS
        and c.data == "independent"
        and not c.normalize
        and c.attack_fraction == 0
        and c.n_features <= 12
    )


@dataclasses.dataclass
class PhaseDiagram:
    axes: list[Axis]
    inst: Instances
    points: list[tuple]
    """Every point's coordinates (the grid's and the refinement's), in first-seen order."""
    members: list[np.ndarray]
    best: np.ndarray
    """Per point, the index of its best instance."""
    grid: list[int]
    """The indices (into `points`) of the grid's cells, in grid order (first axis slowest)."""
    known: list[str] | None = None
    """Every configuration found (uncertain names included), re-optimised at every cell of its shape."""
    known_loss: np.ndarray | None = None
    """(configuration, cell): its re-optimised loss, NaN where it does not hold its topology."""
    known_se: np.ndarray | None = None
    known_names: np.ndarray | None = None
    """(configuration, cell): its name at the cell (the cell's interchangeable features may differ)."""
    known_weights: np.ndarray | None = None
    """(configuration, cell), objects: the W (F x H) reaching `known_loss`; None at another shape's cells."""
    known_biases: np.ndarray | None = None
    """(configuration, cell), objects: the b beside it."""
    llc: np.ndarray | None = None
    """Each instance's λ̂, when `superpose llc` has been run on every folder of the study
    (superpose.toy.llc)."""

    @property
    def best_of(self) -> int:
        return int(np.median([len(m) for m in self.members]))

    @property
    def names(self) -> list[str]:
        """Each point's configuration (its best seed's)."""
        return [self.inst.names[i] for i in self.best]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(a.values) for a in self.axes)

    def grid_names(self) -> np.ndarray:
        return np.asarray([self.names[q] for q in self.grid], object).reshape(self.shape)

    def best_known(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(name, loss, standard error) of each cell's best known configuration, in grid shape."""
        loss = np.where(np.isnan(self.known_loss), np.inf, self.known_loss)
        k = np.argmin(loss, axis=0)
        cells = np.arange(len(self.grid))
        return (
            self.known_names[k, cells].reshape(self.shape),
            loss[k, cells].reshape(self.shape),
            self.known_se[k, cells].reshape(self.shape),
        )

    def gap(self) -> np.ndarray:
        """(best trained seed's loss − best known loss) / best known loss, per cell."""
        _, loss, _ = self.best_known()
        trained = self.inst.loss[self.best[self.grid]].reshape(self.shape)
        return np.maximum(trained - loss, 0) / loss

    def basin(self) -> np.ndarray:
        """The share of each cell's seeds whose configuration is the cell's best known one."""
        names, _, _ = self.best_known()
        flat = names.reshape(-1)
        return np.asarray(
            [
                np.mean([configuration.same(self.inst.names[i], flat[c]) for i in self.members[q]])
                for c, q in enumerate(self.grid)
            ]
        ).reshape(self.shape)

    def llc_grid(self) -> np.ndarray:
        """λ̂ of each cell's best seed, in grid shape (needs `llc`)."""
        return self.llc[self.best[self.grid]].reshape(self.shape)

    def crossings(self) -> list[dict]:
        """Boundaries located along each axis: for every pair of neighbouring points (other coordinates equal)
        whose configurations differ, the pair and its midpoint."""
        out = []
        names = self.names
        for k, axis in enumerate(self.axes):
            if not axis.numeric:
                continue
            others = [set(a.coordinates) for j, a in enumerate(self.axes) if j != k]
            lines: dict[tuple, list[int]] = {}
            for q, c in enumerate(self.points):
                rest = c[:k] + c[k + 1 :]
                if all(x in o for x, o in zip(rest, others)):  # on a line of the grid
                    lines.setdefault(rest, []).append(q)
            for rest, qs in lines.items():
                qs = sorted(qs, key=lambda q: self.points[q][k])
                for a, b in zip(qs, qs[1:]):
                    if not configuration.same(names[a], names[b]):
                        lo, hi = self.points[a][k], self.points[b][k]
                        out.append(
                            {
                                "axis": k,
                                "at": rest,
                                "between": (lo, hi),
                                "mid": axis.midpoint(lo, hi),
                                "names": (names[a], names[b]),
                                "points": (a, b),
                            }
                        )
        return out

    def refinement(self) -> list[dict]:
        """The field values of the midpoints of every crossing: the next round of points to train."""
        new, seen = [], set(self.points)
        for c in self.crossings():
            a = self.inst.axis_values[self.best[c["points"][0]]]
            axis = self.axes[c["axis"]]
            point = {**a, axis.field: axis.value(c["mid"], a[axis.field])}
            coords = tuple(x.coordinate(point[x.field]) for x in self.axes)
            if coords not in seen:
                seen.add(coords)
                new.append(point)
        return new

    def to_json(self) -> dict:
        """What the figure shows, per cell and per point, for a person to open."""
        out = {
            "axes": [
                {"field": a.field, "entry": a.entry, "label": a.label, "log": a.log, "values": a.coordinates}
                for a in self.axes
            ],
            "selection": self.inst.selection,
            "points": [
                {
                    "coordinates": list(self.points[q]),
                    "configuration": self.names[q],
                    "loss": float(self.inst.loss[self.best[q]]),
                    "se": float(self.inst.se[self.best[q]]),
                    "seeds": dict(Counter(self.inst.names[i] for i in self.members[q])),
                    **({} if self.llc is None else {"llc": float(self.llc[self.best[q]])}),
                }
                for q in range(len(self.points))
            ],
            "crossings": [{k: v for k, v in c.items() if k != "points"} for c in self.crossings()],
        }
        if self.known is not None:
            names, loss, se = self.best_known()
            gap, basin = self.gap(), self.basin()
            out["known"] = self.known
            out["cells"] = [
                {
                    "coordinates": list(self.points[q]),
                    "best_known": names.flat[c],
                    "best_known_loss": float(loss.flat[c]),
                    "best_known_se": float(se.flat[c]),
                    "gap": float(gap.flat[c]),
                    "basin": float(basin.flat[c]),
                    "losses": {
                        n: float(x) for n, x in zip(self.known, self.known_loss[:, c]) if np.isfinite(x)
                    },
                }
                for c, q in enumerate(self.grid)
            ]
        return out


def analyse(runs: Sequence[results.Run], *, best_known_steps: int | None = 500) -> PhaseDiagram:
    """The phase diagram of a study's result folders (the first is the grid's); with `best_known_steps`
    (None: skip) the best known configuration at every cell."""
    axes = axes_of(runs[0].config["sweep"])
    inst = instances(runs, axes)
    points = list(dict.fromkeys(inst.coords))
    index = {c: q for q, c in enumerate(points)}
    point_of = np.asarray([index[c] for c in inst.coords])
    members = [np.flatnonzero(point_of == q) for q in range(len(points))]
    loss = np.where(np.isfinite(inst.loss), inst.loss, np.inf)
    best = np.asarray([m[np.argmin(loss[m])] for m in members])
    grid_coords = _grid(axes)
    grid = [index[c] for c in grid_coords]
    found = [llc_lib.read(run.path) for run in runs]
    llc = None if any(f is None for f in found) else np.concatenate([f["llc"] for f in found])
    diagram = PhaseDiagram(axes, inst, points, members, best, grid, llc=llc)
    if best_known_steps is not None and inst.selection == "expected loss":
        _best_known(diagram, best_known_steps)
    return diagram


def _grid(axes: list[Axis]) -> list[tuple]:
    return list(itertools.product(*[a.coordinates for a in axes]))


def _best_known(d: PhaseDiagram, steps: int) -> None:
    """Every configuration found (uncertain names included) re-optimised at every cell of its shape, from the
    cell's own best seed of that configuration where it has one, else from the configuration's
    representative (the seed that holds it closest to its own cell's best loss). A configuration's loss at a
    cell is the lower of its re-optimised loss (where it keeps its topology) and its trained seeds' there;
    NaN at cells of another shape (a study that sweeps a size)."""
    inst = d.inst
    point = {i: q for q, m in enumerate(d.members) for i in m}
    cell_shape = [(c.model, c.n_features, c.n_hidden) for c in (inst.configs[d.best[q]] for q in d.grid)]
    parts = []
    for key, members in shapes(inst.configs).items():
        cells = [c for c, k in enumerate(cell_shape) if k == key]
        if cells:
            parts.append(_best_known_of_shape(d, steps, members, cells, point))
    K = sum(len(p["known"]) for p in parts)
    N = len(d.grid)
    d.known, d.known_loss, d.known_se = [], np.full((K, N), np.nan), np.full((K, N), np.nan)
    d.known_names = np.full((K, N), "", object)
    d.known_weights, d.known_biases = np.full((K, N), None, object), np.full((K, N), None, object)
    row = 0
    for p in parts:
        rows, cols = slice(row, row + len(p["known"])), p["cells"]
        d.known += p["known"]
        for name in ("loss", "se", "names", "weights", "biases"):
            getattr(d, f"known_{name}")[rows][:, cols] = p[name]
        row += len(p["known"])


def _best_known_of_shape(
    d: PhaseDiagram, steps: int, members: np.ndarray, cells: list[int], point: dict
) -> dict:
    inst = d.inst
    W_all = np.stack([inst.W[i] for i in members])
    b_all = np.stack([inst.b[i] for i in members])
    p_all = np.stack([inst.probability[i] for i in members])
    imp_all = np.stack([inst.importance[i] for i in members])
    local = {int(i): j for j, i in enumerate(members)}
    names = [inst.names[i] for i in members]
    known = sorted(set(names))
    rep = [
        min(
            (j for j, x in enumerate(names) if x == n),
            key=lambda j: (inst.loss[members[j]] - inst.loss[d.best[point[members[j]]]], j),
        )
        for n in known
    ]
    # every seed named as each representative would name it (its interchangeable features)
    as_rep = [
        configuration.names(
            W_all, np.repeat(imp_all[r][None], len(W_all), 0), np.repeat(p_all[r][None], len(W_all), 0)
        )
        for r in rep
    ]
    K, N = len(known), len(cells)
    start = np.empty((K, N), int)
    trained = np.full((K, N), np.nan)
    for c, cell in enumerate(cells):
        seeds = [local[int(i)] for i in d.members[d.grid[cell]]]
        for k in range(K):
            own = [j for j in seeds if as_rep[k][j] == known[k]]
            start[k, c] = min(own, key=lambda j: inst.loss[members[j]]) if own else rep[k]
            trained[k, c] = min(inst.loss[members[j]] for j in own) if own else np.nan
    best = [local[int(d.best[d.grid[cell]])] for cell in cells]
    model = inst.configs[members[0]].model
    W, b = best_known.reoptimise(
        W_all[start], b_all[start], p_all[best], imp_all[best], model=model, steps=steps
    )
    flat = lambda x: x.reshape(K * N, *x.shape[2:])  # noqa: E731
    probability, importance = np.tile(p_all[best], (K, 1)), np.tile(imp_all[best], (K, 1))
    loss, se = best_known.expected_losses(flat(W), flat(b), probability, importance, model=model)
    # it holds where its topology (dropped features, pieces and their dimensions) is the one it started from
    before = [configuration.name(w).topology for w in flat(W_all[start])]
    holds = np.asarray([configuration.name(w).topology == t for w, t in zip(flat(W), before)]).reshape(K, N)
    loss, se = loss.reshape(K, N), se.reshape(K, N)
    reached = np.where(holds, loss, np.nan)
    use_trained = np.isfinite(trained) & ~(reached <= trained)
    cell_names = np.asarray(configuration.names(flat(W), importance, probability), object).reshape(K, N)
    # where a trained seed holds the cell's value, the cell names it as it was trained
    for k, c in zip(*np.nonzero(use_trained)):
        cell_names[k, c] = names[start[k, c]]
    weights, biases = np.empty((K, N), object), np.empty((K, N), object)
    for k in range(K):
        for c in range(N):
            keep = use_trained[k, c]
            weights[k, c] = W_all[start[k, c]] if keep else W[k, c]
            biases[k, c] = b_all[start[k, c]] if keep else b[k, c]
    return {
        "known": known,
        "cells": cells,
        "loss": np.where(use_trained, trained, reached),
        "se": np.where(use_trained, inst.se[members][start], se),
        "names": cell_names,
        "weights": weights,
        "biases": biases,
    }


def closed_forms(d: PhaseDiagram) -> np.ndarray | None:
    """Each cell's configuration by the closed forms of Elhage et al. 2022 (superpose.toy.theory), named as
    a trained model would be, where they exist: n=2, m=1 and n=3, m=2 with the last feature's importance
    and the density (one value for every feature) as the first two axes. None otherwise."""
    from superpose.toy import theory

    c = d.inst.configs[0]
    fields = [(a.field, a.entry) for a in d.axes]
    n = c.n_features
    if (n, c.n_hidden) not in ((2, 1), (3, 2)) or c.model != "relu_output" or len(fields) != 2:
        return None
    if set(fields) != {("feature_probability", None), ("importance", n - 1)}:
        return None
    geometries = {
        2: [[[1], [0]], [[1], [-1]], [[0], [1]]],
        3: [
            [[1, 0], [0, 1], [0, 0]],
            [[1, 0], [0, 1], [-1, 0]],
            [[1, 0], [0, 0], [0, 1]],
            [[1, 0], [-1, 0], [0, 1]],
        ],
    }[n]
    names = []
    for q in d.grid:
        i = d.best[q]
        s, r = float(d.inst.probability[i][0]), float(d.inst.importance[i][-1])
        phase = int(theory.optimal_phase(s, r) if n == 2 else theory.optimal_phase_n3m2(s, r))
        if n == 3 and phase == 2 and theory.loss_antipodal(s) < theory.loss_drop_unit(s):
            phase = 3  # the dedicated extra feature beside an antipodal pair, not beside one dropped feature
        W = np.asarray(geometries[phase], float)
        names.append(configuration.name(W, d.inst.importance[i], d.inst.probability[i]).name)
    return np.asarray(names, object).reshape(d.shape)

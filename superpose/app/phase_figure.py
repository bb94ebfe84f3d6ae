"""The figure of a phase diagram (superpose.toy.phase_diagram): configurations as named colours."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib.colors
import matplotlib.patches
import matplotlib.ticker
import numpy as np

from superpose.app import plotting
from superpose.measures import configuration
from superpose.toy.phase_diagram import PhaseDiagram, closed_forms

PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#b07aa1",
    "#76b7b2",
    "#edc948",
    "#9c755f",
    "#ff9da7",
    "#bab0ac",
    "#1f77b4",
    "#8c564b",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
    "#d62728",
]


def draw(d: PhaseDiagram, figure_path: Path, data: dict) -> list[Path]:
    """Write the figure; adds to `data` the configurations it shows (`shown`) and their colours."""
    axes = d.axes + [None] * max(0, 2 - len(d.axes))
    y_axis, x_axis = axes[0], axes[1]
    rows = list(itertools.product(*[range(len(a.values)) for a in d.axes[2:]])) or [()]
    trained = _2d(d.grid_names())
    closed = closed_forms(d)
    known = tuple(_2d(a) for a in d.best_known()) if d.known is not None else None
    panels = (
        ["trained"]
        + (["closed"] if closed is not None else [])
        + (["known", "gap", "basin"] if known else [])
        + (["llc"] if d.llc is not None else [])
    )
    shown = _shown(trained, closed, known[0] if known else None, d)
    color = _colors(shown)
    legend_rows = (len([n for n in shown if _key(n, shown) == n]) + 2) // 3
    fig, grid = plotting.figure(
        len(rows),
        len(panels),
        figsize=(3.7 * len(panels), 3.4 * len(rows) + 1.1 + 0.2 * legend_rows),
        squeeze=False,
    )
    ye, xe = _edges(y_axis, trained.shape[0]), _edges(x_axis, trained.shape[1])
    gap, basin = (d.gap(), d.basin()) if known else (None, None)
    for r, row in enumerate(rows):
        index = (slice(None), slice(None), *row)

        def cells(a, index=index):
            return _2d(a)[index]

        suffix = (
            ""
            if not row
            else " · " + ", ".join(f"{a.label} = {_fmt(a.coordinates[i])}" for a, i in zip(d.axes[2:], row))
        )
        for c, panel in enumerate(panels):
            ax = grid[r, c]
            if panel in ("trained", "closed", "known"):
                names = cells(
                    {"trained": trained, "closed": closed, "known": known[0] if known else None}[panel]
                )
                _named(ax, xe, ye, names, color)
                _cell_boundaries(ax, xe, ye, names)
                title = {
                    "trained": f"configuration of each cell's best seed\n(lowest {d.inst.selection}, best of "
                    f"{d.best_of})",
                    "closed": "closed forms (Elhage et al. 2022)",
                    "known": f"best known configuration\n(each of the {len(d.known or ())} found, "
                    "re-optimised in every cell)",
                }[panel]
                if panel == "trained":
                    _boundaries(ax, d, row, color)
            elif panel == "gap":
                gap = 100 * cells(gap)
                mesh = ax.pcolormesh(
                    xe, ye, gap, cmap="magma_r", vmin=0, vmax=max(1.0, float(np.nanmax(gap)))
                )
                fig.colorbar(mesh, ax=ax).set_label("gap to the best known (% of its loss)")
                title = "best trained seed above the best known\n(a local minimum, or training unfinished)"
            elif panel == "llc":
                mesh = ax.pcolormesh(xe, ye, cells(d.llc_grid()), cmap="cividis")
                fig.colorbar(mesh, ax=ax).set_label("λ̂ (superpose llc)")
                title = "local learning coefficient\nof each cell's best seed"
            else:
                mesh = ax.pcolormesh(xe, ye, cells(basin), cmap="viridis", vmin=0, vmax=1)
                fig.colorbar(mesh, ax=ax).set_label("share of seeds")
                title = "basin fraction: seeds that found\nthe best known configuration"
            ax.set_title(title, fontsize=8.5)
            _axis(ax, x_axis, "x")
            _axis(ax, y_axis, "y")
        if suffix:  # the row's value of the axes past the first two, beside the row
            grid[r, 0].set_ylabel(suffix.removeprefix(" · ") + "\n\n" + grid[r, 0].get_ylabel())
    main = [n for n in shown if _key(n, shown) == n]
    handles = [matplotlib.patches.Patch(color=color[n], label=n) for n in main]
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=min(3, len(handles)),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
        title="configurations ((fN): the piece feature N is in; ?: an uncertain name, coloured as its "
        "geometry); lines: boundaries between cells, ◆: located by refinement",
        title_fontsize=8,
    )
    sizes = {
        field: sorted({getattr(c, field) for c in d.inst.configs}) for field in ("n_features", "n_hidden")
    }
    span = {f: str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}" for f, v in sizes.items()}
    fig.suptitle(
        f"{figure_path.name}: {span['n_features']} features in {span['n_hidden']} dimensions "
        f"({d.inst.configs[0].model}), {len(d.points)} points "
        f"({len(d.points) - len(d.grid)} from refinement)",
        fontsize=10,
    )
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, (0.6 + 0.2 * legend_rows) / height, 1, 1 - 0.35 / height))
    data["shown"] = main
    data["colors"] = color
    return plotting.save(fig, figure_path)


def _2d(a: np.ndarray) -> np.ndarray:
    """A grid of no or one axis as a grid of two (one row, or one column)."""
    a = np.asarray(a, dtype=object if a.dtype == object else float)
    return a.reshape(1, 1) if a.ndim == 0 else a[:, None] if a.ndim == 1 else a


def _shown(trained, closed, known, d: PhaseDiagram) -> list[str]:
    """Every configuration any panel shows, the most frequent first."""
    everything = list(trained.reshape(-1)) + [d.names[q] for q in range(len(d.points))]
    for a in (closed, known):
        if a is not None:
            everything += list(a.reshape(-1))
    counts: dict[str, int] = {}
    for n in everything:
        counts[n] = counts.get(n, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def _key(n: str, shown: list[str]) -> str:
    """The name whose colour `n` takes: itself, or the one name it is the same configuration as
    (superpose.measures.configuration.same) without its doubt or marks."""
    if n.endswith("?") and n.rstrip("?") in shown:
        return _key(n.rstrip("?"), shown)
    matches = [m for m in shown if not m.endswith("?") and "(f" in m and configuration.same(n, m)]
    return matches[0] if len(matches) == 1 and (n.endswith("?") or "(f" not in n) and matches[0] != n else n


def _colors(shown: list[str]) -> dict[str, str]:
    main = [n for n in shown if _key(n, shown) == n]
    color = {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(main)}
    return {n: color[_key(n, shown)] for n in shown}


def _named(ax, xe, ye, names: np.ndarray, color: dict) -> None:
    order = list(color)
    codes = np.vectorize(order.index)(names)
    cmap = matplotlib.colors.ListedColormap([color[n] for n in order])
    ax.pcolormesh(xe, ye, codes, cmap=cmap, vmin=-0.5, vmax=len(order) - 0.5)


def _boundaries(ax, d: PhaseDiagram, row: tuple, color: dict) -> None:
    """The refined points (dots in their configuration's colour) and the located boundary (black line
    through each crossing's midpoint, along each axis)."""
    if len(d.axes) < 2:
        return
    extra = tuple(a.coordinates[i] for a, i in zip(d.axes[2:], row))
    for q in range(len(d.grid), len(d.points)):
        p = d.points[q]
        if p[2:] == extra:
            ax.scatter([p[1]], [p[0]], s=10, color=color[d.names[q]], edgecolor="k", lw=0.4, zorder=3)
    lines: dict = {}
    for c in d.crossings():
        rest = c["at"]
        if rest[1:] != extra:
            continue
        xy = (c["mid"], rest[0]) if c["axis"] == 0 else (rest[0], c["mid"])
        lines.setdefault((c["axis"], c["names"]), []).append(xy)
    for (axis, _), pts in lines.items():
        pts = sorted(pts, key=lambda p: p[1] if axis == 0 else p[0])
        ys, xs = zip(*pts)
        ax.plot(xs, ys, "k-" if len(pts) > 1 else "k", lw=1.2, marker="D", ms=3.5, zorder=4)


def _cell_boundaries(ax, xe, ye, names: np.ndarray) -> None:
    """Grey lines between neighbouring cells whose configurations differ."""
    for i in range(names.shape[0]):
        for j in range(names.shape[1]):
            if j + 1 < names.shape[1] and not configuration.same(names[i, j], names[i, j + 1]):
                ax.plot([xe[j + 1]] * 2, [ye[i], ye[i + 1]], color="0.15", lw=0.8)
            if i + 1 < names.shape[0] and not configuration.same(names[i, j], names[i + 1, j]):
                ax.plot([xe[j], xe[j + 1]], [ye[i + 1]] * 2, color="0.15", lw=0.8)


def _edges(axis, n: int) -> np.ndarray:
    if axis is None:
        return np.asarray([-0.5, 0.5])
    c = np.asarray(axis.coordinates, float) if axis.numeric else np.arange(n, dtype=float)
    if n == 1:
        return np.asarray([c[0] * 0.8, c[0] * 1.25]) if axis.log else np.asarray([c[0] - 0.5, c[0] + 0.5])
    t = np.log(c) if axis.log else c
    mid = (t[1:] + t[:-1]) / 2
    e = np.concatenate([[2 * t[0] - mid[0]], mid, [2 * t[-1] - mid[-1]]])
    return np.exp(e) if axis.log else e


def _axis(ax, axis, which: str) -> None:
    if axis is None:
        getattr(ax, f"set_{which}ticks")([])
        return
    getattr(ax, f"set_{which}label")(axis.label)
    if axis.log:
        getattr(ax, f"set_{which}scale")("log")
        scale = getattr(ax, f"{which}axis")
        scale.set_minor_formatter(matplotlib.ticker.NullFormatter())
        c = np.asarray(axis.coordinates, float)
        if c.max() / c.min() < 100:  # under two decades: ticks at the values themselves
            getattr(ax, f"set_{which}ticks")(c, [_fmt(float(v)) for v in c])
    if not axis.numeric:
        getattr(ax, f"set_{which}ticks")(range(len(axis.values)), [str(v) for v in axis.values])
    elif not axis.log and all(
        float(c).is_integer() for c in axis.coordinates
    ):  # seeds, n_hidden: whole numbers
        getattr(ax, f"set_{which}ticks")(axis.coordinates, [f"{int(c)}" for c in axis.coordinates])


def _fmt(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)

"""Attribution graphs of one input through the two-hop circuit: the true model's and a replacement's.

Nodes are the units active on the input, in four columns: inputs A, layer-0 units (the model's B
neurons, or the replacement's layer-0 latents), layer-1 units (C neurons, or layer-1 latents), and the
outputs C. Edges are linear attributions with the activations frozen at their values on this input
(the "local replacement" view of Ameisen et al. 2025): the source's value times the weight of the path
from it to the target's pre-activation (through the residual stream) or to the output. A cross-layer
transcoder's layer-0 latents writing C directly appear as edges that skip the layer-1 column.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from superpose import targets as targets_lib
from superpose.targets import TargetConfig
from superpose.transcoders.model import TranscoderConfig, from_arrays

COLUMNS = ("input A", "layer 0", "layer 1", "output C")


@dataclasses.dataclass
class Graph:
    nodes: list[tuple[int, str, float]]
    """(column, label, activation)."""
    edges: list[tuple[int, int, float]]
    """(source node, target node, attribution)."""


def _build(x: np.ndarray, units0, units1, read0, read1_from_a, read1_from_0, write0_out, write1_out, n_c: int,
           labels0, labels1, outputs) -> Graph:
    nodes, edges = [], []
    a_nodes = {i: len(nodes) + k for k, i in enumerate(np.flatnonzero(x))}
    nodes += [(0, f"A{i}", float(x[i])) for i in a_nodes]
    l0 = {j: len(nodes) + k for k, j in enumerate(np.flatnonzero(units0))}
    nodes += [(1, labels0[j], float(units0[j])) for j in l0]
    l1 = {j: len(nodes) + k for k, j in enumerate(np.flatnonzero(units1))}
    nodes += [(2, labels1[j], float(units1[j])) for j in l1]
    out = {m: len(nodes) + m for m in range(n_c)}
    nodes += [(3, f"C{m}", float(outputs[m])) for m in range(n_c)]
    for i, src in a_nodes.items():
        edges += [(src, dst, float(x[i] * read0[j, i])) for j, dst in l0.items()]
        edges += [(src, dst, float(x[i] * read1_from_a[k, i])) for k, dst in l1.items()]
    for j, src in l0.items():
        edges += [(src, dst, float(units0[j] * read1_from_0[k, j])) for k, dst in l1.items()]
        edges += [(src, out[m], float(units0[j] * write0_out[j, m])) for m in range(n_c)]
    for k, src in l1.items():
        edges += [(src, out[m], float(units1[k] * write1_out[k, m])) for m in range(n_c)]
    return Graph(nodes, [e for e in edges if abs(e[2]) > 1e-6])


def true_graph(target: TargetConfig, x: np.ndarray) -> Graph:
    """The planted circuit's graph on input x."""
    p = targets_lib.TwoHop.planted(target)
    n, k = target.n_features, target.n_hidden
    model = targets_lib.from_arrays(target, p)
    ins, outs = model.mlp_io(jnp.asarray(x[None]))
    b = np.maximum(np.asarray(ins[0, 0]) @ p["W_in"][0].T + p["b_in"][0], 0)
    c = np.maximum(np.asarray(ins[1, 0]) @ p["W_in"][1].T + p["b_in"][1], 0)
    read1 = p["W_in"][1] @ p["W_out"][0]  # C neurons x B neurons
    return _build(x, b, c, p["W_in"][0][:, :n], p["W_in"][1][:, :n], read1, np.zeros((k, k)),
                  p["W_out"][1][n + k:].T, k, [f"B{j}" for j in range(k)], [f"C{j}" for j in range(k)],
                  np.asarray(outs[1, 0, n + k:]))


def replacement_graph(config: TranscoderConfig, target: TargetConfig, params: dict[str, np.ndarray],
                      target_params: dict[str, np.ndarray], x: np.ndarray) -> Graph:
    """The replacement's graph on input x (closed loop: layer 1 reads the replacement's own residual)."""
    n, k = target.n_features, target.n_hidden
    model = from_arrays(config, target, params)
    t = targets_lib.from_arrays(target, target_params)
    out, acts = model.closed_loop(t, jnp.asarray(x[None]))
    a0, a1 = np.asarray(acts[0][0]), np.asarray(acts[1][0])
    enc0, enc1 = np.asarray(model.W_enc[0]), np.asarray(model.W_enc[1])
    dec00, dec01, dec11 = (np.asarray(model.decoder(s, layer)) for s, layer in ((0, 0), (0, 1), (1, 1)))
    c = slice(n + k, n + 2 * k)
    write0 = dec01[:, c]
    if model.W_skip is not None:  # the skip path of layer 1 reads what layer 0 wrote
        write0 = write0 + dec00 @ np.asarray(model.W_skip[1])[c].T
    return _build(
        x,
        a0,
        a1,
        enc0[:, :n],
        enc1[:, :n],
        enc1 @ dec00.T,
        write0,
        dec11[:, c],
        k,
        [f"z{j}" for j in range(len(a0))],
        [f"z'{j}" for j in range(len(a1))],
        np.asarray(out[0, c]),
    )


def draw(ax, graph: Graph, title: str) -> None:
    """Columns left to right, edge width ∝ |attribution| (red positive, blue negative)."""
    columns: dict[int, list[int]] = {}
    for i, (col, _, _) in enumerate(graph.nodes):
        columns.setdefault(col, []).append(i)
    position = {}
    for col, members in columns.items():
        for rank, i in enumerate(members):
            position[i] = (col, (rank - (len(members) - 1) / 2) * 0.9)
    strongest = max((abs(w) for *_, w in graph.edges), default=1.0)
    for src, dst, w in graph.edges:
        if abs(w) < 0.03 * strongest:
            continue
        (x0, y0), (x1, y1) = position[src], position[dst]
        ax.plot(
            [x0, x1],
            [y0, y1],
            color="#c0392b" if w > 0 else "#2e6fb5",
            lw=0.4 + 3.5 * abs(w) / strongest,
            alpha=0.75,
            zorder=1,
            ls="-" if x1 - x0 == 1 else (0, (4, 2)),
        )
    for i, (_col, label, value) in enumerate(graph.nodes):
        x, y = position[i]
        ax.scatter([x], [y], s=420, color="white", edgecolor="k", zorder=2)
        ax.text(x, y, label, ha="center", va="center", fontsize=7, zorder=3)
        ax.text(x, y - 0.36, f"{value:.2f}", ha="center", va="center", fontsize=6, color="0.35", zorder=3)
    ax.set_xticks(range(len(COLUMNS)), COLUMNS, fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.5, len(COLUMNS) - 0.5)
    span = max(len(m) for m in columns.values()) * 0.45 + 0.5
    ax.set_ylim(-span, span)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title + "\n(dashed: edges that skip a column)", fontsize=8.5)

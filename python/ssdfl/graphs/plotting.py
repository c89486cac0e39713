"""Pictures of graphs and formations (matplotlib, Agg-safe, atomic saves)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ssdfl._atomic import atomic_path
from ssdfl.graphs.graph import GraphLike, as_graph

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = [
    "SPECTRAL_LAYOUT_MIN",
    "cluster_colours",
    "layout",
    "plot_formation",
    "save_figure",
    "spectral_layout",
]


SPECTRAL_LAYOUT_MIN = 300
"""Graphs above this size are drawn with the spectral layout (force-directed layouts cost
``O(n²)`` per iteration)."""


def layout(g: GraphLike, seed: int = 0) -> np.ndarray:
    """Deterministic 2-D positions ``(n, 2)``: networkx spring layout (Kamada–Kawai start up to
    200 nodes), seeded so the same graph always draws the same way; above
    :data:`SPECTRAL_LAYOUT_MIN` nodes the spectral layout (:func:`spectral_layout`)."""
    import networkx as nx

    g = as_graph(g)
    if g.n > SPECTRAL_LAYOUT_MIN:
        return spectral_layout(g)
    h = nx.Graph()
    h.add_nodes_from(range(g.n))
    s, d, w = g.edges()
    h.add_weighted_edges_from(zip(s.tolist(), d.tolist(), w.tolist()))
    init = nx.kamada_kawai_layout(h) if 0 < g.n <= 200 else None
    pos = nx.spring_layout(h, pos=init, seed=seed, iterations=50)
    return np.array([pos[i] for i in range(g.n)]) if g.n else np.zeros((0, 2))


def spectral_layout(g: GraphLike) -> np.ndarray:
    """Positions from the eigenvectors of the 2nd and 3rd smallest eigenvalues of the
    Laplacian ``D − A``, each scaled to ``[−1, 1]`` (sign fixed by the largest entry). Plain
    Lanczos on ``cI − L`` with an iteration cap first (fast on expanders: random and
    scale-free graphs), shift-invert Lanczos near 0 if it does not converge (sparse LU, cheap
    on geometric graphs, whose small eigenvalues are clustered)."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    g = as_graph(g)
    n = g.n
    if n < 4:
        return np.column_stack([np.linspace(-1, 1, n), np.zeros(n)]) if n else np.zeros((0, 2))
    s, d, w = g.edges()
    A = sp.coo_array((np.concatenate([w, w]), (np.concatenate([s, d]), np.concatenate([d, s]))),
                     shape=(n, n)).tocsc()  # fmt: skip
    L = sp.csc_array(sp.diags_array(np.asarray(A.sum(axis=1)).ravel()) - A)
    v0 = np.random.default_rng(0).standard_normal(n)
    c = 2.0 * float(L.diagonal().max())
    try:
        M = sp.csr_array(c * sp.eye_array(n, format="csr") - L)
        _, V = spla.eigsh(M, k=3, which="LA", v0=v0, maxiter=50 * 3, tol=1e-4)
        V = V[:, ::-1]
    except spla.ArpackNoConvergence:
        shift = 1e-3 * float(L.diagonal().mean())
        _, V = spla.eigsh(L, k=3, sigma=-shift, which="LM", v0=v0)
    pos = V[:, 1:3].copy()
    for k in range(2):
        c = pos[:, k]
        j = int(np.argmax(np.abs(c)))
        c *= np.sign(c[j]) / max(float(np.abs(c).max()), 1e-300)
    return pos


def cluster_colours(labels: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """RGBA colour per cluster (row ``c`` for label ``c``) such that clusters joined by an edge
    never share a colour: a greedy colouring of the cluster graph (largest degree first) over
    tab10/tab20, extended by evenly spaced hues when more colours are needed. Up to 20 clusters
    every cluster gets its own colour."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import hsv_to_rgb

    k = int(labels.max(initial=-1)) + 1
    base = plt.get_cmap("tab10" if k <= 10 else "tab20")
    if k <= base.N:
        return np.array([base(c) for c in range(k)])
    a, b = labels[src], labels[dst]
    cross = a != b
    nbrs: list[set[int]] = [set() for _ in range(k)]
    for u, v in zip(a[cross].tolist(), b[cross].tolist()):
        nbrs[u].add(v)
        nbrs[v].add(u)
    slot = np.full(k, -1, dtype=np.int64)
    for c in sorted(range(k), key=lambda c: -len(nbrs[c])):
        used = {int(slot[x]) for x in nbrs[c] if slot[x] >= 0}
        slot[c] = next(i for i in range(k) if i not in used)
    n_col = int(slot.max()) + 1
    palette = [base(i) for i in range(base.N)]
    for i in range(base.N, n_col):  # golden-ratio hues, alternating lightness
        h = (i * 0.618033988749895) % 1.0
        palette.append((*hsv_to_rgb((h, 0.65, 0.95 if i % 2 else 0.7)), 1.0))
    return np.array([palette[int(x)] for x in slot])


def plot_formation(
    g: GraphLike,
    labels: Sequence[int] | np.ndarray,
    path: str | os.PathLike[str] | None = None,
    title: str | None = None,
    pos: np.ndarray | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Draw ``g`` with nodes coloured by cluster ``labels`` (intra-cluster edges solid, edges
    between clusters dashed grey). Saves to ``path`` atomically when given (``ax`` then on a
    top-level figure); returns the figure."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection
    from matplotlib.figure import Figure

    g = as_graph(g)
    lab = np.asarray(labels)
    if lab.shape != (g.n,):
        raise ValueError(f"labels has shape {lab.shape}, expected ({g.n},)")
    pos = layout(g) if pos is None else np.asarray(pos)
    fig: Figure | SubFigure
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 6.0))
    else:
        fig = ax.figure
    s, d, _ = g.edges()
    same = lab[s] == lab[d]
    segs = np.stack([pos[s], pos[d]], axis=1) if len(s) else np.zeros((0, 2, 2))
    ax.add_collection(LineCollection(segs[~same], colors="0.7", linewidths=0.8, linestyles="--"))
    colour = cluster_colours(lab, s, d)
    ax.add_collection(LineCollection(segs[same], colors=colour[lab[s[same]]], linewidths=1.6))
    big = g.n > 200
    ax.scatter(
        pos[:, 0],
        pos[:, 1],
        c=colour[lab],
        s=90 if not big else max(2.0, 90.0 * 200 / g.n),
        edgecolors="k" if not big else "none",
        linewidths=0.6,
        zorder=3,
    )
    if g.n <= 60:
        names = g.node_names()
        for i in range(g.n):
            ax.annotate(str(names[i]), pos[i], ha="center", va="center", fontsize=6, zorder=4)
    ax.set_title(title or f"{len(np.unique(lab))} clusters, {g.n} devices")
    ax.set_aspect("equal")
    ax.axis("off")
    ax.autoscale()
    if path is not None:
        if not isinstance(fig, Figure):  # a SubFigure has no savefig
            raise ValueError("path= needs axes of a top-level Figure, not of a SubFigure")
        save_figure(fig, path)
    return fig


def save_figure(
    fig: Figure, path: str | os.PathLike[str], dpi: int = 130, close: bool = True
) -> Path:
    """Save a matplotlib figure atomically (temporary file, then rename); close it if asked."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    if close:
        plt.close(fig)
    return Path(path)

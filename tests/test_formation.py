"""Formation / Partition result types: derived views, JSON round trip, atomic save/load."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ssdfl
from ssdfl.clusters.formation import FORMATION_SCHEMA, Formation, Partition


def _formation(clusters: list[list[int]], n: int) -> Formation:
    S = len(clusters)
    return Formation(
        n=n,
        clusters=[np.array(c) for c in clusters],
        conductance=np.linspace(0.1, 0.9, S),
        lower_bound=np.linspace(0.05, 0.5, S),
        upper_bound=np.linspace(0.1, 0.9, S),
        exact=[i % 2 == 0 for i in range(S)],
        method=["exact" if i % 2 == 0 else "bounds" for i in range(S)],
        cut_conductance=np.linspace(0.2, 0.3, S),
        measure="mixing",
        mixing_rule="lazy-metropolis",
        info={"split": {"cluster": np.int64(0), "score": np.float64(0.5)}},
    )


@st.composite
def partitions(draw: st.DrawFn) -> tuple[list[list[int]], int]:
    n = draw(st.integers(1, 40))
    S = draw(st.integers(1, n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    perm = rng.permutation(n)
    cuts = np.sort(rng.choice(np.arange(1, n), size=S - 1, replace=False)) if S > 1 else []
    return [sorted(p.tolist()) for p in np.split(perm, cuts)], n


@given(partitions())
def test_labels_sizes_and_json_round_trip(arg: tuple[list[list[int]], int]) -> None:
    clusters, n = arg
    f = _formation(clusters, n)
    assert f.S == len(clusters)
    assert f.sizes.sum() == n
    lab = f.labels
    for i, c in enumerate(f.clusters):
        assert np.all(lab[c] == i)
    g = Formation.from_json(f.to_json())
    assert g == f
    assert json.loads(f.to_json())["schema"] == FORMATION_SCHEMA
    assert g.weakest == int(np.argmin(f.conductance))


def test_save_load_atomic(tmp_path) -> None:
    f = _formation([[0, 2], [1, 3, 4]], 5)
    p = f.save(tmp_path / "sub" / "f.json")
    assert Formation.load(p) == f
    assert [x.name for x in p.parent.iterdir()] == ["f.json"]  # no temporary left behind
    part = Partition(**{k: getattr(f, k) for k in f.__dataclass_fields__})
    q = part.save(tmp_path / "p.json")
    back = Formation.load(q)
    assert isinstance(back, Partition) and back == part
    with pytest.raises(ssdfl.SsdflError):
        Partition.from_json(f.to_json())


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ssdfl.SsdflError, match="partition"):
        _formation([[0, 1], [1, 2]], 3)
    with pytest.raises(ssdfl.SsdflError, match="partition"):
        _formation([[0, 1]], 3)
    with pytest.raises(ssdfl.SsdflError, match="schema"):
        Formation.from_json(json.dumps({"schema": "other/9"}))
    with pytest.raises(ssdfl.SsdflError, match="JSON"):
        Formation.from_json("{not json")
    d = json.loads(_formation([[0, 1]], 2).to_json())
    del d["conductance"]
    with pytest.raises(ssdfl.SsdflError, match="malformed"):
        Formation.from_json(json.dumps(d))
    f = _formation([[0, 1]], 2)
    with pytest.raises(ssdfl.SsdflError):
        f.cluster_of(5)


def test_cut_conductance_matches_networkx() -> None:
    G = nx.barbell_graph(5, 2)
    fs = ssdfl.split_hierarchy(G, 0.2, max_clusters=3)
    for f in fs[1:]:
        for c, val in zip(f.clusters, f.cut_conductance):
            assert val == pytest.approx(nx.conductance(G, set(c.tolist())), rel=1e-12)
    assert fs[0].cut_conductance.tolist() == [0.0]

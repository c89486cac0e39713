"""Heterogeneity scores against scipy and brute-force loops."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from ssdfl.errors import SsdflError
from ssdfl.theory.data import label_histograms, load_digits_federated
from ssdfl.theory.heterogeneity import (
    cluster_scores,
    formation_heterogeneity,
    gradient_dissimilarity,
    jsd,
    label_jsd,
    optimizer_heterogeneity,
)
from ssdfl.theory.models import Quadratic
from ssdfl.theory.optimizers import random_population


@given(seed=st.integers(0, 2**31), C=st.integers(2, 8))
def test_jsd_matches_scipy(seed: int, C: int) -> None:
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 5, size=C).astype(float)
    q = rng.integers(0, 5, size=C).astype(float)
    p[0] += 1
    q[-1] += 1
    assert jsd(p, q) == pytest.approx(jensenshannon(p, q, base=2) ** 2, abs=1e-12)


@given(seed=st.integers(0, 2**31), n=st.integers(1, 12), S=st.integers(1, 4))
def test_label_jsd_brute_force(seed: int, n: int, S: int) -> None:
    rng = np.random.default_rng(seed)
    H = rng.integers(0, 6, size=(n, 4)).astype(float)
    H[:, 0] += 1
    labels = rng.integers(0, S, size=n)
    got = label_jsd(H, labels)
    for k, s in enumerate(np.unique(labels)):
        Hs = H[labels == s]
        pbar = Hs.sum(0) / Hs.sum()
        ref = sum((h.sum() / Hs.sum()) * jensenshannon(h / h.sum(), pbar, base=2) ** 2 for h in Hs)
        assert got[k] == pytest.approx(ref, abs=1e-12)
        assert 0.0 <= got[k] <= 1.0


def test_label_jsd_extremes() -> None:
    # identical distributions → 0; two one-label devices of equal size → JSD((1,0),(½,½))
    same = np.array([[3.0, 1.0], [6.0, 2.0]])
    assert label_jsd(same, [0, 0])[0] == pytest.approx(0.0, abs=1e-15)
    disjoint = np.array([[5.0, 0.0], [0.0, 5.0]])
    expected = 0.5 * np.log2(4 / 3) + 0.5 * (0.5 * np.log2(2 / 3) + 0.5 * np.log2(2))
    assert label_jsd(disjoint, [0, 0])[0] == pytest.approx(expected)
    # 1-label digits devices are more heterogeneous than 3-label ones (whole network cluster)
    d1 = load_digits_federated(20, "1-label", seed=0)
    d3 = load_digits_federated(20, "k-label", k=3, seed=0)
    z = np.zeros(20, dtype=int)
    assert label_jsd(d1.label_histograms(), z)[0] > label_jsd(d3.label_histograms(), z)[0]


@given(seed=st.integers(0, 2**31))
def test_gradient_dissimilarity_and_optimizer_term(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 7
    q = Quadratic.random(n, 3, rng)
    labels = rng.integers(0, 3, size=n)
    x0 = rng.normal(size=3)
    got = gradient_dissimilarity(q, labels, x0)
    for k, s in enumerate(np.unique(labels)):
        idx = np.flatnonzero(labels == s)
        gs = [q.A[i] @ (x0 - q.b[i]) for i in idx]
        gbar = np.mean(gs, axis=0)
        assert got[k] == pytest.approx(np.mean([np.sum((g - gbar) ** 2) for g in gs]))
    pop = random_population(n, rng)
    a = pop.alphas(5, 0.1)
    om = optimizer_heterogeneity(a, labels)
    for k, s in enumerate(np.unique(labels)):
        v = a[labels == s]
        assert om[k] == pytest.approx(np.mean((v - v.mean()) ** 2) / v.mean() ** 2)
    H = label_histograms(rng.integers(0, 3, size=40), np.array_split(np.arange(40), n), 3)
    sc = cluster_scores(labels, a, histograms=H, gamma=2.0)
    np.testing.assert_allclose(sc, label_jsd(H, labels) + 2.0 * om)
    sg = cluster_scores(labels, a, model=q, x0=x0, gamma=0.5, data="gradients")
    np.testing.assert_allclose(sg, got + 0.5 * om)
    sizes = np.array([np.sum(labels == s) for s in np.unique(labels)])
    assert formation_heterogeneity(sc, labels) == pytest.approx(sizes @ sc / n)


def test_bad_input() -> None:
    with pytest.raises(SsdflError):
        jsd(np.array([-1.0, 2.0]), np.array([1.0, 1.0]))
    with pytest.raises(SsdflError):
        jsd(np.zeros(2), np.ones(2))
    with pytest.raises(SsdflError):
        label_jsd(np.ones((3, 2)), [0, 1])
    with pytest.raises(SsdflError):
        optimizer_heterogeneity([1.0, -1.0], [0, 0])
    with pytest.raises(SsdflError):
        cluster_scores([0, 0], [1.0, 1.0])
    with pytest.raises(SsdflError):
        cluster_scores([0, 0], [1.0, 1.0], histograms=np.ones((2, 2)), data="bogus")
    with pytest.raises(SsdflError):
        formation_heterogeneity(np.ones(3), [0, 1])

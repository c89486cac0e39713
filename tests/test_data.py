"""Non-IID splits: partitions, label counts per device, Dirichlet skew; digits loader."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdfl.errors import SsdflError
from ssdfl.theory.data import (
    label_histograms,
    label_skew_split,
    load_digits_federated,
    split_dirichlet,
    split_k_label,
    synthetic_classification,
    synthetic_regression,
)


def _is_partition(parts: list[np.ndarray], n: int) -> bool:
    allidx = np.concatenate(parts)
    return len(allidx) == n and np.array_equal(np.sort(allidx), np.arange(n))


@given(
    seed=st.integers(0, 2**31), n_dev=st.integers(1, 20), C=st.integers(1, 8), k=st.integers(1, 8)
)
def test_k_label_split(seed: int, n_dev: int, C: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(C), 25)
    if k > C:
        with pytest.raises(SsdflError):
            split_k_label(y, n_dev, k, rng)
        return
    parts = split_k_label(y, n_dev, k, rng)
    assert _is_partition(parts, len(y)) if n_dev * k >= C else True
    h = label_histograms(y, parts, C)
    assert np.all((h > 0).sum(axis=1) == k)
    # each label is held by ⌊Nk/C⌋ or ⌈Nk/C⌉ devices
    holders = (h > 0).sum(axis=0)
    assert set(holders.tolist()) <= {n_dev * k // C, -(-n_dev * k // C)}


@given(seed=st.integers(0, 2**31), alpha=st.floats(0.05, 100.0))
def test_dirichlet_split(seed: int, alpha: float) -> None:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(4), 50)
    parts = split_dirichlet(y, 6, alpha, rng, min_size=2)
    assert _is_partition(parts, len(y))
    assert min(len(p) for p in parts) >= 2


def test_dirichlet_skew_grows_as_alpha_shrinks() -> None:
    y = np.repeat(np.arange(10), 200)

    def mean_max_share(alpha: float) -> float:
        rng = np.random.default_rng(0)
        h = label_histograms(y, split_dirichlet(y, 20, alpha, rng), 10)
        return float(np.mean(h.max(axis=1) / h.sum(axis=1)))

    assert mean_max_share(0.05) > mean_max_share(1.0) > mean_max_share(100.0)
    assert mean_max_share(100.0) < 0.25  # near IID: the top label holds ~1/10 of samples


def test_digits_and_synthetic() -> None:
    d = load_digits_federated(30, "1-label", seed=1)
    assert d.X.shape == (1797, 64) and _is_partition(d.parts, 1797)
    assert np.all((d.label_histograms() > 0).sum(axis=1) == 1)
    d3 = load_digits_federated(30, "k-label", k=3, seed=1)
    assert np.all((d3.label_histograms() > 0).sum(axis=1) == 3)
    assert d3.logistic().dim == 65 * 10
    iid = label_skew_split(d.y, 5, "iid", rng=0)
    assert _is_partition(iid, 1797)
    r0 = synthetic_regression(6, heterogeneity=0.0, noise=0.0, seed=3)
    ls = r0.least_squares()
    # IID noiseless devices share one exact linear model: every device is optimal at the optimum
    x = ls.optimum()
    np.testing.assert_allclose(ls.grad(np.tile(x, (6, 1))), 0.0, atol=1e-10)
    r1 = synthetic_regression(6, heterogeneity=2.0, noise=0.0, seed=3)
    g = r1.least_squares().grad(np.tile(r1.least_squares().optimum(), (6, 1)))
    assert np.linalg.norm(g) > 0.1
    c = synthetic_classification(8, scheme="k-label", k=2, seed=0)
    assert np.all((c.label_histograms() > 0).sum(axis=1) == 2)
    with pytest.raises(SsdflError):
        r0.label_histograms()
    with pytest.raises(SsdflError):
        label_skew_split(d.y, 5, "bogus")
    with pytest.raises(SsdflError):
        split_k_label(np.array([0.5, 1.0]), 2, 1, np.random.default_rng(0))

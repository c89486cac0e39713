"""Per-cluster models in the simulator (issue 20): inter-cluster rounds every cycle, every k
cycles or never, and own-distribution metrics — against a plain numpy re-implementation."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from ssdfl.errors import SsdflError
from ssdfl.simulate import SSDFL, simulate
from ssdfl.simulate.metrics import own_distribution_sets, own_losses_accuracies
from ssdfl.theory.data import load_digits_federated
from ssdfl.theory.models import LogisticRegression


def _metropolis(adj: np.ndarray) -> np.ndarray:
    """Lazy Metropolis weights of a 0/1 adjacency matrix, written out entry by entry."""
    n = len(adj)
    deg = adj.sum(1)
    W = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j and adj[i, j]:
                W[i, j] = 1.0 / (1.0 + max(deg[i], deg[j]))
        W[i, i] = 1.0 - W[i].sum()
    return 0.5 * (W + np.eye(n))


def _softmax_grad(x: np.ndarray, Z: np.ndarray, y: np.ndarray, C: int, l2: float) -> np.ndarray:
    Zt = np.hstack([Z, np.ones((len(Z), 1))])
    W = x.reshape(Zt.shape[1], C)
    lg = Zt @ W
    lg -= lg.max(1, keepdims=True)
    P = np.exp(lg)
    P /= P.sum(1, keepdims=True)
    P[np.arange(len(y)), y] -= 1.0
    return (Zt.T @ P / len(y)).ravel() + l2 * x


def _ce(x: np.ndarray, Z: np.ndarray, y: np.ndarray, C: int) -> tuple[float, float]:
    Zt = np.hstack([Z, np.ones((len(Z), 1))])
    lg = Zt @ x.reshape(Zt.shape[1], C)
    m = lg.max(1, keepdims=True)
    logp = lg - m - np.log(np.exp(lg - m).sum(1, keepdims=True))
    return float(-logp[np.arange(len(y)), y].mean()), float(np.mean(lg.argmax(1) == y))


@pytest.fixture(scope="module")
def setup() -> tuple:
    g = nx.stochastic_block_model([4, 4, 4], [[0.9, 0.1, 0.05], [0.1, 0.9, 0.1],
                                              [0.05, 0.1, 0.9]], seed=3)  # fmt: skip
    assert nx.is_connected(g)
    blocks = np.repeat([0, 1, 2], 4)
    ds = load_digits_federated(1, "iid", seed=0)
    rng = np.random.default_rng(1)
    Zs, ys = [], []
    for i in range(12):  # block b holds labels {2b, 2b+1}
        pool = np.flatnonzero(np.isin(ds.y, [2 * blocks[i], 2 * blocks[i] + 1]))
        ix = rng.choice(pool, 15, replace=False)
        Zs.append(ds.X[ix])
        ys.append(ds.y[ix])
    model = LogisticRegression(Zs, ys, 10, l2=1e-2)
    hist = np.zeros((12, 10))
    for i in range(12):
        hist[i, [2 * blocks[i], 2 * blocks[i] + 1]] = 1.0
    Zo, yo = own_distribution_sets(ds.X, ds.y, hist, 20, rng=5)
    own = LogisticRegression(Zo, yo, 10, l2=1e-2)
    return g, blocks, Zs, ys, model, own, Zo, yo


@pytest.mark.parametrize("every", [1, 2, 0])
def test_inter_every_matches_numpy(setup: tuple, every: int) -> None:
    g, blocks, Zs, ys, model, own, Zo, yo = setup
    tau_a, tau_r, cycles, eta = 3, 2, 5, 0.2
    res = simulate(model, g, SSDFL(clusters=blocks, inter_every=every), tau_a=tau_a,
                   tau_r=tau_r, cycles=cycles, eta=eta, own_test=own)  # fmt: skip
    A = nx.to_numpy_array(g, nodelist=range(12)) > 0
    W = _metropolis(A)
    Wi = _metropolis(A & (blocks[:, None] == blocks[None, :]))
    X = np.zeros((12, model.dim))
    intra = inter = 0
    m_in = int((A & (blocks[:, None] == blocks[None, :])).sum())  # = 2 · intra edges
    for k in range(1, cycles + 1):
        for _ in range(tau_a):
            G = np.stack([_softmax_grad(X[i], Zs[i], ys[i], 10, 1e-2) for i in range(12)])
            X = Wi @ X - eta * G
            intra += m_in
        if every and k % every == 0:
            for _ in range(tau_r):
                X = W @ X
                inter += int(A.sum())
    np.testing.assert_allclose(res.X, X, rtol=1e-10, atol=1e-12)
    fin = res.final
    assert fin["msgs_intra"] == intra and fin["msgs_inter"] == inter
    assert fin["d2d_bytes"] == (intra + inter) * model.dim * 4
    ce = np.array([_ce(X[i], Zo[i], yo[i], 10) for i in range(12)])
    assert fin["own_loss_mean"] == pytest.approx(ce[:, 0].mean(), rel=1e-10)
    assert fin["own_loss_max"] == pytest.approx(ce[:, 0].max(), rel=1e-10)
    assert fin["own_loss_p90"] == pytest.approx(np.percentile(ce[:, 0], 90), rel=1e-10)
    assert fin["own_acc_mean"] == pytest.approx(ce[:, 1].mean())
    assert fin["own_acc_min"] == pytest.approx(ce[:, 1].min())
    assert fin["own_acc_p10"] == pytest.approx(np.percentile(ce[:, 1], 10))
    if every == 0:  # separate models: no byte across blocks, models differ between blocks
        assert fin["msgs_inter"] == 0
        assert not np.allclose(X[blocks == 0].mean(0), X[blocks == 1].mean(0))


def test_specialised_beats_global_on_own_distribution(setup: tuple) -> None:
    """The planted blocks with no inter-cluster rounds fit each device's own distribution
    better than one model over the whole graph (label-aligned blocks)."""
    g, blocks, _, _, model, own, _, _ = setup
    kw = dict(tau_a=10, tau_r=2, cycles=15, eta=0.3, own_test=own)
    spec = simulate(model, g, SSDFL(clusters=blocks, inter_every=0), **kw).final
    glob = simulate(model, g, SSDFL(clusters=np.zeros(12, int)), **kw).final
    assert spec["own_loss_mean"] < glob["own_loss_mean"]
    assert spec["d2d_bytes"] < glob["d2d_bytes"]


def test_own_distribution_sets_follow_histograms() -> None:
    y = np.repeat(np.arange(4), 50)
    Z = np.arange(200.0)[:, None]
    hist = np.array([[3, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 5]], float)
    Zs, ys = own_distribution_sets(Z, y, hist, 8, rng=0)
    assert [np.bincount(t, minlength=4).tolist() for t in ys] == [[6, 2, 0, 0], [0, 0, 4, 4],
                                                                  [0, 0, 0, 8]]  # fmt: skip
    for z, t in zip(Zs, ys):
        assert np.array_equal(y[z[:, 0].astype(int)], t)
        assert len(np.unique(z)) == len(z)  # without replacement while the pool suffices
    with pytest.raises(SsdflError, match="positive rows"):
        own_distribution_sets(Z, y, np.zeros((2, 4)), 8)


def test_own_metrics_mlp_against_per_device_predict() -> None:
    ds = load_digits_federated(4, "k-label", k=2, seed=0)
    mlp = ds.mlp(hidden=(8,))
    X = np.random.default_rng(0).normal(0, 0.3, (4, mlp.dim))
    loss, acc = own_losses_accuracies(mlp, X)
    for i in range(4):
        one = mlp.subset([i])
        pred = one.predict(X[i : i + 1], one.Z)[0]
        assert acc is not None and acc[i] == pytest.approx(np.mean(pred == one.y_all))
        reg = 0.5 * mlp.l2 * float(X[i] @ X[i])
        assert loss[i] == pytest.approx(float(one.loss(X[i : i + 1])[0]) - reg, rel=1e-12)


def test_inter_every_rejects_bad_values(setup: tuple) -> None:
    g, blocks, _, _, model, _, _, _ = setup
    with pytest.raises(SsdflError, match="inter_every"):
        simulate(model, g, SSDFL(clusters=blocks, inter_every=-1), cycles=1)
    with pytest.raises(SsdflError, match="own_test"):
        bad = LogisticRegression([np.ones((2, 64))] * 3, [np.array([0, 1])] * 3, 10)
        simulate(model, g, SSDFL(clusters=blocks), cycles=1, own_test=bad)

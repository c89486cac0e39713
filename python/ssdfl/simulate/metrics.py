"""Per-cycle metrics of a simulation (all vectorized over devices).

With ``X`` the ``(N, d)`` models and ``x̄ = (1/N) Σ_i x_i``:

- ``loss``: the global objective ``F(x̄) = (1/N) Σ_j F_j(x̄)`` at the average model;
- ``accuracy`` (classification): accuracy of ``x̄`` on the evaluation set (a held-out set if
  given, otherwise the union of all devices' training data);
- ``device_loss_mean`` / ``device_loss_max``: mean / max over devices ``i`` of ``F(x_i)``, the
  global objective at device ``i``'s own model;
- ``device_acc_mean`` / ``device_acc_min`` (classification): mean / min over devices of the
  accuracy of device ``i``'s own model on the evaluation set (in serverless FL no device holds
  ``x̄``; these measure the models devices actually have);
- ``consensus_gap``: ``(1/N) Σ_i ‖x_i − x̄‖²``;
- ``dist_opt``: ``‖x̄ − x*‖`` when a reference point ``x*`` is given.

Own-distribution metrics (specialised models, ``docs/specialised.md``), when the run is given
an ``own_test`` model — a model of the same kind whose device ``i`` holds held-out samples drawn
from device ``i``'s *own* label distribution (:func:`own_distribution_sets`) — with
``ℓ_i = CE(x_i; own test set of i)`` (cross-entropy without the ``l2`` term) and ``a_i`` the
accuracy of ``x_i`` on that set:

- ``own_loss_mean`` / ``own_loss_max`` / ``own_loss_p90``: mean, worst device and 90th
  percentile (the 10 % worst devices) of ``ℓ_i``;
- ``own_acc_mean`` / ``own_acc_min`` / ``own_acc_p10``: mean, worst device and 10th
  percentile of ``a_i`` (classification).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.theory.models import DeviceModel, LeastSquares, LogisticRegression, Quadratic
from ssdfl.theory.nn import NeuralNet

__all__ = [
    "accuracy",
    "consensus_gap",
    "device_accuracies",
    "evaluate",
    "global_losses",
    "own_distribution_sets",
    "own_losses_accuracies",
]


def consensus_gap(X: np.ndarray) -> float:
    """``(1/N) Σ_i ‖x_i − x̄‖²``."""
    R = X - X.mean(axis=0)
    return float(np.einsum("ij,ij->", R, R) / X.shape[0])


def _logistic_losses(model: LogisticRegression, X: np.ndarray, chunk: int = 64) -> np.ndarray:
    P1, C = model.n_features + 1, model.n_classes
    w = 1.0 / (model.n_devices * model.counts[model.device])  # sample weights of F
    rows = np.arange(len(model.y_all))
    out = np.empty(len(X))
    for a in range(0, len(X), chunk):
        Xc = X[a : a + chunk]
        m = len(Xc)
        # one BLAS product: (n, P1) @ (P1, m·C) → logits of every model on every sample
        Wk = Xc.reshape(m, P1, C).transpose(1, 0, 2).reshape(P1, m * C)
        logits = (model.Zt @ Wk).reshape(-1, m, C)
        mx = logits.max(axis=2, keepdims=True)
        lse = np.log(np.exp(logits - mx).sum(axis=2)) + mx[..., 0]
        ce = lse - logits[rows, :, model.y_all]
        out[a : a + chunk] = w @ ce + 0.5 * model.l2 * np.sum(Xc * Xc, axis=1)
    return out


def _quadratic_losses(model: Quadratic, X: np.ndarray) -> np.ndarray:
    Abar = model.A.mean(axis=0)
    r = np.einsum("nij,nj->i", model.A, model.b) / model.n_devices
    k = np.mean(0.5 * np.einsum("ni,nij,nj->n", model.b, model.A, model.b) + model.c)
    return 0.5 * np.einsum("mi,ij,mj->m", X, Abar, X) - X @ r + k


def global_losses(model: DeviceModel, X: np.ndarray) -> np.ndarray:
    """``(M,)`` values ``F(x_m) = (1/N) Σ_j F_j(x_m)`` for the rows ``x_m`` of ``X``
    (closed forms for quadratics / least squares / softmax regression, models with a
    ``global_losses`` method use it, otherwise one ``global_loss`` call per row)."""
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    if hasattr(model, "global_losses"):
        return np.asarray(model.global_losses(X))
    if isinstance(model, Quadratic):
        return _quadratic_losses(model, X)
    if isinstance(model, LeastSquares):
        return _quadratic_losses(model.as_quadratic(), X)
    if isinstance(model, LogisticRegression):
        return _logistic_losses(model, X)
    return np.array([model.global_loss(x) for x in X])


def accuracy(model: LogisticRegression, x: np.ndarray, Z: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of one softmax-regression parameter vector ``x`` on samples ``(Z, y)``."""
    W = np.asarray(x).reshape(model.n_features + 1, model.n_classes)
    logits = np.asarray(Z) @ W[:-1] + W[-1]
    return float(np.mean(np.argmax(logits, axis=1) == np.asarray(y)))


def device_accuracies(
    model: LogisticRegression, X: np.ndarray, Z: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """``(M,)`` accuracies of the softmax-regression parameter rows of ``X`` on ``(Z, y)``."""
    m = len(X)
    P1, C = model.n_features + 1, model.n_classes
    Wk = X.reshape(m, P1, C).transpose(1, 0, 2).reshape(P1, m * C)
    logits = (np.asarray(Z) @ Wk[:-1] + Wk[-1]).reshape(len(Z), m, C)
    return np.mean(np.argmax(logits, axis=2) == np.asarray(y)[:, None], axis=0)


def own_distribution_sets(
    Z: np.ndarray,
    y: np.ndarray,
    hist: np.ndarray,
    per_device: int,
    rng: np.random.Generator | int | None = 0,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Held-out sets drawn from each device's own label distribution: for device ``i``,
    ``per_device`` samples of the pool ``(Z, y)`` whose labels follow ``hist[i] / Σ hist[i]``
    (class counts by largest remainders, at least one sample; samples of a class drawn
    without replacement while the pool has enough, devices draw independently). ``hist`` is
    ``(N, C)`` with classes ``0..C−1``. Returns the per-device features and labels."""
    Z = np.asarray(Z, dtype=np.float64)
    y = np.asarray(y)
    H = np.asarray(hist, dtype=np.float64)
    if H.ndim != 2 or np.any(H < 0) or np.any(H.sum(axis=1) <= 0):
        raise SsdflError("hist must be an (N, C) non-negative array with positive rows")
    if per_device < 1:
        raise SsdflError(f"per_device must be >= 1, got {per_device}")
    if len(Z) != len(y):
        raise SsdflError("Z and y need one row per sample")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    pools = [np.flatnonzero(y == c) for c in range(H.shape[1])]
    Zs, ys = [], []
    for i, h in enumerate(H):
        want = h / h.sum() * per_device
        cnt = np.floor(want).astype(int)
        rest = per_device - int(cnt.sum())
        cnt[np.argsort(-(want - cnt), kind="stable")[:rest]] += 1
        idx: list[np.ndarray] = []
        for c in np.flatnonzero(cnt):
            if len(pools[c]) == 0:
                raise SsdflError(f"device {i}: the held-out pool has no samples of class {c}")
            idx.append(gen.choice(pools[c], cnt[c], replace=cnt[c] > len(pools[c])))
        ix = np.concatenate(idx)
        Zs.append(Z[ix])
        ys.append(y[ix])
    return Zs, ys


def own_losses_accuracies(own: DeviceModel, X: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """``(ℓ, a)``: per-device cross-entropy (``own.loss`` without its ``l2`` term) and accuracy
    of row ``x_i`` of ``X`` on device ``i``'s data in ``own`` (``a`` is ``None`` for models
    without class predictions)."""
    X = np.asarray(X, dtype=np.float64)
    loss = np.asarray(own.loss(X), dtype=np.float64)
    l2 = float(getattr(own, "l2", 0.0))
    loss = loss - 0.5 * l2 * np.einsum("ij,ij->i", X, X)
    acc: np.ndarray | None = None
    if isinstance(own, LogisticRegression):
        W = X.reshape(own.n_devices, own.n_features + 1, own.n_classes)
        logits = np.einsum("kp,kpc->kc", own.Zt, W[own.device])
        hit = (np.argmax(logits, axis=1) == own.y_all).astype(np.float64)
        acc = np.add.reduceat(hit, own.offsets[:-1]) / own.counts
    elif isinstance(own, NeuralNet):
        off = own.offsets
        acc = np.array([
            float(np.mean(own.predict(X[i : i + 1], own.Z[off[i] : off[i + 1]])[0]
                          == own.y_all[off[i] : off[i + 1]]))
            for i in range(own.n_devices)
        ])  # fmt: skip
    return loss, acc


def _own_metrics(own: DeviceModel, X: np.ndarray) -> dict[str, float]:
    if own.n_devices != X.shape[0] or own.dim != X.shape[1]:
        raise SsdflError(
            f"own_test has {own.n_devices} devices of dimension {own.dim}; the models are "
            f"{X.shape[0]} × {X.shape[1]}"
        )
    loss, acc = own_losses_accuracies(own, X)
    out = {
        "own_loss_mean": float(loss.mean()),
        "own_loss_max": float(loss.max()),
        "own_loss_p90": float(np.percentile(loss, 90)),
    }
    if acc is not None:
        out.update(own_acc_mean=float(acc.mean()), own_acc_min=float(acc.min()),
                   own_acc_p10=float(np.percentile(acc, 10)))  # fmt: skip
    return out


def evaluate(
    model: DeviceModel,
    X: np.ndarray,
    *,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    x_star: np.ndarray | None = None,
    device_metrics: bool = True,
    own_test: DeviceModel | None = None,
) -> dict[str, Any]:
    """The metrics of the module docstring for models ``X`` (own-distribution metrics when
    ``own_test`` is given)."""
    xbar = X.mean(axis=0)
    out: dict[str, Any] = {"loss": float(global_losses(model, xbar[None])[0])}
    clf = model if isinstance(model, LogisticRegression) else None
    if clf is not None:
        Z, y = test_data if test_data is not None else (clf.Z, clf.y_all)
        out["accuracy"] = accuracy(clf, xbar, Z, y)
    if device_metrics:
        dl = global_losses(model, X)
        out["device_loss_mean"] = float(dl.mean())
        out["device_loss_max"] = float(dl.max())
        if clf is not None:
            da = device_accuracies(clf, X, Z, y)
            out["device_acc_mean"] = float(da.mean())
            out["device_acc_min"] = float(da.min())
    out["consensus_gap"] = consensus_gap(X)
    if x_star is not None:
        out["dist_opt"] = float(np.linalg.norm(xbar - x_star))
    if own_test is not None:
        out.update(_own_metrics(own_test, X))
    return out

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
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssdfl.theory.models import DeviceModel, LeastSquares, LogisticRegression, Quadratic

__all__ = ["accuracy", "consensus_gap", "device_accuracies", "evaluate", "global_losses"]


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


def evaluate(
    model: DeviceModel,
    X: np.ndarray,
    *,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    x_star: np.ndarray | None = None,
    device_metrics: bool = True,
) -> dict[str, Any]:
    """The metrics of the module docstring for models ``X``."""
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
    return out

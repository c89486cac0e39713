"""Analytic device models, vectorized over devices.

All devices' parameters form one ``(N, d)`` array ``X`` (row ``i`` = device ``i``'s model).
Every model has:

- ``loss(X) -> (N,)``: ``F_i(x_i)``; ``grad(X) -> (N, d)``: ``∇F_i(x_i)``;
- ``stochastic_grad(X, rng, sigma=0.0, batch_size=None)``: mini-batch gradient (data models,
  ``batch_size`` samples drawn uniformly with replacement from the device's data) plus additive
  Gaussian noise ``ξ_i ~ N(0, (σ²/d) I)``, so ``E ξ_i = 0`` and ``E‖ξ_i‖² = σ²``;
- ``L_i``, ``mu_i``: per-device smoothness / strong-convexity constants (``(N,)``), and
  ``L = max L_i``, ``mu = min mu_i``;
- ``optimum(weights=None)``: minimizer of ``Σ_i w_i F_i`` (uniform weights by default: the
  global objective is ``F = (1/N) Σ_i F_i``, the average that doubly stochastic gossip preserves);
- ``global_loss(x)``: ``(1/N) Σ_i F_i(x)`` at one vector ``x``;
- ``subset(idx)``: the same model restricted to some devices (e.g. a cluster).

Models:

- :class:`Quadratic`: ``F_i(x) = ½ (x − b_i)ᵀ A_i (x − b_i) + c_i`` with symmetric PSD ``A_i``;
  ``L_i = λ_max(A_i)``, ``μ_i = λ_min(A_i)``.
- :class:`LeastSquares`: ``F_i(x) = (1/2n_i) ‖Z_i x − y_i‖² + (λ/2)‖x‖²``; a quadratic
  (:meth:`LeastSquares.as_quadratic`).
- :class:`LogisticRegression`: softmax cross-entropy with ``C`` classes (``C = 2`` included),
  parameters ``W ∈ R^{(p+1)×C}`` flattened row-major (last feature = intercept), plus
  ``(λ/2)‖W‖²``. Smoothness ``L_i = ½ λ_max(Z̃_iᵀZ̃_i/n_i) + λ`` (Böhning's bound
  ``∇²_logits ≼ ½ I``); strong convexity ``μ_i = λ``.
- :class:`SmoothNonconvex`: ``F_i(x) = a Σ_k log(1 + (x_k − b_ik)²)`` — smooth, non-convex
  (curvature in ``[−a/4, 2a]``), bounded below by 0, gradients bounded coordinatewise by ``a``;
  a test model for the non-convex stationarity bound (``L_i = 2a``, ``μ_i = 0``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np
import scipy.optimize as sopt

from ssdfl.errors import SsdflError

__all__ = ["DeviceModel", "LeastSquares", "LogisticRegression", "Quadratic", "SmoothNonconvex"]


def _check_X(X: np.ndarray, n: int, d: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.shape != (n, d):
        raise SsdflError(f"parameters must have shape (N={n}, d={d}), got {X.shape}")
    return X


def _class_labels(y: np.ndarray, n_classes: int | None) -> tuple[np.ndarray, int]:
    """Class labels of a classification model as ``int64`` in ``0..C−1`` and the number of
    classes ``C ≥ 2`` (``n_classes``, default ``max + 1``); integer, boolean or integral
    float labels are accepted."""
    yy = np.asarray(y)
    if yy.dtype.kind == "f" and np.all(yy == np.round(yy)):
        yy = yy.astype(np.int64)
    if yy.dtype.kind not in "iub":
        raise SsdflError("classification labels must be integers")
    yy = yy.astype(np.int64)
    C = int(yy.max()) + 1 if n_classes is None else int(n_classes)
    if C < 2 or yy.min() < 0 or yy.max() >= C:
        raise SsdflError(f"labels must lie in 0..C-1 with C >= 2 (C={C})")
    return yy, C


def _weights(weights: np.ndarray | Sequence[float] | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n,) or np.any(w < 0) or not np.any(w > 0) or not np.all(np.isfinite(w)):
        raise SsdflError(f"weights must be {n} finite non-negative numbers, not all zero")
    return w / w.sum()


class DeviceModel(ABC):
    """Base class of the vectorized device models (see module docstring)."""

    n_devices: int
    dim: int

    @abstractmethod
    def loss(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def grad(self, X: np.ndarray) -> np.ndarray: ...

    def _batch_grad(self, X: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        raise SsdflError(f"{type(self).__name__} has no data to draw mini-batches from")

    def stochastic_grad(
        self,
        X: np.ndarray,
        rng: np.random.Generator,
        sigma: float = 0.0,
        batch_size: int | None = None,
    ) -> np.ndarray:
        """Mini-batch gradient (if ``batch_size``) plus ``N(0, σ²/d · I)`` noise per device."""
        if sigma < 0 or not np.isfinite(sigma):
            raise SsdflError(f"sigma must be finite and >= 0, got {sigma}")
        if batch_size is None:
            g = self.grad(X)
        else:
            if batch_size < 1:
                raise SsdflError(f"batch_size must be >= 1, got {batch_size}")
            g = self._batch_grad(_check_X(X, self.n_devices, self.dim), rng, int(batch_size))
        if sigma > 0:
            g = g + rng.normal(0.0, sigma / np.sqrt(self.dim), size=g.shape)
        return g

    @property
    @abstractmethod
    def L_i(self) -> np.ndarray: ...

    @property
    @abstractmethod
    def mu_i(self) -> np.ndarray: ...

    @property
    def L(self) -> float:
        """``max_i L_i``."""
        return float(np.max(self.L_i))

    @property
    def mu(self) -> float:
        """``min_i μ_i`` (0 when some device is not strongly convex)."""
        return float(np.min(self.mu_i))

    def optimum(self, weights: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        """Minimizer of ``Σ_i w_i F_i`` (weights normalized; uniform by default)."""
        w = _weights(weights, self.n_devices)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            X = np.broadcast_to(x, (self.n_devices, self.dim))
            return float(w @ self.loss(X)), w @ self.grad(X)

        res = sopt.minimize(
            fun,
            np.zeros(self.dim),
            jac=True,
            method="L-BFGS-B",
            options={"gtol": 1e-12, "ftol": 1e-15, "maxiter": 20000},
        )
        return np.asarray(res.x)

    def global_loss(self, x: np.ndarray) -> float:
        """``(1/N) Σ_i F_i(x)`` at a single vector ``x`` of length ``d``."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.dim,):
            raise SsdflError(f"x must have shape ({self.dim},), got {x.shape}")
        return float(np.mean(self.loss(np.broadcast_to(x, (self.n_devices, self.dim)))))

    @abstractmethod
    def subset(self, idx: np.ndarray | Sequence[int]) -> DeviceModel: ...

    def _idx(self, idx: np.ndarray | Sequence[int]) -> np.ndarray:
        ix = np.asarray(idx, dtype=np.int64).ravel()
        if ix.size == 0 or ix.min() < 0 or ix.max() >= self.n_devices:
            raise SsdflError(
                f"device indices must be a non-empty subset of 0..{self.n_devices - 1}"
            )
        return ix


class Quadratic(DeviceModel):
    """``F_i(x) = ½ (x − b_i)ᵀ A_i (x − b_i) + c_i``; ``A``: ``(N, d, d)`` symmetric PSD,
    ``b``: ``(N, d)``, ``c``: ``(N,)`` (default 0)."""

    def __init__(self, A: np.ndarray, b: np.ndarray, c: np.ndarray | None = None):
        A = np.asarray(A, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if A.ndim != 3 or A.shape[1] != A.shape[2]:
            raise SsdflError(f"A must have shape (N, d, d), got {A.shape}")
        if b.shape != A.shape[:2]:
            raise SsdflError(f"b must have shape {A.shape[:2]}, got {b.shape}")
        if not (np.all(np.isfinite(A)) and np.all(np.isfinite(b))):
            raise SsdflError("A and b must be finite")
        if not np.allclose(A, np.swapaxes(A, 1, 2), atol=1e-10 * max(1.0, np.abs(A).max())):
            raise SsdflError("every A_i must be symmetric")
        self.A = 0.5 * (A + np.swapaxes(A, 1, 2))
        self.b = b
        self.c = np.zeros(A.shape[0]) if c is None else np.asarray(c, dtype=np.float64)
        if self.c.shape != (A.shape[0],):
            raise SsdflError(f"c must have shape ({A.shape[0]},)")
        self.n_devices, self.dim = b.shape
        ev = np.linalg.eigvalsh(self.A)
        if ev.min() < -1e-10 * max(1.0, ev.max()):
            raise SsdflError("every A_i must be positive semidefinite")
        self._eig = np.clip(ev, 0.0, None)

    @classmethod
    def random(
        cls,
        n_devices: int,
        dim: int,
        rng: np.random.Generator,
        mu: float = 0.5,
        L: float = 2.0,
        heterogeneity: float = 1.0,
        common_hessian: bool = False,
    ) -> Quadratic:
        """Random strongly convex quadratics: eigenvalues of ``A_i`` uniform in ``[mu, L]``
        (random rotations; one shared ``A`` if ``common_hessian``), ``b_i ~ N(0, h² I)``."""
        if not (0 < mu <= L):
            raise SsdflError(f"need 0 < mu <= L, got mu={mu}, L={L}")
        if n_devices < 1 or dim < 1:
            raise SsdflError("n_devices and dim must be >= 1")

        def one() -> np.ndarray:
            q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
            lam = rng.uniform(mu, L, size=dim)
            lam[0], lam[-1] = mu, L  # hit both ends so mu and L are exact
            return (q * lam) @ q.T

        if common_hessian:
            A = np.broadcast_to(one(), (n_devices, dim, dim)).copy()
        else:
            A = np.stack([one() for _ in range(n_devices)])
        b = rng.normal(0.0, heterogeneity, size=(n_devices, dim))
        return cls(A, b)

    def loss(self, X: np.ndarray) -> np.ndarray:
        R = _check_X(X, self.n_devices, self.dim) - self.b
        return 0.5 * np.einsum("ni,nij,nj->n", R, self.A, R) + self.c

    def grad(self, X: np.ndarray) -> np.ndarray:
        R = _check_X(X, self.n_devices, self.dim) - self.b
        return np.einsum("nij,nj->ni", self.A, R)

    def hessians(self) -> np.ndarray:
        """``(N, d, d)`` Hessians ``A_i``."""
        return self.A

    @property
    def L_i(self) -> np.ndarray:
        return self._eig[:, -1].copy()

    @property
    def mu_i(self) -> np.ndarray:
        return self._eig[:, 0].copy()

    def optimum(self, weights: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        """``(Σ w_i A_i)⁻¹ Σ w_i A_i b_i`` (least-squares solution if singular)."""
        w = _weights(weights, self.n_devices)
        H = np.einsum("n,nij->ij", w, self.A)
        r = np.einsum("n,nij,nj->i", w, self.A, self.b)
        return np.linalg.lstsq(H, r, rcond=None)[0]

    def subset(self, idx: np.ndarray | Sequence[int]) -> Quadratic:
        ix = self._idx(idx)
        return Quadratic(self.A[ix], self.b[ix], self.c[ix])

    def __repr__(self) -> str:
        return f"Quadratic(N={self.n_devices}, d={self.dim}, mu={self.mu:.3g}, L={self.L:.3g})"


class _DataModel(DeviceModel):
    """Shared storage of per-device data: samples concatenated by device."""

    def __init__(
        self,
        Z: Sequence[np.ndarray],
        y: Sequence[np.ndarray],
        l2: float,
    ):
        if len(Z) != len(y) or len(Z) == 0:
            raise SsdflError("need the same positive number of feature and target arrays")
        Zs = [np.asarray(z, dtype=np.float64) for z in Z]
        ys = [np.asarray(t) for t in y]
        p = Zs[0].shape[1] if Zs[0].ndim == 2 else -1
        for z, t in zip(Zs, ys):
            if z.ndim != 2 or z.shape[1] != p:
                raise SsdflError("every feature array must be 2-D with the same number of columns")
            if z.shape[0] == 0:
                raise SsdflError("every device needs at least one sample")
            if t.shape != (z.shape[0],):
                raise SsdflError("targets must be 1-D with one entry per sample")
            if not np.all(np.isfinite(z)):
                raise SsdflError("features must be finite")
        if not (l2 >= 0 and np.isfinite(l2)):
            raise SsdflError(f"l2 must be finite and >= 0, got {l2}")
        self.l2 = float(l2)
        self.counts = np.array([z.shape[0] for z in Zs], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)])
        self.Z = np.concatenate(Zs, axis=0)
        self.y_all = np.concatenate(ys)
        self.device = np.repeat(np.arange(len(Zs)), self.counts)
        self.n_devices = len(Zs)
        self.n_features = p

    def _device_Z(self) -> list[np.ndarray]:
        return [self.Z[self.offsets[i] : self.offsets[i + 1]] for i in range(self.n_devices)]

    def _device_y(self) -> list[np.ndarray]:
        return [self.y_all[self.offsets[i] : self.offsets[i + 1]] for i in range(self.n_devices)]

    def _segment_sum(self, vals: np.ndarray) -> np.ndarray:
        """Sum rows of ``vals`` (ordered by device, all devices non-empty) per device."""
        return np.add.reduceat(vals, self.offsets[:-1], axis=0)

    def _draw(self, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        """``(N, B)`` global sample indices, uniform with replacement within each device."""
        u = rng.integers(0, np.iinfo(np.int64).max, size=(self.n_devices, batch_size))
        return self.offsets[:-1, None] + u % self.counts[:, None]

    def subset(self, idx: np.ndarray | Sequence[int]) -> _DataModel:
        ix = self._idx(idx)
        Zs, ys = self._device_Z(), self._device_y()
        return self._rebuild([Zs[i] for i in ix], [ys[i] for i in ix])

    @abstractmethod
    def _rebuild(self, Z: list[np.ndarray], y: list[np.ndarray]) -> _DataModel:
        """A model of the same kind on the given per-device data."""


class LeastSquares(_DataModel):
    """``F_i(x) = (1/2n_i) ‖Z_i x − y_i‖² + (λ/2)‖x‖²`` for per-device ``Z_i`` (``n_i × d``)."""

    def __init__(self, Z: Sequence[np.ndarray], y: Sequence[np.ndarray], l2: float = 0.0):
        super().__init__(Z, y, l2)
        self.y_all = self.y_all.astype(np.float64)
        if not np.all(np.isfinite(self.y_all)):
            raise SsdflError("targets must be finite")
        self.dim = self.n_features
        self._quad = self.as_quadratic()

    def _rebuild(self, Z: list[np.ndarray], y: list[np.ndarray]) -> LeastSquares:
        return LeastSquares(Z, y, self.l2)

    def as_quadratic(self) -> Quadratic:
        """The same losses as a :class:`Quadratic`: ``A_i = Z_iᵀZ_i/n_i + λI``,
        ``b_i = A_i⁺ Z_iᵀy_i/n_i``, ``c_i`` = the residual constant."""
        if hasattr(self, "_quad"):
            return self._quad
        d = self.dim
        A = np.empty((self.n_devices, d, d))
        b = np.empty((self.n_devices, d))
        c = np.empty(self.n_devices)
        for i, (z, t) in enumerate(zip(self._device_Z(), self._device_y())):
            n = z.shape[0]
            A[i] = z.T @ z / n + self.l2 * np.eye(d)
            r = z.T @ t / n
            b[i] = np.linalg.lstsq(A[i], r, rcond=None)[0]
            # F_i(x) = ½xᵀA x − rᵀx + ‖t‖²/(2n); with A b = r: = ½(x−b)ᵀA(x−b) + ‖t‖²/2n − ½bᵀAb
            c[i] = float(t @ t) / (2 * n) - 0.5 * float(b[i] @ A[i] @ b[i])
        return Quadratic(A, b, c)

    def loss(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        r = np.einsum("kj,kj->k", self.Z, X[self.device]) - self.y_all
        return 0.5 * self._segment_sum(r * r) / self.counts + 0.5 * self.l2 * np.sum(X * X, 1)

    def grad(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        r = np.einsum("kj,kj->k", self.Z, X[self.device]) - self.y_all
        return self._segment_sum(self.Z * r[:, None]) / self.counts[:, None] + self.l2 * X

    def _batch_grad(self, X: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        ix = self._draw(rng, batch_size)  # (N, B)
        Zb = self.Z[ix]  # (N, B, d)
        r = np.einsum("nbj,nj->nb", Zb, X) - self.y_all[ix]
        return np.einsum("nbj,nb->nj", Zb, r) / batch_size + self.l2 * X

    def hessians(self) -> np.ndarray:
        return self._quad.A

    @property
    def L_i(self) -> np.ndarray:
        return self._quad.L_i

    @property
    def mu_i(self) -> np.ndarray:
        return self._quad.mu_i

    def optimum(self, weights: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        return self._quad.optimum(weights)

    def __repr__(self) -> str:
        return f"LeastSquares(N={self.n_devices}, d={self.dim}, samples={len(self.y_all)})"


class LogisticRegression(_DataModel):
    """Softmax (multinomial) logistic regression with ``C`` classes and an intercept.

    Parameters per device: ``W ∈ R^{(p+1)×C}`` flattened row-major, ``d = (p+1)·C``.
    ``F_i(W) = (1/n_i) Σ_k CE(softmax(z̃_kᵀW), y_k) + (λ/2)‖W‖²``, ``z̃ = (z, 1)``.
    Labels must be integers in ``0..C−1``.
    """

    def __init__(
        self,
        Z: Sequence[np.ndarray],
        y: Sequence[np.ndarray],
        n_classes: int | None = None,
        l2: float = 1e-2,
    ):
        super().__init__(Z, y, l2)
        yy, C = _class_labels(self.y_all, n_classes)
        self.y_all = yy
        self.n_classes = C
        self.Zt = np.concatenate([self.Z, np.ones((self.Z.shape[0], 1))], axis=1)
        self.dim = (self.n_features + 1) * C
        self._onehot = np.eye(C)[yy]
        self._L = np.array(
            [
                0.5 * np.linalg.eigvalsh(z.T @ z / z.shape[0])[-1] + self.l2
                for z in (
                    self.Zt[self.offsets[i] : self.offsets[i + 1]] for i in range(self.n_devices)
                )
            ]
        )

    def _rebuild(self, Z: list[np.ndarray], y: list[np.ndarray]) -> LogisticRegression:
        return LogisticRegression(Z, y, self.n_classes, self.l2)

    def _probs(self, Wk: np.ndarray, Zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = np.einsum("kp,kpc->kc", Zt, Wk)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        s = e.sum(axis=1, keepdims=True)
        return e / s, logits - np.log(s)

    def _W(self, X: np.ndarray) -> np.ndarray:
        return X.reshape(self.n_devices, self.n_features + 1, self.n_classes)

    def loss(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        _, logp = self._probs(self._W(X)[self.device], self.Zt)
        ce = -np.sum(logp * self._onehot, axis=1)
        return self._segment_sum(ce) / self.counts + 0.5 * self.l2 * np.sum(X * X, 1)

    def grad(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        p, _ = self._probs(self._W(X)[self.device], self.Zt)
        G = np.einsum("kp,kc->kpc", self.Zt, p - self._onehot)
        g = self._segment_sum(G).reshape(self.n_devices, -1) / self.counts[:, None]
        return g + self.l2 * X

    def _batch_grad(self, X: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        ix = self._draw(rng, batch_size).ravel()
        dev = np.repeat(np.arange(self.n_devices), batch_size)
        p, _ = self._probs(self._W(X)[dev], self.Zt[ix])
        G = np.einsum("kp,kc->kpc", self.Zt[ix], p - self._onehot[ix])
        g = G.reshape(self.n_devices, batch_size, -1).mean(axis=1)
        return g + self.l2 * X

    def predict(self, X: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Predicted labels ``(N, m)`` of every device's model on samples ``Z`` (``m × p``)."""
        X = _check_X(X, self.n_devices, self.dim)
        Zt = np.concatenate([np.asarray(Z, float), np.ones((len(Z), 1))], axis=1)
        return np.argmax(np.einsum("mp,npc->nmc", Zt, self._W(X)), axis=2)

    @property
    def L_i(self) -> np.ndarray:
        return self._L.copy()

    @property
    def mu_i(self) -> np.ndarray:
        return np.full(self.n_devices, self.l2)

    def __repr__(self) -> str:
        return (
            f"LogisticRegression(N={self.n_devices}, p={self.n_features}, C={self.n_classes}, "
            f"l2={self.l2})"
        )


class SmoothNonconvex(DeviceModel):
    """``F_i(x) = a Σ_k log(1 + (x_k − b_ik)²)`` with ``b``: ``(N, d)``, ``a = scale > 0``.

    ``φ(t) = log(1+t²)`` has ``φ' = 2t/(1+t²) ∈ [−1, 1]`` and ``φ'' = 2(1−t²)/(1+t²)² ∈
    [−1/4, 2]``, so ``F_i`` is ``2a``-smooth, ``a/4``-weakly convex, ``F_i ≥ 0`` and every
    gradient coordinate lies in ``[−a, a]``. ``mu_i = 0`` (not strongly convex);
    :meth:`dissimilarity_bound` is a uniform bound on gradient dissimilarity; ``optimum`` returns
    a stationary point of ``Σ w_i F_i`` found by L-BFGS (a local minimizer in general).
    """

    def __init__(self, b: np.ndarray, scale: float = 1.0):
        b = np.asarray(b, dtype=np.float64)
        if b.ndim != 2 or not np.all(np.isfinite(b)):
            raise SsdflError("b must be a finite (N, d) array")
        if not (scale > 0 and np.isfinite(scale)):
            raise SsdflError(f"scale must be positive and finite, got {scale}")
        self.b = b
        self.scale = float(scale)
        self.n_devices, self.dim = b.shape

    def loss(self, X: np.ndarray) -> np.ndarray:
        R = _check_X(X, self.n_devices, self.dim) - self.b
        return self.scale * np.sum(np.log1p(R * R), axis=1)

    def grad(self, X: np.ndarray) -> np.ndarray:
        R = _check_X(X, self.n_devices, self.dim) - self.b
        return self.scale * 2.0 * R / (1.0 + R * R)

    @property
    def L_i(self) -> np.ndarray:
        return np.full(self.n_devices, 2.0 * self.scale)

    @property
    def mu_i(self) -> np.ndarray:
        return np.zeros(self.n_devices)

    def dissimilarity_bound(self) -> float:
        """``sup_x (1/n)Σ_{i∈C}‖∇F_i(x) − mean_C ∇F(x)‖² ≤ a²d`` for any group ``C``: each
        coordinate is a variance of numbers in ``[−a, a]`` (Popoviciu: ``≤ a²``)."""
        return self.scale**2 * self.dim

    def subset(self, idx: np.ndarray | Sequence[int]) -> SmoothNonconvex:
        return SmoothNonconvex(self.b[self._idx(idx)], self.scale)

    def __repr__(self) -> str:
        return f"SmoothNonconvex(N={self.n_devices}, d={self.dim}, scale={self.scale})"

"""A separable (diagonal-Hessian) quadratic model for large simulations.

``F_i(x) = ½ Σ_k a_ik (x_k − b_ik)² + c_i`` with ``a_ik > 0``: the quadratic of
:class:`ssdfl.theory.models.Quadratic` with ``A_i = diag(a_i)``, stored in ``O(N d)`` memory
instead of
``O(N d²)`` and with an ``O(N d)`` gradient. It exists so that the simulator can be exercised
and benchmarked at ``N = d = 1000`` (the dense ``Quadratic`` would need 8 GB); tests check it
against ``Quadratic`` with diagonal ``A_i``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.theory.models import DeviceModel, Quadratic

__all__ = ["SeparableQuadratic"]


class SeparableQuadratic(DeviceModel):
    """``F_i(x) = ½ Σ_k a_ik (x_k − b_ik)² + c_i``; ``a``, ``b``: ``(N, d)``, ``a > 0``."""

    def __init__(self, a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None):
        a = np.asarray(a, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if a.ndim != 2 or a.shape != b.shape:
            raise SsdflError(f"a and b must both have shape (N, d); got {a.shape}, {b.shape}")
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(a > 0)):
            raise SsdflError("a must be finite and > 0, b finite")
        self.a, self.b = a, b
        self.n_devices, self.dim = a.shape
        self.c = np.zeros(self.n_devices) if c is None else np.asarray(c, dtype=np.float64)
        if self.c.shape != (self.n_devices,):
            raise SsdflError(f"c must have shape ({self.n_devices},)")

    @classmethod
    def random(
        cls,
        n_devices: int,
        dim: int,
        rng: np.random.Generator,
        mu: float = 0.5,
        L: float = 2.0,
        heterogeneity: float = 1.0,
    ) -> SeparableQuadratic:
        """Curvatures uniform in ``[mu, L]``, centres ``b_i ~ N(0, h² I)``."""
        if not (0 < mu <= L) or n_devices < 1 or dim < 1:
            raise SsdflError("need 0 < mu <= L and n_devices, dim >= 1")
        a = rng.uniform(mu, L, size=(n_devices, dim))
        b = rng.normal(0.0, heterogeneity, size=(n_devices, dim))
        return cls(a, b)

    def _X(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.shape != (self.n_devices, self.dim):
            raise SsdflError(f"parameters must have shape {(self.n_devices, self.dim)}")
        return X

    def loss(self, X: np.ndarray) -> np.ndarray:
        R = self._X(X) - self.b
        return 0.5 * np.einsum("ij,ij,ij->i", self.a, R, R) + self.c

    def grad(self, X: np.ndarray) -> np.ndarray:
        G = self._X(X) - self.b
        G *= self.a
        return G

    def global_losses(self, X: np.ndarray) -> np.ndarray:
        """``F(x_m) = (1/N) Σ_j F_j(x_m)`` for every row ``x_m`` of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        abar = self.a.mean(axis=0)
        ab = (self.a * self.b).mean(axis=0)
        k = 0.5 * float(np.sum(self.a * self.b * self.b)) / self.n_devices + float(self.c.mean())
        return 0.5 * (X * X) @ abar - X @ ab + k

    @property
    def L_i(self) -> np.ndarray:
        return self.a.max(axis=1)

    @property
    def mu_i(self) -> np.ndarray:
        return self.a.min(axis=1)

    def optimum(self, weights: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        """``Σ w_i a_i b_i / Σ w_i a_i`` (coordinate-wise)."""
        w = np.full(self.n_devices, 1.0) if weights is None else np.asarray(weights, float)
        if w.shape != (self.n_devices,) or np.any(w < 0) or not np.any(w > 0):
            raise SsdflError(f"weights must be {self.n_devices} non-negative numbers")
        return (w @ (self.a * self.b)) / (w @ self.a)

    def subset(self, idx: np.ndarray | Sequence[int]) -> SeparableQuadratic:
        ix = self._idx(idx)
        return SeparableQuadratic(self.a[ix], self.b[ix], self.c[ix])

    def to_quadratic(self) -> Quadratic:
        """The same losses as a dense :class:`~ssdfl.theory.models.Quadratic` (small ``d`` only)."""
        A = np.einsum("ij,jk->ijk", self.a, np.eye(self.dim))
        return Quadratic(A, self.b, self.c)

    def __repr__(self) -> str:
        return f"SeparableQuadratic(N={self.n_devices}, d={self.dim})"

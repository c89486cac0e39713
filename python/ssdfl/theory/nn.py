"""Non-convex device models: a multilayer perceptron and a small 1-D CNN, vectorized over devices.

Like every :class:`~ssdfl.theory.models.DeviceModel`, all devices' parameters are one
``(N, d)`` array ``X``; a forward/backward pass is one batched array computation over all
devices (``np.matmul`` over a leading device axis, no Python loop over devices). Every device's
samples are padded to the largest device's count ``n_max`` (padded rows carry weight 0), so
the cost is ``N · n_max`` samples per pass.

- :class:`MLP`: ``x → act(xW₁ + b₁) → … → act(·W_k + b_k) → ·W_out + b_out`` (softmax
  cross-entropy), hidden sizes ``hidden`` (≥ 1 layer), ``act`` ``"relu"`` or ``"tanh"``.
- :class:`CNN1D`: the features are one 1-D signal of length ``p`` (one input channel);
  ``conv(k, stride s) → ReLU`` layers with ``channels`` output channels each ("valid"
  padding), then a linear classifier on the flattened feature map. A convolution is computed
  by im2col: the ``k``-sample windows of the layer input times the kernel, one batched matrix
  product over devices.

Loss of device ``i``: ``F_i(x) = (1/n_i) Σ_k CE(f(z_k; x), y_k) + (λ/2)‖x‖²``. Parameters are
flattened per device in layer order (weights ``(in, out)`` row-major, then biases). The models
are not convex and have no global smoothness constant: ``L_i`` is ``inf`` and ``μ_i`` is 0
(the strongly convex bounds of :mod:`ssdfl.theory.bounds` do not apply). Initial parameters:
:meth:`init` (He-uniform weights, zero biases; every device starts from the same vector, as in
decentralized training from a common seed).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.theory.models import _check_X, _class_labels, _DataModel, _weights

_DLogits = Callable[[np.ndarray], np.ndarray]
"""Map from logits to their loss gradient (backward pass of :meth:`_forward_backward`)."""

__all__ = ["CNN1D", "MLP", "NeuralNet"]


class _Layout:
    """Named parameter blocks of one device's flat parameter vector."""

    def __init__(self, shapes: list[tuple[str, tuple[int, ...]]]):
        self.shapes = shapes
        sizes = [int(np.prod(s)) for _, s in shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.dim = int(self.offsets[-1])

    def views(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """``{name: (M, *shape)}`` views into the ``(M, d)`` array ``X``."""
        M = X.shape[0]
        return {
            name: X[:, self.offsets[j] : self.offsets[j + 1]].reshape(M, *shp)
            for j, (name, shp) in enumerate(self.shapes)
        }


class NeuralNet(_DataModel):
    """Shared machinery of :class:`MLP` and :class:`CNN1D`: padded per-device batches,
    cross-entropy, mini-batches, global losses, predictions (see module docstring)."""

    n_classes: int
    layout: _Layout

    def __init__(
        self, Z: Sequence[np.ndarray], y: Sequence[np.ndarray], n_classes: int | None, l2: float
    ):
        super().__init__(Z, y, l2)
        yy, C = _class_labels(self.y_all, n_classes)
        self.y_all = yy
        self.n_classes = C
        N = self.n_devices
        nmax = int(self.counts.max())
        col = np.arange(len(yy)) - self.offsets[self.device]
        self._Zp = np.zeros((N, nmax, self.n_features))
        self._Zp[self.device, col] = self.Z
        self._yp = np.zeros((N, nmax), dtype=np.int64)
        self._yp[self.device, col] = yy
        self._wp = np.zeros((N, nmax))
        self._wp[self.device, col] = 1.0 / self.counts[self.device]

    # -- the network ------------------------------------------------------------------------
    @abstractmethod
    def _forward_backward(
        self, P: dict[str, np.ndarray], Zb: np.ndarray, dlogits_fn: _DLogits | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        """Logits ``(M, n, C)`` of models ``P`` (views, leading axis ``M``) on per-model
        batches ``Zb`` ``(M, n, p)``; if ``dlogits_fn`` is given it maps the logits to their
        loss gradient and the parameter gradients (same keys as ``P``) are returned too."""

    def _init_scale(self) -> dict[str, float]:
        """He-uniform bound per weight block (biases start at 0)."""
        return {}

    # -- DeviceModel interface ----------------------------------------------------------------
    def _ce(self, logits: np.ndarray, yb: np.ndarray, wb: np.ndarray) -> tuple[np.ndarray, ...]:
        m = logits.max(axis=2, keepdims=True)
        e = np.exp(logits - m)
        s = e.sum(axis=2, keepdims=True)
        logp = logits - m - np.log(s)
        ce = -np.take_along_axis(logp, yb[..., None], axis=2)[..., 0]
        return (wb * ce).sum(axis=1), e / s

    def _loss_grad(
        self, X: np.ndarray, Zb: np.ndarray, yb: np.ndarray, wb: np.ndarray, need_grad: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        P = self.layout.views(X)
        if not need_grad:
            logits, _ = self._forward_backward(P, Zb, None)
            loss, _ = self._ce(logits, yb, wb)
            return loss + 0.5 * self.l2 * np.sum(X * X, axis=1), None
        out: dict[str, np.ndarray] = {}

        def dlogits(logits: np.ndarray) -> np.ndarray:
            loss, prob = self._ce(logits, yb, wb)
            out["loss"] = loss
            onehot = np.zeros_like(prob)
            np.put_along_axis(onehot, yb[..., None], 1.0, axis=2)
            return (prob - onehot) * wb[..., None]

        _, grads = self._forward_backward(P, Zb, dlogits)
        assert grads is not None
        G = np.concatenate([grads[name].reshape(len(X), -1) for name, _ in self.layout.shapes], 1)
        return out["loss"] + 0.5 * self.l2 * np.sum(X * X, axis=1), G + self.l2 * X

    def loss(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        return self._loss_grad(X, self._Zp, self._yp, self._wp, False)[0]

    def grad(self, X: np.ndarray) -> np.ndarray:
        X = _check_X(X, self.n_devices, self.dim)
        G = self._loss_grad(X, self._Zp, self._yp, self._wp, True)[1]
        assert G is not None
        return G

    def _batch_grad(self, X: np.ndarray, rng: np.random.Generator, batch_size: int) -> np.ndarray:
        ix = self._draw(rng, batch_size)
        wb = np.full(ix.shape, 1.0 / batch_size)
        G = self._loss_grad(X, self.Z[ix], self.y_all[ix], wb, True)[1]
        assert G is not None
        return G

    def global_losses(self, X: np.ndarray, chunk: int = 16) -> np.ndarray:
        """``(M,)`` values ``F(x_m) = (1/N) Σ_j F_j(x_m)`` for the rows of ``X``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        w = 1.0 / (self.n_devices * self.counts[self.device])
        out = np.empty(len(X))
        for a in range(0, len(X), chunk):
            Xc = X[a : a + chunk]
            m = len(Xc)
            logits, _ = self._forward_backward(
                self.layout.views(Xc), np.broadcast_to(self.Z, (m, *self.Z.shape)), None
            )
            yb = np.broadcast_to(self.y_all, (m, len(self.y_all)))
            ce, _ = self._ce(logits, yb, np.broadcast_to(w, (m, len(w))))
            out[a : a + chunk] = ce + 0.5 * self.l2 * np.sum(Xc * Xc, axis=1)
        return out

    def predict(self, X: np.ndarray, Z: np.ndarray, chunk: int = 16) -> np.ndarray:
        """Predicted labels ``(M, m)`` of every parameter row of ``X`` on samples ``Z``."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        Z = np.asarray(Z, dtype=np.float64)
        out = np.empty((len(X), len(Z)), dtype=np.int64)
        for a in range(0, len(X), chunk):
            Xc = X[a : a + chunk]
            logits, _ = self._forward_backward(
                self.layout.views(Xc), np.broadcast_to(Z, (len(Xc), *Z.shape)), None
            )
            out[a : a + chunk] = np.argmax(logits, axis=2)
        return out

    def accuracies(self, X: np.ndarray, Z: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(M,)`` accuracies of the parameter rows of ``X`` on ``(Z, y)``."""
        return np.mean(self.predict(X, Z) == np.asarray(y)[None, :], axis=1)

    def init(self, seed: int | np.random.Generator = 0) -> np.ndarray:
        """One initial parameter vector ``(d,)``: He-uniform weights, zero biases."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        x = np.zeros((1, self.dim))
        scales = self._init_scale()
        for name, v in self.layout.views(x).items():
            if name in scales:
                v[...] = rng.uniform(-scales[name], scales[name], size=v.shape)
        return x[0]

    def optimum(self, weights: np.ndarray | Sequence[float] | None = None) -> np.ndarray:
        """A stationary point of ``Σ w_i F_i`` found by L-BFGS from :meth:`init` (a local
        minimizer in general: the loss is not convex)."""
        import scipy.optimize as sopt

        w = _weights(weights, self.n_devices)

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            Xb = np.broadcast_to(x, (self.n_devices, self.dim))
            return float(w @ self.loss(Xb)), w @ self.grad(Xb)

        res = sopt.minimize(fun, self.init(0), jac=True, method="L-BFGS-B",
                            options={"maxiter": 2000})  # fmt: skip
        return np.asarray(res.x)

    @property
    def L_i(self) -> np.ndarray:
        """No global smoothness constant (ReLU/tanh networks): ``inf``."""
        return np.full(self.n_devices, np.inf)

    @property
    def mu_i(self) -> np.ndarray:
        return np.zeros(self.n_devices)


def _act(name: str) -> None:
    if name not in ("relu", "tanh"):
        raise SsdflError(f"activation must be 'relu' or 'tanh', got {name!r}")


class MLP(NeuralNet):
    """Multilayer perceptron with softmax cross-entropy (module docstring)."""

    def __init__(
        self,
        Z: Sequence[np.ndarray],
        y: Sequence[np.ndarray],
        n_classes: int | None = None,
        hidden: Sequence[int] = (32,),
        activation: str = "relu",
        l2: float = 1e-4,
    ):
        super().__init__(Z, y, n_classes, l2)
        hidden = tuple(int(h) for h in hidden)
        if not hidden or min(hidden) < 1:
            raise SsdflError("an MLP needs at least one hidden layer of positive width")
        _act(activation)
        self.hidden = hidden
        self.activation = activation
        sizes = [self.n_features, *hidden, self.n_classes]
        shapes: list[tuple[str, tuple[int, ...]]] = []
        for j in range(len(sizes) - 1):
            shapes += [(f"W{j}", (sizes[j], sizes[j + 1])), (f"b{j}", (sizes[j + 1],))]
        self.layout = _Layout(shapes)
        self.dim = self.layout.dim
        self._sizes = sizes

    def _rebuild(self, Z: list[np.ndarray], y: list[np.ndarray]) -> MLP:
        return MLP(Z, y, self.n_classes, self.hidden, self.activation, self.l2)

    def _init_scale(self) -> dict[str, float]:
        return {f"W{j}": float(np.sqrt(6.0 / self._sizes[j])) for j in range(len(self._sizes) - 1)}

    def _forward_backward(
        self, P: dict[str, np.ndarray], Zb: np.ndarray, dlogits_fn: _DLogits | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        k = len(self._sizes) - 1
        acts = [Zb]
        pre: list[np.ndarray] = []
        for j in range(k):
            a = np.matmul(acts[-1], P[f"W{j}"]) + P[f"b{j}"][:, None, :]
            if j < k - 1:
                pre.append(a)
                a = np.maximum(a, 0.0) if self.activation == "relu" else np.tanh(a)
            acts.append(a)
        logits = acts[-1]
        if dlogits_fn is None:
            return logits, None
        delta = dlogits_fn(logits)
        grads: dict[str, np.ndarray] = {}
        for j in range(k - 1, -1, -1):
            grads[f"W{j}"] = np.matmul(np.swapaxes(acts[j], 1, 2), delta)
            grads[f"b{j}"] = delta.sum(axis=1)
            if j > 0:
                delta = np.matmul(delta, np.swapaxes(P[f"W{j}"], 1, 2))
                if self.activation == "relu":
                    delta = delta * (pre[j - 1] > 0)
                else:
                    delta = delta * (1.0 - acts[j] ** 2)
        return logits, grads

    def __repr__(self) -> str:
        return (f"MLP(N={self.n_devices}, p={self.n_features}, hidden={self.hidden}, "
                f"C={self.n_classes}, d={self.dim})")  # fmt: skip


class CNN1D(NeuralNet):
    """Small 1-D convolutional network (module docstring): ``channels`` conv layers of kernel
    ``kernel`` and stride ``stride`` with ReLU, then a linear classifier."""

    def __init__(
        self,
        Z: Sequence[np.ndarray],
        y: Sequence[np.ndarray],
        n_classes: int | None = None,
        channels: Sequence[int] = (8, 8),
        kernel: int = 5,
        stride: int = 2,
        l2: float = 1e-4,
    ):
        super().__init__(Z, y, n_classes, l2)
        channels = tuple(int(c) for c in channels)
        if not channels or min(channels) < 1 or kernel < 1 or stride < 1:
            raise SsdflError("need >= 1 conv layer, positive channels, kernel and stride")
        lengths = [self.n_features]
        for _ in channels:
            nxt = (lengths[-1] - kernel) // stride + 1
            if nxt < 1:
                raise SsdflError(f"signal of length {self.n_features} too short for the convs")
            lengths.append(nxt)
        self.channels, self.kernel, self.stride = channels, int(kernel), int(stride)
        self._lengths = lengths
        cin = [1, *channels]
        shapes: list[tuple[str, tuple[int, ...]]] = []
        for j, c in enumerate(channels):
            shapes += [(f"K{j}", (kernel, cin[j], c)), (f"c{j}", (c,))]
        flat = lengths[-1] * channels[-1]
        shapes += [("W", (flat, self.n_classes)), ("b", (self.n_classes,))]
        self.layout = _Layout(shapes)
        self.dim = self.layout.dim
        self._cin = cin

    def _rebuild(self, Z: list[np.ndarray], y: list[np.ndarray]) -> CNN1D:
        return CNN1D(Z, y, self.n_classes, self.channels, self.kernel, self.stride, self.l2)

    def _init_scale(self) -> dict[str, float]:
        s = {f"K{j}": float(np.sqrt(6.0 / (self.kernel * self._cin[j])))
             for j in range(len(self.channels))}  # fmt: skip
        s["W"] = float(np.sqrt(6.0 / (self._lengths[-1] * self.channels[-1])))
        return s

    def _taps(self, j: int) -> list[slice]:
        Lout, s = self._lengths[j + 1], self.stride
        return [slice(t, t + s * (Lout - 1) + 1, s) for t in range(self.kernel)]

    def _patches(self, A: np.ndarray, j: int) -> np.ndarray:
        """im2col: ``(M, n·L_out, k·c_in)`` windows of the ``(M, n, L, c_in)`` input."""
        M, n = A.shape[0], A.shape[1]
        Lout = self._lengths[j + 1]
        win = np.lib.stride_tricks.sliding_window_view(A, self.kernel, axis=2)  # (M,n,·,c,k)
        win = win[:, :, : self.stride * (Lout - 1) + 1 : self.stride]
        return np.ascontiguousarray(win.transpose(0, 1, 2, 4, 3)).reshape(M, n * Lout, -1)

    def _forward_backward(
        self, P: dict[str, np.ndarray], Zb: np.ndarray, dlogits_fn: _DLogits | None
    ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
        M, n = Zb.shape[0], Zb.shape[1]
        acts = [Zb[..., None]]  # (M, n, L, 1)
        cols = []
        for j, c in enumerate(self.channels):
            Lout = self._lengths[j + 1]
            col = self._patches(acts[-1], j)
            cols.append(col)
            K = P[f"K{j}"].reshape(M, -1, c)  # (M, k·cin, c), tap-major like the patches
            out = np.matmul(col, K).reshape(M, n, Lout, c) + P[f"c{j}"][:, None, None, :]
            acts.append(np.maximum(out, 0.0))
        flat = acts[-1].reshape(M, n, -1)
        logits = np.matmul(flat, P["W"]) + P["b"][:, None, :]
        if dlogits_fn is None:
            return logits, None
        delta = dlogits_fn(logits)
        grads: dict[str, np.ndarray] = {
            "W": np.matmul(np.swapaxes(flat, 1, 2), delta),
            "b": delta.sum(axis=1),
        }
        dA = np.matmul(delta, np.swapaxes(P["W"], 1, 2)).reshape(acts[-1].shape)
        for j in range(len(self.channels) - 1, -1, -1):
            Lout, c = self._lengths[j + 1], self.channels[j]
            dOut = dA * (acts[j + 1] > 0)  # ReLU
            grads[f"c{j}"] = dOut.sum(axis=(1, 2))
            d2 = dOut.reshape(M, n * Lout, c)
            K = P[f"K{j}"]
            grads[f"K{j}"] = np.matmul(np.swapaxes(cols[j], 1, 2), d2).reshape(K.shape)
            if j == 0:
                break
            dcol = np.matmul(d2, np.swapaxes(K.reshape(M, -1, c), 1, 2))
            dcol = dcol.reshape(M, n, Lout, self.kernel, -1)
            dprev = np.zeros(acts[j].shape)
            for t, sl in enumerate(self._taps(j)):
                dprev[:, :, sl, :] += dcol[:, :, :, t, :]
            dA = dprev
        return logits, grads

    def __repr__(self) -> str:
        return (
            f"CNN1D(N={self.n_devices}, L={self.n_features}, channels={self.channels}, "
            f"kernel={self.kernel}, stride={self.stride}, C={self.n_classes}, d={self.dim})"
        )

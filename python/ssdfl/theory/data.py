"""Federated (non-IID) data: label-skew splits, scikit-learn's digits, MNIST-1D, synthetic tasks.

A split is a list of ``N`` integer index arrays (one per device) into a labelled data set.
Schemes (all deterministic given ``rng``):

- :func:`split_iid`: a random permutation cut into ``N`` near-equal parts.
- :func:`split_k_label`: device ``i`` holds exactly ``k`` distinct labels (``k = 1`` is the
  paper's "1-label" split). Labels are dealt cyclically over a random label order, so every
  label is held by ``⌈Nk/C⌉`` or ``⌊Nk/C⌋`` devices; each label's samples are shuffled and cut
  evenly among the devices holding it. Needs ``k ≤ C`` and enough samples per label.
- :func:`split_dirichlet`: for each label, proportions over devices drawn from
  ``Dir(α·1_N)`` (small ``α`` = strong skew); redrawn until every device has ``min_size``
  samples.

:class:`FederatedDataset` bundles features ``X``, labels ``y``, the split ``parts`` and the number
of classes, and builds device models (:meth:`~FederatedDataset.least_squares`,
:meth:`~FederatedDataset.logistic`, and the non-convex :meth:`~FederatedDataset.mlp`,
:meth:`~FederatedDataset.cnn` of :mod:`ssdfl.theory.nn`) and label histograms (``(N, C)`` counts).
Data sets: :func:`load_digits_federated` (scikit-learn's bundled digits) and
:func:`load_mnist1d_federated` (MNIST-1D, generated offline by the ``mnist1d`` package's
``make_dataset`` from its built-in templates; never downloaded).

A devices file's label histograms realised on a data set (the planner's pilots, ``ssdfl form
--simulate/--validate``, the churn experiments): :func:`split_by_histogram` draws every device's
samples of each class in proportion to its histogram, without replacement and disjointly
(classes in short supply scaled down together); :func:`digits_for_devices` and
:func:`data_for_devices` apply it to digits or MNIST-1D.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.theory.models import LeastSquares, LogisticRegression
from ssdfl.theory.nn import CNN1D, MLP

if TYPE_CHECKING:
    from ssdfl.theory.devices import DeviceTable

__all__ = [
    "FederatedDataset",
    "data_for_devices",
    "digits_for_devices",
    "label_histograms",
    "label_skew_split",
    "load_digits_federated",
    "load_mnist1d_federated",
    "split_by_histogram",
    "split_dirichlet",
    "split_iid",
    "split_k_label",
    "synthetic_classification",
    "synthetic_regression",
]


def _labels(y: np.ndarray | Sequence[int]) -> tuple[np.ndarray, int]:
    yy = np.asarray(y)
    if yy.ndim != 1 or yy.size == 0:
        raise SsdflError("labels must be a non-empty 1-D array")
    if yy.dtype.kind not in "iub":
        raise SsdflError(f"labels must be integers, got dtype {yy.dtype}")
    if yy.min() < 0:
        raise SsdflError("labels must be >= 0")
    return yy.astype(np.int64), int(yy.max()) + 1


def _check_n(n_devices: int, n_samples: int) -> None:
    if n_devices < 1:
        raise SsdflError(f"n_devices must be >= 1, got {n_devices}")
    if n_devices > n_samples:
        raise SsdflError(f"cannot split {n_samples} samples over {n_devices} devices")


def split_iid(y: np.ndarray | Sequence[int], n_devices: int, rng: np.random.Generator) -> list:
    """IID split: a random permutation cut into ``n_devices`` near-equal parts."""
    yy, _ = _labels(y)
    _check_n(n_devices, len(yy))
    return [np.sort(p) for p in np.array_split(rng.permutation(len(yy)), n_devices)]


def split_k_label(
    y: np.ndarray | Sequence[int], n_devices: int, k: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Each device gets exactly ``k`` distinct labels (see module docstring)."""
    yy, C = _labels(y)
    _check_n(n_devices, len(yy))
    present = np.unique(yy)
    C = len(present)
    if not (1 <= k <= C):
        raise SsdflError(f"k must be in 1..{C} (number of labels present), got {k}")
    order = rng.permutation(present)
    holders: dict[int, list[int]] = {int(c): [] for c in present}
    for i in range(n_devices):
        for j in range(k):
            holders[int(order[(i * k + j) % C])].append(i)
    parts: list[list[np.ndarray]] = [[] for _ in range(n_devices)]
    for c, devs in holders.items():
        if not devs:
            continue
        idx = rng.permutation(np.flatnonzero(yy == c))
        if len(idx) < len(devs):
            raise SsdflError(f"label {c} has {len(idx)} samples for {len(devs)} devices")
        for dev, chunk in zip(devs, np.array_split(idx, len(devs))):
            parts[dev].append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def split_dirichlet(
    y: np.ndarray | Sequence[int],
    n_devices: int,
    alpha: float,
    rng: np.random.Generator,
    min_size: int = 1,
    max_tries: int = 1000,
) -> list[np.ndarray]:
    """Per-label Dirichlet(``alpha``) proportions over devices; every device ≥ ``min_size``."""
    yy, _ = _labels(y)
    _check_n(n_devices, len(yy))
    if not (alpha > 0 and np.isfinite(alpha)):
        raise SsdflError(f"alpha must be positive and finite, got {alpha}")
    if min_size * n_devices > len(yy):
        raise SsdflError("min_size * n_devices exceeds the number of samples")
    present = np.unique(yy)
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(n_devices)]
        for c in present:
            idx = rng.permutation(np.flatnonzero(yy == c))
            prop = rng.dirichlet(np.full(n_devices, alpha))
            cuts = (np.cumsum(prop)[:-1] * len(idx)).astype(np.int64)
            for dev, chunk in enumerate(np.split(idx, cuts)):
                parts[dev].append(chunk)
        out = [np.sort(np.concatenate(p)) for p in parts]
        if min(len(p) for p in out) >= min_size:
            return out
    raise SsdflError(
        f"could not give every device {min_size} samples in {max_tries} Dirichlet draws; "
        "raise alpha or lower min_size"
    )


def label_skew_split(
    y: np.ndarray | Sequence[int],
    n_devices: int,
    scheme: str = "k-label",
    *,
    k: int = 1,
    alpha: float = 0.5,
    rng: np.random.Generator | int | None = None,
) -> list[np.ndarray]:
    """Dispatch: ``scheme`` ∈ {``"iid"``, ``"1-label"``, ``"k-label"``, ``"dirichlet"``}."""
    r = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if scheme == "iid":
        return split_iid(y, n_devices, r)
    if scheme == "1-label":
        return split_k_label(y, n_devices, 1, r)
    if scheme == "k-label":
        return split_k_label(y, n_devices, k, r)
    if scheme == "dirichlet":
        return split_dirichlet(y, n_devices, alpha, r)
    raise SsdflError(f"unknown split scheme {scheme!r}")


def label_histograms(
    y: np.ndarray | Sequence[int], parts: Sequence[np.ndarray], n_classes: int | None = None
) -> np.ndarray:
    """``(N, C)`` label counts per device."""
    yy, C = _labels(y)
    C = C if n_classes is None else int(n_classes)
    return np.stack([np.bincount(yy[p], minlength=C)[:C] for p in parts]).astype(np.float64)


@dataclass
class FederatedDataset:
    """Features ``X`` (``n × p``), targets ``y``, device split ``parts``, ``n_classes``
    (0 for regression), and an optional held-out set ``(X_test, y_test)``."""

    X: np.ndarray
    y: np.ndarray
    parts: list[np.ndarray]
    n_classes: int
    name: str = "dataset"
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @property
    def n_devices(self) -> int:
        return len(self.parts)

    @property
    def sizes(self) -> np.ndarray:
        """``(N,)`` number of samples per device."""
        return np.array([len(p) for p in self.parts], dtype=np.int64)

    def label_histograms(self) -> np.ndarray:
        """``(N, C)`` label counts (classification only)."""
        if self.n_classes < 1:
            raise SsdflError("label histograms need a classification data set")
        return label_histograms(self.y, self.parts, self.n_classes)

    def least_squares(self, l2: float = 0.0) -> LeastSquares:
        """Per-device least squares on ``(X, y)`` (labels as numbers for classification)."""
        return LeastSquares(
            [self.X[p] for p in self.parts], [self.y[p].astype(float) for p in self.parts], l2
        )

    def logistic(self, l2: float = 1e-2) -> LogisticRegression:
        """Per-device softmax regression with ``n_classes`` classes."""
        if self.n_classes < 2:
            raise SsdflError("logistic regression needs a classification data set")
        return LogisticRegression(
            [self.X[p] for p in self.parts], [self.y[p] for p in self.parts], self.n_classes, l2
        )

    def mlp(self, hidden: Sequence[int] = (32,), activation: str = "relu", l2: float = 1e-4) -> MLP:
        """Per-device multilayer perceptron (:class:`ssdfl.theory.nn.MLP`)."""
        if self.n_classes < 2:
            raise SsdflError("an MLP classifier needs a classification data set")
        return MLP([self.X[p] for p in self.parts], [self.y[p] for p in self.parts],
                   self.n_classes, hidden, activation, l2)  # fmt: skip

    def cnn(
        self, channels: Sequence[int] = (8, 8), kernel: int = 5, stride: int = 2, l2: float = 1e-4
    ) -> CNN1D:
        """Per-device 1-D CNN (:class:`ssdfl.theory.nn.CNN1D`; features read as one signal)."""
        if self.n_classes < 2:
            raise SsdflError("a CNN classifier needs a classification data set")
        return CNN1D([self.X[p] for p in self.parts], [self.y[p] for p in self.parts],
                     self.n_classes, channels, kernel, stride, l2)  # fmt: skip

    def model(self, kind: str, **kwargs: Any) -> LogisticRegression | MLP | CNN1D:
        """``kind`` ∈ {``"softmax"``, ``"mlp"``, ``"cnn"``} with default hyper-parameters."""
        if kind == "softmax":
            return self.logistic(**kwargs)
        if kind == "mlp":
            return self.mlp(**kwargs)
        if kind == "cnn":
            return self.cnn(**kwargs)
        raise SsdflError(f"model must be 'softmax', 'mlp' or 'cnn', got {kind!r}")


def load_digits_federated(
    n_devices: int = 30,
    scheme: str = "k-label",
    *,
    k: int = 3,
    alpha: float = 0.5,
    seed: int | None = 0,
    standardize: bool = True,
) -> FederatedDataset:
    """scikit-learn's bundled 8×8 digits (1797 samples, 64 features, 10 classes), split by
    :func:`label_skew_split`. Features are scaled to ``[0, 1]`` (``/16``) and then, if
    ``standardize``, centred and divided by the global standard deviation (constant pixels
    stay 0)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64) / 16.0
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    y = np.asarray(data.target, dtype=np.int64)
    parts = label_skew_split(y, n_devices, scheme, k=k, alpha=alpha, rng=seed)
    return FederatedDataset(X, y, parts, 10, f"digits-{scheme}")


@lru_cache(maxsize=4)
def _mnist1d(num_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    import random

    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError:  # pragma: no cover - a declared dependency
        raise SsdflError("MNIST-1D needs the 'mnist1d' package (pip install mnist1d)") from None
    args = get_dataset_args()
    args.num_samples = int(num_samples)
    args.seed = int(seed)
    # make_dataset seeds numpy's and Python's global generators: restore them afterwards
    np_state, py_state = np.random.get_state(), random.getstate()  # noqa: NPY002
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002
        random.setstate(py_state)
    return (np.asarray(d["x"], float), np.asarray(d["y"], np.int64),
            np.asarray(d["x_test"], float), np.asarray(d["y_test"], np.int64))  # fmt: skip


def load_mnist1d_federated(
    n_devices: int = 30,
    scheme: str = "k-label",
    *,
    k: int = 1,
    alpha: float = 0.5,
    seed: int | None = 0,
    num_samples: int = 5000,
    data_seed: int = 42,
) -> FederatedDataset:
    """MNIST-1D (Greydanus 2020: 10 classes of 1-D signals of length 40) generated offline by
    ``mnist1d.data.make_dataset`` from the package's built-in templates (``num_samples``
    signals, the package's default transformation parameters, generator seed ``data_seed``;
    the package's download path is never used). 80 % training samples are split over devices by
    :func:`label_skew_split` (``seed``), 20 % are the held-out set. The data are centred and
    scaled to unit standard deviation by the generator."""
    X, y, Xt, yt = _mnist1d(num_samples, data_seed)
    parts = label_skew_split(y, n_devices, scheme, k=k, alpha=alpha, rng=seed)
    return FederatedDataset(X, y, parts, 10, f"mnist1d-{scheme}", Xt, yt)


def synthetic_regression(
    n_devices: int,
    n_samples: int = 50,
    dim: int = 5,
    heterogeneity: float = 1.0,
    feature_shift: float = 0.0,
    noise: float = 0.1,
    seed: int | None = 0,
) -> FederatedDataset:
    """Linear regression with controllable heterogeneity.

    Device ``i``: ``w_i = w₀ + heterogeneity·u_i`` (``w₀, u_i ~ N(0, I/d)``), features
    ``z ~ N(feature_shift·s_i, I)`` (``s_i ~ N(0, I)``), targets ``y = zᵀw_i + noise·ε``.
    ``heterogeneity = feature_shift = 0`` gives IID devices.
    """
    if n_devices < 1 or n_samples < 1 or dim < 1:
        raise SsdflError("n_devices, n_samples and dim must be >= 1")
    if heterogeneity < 0 or feature_shift < 0 or noise < 0:
        raise SsdflError("heterogeneity, feature_shift and noise must be >= 0")
    rng = np.random.default_rng(seed)
    w0 = rng.normal(0, 1 / np.sqrt(dim), size=dim)
    Xs, ys = [], []
    for _ in range(n_devices):
        w = w0 + heterogeneity * rng.normal(0, 1 / np.sqrt(dim), size=dim)
        z = rng.normal(size=(n_samples, dim)) + feature_shift * rng.normal(size=dim)
        Xs.append(z)
        ys.append(z @ w + noise * rng.normal(size=n_samples))
    X = np.concatenate(Xs)
    y = np.concatenate(ys)
    parts = list(np.arange(n_devices * n_samples).reshape(n_devices, n_samples))
    return FederatedDataset(X, y, parts, 0, "synthetic-regression")


def synthetic_classification(
    n_devices: int,
    n_samples: int = 2000,
    dim: int = 10,
    n_classes: int = 5,
    scheme: str = "dirichlet",
    *,
    k: int = 1,
    alpha: float = 0.5,
    separation: float = 2.0,
    seed: int | None = 0,
) -> FederatedDataset:
    """Gaussian class clusters (means ``separation·m_c``, ``m_c ~ N(0, I/d)·√d``, unit
    covariance), balanced labels, split by :func:`label_skew_split` (``scheme``/``k``/``alpha``
    control the non-IID-ness)."""
    if n_classes < 2 or dim < 1 or n_samples < n_classes:
        raise SsdflError("need n_classes >= 2, dim >= 1 and n_samples >= n_classes")
    rng = np.random.default_rng(seed)
    means = separation * rng.normal(size=(n_classes, dim))
    y = np.arange(n_samples) % n_classes
    X = means[y] + rng.normal(size=(n_samples, dim))
    parts = label_skew_split(y, n_devices, scheme, k=k, alpha=alpha, rng=rng)
    return FederatedDataset(X, y.astype(np.int64), parts, n_classes, f"synthetic-{scheme}")


# ---------------------------------------------------------------------------------------------
# A devices file's label histograms realised on a data set
# ---------------------------------------------------------------------------------------------


def split_by_histogram(
    y: np.ndarray, devices: DeviceTable, n: int, seed: int, name: str
) -> list[np.ndarray]:
    """Sample indices of a 10-class pool ``y`` per device, following ``devices.label_hist``:
    every class drawn without replacement (shuffled by ``seed``), all counts scaled down
    together when the pool is too small, and at least one sample of each device's main class."""
    hist = devices.label_hist
    if hist is None:
        raise SsdflError("the devices file has no label histograms to split by")
    if hist.shape[1] > 10:
        raise SsdflError(f"{name} has 10 classes; the devices file has {hist.shape[1]}")
    classes = [int(c) if str(c).isdigit() else k for k, c in enumerate(devices.classes)]
    rng = np.random.default_rng(seed)
    pools = {c: list(rng.permutation(np.flatnonzero(y == c))) for c in range(10)}
    demand = np.zeros(10)
    for k, c in enumerate(classes):
        demand[c] += hist[:, k].sum()
    scale = min(1.0, min(len(pools[c]) / demand[c] for c in range(10) if demand[c] > 0))
    parts = []
    for i in range(n):
        want = np.maximum(np.floor(hist[i] * scale).astype(int), 0)
        if want.sum() == 0:
            want[int(np.argmax(hist[i]))] = 1
        idx: list[int] = []
        for k, c in enumerate(classes):
            idx += [pools[c].pop() for _ in range(min(want[k], len(pools[c])))]
        if not idx:
            raise SsdflError(f"device {i}: no {name} samples left for its classes")
        parts.append(np.sort(np.asarray(idx, dtype=np.int64)))
    return parts


def digits_for_devices(devices: DeviceTable | None, n: int, seed: int = 0) -> FederatedDataset:
    """Digits split so that device ``i``'s labels follow ``devices.label_hist[i]`` (module doc);
    a 3-label split when there are no histograms."""
    if devices is None or devices.label_hist is None:
        return load_digits_federated(n, "k-label", k=3, seed=seed)
    base = load_digits_federated(1, "iid", seed=seed)
    X, y = base.X, base.y
    parts = split_by_histogram(y, devices, n, seed, "digits")
    return FederatedDataset(X, y, parts, 10, "digits-by-histogram")


def data_for_devices(
    devices: DeviceTable | None, n: int, data: str = "digits", seed: int = 0,
    num_samples: int = 5000,
) -> FederatedDataset:  # fmt: skip
    """``digits`` (:func:`digits_for_devices`) or ``mnist1d`` (80 % of ``num_samples`` signals
    as the pool, drawn by the same per-class histogram rule; a 2-label split without
    histograms)."""
    if data == "digits":
        return digits_for_devices(devices, n, seed)
    if data != "mnist1d":
        raise SsdflError(f"data must be 'digits' or 'mnist1d', got {data!r}")
    if devices is None or devices.label_hist is None:
        return load_mnist1d_federated(n, "k-label", k=2, seed=seed, num_samples=num_samples)
    base = load_mnist1d_federated(1, "iid", seed=seed, num_samples=num_samples)
    parts = split_by_histogram(base.y, devices, n, seed, "MNIST-1D")
    return FederatedDataset(base.X, base.y, parts, 10, "mnist1d-by-histogram", base.X_test,
                            base.y_test)  # fmt: skip

"""Type stubs of the compiled module ``ssdfl._core`` (bindings over the Rust core crate)."""

from typing import final

import numpy as np
import numpy.typing as npt

__version__: str

class SsdflError(ValueError): ...
class GraphFormatError(SsdflError): ...
class DisconnectedGraphError(SsdflError): ...
class TooLargeError(SsdflError): ...

_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]
_Mask = npt.NDArray[np.bool_]

@final
class CoreGraph:
    @staticmethod
    def from_edges(n: int, src: _I64, dst: _I64, weights: _F64 | None = None) -> BuiltGraph: ...
    @staticmethod
    def from_csr(n: int, indptr: _I64, indices: _I64, data: _F64) -> BuiltGraph: ...
    @property
    def n(self) -> int: ...
    @property
    def m(self) -> int: ...
    @property
    def unit_weights(self) -> bool: ...
    def degrees(self) -> _F64: ...
    def csr(self) -> CsrArrays: ...
    def edges(self) -> EdgeArrays: ...
    def induced_subgraph(self, nodes: _I64) -> CoreGraph: ...

@final
class BuiltGraph:
    """A graph built from edges or CSR arrays, with what was cleaned up on the way."""

    @property
    def graph(self) -> CoreGraph: ...
    @property
    def self_loops(self) -> int: ...
    @property
    def merged(self) -> int: ...

@final
class CsrArrays:
    """The symmetric CSR adjacency of a graph (each edge stored in both rows)."""

    @property
    def indptr(self) -> _I64: ...
    @property
    def indices(self) -> _I64: ...
    @property
    def data(self) -> _F64: ...

@final
class EdgeArrays:
    """The undirected edges of a graph, each once with ``src < dst``."""

    @property
    def src(self) -> _I64: ...
    @property
    def dst(self) -> _I64: ...
    @property
    def weights(self) -> _F64: ...

@final
class ParsedEdges:
    """A parsed edge list: edges as node indices ``0..len(labels)`` and the node labels."""

    @property
    def src(self) -> _I64: ...
    @property
    def dst(self) -> _I64: ...
    @property
    def weights(self) -> _F64: ...
    @property
    def weighted(self) -> bool: ...
    @property
    def labels(self) -> _I64 | list[str]: ...

@final
class EdgeListGraph:
    """A graph read from edge-list text, with its node labels and the clean-up counts."""

    @property
    def graph(self) -> CoreGraph: ...
    @property
    def self_loops(self) -> int: ...
    @property
    def merged(self) -> int: ...
    @property
    def weighted(self) -> bool: ...
    @property
    def labels(self) -> _I64 | list[str]: ...

def volume(g: CoreGraph, mask: _Mask, unit: bool = False) -> float: ...
def cut_size(g: CoreGraph, mask: _Mask, unit: bool = False) -> float: ...
def cut_between(g: CoreGraph, s: _Mask, t: _Mask, unit: bool = False) -> float: ...
def conductance(g: CoreGraph, mask: _Mask, unit: bool = False) -> float: ...
def normalized_cut(g: CoreGraph, mask: _Mask, unit: bool = False) -> float: ...
def edge_expansion(g: CoreGraph, mask: _Mask, unit: bool = False) -> float: ...
def is_set_connected(g: CoreGraph, mask: _Mask) -> bool: ...
def connected_components(g: CoreGraph) -> tuple[_I64, int]: ...
def parse_edge_list(data: bytes | str) -> ParsedEdges: ...
def read_edge_list(data: bytes | str) -> EdgeListGraph: ...

# cheeger.rs: exact Cheeger constants, chain conductance, sweep cuts
DEFAULT_MAX_EXACT: int
HARD_MAX_EXACT: int

@final
class CheegerCut:
    """An optimal cut ``S`` of an exact Cheeger constant or chain conductance."""

    @property
    def value(self) -> float: ...
    @property
    def mask(self) -> _Mask: ...
    @property
    def cut(self) -> float: ...
    @property
    def mass(self) -> float: ...
    @property
    def complement_mass(self) -> float: ...

@final
class SweepCut:
    """The best prefix cut of a sweep over a vertex ordering."""

    @property
    def value(self) -> float: ...
    @property
    def mask(self) -> _Mask: ...
    @property
    def cut(self) -> float: ...
    @property
    def mass(self) -> float: ...
    @property
    def complement_mass(self) -> float: ...
    @property
    def prefix_len(self) -> int: ...
    @property
    def order(self) -> _I64: ...

@final
class SweepProfile:
    """Cut and volume of every prefix of a sweep ordering (entry ``k``: first ``k + 1`` nodes)."""

    @property
    def order(self) -> _I64: ...
    @property
    def cut(self) -> _F64: ...
    @property
    def volume(self) -> _F64: ...
    @property
    def total_volume(self) -> float: ...

# max_exact defaults to DEFAULT_MAX_EXACT
def exact_cheeger(
    g: CoreGraph, normalization: str = "volume", max_exact: int = ...
) -> CheegerCut: ...
def exact_chain_conductance(w: npt.NDArray[np.float64], max_exact: int = ...) -> CheegerCut: ...
def sweep_cut(g: CoreGraph, values: _F64, normalization: str = "volume") -> SweepCut: ...
def sweep_profile(g: CoreGraph, values: _F64) -> SweepProfile: ...

# gossip.rs: fused simulator round out = W x − factor ⊙ D(x) (in place in out and v); every float
# array has the dtype of x (float64 or float32); the gradient is given (grad) or computed in the
# round: separable=(a, b), dense=(A, b), least_squares=(Z, y, offsets, l2)
_Real = npt.NDArray[np.float64] | npt.NDArray[np.float32]

def gossip_round(
    x: _Real,
    out: _Real,
    indptr: _I64 | None = None,
    indices: _I64 | None = None,
    data: _Real | None = None,
    grad: _Real | None = None,
    factor: _Real | None = None,
    mu: _Real | None = None,
    anchor: _Real | None = None,
    rho: _Real | None = None,
    is_momentum: _Mask | None = None,
    v: _Real | None = None,
    *,
    separable: tuple[_Real, _Real] | None = None,
    dense: tuple[_Real, _Real] | None = None,
    least_squares: tuple[_Real, _Real, _I64, float] | None = None,
) -> None: ...

# aggregate.rs: exact weighted sums for FedAvg (ssdfl.aggregation.reduce)
EXACT_GROUP: int
EXACT_LIMBS_F32: int
EXACT_LIMBS_F64: int
EXACT_NONFINITE_TAG: str

class ExactSumError(SsdflError):
    """An exact reduction rejected its input; ``kind`` and the kind's fields as attributes."""

    kind: str

def exact_reduce_f32(
    raw: list[npt.NDArray[np.float32]],
    weights: _F64,
    partials: list[npt.NDArray[np.uint8]],
    n: int,
    k: int | None = None,
    w_prime: float | None = None,
    out: npt.NDArray[np.float32] | None = None,
    fast: bool = True,
) -> npt.NDArray[np.uint8] | None: ...
def exact_reduce_f64(
    raw: list[npt.NDArray[np.float64]],
    weights: _F64,
    partials: list[npt.NDArray[np.uint8]],
    n: int,
    k: int | None = None,
    w_prime: float | None = None,
    out: npt.NDArray[np.float64] | None = None,
    fast: bool = True,
) -> npt.NDArray[np.uint8] | None: ...
def digest128(data: npt.NDArray[np.uint8], algo: str = "xxh3-128") -> bytes: ...
def chunk_digests(
    data: npt.NDArray[np.uint8], chunk_bytes: int, algo: str = "xxh3-128"
) -> bytes: ...

# cluster.rs: cluster-search kernels (threshold connectivity, split candidates, refinement)
@final
class ThresholdProfile:
    """Connectivity of both sides and the cut at every threshold ``k = 1..n-1`` of an ordering."""

    @property
    def prefix_connected(self) -> _Mask: ...
    @property
    def suffix_connected(self) -> _Mask: ...
    @property
    def cut(self) -> _F64: ...

@final
class SplitCandidates:
    """Split thresholds with both sides connected, with sweep estimates of both sides."""

    @property
    def k(self) -> _I64: ...
    @property
    def est_prefix(self) -> _F64: ...
    @property
    def est_suffix(self) -> _F64: ...

@final
class Refinement:
    """Outcome of refining a k-way partition by single-node moves."""

    @property
    def labels(self) -> _I64: ...
    @property
    def badness(self) -> _F64: ...
    @property
    def moves(self) -> int: ...
    @property
    def evals(self) -> int: ...
    @property
    def converged(self) -> bool: ...

def threshold_profile(g: CoreGraph, order: _I64) -> ThresholdProfile: ...
def split_candidates(
    g: CoreGraph,
    order: _I64,
    measure: str = "graph",
    rule: str = "lazy-metropolis",
    min_size: int = 1,
    max_eval: int = 256,
) -> SplitCandidates: ...
def mixing_weight_graph(g: CoreGraph, rule: str) -> CoreGraph: ...
def exact_cluster_measures(
    g: CoreGraph,
    nodes: _I64,
    offsets: _I64,
    measure: str = "graph",
    rule: str = "lazy-metropolis",
    max_exact: int = 25,
) -> tuple[_F64, _Mask]: ...
def random_connected_partition(g: CoreGraph, seeds: _I64, seed: int) -> _I64:
    """Labels of a random connected partition grown from ``seeds`` (edge drawn uniformly from
    the assigned/unassigned frontier; xorshift64* seeded by ``seed``)."""
    ...

def refine_partition(
    g: CoreGraph,
    labels: _I64,
    k: int,
    scores: _F64,
    objective: str = "internal",
    measure: str = "graph",
    rule: str = "lazy-metropolis",
    exact_limit: int = 16,
    min_size: int = 1,
    max_evals: int = 20000,
) -> Refinement: ...

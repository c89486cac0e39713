//! The `CoreGraph` class and graph-level functions: construction, CSR export, parsing,
//! cut metrics and connectivity. Conversions only; the work is in `ssdfl_core`.

use crate::errors::{detach, IntoPy};
use crate::results::result_class;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyString};
use ssdfl_core::graph::{BuildReport, Graph};
use ssdfl_core::metrics::{self, Weighting};
use ssdfl_core::parse::{parse_edge_list_bytes as core_parse, Labels};
use std::sync::Arc;

/// Core result to Python (a failed allocation, `CoreError::OutOfMemory`, is a `TooLargeError`).
fn conv<T>(r: ssdfl_core::Result<T>) -> PyResult<T> {
    r.map_err(crate::errors::to_py)
}

result_class! {
    /// A graph built from edges or CSR arrays, with what was cleaned up on the way.
    BuiltGraph as "BuiltGraph" {
        /// The graph.
        graph: Py<PyGraph>,
        /// Self-loops dropped.
        self_loops: usize,
        /// Parallel edges merged (weights summed).
        merged: usize,
    }
}

result_class! {
    /// The symmetric CSR adjacency of a graph (copies; each edge appears in both rows).
    CsrArrays as "CsrArrays" {
        /// Row pointers (`n + 1` entries).
        indptr: Py<PyArray1<i64>>,
        /// Column index of every stored entry.
        indices: Py<PyArray1<i64>>,
        /// Weight of every stored entry.
        data: Py<PyArray1<f64>>,
    }
}

result_class! {
    /// The undirected edges of a graph, each once with `src < dst`.
    EdgeArrays as "EdgeArrays" {
        /// Smaller endpoint of every edge.
        src: Py<PyArray1<i64>>,
        /// Larger endpoint of every edge.
        dst: Py<PyArray1<i64>>,
        /// Weight of every edge.
        weights: Py<PyArray1<f64>>,
    }
}

result_class! {
    /// A parsed edge list: edges as node indices `0..len(labels)` and the node labels.
    ParsedEdges as "ParsedEdges" {
        /// Index of every edge's first endpoint.
        src: Py<PyArray1<i64>>,
        /// Index of every edge's second endpoint.
        dst: Py<PyArray1<i64>>,
        /// Weight of every edge (1 where the file has no weight column).
        weights: Py<PyArray1<f64>>,
        /// Whether the file has a weight column.
        weighted: bool,
        /// Node labels in index order: an int64 array if all are integers, else a list of str.
        labels: Py<PyAny>,
    }
}

result_class! {
    /// A graph read from edge-list text, with its node labels and the clean-up counts.
    EdgeListGraph as "EdgeListGraph" {
        /// The graph.
        graph: Py<PyGraph>,
        /// Self-loops dropped.
        self_loops: usize,
        /// Parallel edges merged (weights summed).
        merged: usize,
        /// Whether the file has a weight column.
        weighted: bool,
        /// Node labels in index order: an int64 array if all are integers, else a list of str.
        labels: Py<PyAny>,
    }
}

/// An immutable undirected weighted graph held in Rust (CSR).
#[pyclass(name = "CoreGraph", module = "ssdfl._core", frozen)]
pub struct PyGraph {
    pub inner: Arc<Graph>,
}

impl PyGraph {
    pub fn wrap(g: Graph) -> Self {
        PyGraph { inner: Arc::new(g) }
    }
}

impl BuiltGraph {
    fn new(py: Python<'_>, g: Graph, rep: BuildReport) -> PyResult<Self> {
        Ok(BuiltGraph {
            graph: Py::new(py, PyGraph::wrap(g))?,
            self_loops: rep.self_loops,
            merged: rep.merged,
        })
    }
}

#[pymethods]
impl PyGraph {
    /// Build from endpoint arrays (self-loops dropped, parallel edges merged).
    #[staticmethod]
    #[pyo3(signature = (n, src, dst, weights=None))]
    fn from_edges(
        py: Python<'_>,
        n: usize,
        src: PyReadonlyArray1<'_, i64>,
        dst: PyReadonlyArray1<'_, i64>,
        weights: Option<PyReadonlyArray1<'_, f64>>,
    ) -> PyResult<BuiltGraph> {
        let (s, d) = (src.as_slice()?, dst.as_slice()?);
        let w = match &weights {
            Some(w) => Some(w.as_slice()?),
            None => None,
        };
        let (g, rep) = conv(detach(py, || Graph::from_edges(n, s, d, w)))?;
        BuiltGraph::new(py, g, rep)
    }

    /// Build from a symmetric CSR adjacency (self-loops dropped, duplicates merged).
    #[staticmethod]
    fn from_csr(
        py: Python<'_>,
        n: usize,
        indptr: PyReadonlyArray1<'_, i64>,
        indices: PyReadonlyArray1<'_, i64>,
        data: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<BuiltGraph> {
        let (p, i, d) = (indptr.as_slice()?, indices.as_slice()?, data.as_slice()?);
        let (g, rep) = conv(detach(py, || Graph::from_csr(n, p, i, d)))?;
        BuiltGraph::new(py, g, rep)
    }

    #[getter]
    fn n(&self) -> usize {
        self.inner.n()
    }
    #[getter]
    fn m(&self) -> usize {
        self.inner.m()
    }
    #[getter]
    fn unit_weights(&self) -> bool {
        self.inner.unit_weights()
    }
    /// Weighted degrees (copy).
    fn degrees<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.inner.degrees().to_vec().into_pyarray(py)
    }
    /// The symmetric CSR adjacency (copies).
    fn csr(&self, py: Python<'_>) -> CsrArrays {
        let g = &self.inner;
        let p: Vec<i64> = g.indptr().iter().map(|&x| x as i64).collect();
        let i: Vec<i64> = g.indices().iter().map(|&x| x as i64).collect();
        CsrArrays {
            indptr: p.into_pyarray(py).unbind(),
            indices: i.into_pyarray(py).unbind(),
            data: g.weights().to_vec().into_pyarray(py).unbind(),
        }
    }
    /// The undirected edges with `src < dst`.
    fn edges(&self, py: Python<'_>) -> EdgeArrays {
        let e = self.inner.edges();
        let s: Vec<i64> = e.iter().map(|x| x.0 as i64).collect();
        let d: Vec<i64> = e.iter().map(|x| x.1 as i64).collect();
        let w: Vec<f64> = e.iter().map(|x| x.2).collect();
        EdgeArrays {
            src: s.into_pyarray(py).unbind(),
            dst: d.into_pyarray(py).unbind(),
            weights: w.into_pyarray(py).unbind(),
        }
    }
    /// Subgraph induced by `nodes`, relabelled `0..len(nodes)` in the given order.
    fn induced_subgraph(
        &self,
        py: Python<'_>,
        nodes: PyReadonlyArray1<'_, i64>,
    ) -> PyResult<PyGraph> {
        let n = self.inner.n();
        let mut v = Vec::with_capacity(nodes.len()?);
        for &x in nodes.as_slice()? {
            if x < 0 || x as usize >= n {
                return Err(crate::errors::to_py(
                    ssdfl_core::CoreError::NodeOutOfRange { node: x, n },
                ));
            }
            v.push(x as usize);
        }
        let g = self.inner.clone();
        let sub = detach(py, || g.induced_subgraph(&v)).py()?;
        Ok(PyGraph::wrap(sub))
    }
    fn __repr__(&self) -> String {
        format!("CoreGraph(n={}, m={})", self.inner.n(), self.inner.m())
    }
}

macro_rules! mask_metric {
    ($name:ident, $core:path, $doc:literal) => {
        #[doc = $doc]
        #[doc = ""]
        #[doc = "`unit=True` counts every edge as 1 (networkx's `weight=None`) without a copy."]
        #[pyfunction]
        #[pyo3(signature = (g, mask, unit = false))]
        fn $name(
            py: Python<'_>,
            g: &PyGraph,
            mask: PyReadonlyArray1<'_, bool>,
            unit: bool,
        ) -> PyResult<f64> {
            let m = mask.as_slice()?;
            let inner = &g.inner;
            let wt = Weighting::unit_if(unit);
            detach(py, || $core(inner, m, wt)).py()
        }
    };
}

mask_metric!(
    volume,
    metrics::volume_with,
    "vol(S) = Σ_{u∈S} d_u (weighted degrees)."
);
mask_metric!(cut_size, metrics::cut_size_with, "cut(S, V∖S), weighted.");
mask_metric!(
    conductance,
    metrics::conductance_with,
    "cut(S) / min(vol S, vol S̄)."
);
mask_metric!(
    normalized_cut,
    metrics::normalized_cut_with,
    "cut(S)·(1/vol S + 1/vol S̄)."
);
mask_metric!(
    edge_expansion,
    metrics::edge_expansion_with,
    "cut(S) / min(|S|, |S̄|)."
);

/// cut(S, T): weight of edges with one end in S and the other in T (each edge once);
/// `unit=True` counts every edge as 1.
#[pyfunction]
#[pyo3(signature = (g, s, t, unit = false))]
fn cut_between(
    py: Python<'_>,
    g: &PyGraph,
    s: PyReadonlyArray1<'_, bool>,
    t: PyReadonlyArray1<'_, bool>,
    unit: bool,
) -> PyResult<f64> {
    let (a, b) = (s.as_slice()?, t.as_slice()?);
    let inner = &g.inner;
    let wt = Weighting::unit_if(unit);
    detach(py, || metrics::cut_between_with(inner, a, b, wt)).py()
}

/// True if the subgraph induced by the mask is connected.
#[pyfunction]
fn is_set_connected(
    py: Python<'_>,
    g: &PyGraph,
    mask: PyReadonlyArray1<'_, bool>,
) -> PyResult<bool> {
    let m = mask.as_slice()?;
    let inner = &g.inner;
    detach(py, || metrics::is_set_connected(inner, m)).py()
}

/// `(labels, count)`: component label per node, numbered by smallest member.
#[pyfunction]
fn connected_components<'py>(py: Python<'py>, g: &PyGraph) -> (Bound<'py, PyArray1<i64>>, usize) {
    let inner = &g.inner;
    let (lab, c) = detach(py, || metrics::connected_components(inner));
    let lab: Vec<i64> = lab.into_iter().map(|x| x as i64).collect();
    (lab.into_pyarray(py), c)
}

/// Bytes of a `bytes`/`bytearray`-like or `str` argument (UTF-8 for `str`), without a copy for
/// `bytes` and `str`.
fn text_bytes<'a>(obj: &'a Bound<'_, PyAny>) -> PyResult<&'a [u8]> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(s.to_str()?.as_bytes());
    }
    Err(PyTypeError::new_err(format!(
        "expected bytes or str, got {}",
        obj.get_type().name()?
    )))
}

fn labels_to_py<'py>(py: Python<'py>, labels: Labels) -> PyResult<Bound<'py, PyAny>> {
    Ok(match labels {
        Labels::Int(v) => v.into_pyarray(py).into_any(),
        Labels::Str(v) => PyList::new(py, v)?.into_any(),
    })
}

/// Parse edge-list text (`bytes` or `str`).
#[pyfunction]
fn parse_edge_list<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<ParsedEdges> {
    let bytes = text_bytes(data)?;
    let e = conv(detach(py, || core_parse(bytes)))?;
    Ok(ParsedEdges {
        src: e.src.into_pyarray(py).unbind(),
        dst: e.dst.into_pyarray(py).unbind(),
        weights: e.weights.into_pyarray(py).unbind(),
        weighted: e.weighted,
        labels: labels_to_py(py, e.labels)?.unbind(),
    })
}

/// Parse edge-list text (`bytes` or `str`) and build the graph in one call (GIL released).
#[pyfunction]
fn read_edge_list<'py>(py: Python<'py>, data: &Bound<'py, PyAny>) -> PyResult<EdgeListGraph> {
    let bytes = text_bytes(data)?;
    let result = detach(py, || -> ssdfl_core::Result<_> {
        let e = core_parse(bytes)?;
        let w = if e.weighted {
            Some(e.weights.as_slice())
        } else {
            None
        };
        let (g, rep) = Graph::from_edges(e.labels.len(), &e.src, &e.dst, w)?;
        Ok((g, rep, e.weighted, e.labels))
    });
    let (g, rep, weighted, labels) = conv(result)?;
    Ok(EdgeListGraph {
        graph: Py::new(py, PyGraph::wrap(g))?,
        self_loops: rep.self_loops,
        merged: rep.merged,
        weighted,
        labels: labels_to_py(py, labels)?.unbind(),
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGraph>()?;
    m.add_class::<BuiltGraph>()?;
    m.add_class::<CsrArrays>()?;
    m.add_class::<EdgeArrays>()?;
    m.add_class::<ParsedEdges>()?;
    m.add_class::<EdgeListGraph>()?;
    m.add_function(wrap_pyfunction!(volume, m)?)?;
    m.add_function(wrap_pyfunction!(cut_size, m)?)?;
    m.add_function(wrap_pyfunction!(cut_between, m)?)?;
    m.add_function(wrap_pyfunction!(conductance, m)?)?;
    m.add_function(wrap_pyfunction!(normalized_cut, m)?)?;
    m.add_function(wrap_pyfunction!(edge_expansion, m)?)?;
    m.add_function(wrap_pyfunction!(is_set_connected, m)?)?;
    m.add_function(wrap_pyfunction!(connected_components, m)?)?;
    m.add_function(wrap_pyfunction!(parse_edge_list, m)?)?;
    m.add_function(wrap_pyfunction!(read_edge_list, m)?)?;
    Ok(())
}

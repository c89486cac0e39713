//! Bindings for exact Cheeger constants, chain conductance and sweep cuts.

use crate::errors::{detach, signal_pending, to_py, IntoPy};
use crate::graph::PyGraph;
use crate::results::result_class;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use ssdfl_core::cheeger::{self, Normalization};
use ssdfl_core::sweep;

result_class! {
    /// An optimal cut `S` of an exact Cheeger constant or chain conductance.
    CheegerCut as "CheegerCut" {
        /// The constant: `cut / min(mass, complement_mass)` (or the normalised-cut form).
        value: f64,
        /// Membership of `S` (one bool per node).
        mask: Py<PyArray1<bool>>,
        /// Weight of the edges leaving `S`.
        cut: f64,
        /// Mass of `S`: its volume (graph) or stationary weight/size (chain).
        mass: f64,
        /// Mass of the complement of `S`.
        complement_mass: f64,
    }
}

impl CheegerCut {
    fn new(py: Python<'_>, c: cheeger::CheegerCut) -> Self {
        CheegerCut {
            value: c.value,
            mask: c.mask.into_pyarray(py).unbind(),
            cut: c.cut,
            mass: c.mass,
            complement_mass: c.complement_mass,
        }
    }
}

result_class! {
    /// The best prefix cut of a sweep over a vertex ordering.
    SweepCut as "SweepCut" {
        /// Conductance (or normalised cut) of the best prefix.
        value: f64,
        /// Membership of the best prefix.
        mask: Py<PyArray1<bool>>,
        /// Weight of the edges leaving the prefix.
        cut: f64,
        /// Volume of the prefix.
        mass: f64,
        /// Volume of the complement.
        complement_mass: f64,
        /// Number of nodes in the best prefix.
        prefix_len: usize,
        /// The ordering swept (ascending values, ties by index).
        order: Py<PyArray1<i64>>,
    }
}

result_class! {
    /// Cut and volume of every prefix of a sweep ordering; entry `k` is the first `k + 1` nodes.
    SweepProfile as "SweepProfile" {
        /// The ordering (ascending values, ties by index).
        order: Py<PyArray1<i64>>,
        /// Weight of the edges leaving each prefix.
        cut: Py<PyArray1<f64>>,
        /// Volume of each prefix.
        volume: Py<PyArray1<f64>>,
        /// Volume of the whole graph.
        total_volume: f64,
    }
}

fn stop() -> bool {
    signal_pending()
}

/// Exact Cheeger constant by enumeration and an optimal cut.
#[pyfunction]
#[pyo3(signature = (g, normalization="volume", max_exact=cheeger::DEFAULT_MAX_EXACT))]
fn exact_cheeger<'py>(
    py: Python<'py>,
    g: &PyGraph,
    normalization: &str,
    max_exact: usize,
) -> PyResult<CheegerCut> {
    let norm = Normalization::parse(normalization).py()?;
    let inner = g.inner.clone();
    let c = detach(py, || {
        cheeger::exact_cheeger(&inner, norm, max_exact, &stop)
    })
    .py()?;
    Ok(CheegerCut::new(py, c))
}

/// Exact Markov-chain conductance of a dense symmetric non-negative matrix and an optimal
/// cut (`mass` and `complement_mass` are the sides' stationary weights).
#[pyfunction]
#[pyo3(signature = (w, max_exact=cheeger::DEFAULT_MAX_EXACT))]
fn exact_chain_conductance<'py>(
    py: Python<'py>,
    w: PyReadonlyArray2<'py, f64>,
    max_exact: usize,
) -> PyResult<CheegerCut> {
    let shape = w.shape();
    if shape[0] != shape[1] {
        return Err(to_py(ssdfl_core::CoreError::InvalidArgument(format!(
            "matrix must be square, got {}×{}",
            shape[0], shape[1]
        ))));
    }
    let n = shape[0];
    let data: Vec<f64> = w.as_array().iter().copied().collect();
    let c = detach(py, || {
        cheeger::exact_chain_conductance(&data, n, max_exact, &stop)
    })
    .py()?;
    Ok(CheegerCut::new(py, c))
}

/// Best prefix of the ordering by ascending `values`.
#[pyfunction]
#[pyo3(signature = (g, values, normalization="volume"))]
fn sweep_cut<'py>(
    py: Python<'py>,
    g: &PyGraph,
    values: PyReadonlyArray1<'py, f64>,
    normalization: &str,
) -> PyResult<SweepCut> {
    let norm = Normalization::parse(normalization).py()?;
    let x = values.as_slice()?;
    let inner = g.inner.clone();
    let r = detach(py, || sweep::sweep_cut(&inner, x, norm)).py()?;
    let order: Vec<i64> = r.order.iter().map(|&u| u as i64).collect();
    let c = r.cut;
    Ok(SweepCut {
        value: c.value,
        mask: c.mask.into_pyarray(py).unbind(),
        cut: c.cut,
        mass: c.mass,
        complement_mass: c.complement_mass,
        prefix_len: r.prefix_len,
        order: order.into_pyarray(py).unbind(),
    })
}

/// Ordering by ascending `values` (ties by index) and the cut and volume of every prefix.
#[pyfunction]
fn sweep_profile<'py>(
    py: Python<'py>,
    g: &PyGraph,
    values: PyReadonlyArray1<'py, f64>,
) -> PyResult<SweepProfile> {
    let x = values.as_slice()?;
    let n = g.inner.n();
    if x.len() != n {
        return Err(to_py(ssdfl_core::CoreError::LengthMismatch {
            what: format!("vector has length {} for {} nodes", x.len(), n),
        }));
    }
    let inner = g.inner.clone();
    let p = detach(py, || {
        let order = sweep::sweep_order(x)?;
        sweep::sweep_profile(&inner, &order)
    })
    .py()?;
    let order: Vec<i64> = p.order.iter().map(|&u| u as i64).collect();
    Ok(SweepProfile {
        order: order.into_pyarray(py).unbind(),
        cut: p.cut.into_pyarray(py).unbind(),
        volume: p.volume.into_pyarray(py).unbind(),
        total_volume: p.total_volume,
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_EXACT", cheeger::DEFAULT_MAX_EXACT)?;
    m.add("HARD_MAX_EXACT", cheeger::HARD_MAX_EXACT)?;
    m.add_class::<CheegerCut>()?;
    m.add_class::<SweepCut>()?;
    m.add_class::<SweepProfile>()?;
    m.add_function(wrap_pyfunction!(exact_cheeger, m)?)?;
    m.add_function(wrap_pyfunction!(exact_chain_conductance, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_cut, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_profile, m)?)?;
    Ok(())
}

//! Bindings for exact Cheeger constants, chain conductance and sweep cuts.

use crate::errors::{signal_pending, to_py, IntoPy};
use crate::graph::PyGraph;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;
use ssdfl_core::cheeger::{self, CheegerCut, Normalization};
use ssdfl_core::sweep;

type CutTuple<'py> = (f64, Bound<'py, PyArray1<bool>>, f64, f64, f64);

fn cut_tuple<'py>(py: Python<'py>, c: CheegerCut) -> CutTuple<'py> {
    (
        c.value,
        c.mask.into_pyarray(py),
        c.cut,
        c.mass,
        c.complement_mass,
    )
}

fn stop() -> bool {
    signal_pending()
}

/// Exact Cheeger constant by enumeration: `(value, mask, cut, mass, complement_mass)`.
#[pyfunction]
#[pyo3(signature = (g, normalization="volume", max_exact=cheeger::DEFAULT_MAX_EXACT))]
fn exact_cheeger<'py>(
    py: Python<'py>,
    g: &PyGraph,
    normalization: &str,
    max_exact: usize,
) -> PyResult<CutTuple<'py>> {
    let norm = Normalization::parse(normalization).py()?;
    let inner = g.inner.clone();
    let c = crate::errors::detach(py, || {
        cheeger::exact_cheeger(&inner, norm, max_exact, &stop)
    })
    .py()?;
    Ok(cut_tuple(py, c))
}

/// Exact Markov-chain conductance of a dense symmetric non-negative matrix:
/// `(value, mask, cut, size, complement_size)`.
#[pyfunction]
#[pyo3(signature = (w, max_exact=cheeger::DEFAULT_MAX_EXACT))]
fn exact_chain_conductance<'py>(
    py: Python<'py>,
    w: PyReadonlyArray2<'py, f64>,
    max_exact: usize,
) -> PyResult<CutTuple<'py>> {
    let shape = w.shape();
    if shape[0] != shape[1] {
        return Err(to_py(ssdfl_core::CoreError::InvalidArgument(format!(
            "matrix must be square, got {}×{}",
            shape[0], shape[1]
        ))));
    }
    let n = shape[0];
    let data: Vec<f64> = w.as_array().iter().copied().collect();
    let c = crate::errors::detach(py, || {
        cheeger::exact_chain_conductance(&data, n, max_exact, &stop)
    })
    .py()?;
    Ok(cut_tuple(py, c))
}

/// Best prefix of the ordering by ascending `values`:
/// `(value, mask, cut, mass, complement_mass, prefix_len, order)`.
#[pyfunction]
#[pyo3(signature = (g, values, normalization="volume"))]
#[allow(clippy::type_complexity)]
fn sweep_cut<'py>(
    py: Python<'py>,
    g: &PyGraph,
    values: PyReadonlyArray1<'py, f64>,
    normalization: &str,
) -> PyResult<(
    f64,
    Bound<'py, PyArray1<bool>>,
    f64,
    f64,
    f64,
    usize,
    Bound<'py, PyArray1<i64>>,
)> {
    let norm = Normalization::parse(normalization).py()?;
    let x = values.as_slice()?;
    let inner = g.inner.clone();
    let r = py.detach(|| sweep::sweep_cut(&inner, x, norm)).py()?;
    let order: Vec<i64> = r.order.iter().map(|&u| u as i64).collect();
    let (v, m, c, a, b) = cut_tuple(py, r.cut);
    Ok((v, m, c, a, b, r.prefix_len, order.into_pyarray(py)))
}

/// Ordering by ascending `values` (ties by index) and the cut and volume of every prefix:
/// `(order, cut, volume, total_volume)`; entry `k` describes the first `k + 1` nodes.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn sweep_profile<'py>(
    py: Python<'py>,
    g: &PyGraph,
    values: PyReadonlyArray1<'py, f64>,
) -> PyResult<(
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    f64,
)> {
    let x = values.as_slice()?;
    let n = g.inner.n();
    if x.len() != n {
        return Err(to_py(ssdfl_core::CoreError::LengthMismatch {
            what: format!("vector has length {} for {} nodes", x.len(), n),
        }));
    }
    let inner = g.inner.clone();
    let p = py
        .detach(|| {
            let order = sweep::sweep_order(x)?;
            sweep::sweep_profile(&inner, &order)
        })
        .py()?;
    let order: Vec<i64> = p.order.iter().map(|&u| u as i64).collect();
    Ok((
        order.into_pyarray(py),
        p.cut.into_pyarray(py),
        p.volume.into_pyarray(py),
        p.total_volume,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_MAX_EXACT", cheeger::DEFAULT_MAX_EXACT)?;
    m.add("HARD_MAX_EXACT", cheeger::HARD_MAX_EXACT)?;
    m.add_function(wrap_pyfunction!(exact_cheeger, m)?)?;
    m.add_function(wrap_pyfunction!(exact_chain_conductance, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_cut, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_profile, m)?)?;
    Ok(())
}

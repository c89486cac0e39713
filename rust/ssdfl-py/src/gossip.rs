//! `gossip_round`: the simulator's fused round `out = W x − f ⊙ D(x)` (see
//! `ssdfl_core::gossip`). Arrays are C-contiguous numpy arrays; `out` and `v` are written in
//! place. The GIL is released during the computation.

use crate::errors::IntoPy;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use ssdfl_core::gossip::{gossip_round as core_round, Csr, LocalStep};

/// `out ← W x − factor ⊙ D(x)`; `D = grad + mu·(x − anchor) + rho·v` per row, `v ← D` on
/// momentum rows. Without `indptr` (no W): `out ← x − factor ⊙ D`; without `grad`: `out ← W x`.
#[pyfunction]
#[pyo3(signature = (x, out, indptr=None, indices=None, data=None, grad=None, factor=None,
                    mu=None, anchor=None, rho=None, is_momentum=None, v=None))]
#[allow(clippy::too_many_arguments)]
fn gossip_round(
    py: Python<'_>,
    x: PyReadonlyArray2<'_, f64>,
    mut out: PyReadwriteArray2<'_, f64>,
    indptr: Option<PyReadonlyArray1<'_, i64>>,
    indices: Option<PyReadonlyArray1<'_, i64>>,
    data: Option<PyReadonlyArray1<'_, f64>>,
    grad: Option<PyReadonlyArray2<'_, f64>>,
    factor: Option<PyReadonlyArray1<'_, f64>>,
    mu: Option<PyReadonlyArray1<'_, f64>>,
    anchor: Option<PyReadonlyArray2<'_, f64>>,
    rho: Option<PyReadonlyArray1<'_, f64>>,
    is_momentum: Option<PyReadonlyArray1<'_, bool>>,
    v: Option<PyReadwriteArray2<'_, f64>>,
) -> PyResult<()> {
    let shape = x.shape();
    let (n, d) = (shape[0], shape[1]);
    if out.shape() != shape {
        return Err(PyValueError::new_err("out must have the shape of x"));
    }
    let xs = x.as_slice()?;
    let w = match (&indptr, &indices, &data) {
        (Some(p), Some(i), Some(dt)) => Some(Csr {
            n,
            indptr: p.as_slice()?,
            indices: i.as_slice()?,
            data: dt.as_slice()?,
        }),
        (None, None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give all of indptr, indices, data or none",
            ))
        }
    };
    let prox = match (&mu, &anchor) {
        (Some(m), Some(a)) => Some((m.as_slice()?, a.as_slice()?)),
        (None, None) => None,
        _ => return Err(PyValueError::new_err("give both mu and anchor or neither")),
    };
    let momentum = match (&rho, &is_momentum) {
        (Some(r), Some(m)) => Some((r.as_slice()?, m.as_slice()?)),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give both rho and is_momentum or neither",
            ))
        }
    };
    let step = match (&grad, &factor) {
        (Some(g), Some(f)) => Some(LocalStep {
            grad: g.as_slice()?,
            factor: f.as_slice()?,
            prox,
            momentum,
        }),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give both grad and factor or neither",
            ))
        }
    };
    let mut v = v;
    let vs = match v.as_mut() {
        Some(v) => Some(v.as_slice_mut()?),
        None => None,
    };
    let os = out.as_slice_mut()?;
    crate::errors::detach(py, || {
        core_round(w.as_ref(), xs, n, d, step.as_ref(), vs, os)
    })
    .py()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gossip_round, m)?)?;
    Ok(())
}

//! `gossip_round`: the simulator's fused round `out = W x − f ⊙ D(x)` (see
//! `ssdfl_core::gossip`). Arrays are C-contiguous numpy arrays of one float type (`float64` or
//! `float32`, that of `x`); `out` and `v` are written in place. The GIL is released during the
//! computation.

use crate::errors::IntoPy;
use numpy::{
    Element, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyReadwriteArray2,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use ssdfl_core::gossip::{gossip_round as core_round, Csr, Gradient, LocalStep, Real};

type Opt<'a, 'py> = Option<&'a Bound<'py, PyAny>>;

/// `least_squares=(Z, y, offsets, l2)` as received.
type LsqArgs<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    PyReadonlyArray1<'py, i64>,
    f64,
);

/// Arguments of one call, still untyped (extracted as `T` arrays by [`run`]).
struct Args<'a, 'py> {
    x: &'a Bound<'py, PyAny>,
    out: &'a Bound<'py, PyAny>,
    indptr: Option<PyReadonlyArray1<'py, i64>>,
    indices: Option<PyReadonlyArray1<'py, i64>>,
    data: Opt<'a, 'py>,
    grad: Opt<'a, 'py>,
    factor: Opt<'a, 'py>,
    mu: Opt<'a, 'py>,
    anchor: Opt<'a, 'py>,
    rho: Opt<'a, 'py>,
    is_momentum: Option<PyReadonlyArray1<'py, bool>>,
    v: Opt<'a, 'py>,
    separable: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    dense: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    least_squares: Option<LsqArgs<'py>>,
}

fn arr1<'py, T: Element>(a: Opt<'_, 'py>) -> PyResult<Option<PyReadonlyArray1<'py, T>>> {
    a.map(|a| a.extract()).transpose().map_err(Into::into)
}

fn arr2<'py, T: Element>(a: Opt<'_, 'py>) -> PyResult<Option<PyReadonlyArray2<'py, T>>> {
    a.map(|a| a.extract()).transpose().map_err(Into::into)
}

fn run<T: Real + Element>(py: Python<'_>, a: Args<'_, '_>) -> PyResult<()> {
    let x: PyReadonlyArray2<'_, T> = a.x.extract()?;
    let mut out: PyReadwriteArray2<'_, T> = a.out.extract()?;
    let shape = x.shape();
    let (n, d) = (shape[0], shape[1]);
    if out.shape() != shape {
        return Err(PyValueError::new_err("out must have the shape of x"));
    }
    let data = arr1::<T>(a.data)?;
    let w = match (&a.indptr, &a.indices, &data) {
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
    let (mu, anchor) = (arr1::<T>(a.mu)?, arr2::<T>(a.anchor)?);
    let prox = match (&mu, &anchor) {
        (Some(m), Some(an)) => Some((m.as_slice()?, an.as_slice()?)),
        (None, None) => None,
        _ => return Err(PyValueError::new_err("give both mu and anchor or neither")),
    };
    let rho = arr1::<T>(a.rho)?;
    let momentum = match (&rho, &a.is_momentum) {
        (Some(r), Some(m)) => Some((r.as_slice()?, m.as_slice()?)),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give both rho and is_momentum or neither",
            ))
        }
    };
    let grad = arr2::<T>(a.grad)?;
    let sep = match &a.separable {
        Some((sa, sb)) => Some((
            sa.extract::<PyReadonlyArray2<'_, T>>()?,
            sb.extract::<PyReadonlyArray2<'_, T>>()?,
        )),
        None => None,
    };
    let dense = match &a.dense {
        Some((da, db)) => Some((
            da.extract::<PyReadonlyArray3<'_, T>>()?,
            db.extract::<PyReadonlyArray2<'_, T>>()?,
        )),
        None => None,
    };
    let lsq = match &a.least_squares {
        Some((z, y, _, _)) => Some((
            z.extract::<PyReadonlyArray2<'_, T>>()?,
            y.extract::<PyReadonlyArray1<'_, T>>()?,
        )),
        None => None,
    };
    let count = [
        grad.is_some(),
        sep.is_some(),
        dense.is_some(),
        lsq.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if count > 1 {
        return Err(PyValueError::new_err(
            "give at most one of grad, separable, dense, least_squares",
        ));
    }
    let gradient = if let Some(g) = &grad {
        Some(Gradient::Given(g.as_slice()?))
    } else if let Some((sa, sb)) = &sep {
        Some(Gradient::Separable {
            a: sa.as_slice()?,
            b: sb.as_slice()?,
        })
    } else if let Some((da, db)) = &dense {
        Some(Gradient::Dense {
            a: da.as_slice()?,
            b: db.as_slice()?,
        })
    } else if let (Some((z, y)), Some((_, _, offsets, l2))) = (&lsq, &a.least_squares) {
        if z.shape()[1] != d {
            return Err(PyValueError::new_err("least-squares Z must have d columns"));
        }
        if !l2.is_finite() {
            return Err(PyValueError::new_err("l2 must be finite"));
        }
        Some(Gradient::LeastSquares {
            z: z.as_slice()?,
            y: y.as_slice()?,
            offsets: offsets.as_slice()?,
            l2: T::from_f64(*l2),
        })
    } else {
        None
    };
    let factor = arr1::<T>(a.factor)?;
    let step =
        match (gradient, &factor) {
            (Some(grad), Some(f)) => Some(LocalStep {
                grad,
                factor: f.as_slice()?,
                prox,
                momentum,
            }),
            (None, None) => None,
            _ => return Err(PyValueError::new_err(
                "give factor together with a gradient (grad, separable, dense or least_squares)",
            )),
        };
    let mut v =
        a.v.map(|v| v.extract::<PyReadwriteArray2<'_, T>>())
            .transpose()?;
    let vs = match v.as_mut() {
        Some(v) => Some(v.as_slice_mut()?),
        None => None,
    };
    let xs = x.as_slice()?;
    let os = out.as_slice_mut()?;
    crate::errors::detach(py, || {
        core_round(w.as_ref(), xs, n, d, step.as_ref(), vs, os)
    })
    .py()
}

/// `out ← W x − factor ⊙ D(x)`; `D = g + mu·(x − anchor) + rho·v` per row, `v ← D` on
/// momentum rows, `g` given (`grad`) or computed from the model: `separable=(a, b)`
/// (`(x − b)·a`), `dense=(A, b)` (`A_i (x − b_i)`), `least_squares=(Z, y, offsets, l2)`.
/// Without `indptr` (no W): `out ← x − factor ⊙ D`; without a gradient: `out ← W x`.
/// Every float array has the dtype of `x` (`float64` or `float32`).
#[pyfunction]
#[pyo3(signature = (x, out, indptr=None, indices=None, data=None, grad=None, factor=None,
                    mu=None, anchor=None, rho=None, is_momentum=None, v=None, *,
                    separable=None, dense=None, least_squares=None))]
#[allow(clippy::too_many_arguments)]
fn gossip_round<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: &Bound<'py, PyAny>,
    indptr: Option<PyReadonlyArray1<'py, i64>>,
    indices: Option<PyReadonlyArray1<'py, i64>>,
    data: Opt<'_, 'py>,
    grad: Opt<'_, 'py>,
    factor: Opt<'_, 'py>,
    mu: Opt<'_, 'py>,
    anchor: Opt<'_, 'py>,
    rho: Opt<'_, 'py>,
    is_momentum: Option<PyReadonlyArray1<'py, bool>>,
    v: Opt<'_, 'py>,
    separable: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    dense: Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>,
    least_squares: Option<LsqArgs<'py>>,
) -> PyResult<()> {
    let args = Args {
        x,
        out,
        indptr,
        indices,
        data,
        grad,
        factor,
        mu,
        anchor,
        rho,
        is_momentum,
        v,
        separable,
        dense,
        least_squares,
    };
    if x.cast::<PyArray2<f64>>().is_ok() {
        run::<f64>(py, args)
    } else if x.cast::<PyArray2<f32>>().is_ok() {
        run::<f32>(py, args)
    } else {
        Err(PyTypeError::new_err(
            "x must be a 2-D float64 or float32 array",
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gossip_round, m)?)?;
    Ok(())
}

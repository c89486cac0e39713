//! Exact weighted-sum reduction for sharded FedAvg: numpy in/out, GIL released.
//! The algorithm lives in `ssdfl_core::exactsum`. Its errors cross as
//! `ExactSumError(SsdflError)` with a `kind` and the error's fields as attributes.

use crate::errors::{detach, signal_pending, SsdflError};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use ssdfl_core::digest::{self, Algo};
use ssdfl_core::exactsum::{
    reduce_with, ExactFloat, ExactSumError as CoreExactSumError, Mode, GROUP, NONFINITE_TAG,
};

create_exception!(
    _core,
    ExactSumError,
    SsdflError,
    "An exact reduction rejected its input. Attributes: `kind` (\"non_finite\", \
     \"malformed_partial\", \"weight\", \"weight_total\", \"length_mismatch\", \
     \"too_many_terms\") and the kind's fields: `client`, `element`, `value` (non_finite); \
     `which`, `fault` (malformed_partial); `index`, `value` (weight); `w_prime` (weight_total); \
     `what` (length_mismatch); `terms` (too_many_terms)."
);

/// A typed Python exception for an exact-sum error (Ctrl-C becomes `KeyboardInterrupt`).
fn to_py(py: Python<'_>, err: CoreExactSumError) -> PyErr {
    if err == CoreExactSumError::Interrupted {
        return PyKeyboardInterrupt::new_err("interrupted");
    }
    let e = ExactSumError::new_err(err.to_string());
    let v = e.value(py);
    let set = |name: &str, val: Bound<'_, PyAny>| {
        let _ = v.setattr(name, val);
    };
    let (kind, fields): (&str, Vec<(&str, Bound<'_, PyAny>)>) = match &err {
        CoreExactSumError::NonFinite {
            client,
            element,
            value,
        } => (
            "non_finite",
            vec![
                ("client", client.into_pyobject(py).unwrap().into_any()),
                ("element", element.into_pyobject(py).unwrap().into_any()),
                ("value", value.into_pyobject(py).unwrap().into_any()),
            ],
        ),
        CoreExactSumError::MalformedPartial { which, fault } => (
            "malformed_partial",
            vec![
                ("which", which.into_pyobject(py).unwrap().into_any()),
                ("fault", fault.name().into_pyobject(py).unwrap().into_any()),
            ],
        ),
        CoreExactSumError::Weight { index, value } => (
            "weight",
            vec![
                ("index", index.into_pyobject(py).unwrap().into_any()),
                ("value", value.into_pyobject(py).unwrap().into_any()),
            ],
        ),
        CoreExactSumError::WeightTotal { w_prime } => (
            "weight_total",
            vec![("w_prime", w_prime.into_pyobject(py).unwrap().into_any())],
        ),
        CoreExactSumError::LengthMismatch { what } => (
            "length_mismatch",
            vec![("what", what.into_pyobject(py).unwrap().into_any())],
        ),
        CoreExactSumError::TooManyTerms { terms } => (
            "too_many_terms",
            vec![("terms", terms.into_pyobject(py).unwrap().into_any())],
        ),
        CoreExactSumError::Interrupted => unreachable!("handled above"),
    };
    set("kind", kind.into_pyobject(py).unwrap().into_any());
    for (name, val) in fields {
        set(name, val);
    }
    e
}

#[allow(clippy::too_many_arguments)]
fn run<'py, T: ExactFloat + numpy::Element>(
    py: Python<'py>,
    raw: Vec<PyReadonlyArray1<'py, T>>,
    weights: PyReadonlyArray1<'py, f64>,
    partials: Vec<PyReadonlyArray1<'py, u8>>,
    n: usize,
    k: Option<i32>,
    w_prime: Option<f64>,
    out: Option<PyReadwriteArray1<'py, T>>,
    fast: bool,
) -> PyResult<Option<Bound<'py, PyArray1<u8>>>> {
    let rs: Vec<&[T]> = raw.iter().map(|a| a.as_slice()).collect::<Result<_, _>>()?;
    let ps: Vec<&[u8]> = partials
        .iter()
        .map(|a| a.as_slice())
        .collect::<Result<_, _>>()?;
    let w = weights.as_slice()?;
    let stop = || signal_pending();
    match out {
        Some(mut o) => {
            let (k, w_prime) = match (k, w_prime) {
                (Some(k), Some(wp)) => (k, wp),
                _ => {
                    return Err(pyo3::exceptions::PyTypeError::new_err(
                        "final mode needs k and w_prime",
                    ))
                }
            };
            let os = o.as_slice_mut()?;
            detach(py, || {
                reduce_with(
                    &rs,
                    w,
                    &ps,
                    n,
                    Mode::Final {
                        out: os,
                        k,
                        w_prime,
                    },
                    &stop,
                    fast,
                )
            })
            .map_err(|e| to_py(py, e))?;
            Ok(None)
        }
        None => {
            let v = detach(py, || {
                reduce_with(&rs, w, &ps, n, Mode::<T>::Partial, &stop, fast)
            })
            .map_err(|e| to_py(py, e))?;
            Ok(v.map(|v| v.into_pyarray(py)))
        }
    }
}

/// Exact float32 reduction; see `ssdfl.aggregation.reduce` for the contract.
#[pyfunction]
#[pyo3(signature = (raw, weights, partials, n, k=None, w_prime=None, out=None, fast=true))]
#[allow(clippy::too_many_arguments)]
fn exact_reduce_f32<'py>(
    py: Python<'py>,
    raw: Vec<PyReadonlyArray1<'py, f32>>,
    weights: PyReadonlyArray1<'py, f64>,
    partials: Vec<PyReadonlyArray1<'py, u8>>,
    n: usize,
    k: Option<i32>,
    w_prime: Option<f64>,
    out: Option<PyReadwriteArray1<'py, f32>>,
    fast: bool,
) -> PyResult<Option<Bound<'py, PyArray1<u8>>>> {
    run(py, raw, weights, partials, n, k, w_prime, out, fast)
}

/// Exact float64 reduction; see `ssdfl.aggregation.reduce` for the contract.
#[pyfunction]
#[pyo3(signature = (raw, weights, partials, n, k=None, w_prime=None, out=None, fast=true))]
#[allow(clippy::too_many_arguments)]
fn exact_reduce_f64<'py>(
    py: Python<'py>,
    raw: Vec<PyReadonlyArray1<'py, f64>>,
    weights: PyReadonlyArray1<'py, f64>,
    partials: Vec<PyReadonlyArray1<'py, u8>>,
    n: usize,
    k: Option<i32>,
    w_prime: Option<f64>,
    out: Option<PyReadwriteArray1<'py, f64>>,
    fast: bool,
) -> PyResult<Option<Bound<'py, PyArray1<u8>>>> {
    run(py, raw, weights, partials, n, k, w_prime, out, fast)
}

fn algo(name: &str) -> PyResult<Algo> {
    Algo::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown digest algorithm {name:?} (known: \"xxh3-128\", \"blake3-128\")"
        ))
    })
}

/// 128-bit digest (16 bytes, canonical order) of a byte array; `algo` is `"xxh3-128"`
/// (default) or `"blake3-128"`. Integrity only: unkeyed.
#[pyfunction]
#[pyo3(signature = (data, algo="xxh3-128"))]
fn digest128<'py>(
    py: Python<'py>,
    data: PyReadonlyArray1<'py, u8>,
    algo: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let a = self::algo(algo)?;
    let d = data.as_slice()?;
    let h = if d.len() < 1 << 16 {
        digest::digest(a, d)
    } else {
        detach(py, || digest::digest(a, d))
    };
    Ok(PyBytes::new(py, &h))
}

/// Digests of consecutive `chunk_bytes`-byte pieces of a byte array (the last may be
/// shorter), concatenated: 16 bytes per piece. Hashed in parallel without the GIL; Ctrl-C
/// raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (data, chunk_bytes, algo="xxh3-128"))]
fn chunk_digests<'py>(
    py: Python<'py>,
    data: PyReadonlyArray1<'py, u8>,
    chunk_bytes: usize,
    algo: &str,
) -> PyResult<Bound<'py, PyBytes>> {
    let a = self::algo(algo)?;
    if chunk_bytes == 0 {
        return Err(PyValueError::new_err("chunk_bytes must be >= 1"));
    }
    let d = data.as_slice()?;
    let stop = || signal_pending();
    let ds = detach(py, || digest::chunk_digests(a, d, chunk_bytes, &stop))
        .map_err(|_| PyKeyboardInterrupt::new_err("interrupted"))?;
    Ok(PyBytes::new(py, ds.as_flattened()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(exact_reduce_f32, m)?)?;
    m.add_function(wrap_pyfunction!(exact_reduce_f64, m)?)?;
    m.add_function(wrap_pyfunction!(digest128, m)?)?;
    m.add_function(wrap_pyfunction!(chunk_digests, m)?)?;
    m.add("EXACT_GROUP", GROUP)?;
    m.add("EXACT_LIMBS_F32", <f32 as ExactFloat>::LIMBS)?;
    m.add("EXACT_LIMBS_F64", <f64 as ExactFloat>::LIMBS)?;
    m.add("EXACT_NONFINITE_TAG", NONFINITE_TAG)?;
    m.add("ExactSumError", m.py().get_type::<ExactSumError>())?;
    Ok(())
}

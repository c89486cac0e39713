//! Mapping of core errors to Python exceptions.

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::{create_exception, PyErr};
use ssdfl_core::CoreError;

create_exception!(
    _core,
    SsdflError,
    PyValueError,
    "Base class of ssdfl's errors (a ValueError)."
);
create_exception!(
    _core,
    GraphFormatError,
    SsdflError,
    "A graph file or matrix is malformed."
);
create_exception!(
    _core,
    DisconnectedGraphError,
    SsdflError,
    "A connected graph was required."
);
create_exception!(
    _core,
    TooLargeError,
    SsdflError,
    "Input too large for an exact algorithm."
);

/// Convert a core error into the matching Python exception.
pub fn to_py(err: CoreError) -> PyErr {
    let msg = err.to_string();
    match err {
        CoreError::Parse { .. } => GraphFormatError::new_err(msg),
        CoreError::Disconnected { .. } => DisconnectedGraphError::new_err(msg),
        CoreError::TooLarge { .. } => TooLargeError::new_err(msg),
        CoreError::Interrupted => PyKeyboardInterrupt::new_err(msg),
        _ => SsdflError::new_err(msg),
    }
}

/// Extension trait: `result.py()?` converts a core result into a Python result.
pub trait IntoPy<T> {
    fn py(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for ssdfl_core::Result<T> {
    fn py(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Poll for a pending signal (Ctrl-C) from a thread that does not hold the GIL.
pub fn signal_pending() -> bool {
    Python::attach(|py| py.check_signals().is_err())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("SsdflError", py.get_type::<SsdflError>())?;
    m.add("GraphFormatError", py.get_type::<GraphFormatError>())?;
    m.add(
        "DisconnectedGraphError",
        py.get_type::<DisconnectedGraphError>(),
    )?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    Ok(())
}

//! Mapping of core errors to Python exceptions.

use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::{create_exception, PyErr};
use ssdfl_core::CoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
        CoreError::TooLarge { .. } | CoreError::OutOfMemory { .. } => TooLargeError::new_err(msg),
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

extern "C" {
    // Stable ABI since Python 3.2; `threading.get_ident()` of the calling thread, no GIL needed.
    fn PyThread_get_thread_ident() -> std::os::raw::c_ulong;
}

/// Set by an `atexit` hook: the interpreter is shutting down.
static EXITING: AtomicBool = AtomicBool::new(false);

/// `atexit` hook registered at import: from now on, work on other threads is cancelled and
/// those threads are held back from re-entering the interpreter ([`detach`]).
#[pyfunction]
fn _mark_exiting() {
    EXITING.store(true, Ordering::SeqCst);
}

/// `threading.main_thread().ident`, recorded when the module is initialised (0 = unknown).
static MAIN_THREAD: AtomicU64 = AtomicU64::new(0);

/// Whether the calling thread is Python's main thread (the only one that runs signal
/// handlers).
fn on_main_thread() -> bool {
    let main = MAIN_THREAD.load(Ordering::Relaxed);
    // SAFETY: a plain query of the current thread's identifier, valid with or without the GIL.
    main != 0 && unsafe { PyThread_get_thread_ident() } as u64 == main
}

/// Poll for a pending signal (Ctrl-C) from a thread that does not hold the GIL: runs Python's
/// signal handlers (`true` if one raised, e.g. `KeyboardInterrupt`).
///
/// Only Python's main thread runs signal handlers, so on any other thread this returns false
/// without touching the interpreter: a rayon worker never waits for the GIL here (a worker
/// blocked on the GIL while the GIL holder waits on the pool is a deadlock), and a daemon
/// thread still inside a computation when the interpreter shuts down never attaches to a
/// finalised interpreter (that panicked).
///
/// On other threads it returns true once the interpreter has started shutting down, so that
/// a daemon thread's computation stops early (see [`detach`]).
pub fn signal_pending() -> bool {
    if !on_main_thread() {
        return EXITING.load(Ordering::SeqCst);
    }
    // SAFETY: `Py_IsInitialized` may be called at any time, with or without the GIL.
    if unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
        return false;
    }
    Python::attach(|py| py.check_signals().is_err())
}

/// `py.detach(f)` for long computations: runs `f` without the GIL. If, when `f` returns, the
/// interpreter is shutting down and this is not the main thread (a daemon thread), the thread
/// is held here until the process exits instead of re-entering the interpreter: Python ends
/// such a thread with `pthread_exit` when it takes the GIL back, and that forced unwind
/// through Rust frames aborts the process ("FATAL: exception not rethrown"). Python 3.14
/// holds such threads the same way.
pub fn detach<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(|| {
        let out = f();
        if EXITING.load(Ordering::SeqCst) && !on_main_thread() {
            loop {
                std::thread::park();
            }
        }
        out
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let main: u64 = py
        .import("threading")?
        .call_method0("main_thread")?
        .getattr("ident")?
        .extract()?;
    MAIN_THREAD.store(main, Ordering::Relaxed);
    let hook = wrap_pyfunction!(_mark_exiting, m)?;
    py.import("atexit")?.call_method1("register", (hook,))?;
    m.add("SsdflError", py.get_type::<SsdflError>())?;
    m.add("GraphFormatError", py.get_type::<GraphFormatError>())?;
    m.add(
        "DisconnectedGraphError",
        py.get_type::<DisconnectedGraphError>(),
    )?;
    m.add("TooLargeError", py.get_type::<TooLargeError>())?;
    Ok(())
}

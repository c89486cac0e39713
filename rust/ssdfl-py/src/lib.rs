//! `ssdfl._core`: thin pyo3 bindings over `ssdfl-core`. Each submodule converts types
//! (numpy arrays in and out) and maps errors; no algorithm lives here.

use pyo3::prelude::*;

mod aggregate;
mod cheeger;
mod cluster;
mod errors;
mod gossip;
mod graph;
mod results;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    errors::register(m)?;
    aggregate::register(m)?;
    graph::register(m)?;
    cheeger::register(m)?;
    cluster::register(m)?;
    gossip::register(m)?;
    Ok(())
}

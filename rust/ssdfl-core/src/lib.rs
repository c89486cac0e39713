//! `ssdfl-core`: CSR graphs and parallel edge-list parsing (`graph`, `parse`), cut metrics
//! (`metrics`), exact Cheeger constants (`cheeger`), spectra (`spectral`), sweep cuts
//! (`sweep`), cluster search (`cluster`, `partition`), fused gossip rounds (`gossip`) and
//! exact fixed-point sums for bit-identical FedAvg (`exactsum`); errors in `error`. For
//! serverless semi-decentralized federated learning.
//!
//! Pure Rust (no Python); the `ssdfl-py` crate binds it. Graphs are undirected, weighted,
//! stored in CSR form ([`Graph`]) and convertible to and from petgraph.

pub mod cheeger;
pub mod cluster;
pub mod digest;
pub mod error;
pub mod exactsum;
pub mod gossip;
pub mod graph;
pub mod metrics;
pub mod parse;
pub mod partition;
pub mod spectral;
pub mod sweep;

pub use error::{CoreError, Result, StopFn};
pub use graph::Graph;

#[cfg(test)]
mod testutil;

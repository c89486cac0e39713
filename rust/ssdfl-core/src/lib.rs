//! `ssdfl-core`: graph metrics, conductance and Cheeger constants, spectral routines,
//! sweep cuts and cluster search for serverless semi-decentralized federated learning.
//!
//! Pure Rust (no Python); the `ssdfl-py` crate binds it. Graphs are undirected, weighted,
//! stored in CSR form ([`Graph`]) and convertible to and from petgraph.

pub mod cheeger;
pub mod cluster;
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

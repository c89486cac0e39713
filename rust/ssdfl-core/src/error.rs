//! Error type shared by every routine of the core crate.

use thiserror::Error;

/// Everything that can go wrong in the core crate. No routine panics on bad input: each
/// returns one of these, and the binding crate maps them to Python exceptions.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoreError {
    /// A weight that is negative, zero, NaN or infinite.
    #[error("edge {index} ({u}, {v}) has invalid weight {value}: weights must be finite and > 0")]
    InvalidWeight {
        index: usize,
        u: usize,
        v: usize,
        value: f64,
    },
    /// A node index outside `0..n`.
    #[error("node index {node} is out of range for a graph with {n} nodes")]
    NodeOutOfRange { node: i64, n: usize },
    /// Input arrays whose lengths disagree.
    #[error("length mismatch: {what}")]
    LengthMismatch { what: String },
    /// A node set that is empty or the whole vertex set where a proper subset is needed.
    #[error("invalid node set: {0}")]
    InvalidSet(String),
    /// A malformed line of a text graph file (1-based line number).
    #[error("line {line}: {msg}")]
    Parse { line: usize, msg: String },
    /// A graph or set that an exact algorithm refuses because of its size.
    #[error("{what} has size {size}, above the limit {limit} for exact computation: {hint}")]
    TooLarge {
        what: String,
        size: usize,
        limit: usize,
        hint: String,
    },
    /// A graph that must be connected but is not.
    #[error("graph is disconnected ({components} components): {context}")]
    Disconnected { components: usize, context: String },
    /// Any other invalid argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller asked to stop (e.g. Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, CoreError>;

/// A cancellation check polled by long computations; returns `true` to stop.
/// The Python binding checks for pending signals (Ctrl-C) in it.
pub type StopFn<'a> = &'a (dyn Fn() -> bool + Sync);

/// A [`StopFn`] that never stops.
pub fn never_stop() -> bool {
    false
}

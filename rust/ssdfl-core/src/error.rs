//! Error type shared by every routine of the core crate.

use std::sync::atomic::{AtomicBool, Ordering};
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
    /// An allocation that failed (the input would need more memory than the machine gives).
    #[error("not enough memory to {what} ({mb:.1} MB requested)")]
    OutOfMemory { what: String, mb: f64 },
    /// Any other invalid argument.
    #[error("{0}")]
    InvalidArgument(String),
    /// The caller asked to stop (e.g. Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

/// Result alias of the core crate.
pub type Result<T> = std::result::Result<T, CoreError>;

/// A cancellation check (the Python binding's checks for Ctrl-C); returns `true` to stop.
///
/// Contract: a public routine taking a `StopFn` calls it only on the thread that called the
/// routine, never on a rayon worker it fans out to (the binding's check needs the GIL, and a
/// worker blocked on the GIL, or parked, can deadlock the pool). Parallel parts get a cancel
/// flag instead, set by [`watched`].
pub type StopFn<'a> = &'a (dyn Fn() -> bool + Sync);

/// A [`StopFn`] that never stops.
pub fn never_stop() -> bool {
    false
}

/// Poll interval of [`run_watched`].
const POLL: std::time::Duration = std::time::Duration::from_millis(10);

/// Work (in rough units of a nanosecond each: one enumerated cut, one adjacency entry
/// visited) below which [`watched`] polls `stop` once and runs `work` inline instead of
/// watching it: a few milliseconds, where a watcher costs more than the answer.
pub const WATCH_MIN_COST: f64 = (1u64 << 23) as f64;

/// Run `work(cancel)` honouring `stop`: `stop` is polled once up front (`Interrupted` if
/// true); then, if `cost ≥` [`WATCH_MIN_COST`] and the caller is not a rayon worker,
/// [`run_watched`]; otherwise `work` runs inline with a flag that is never set.
pub fn watched<T: Send>(
    stop: StopFn,
    cost: f64,
    work: impl FnOnce(&AtomicBool) -> Result<T> + Send,
) -> Result<T> {
    if stop() {
        return Err(CoreError::Interrupted);
    }
    if cost < WATCH_MIN_COST || rayon::current_thread_index().is_some() {
        return work(&AtomicBool::new(false));
    }
    run_watched(stop, work)
}

/// Sets `done` and wakes the watching thread when dropped (also when `work` panics).
struct Finished<'a> {
    done: &'a AtomicBool,
    caller: std::thread::Thread,
}

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        self.caller.unpark();
    }
}

/// Run `work(cancel)` as a job of the rayon pool while the calling thread polls `stop` every
/// 10 ms; when `stop` returns true the flag is set (`work` should return soon after) and the
/// result is `Interrupted`. Returns once `work` has returned: nothing outlives the call.
///
/// On a rayon worker `work` runs inline after a single poll instead: parking a worker while
/// the job it waits for is queued to the same pool deadlocks a pool whose workers all do
/// this (the bug this design replaces). A panic in `work` propagates to the caller.
pub fn run_watched<T: Send>(
    stop: StopFn,
    work: impl FnOnce(&AtomicBool) -> Result<T> + Send,
) -> Result<T> {
    let cancel = AtomicBool::new(false);
    if rayon::current_thread_index().is_some() {
        if stop() {
            return Err(CoreError::Interrupted);
        }
        return work(&cancel);
    }
    let done = AtomicBool::new(false);
    let mut stopped = false;
    let mut out = None;
    {
        let (slot, flag) = (&mut out, &cancel);
        let fin = Finished {
            done: &done,
            caller: std::thread::current(),
        };
        rayon::in_place_scope(|s| {
            s.spawn(move |_| {
                let _fin = fin;
                *slot = Some(work(flag));
            });
            while !done.load(Ordering::Acquire) {
                std::thread::park_timeout(POLL);
                if !stopped && !done.load(Ordering::Acquire) && stop() {
                    stopped = true;
                    cancel.store(true, Ordering::Relaxed);
                }
            }
        });
    }
    match out {
        _ if stopped => Err(CoreError::Interrupted),
        Some(r) => r,
        None => Err(CoreError::Interrupted),
    }
}

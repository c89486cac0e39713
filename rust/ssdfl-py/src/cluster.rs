//! Cluster-search kernels: threshold connectivity, split candidates with sweep estimates,
//! mixing-weight graphs, exact cluster measures in batch, and k-way partition refinement.
//! Conversions only; the work is in `ssdfl_core::{cluster, partition}`.

use crate::errors::{detach, signal_pending, IntoPy};
use crate::graph::PyGraph;
use crate::results::result_class;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use ssdfl_core::cluster::{self, Measure, MixingRule};
use ssdfl_core::partition::{self, Objective};
use ssdfl_core::CoreError;

result_class! {
    /// Connectivity and cut of both sides at every threshold `k = 1..n-1` of an ordering
    /// (entry `k - 1`: prefix = the first `k` nodes, suffix = the rest).
    ThresholdProfile as "ThresholdProfile" {
        /// Whether each prefix induces a connected subgraph.
        prefix_connected: Py<PyArray1<bool>>,
        /// Whether each suffix induces a connected subgraph.
        suffix_connected: Py<PyArray1<bool>>,
        /// Weight of the edges between prefix and suffix.
        cut: Py<PyArray1<f64>>,
    }
}

result_class! {
    /// Split thresholds of an ordering with both sides connected, with sweep estimates of
    /// both sides' measures (one entry per candidate).
    SplitCandidates as "SplitCandidates" {
        /// Threshold: the prefix is the first `k` nodes of the ordering.
        k: Py<PyArray1<i64>>,
        /// Sweep estimate of the prefix's measure.
        est_prefix: Py<PyArray1<f64>>,
        /// Sweep estimate of the suffix's measure.
        est_suffix: Py<PyArray1<f64>>,
    }
}

result_class! {
    /// Outcome of refining a k-way partition by single-node moves.
    Refinement as "Refinement" {
        /// Cluster label of every node (`0..k`).
        labels: Py<PyArray1<i64>>,
        /// Badness of every cluster (cut conductance, or −ψ).
        badness: Py<PyArray1<f64>>,
        /// Accepted moves.
        moves: usize,
        /// Objective evaluations of candidate clusters.
        evals: usize,
        /// True if a pass found no improving move (local optimum); false if the budget ran out.
        converged: bool,
    }
}

fn to_usize(a: &[i64], n: usize) -> PyResult<Vec<usize>> {
    a.iter()
        .map(|&x| {
            if x < 0 || x as usize >= n {
                Err(crate::errors::to_py(CoreError::NodeOutOfRange {
                    node: x,
                    n,
                }))
            } else {
                Ok(x as usize)
            }
        })
        .collect()
}

/// Connectivity of both sides and the cut for thresholds `k = 1..n-1` of `order`.
#[pyfunction]
fn threshold_profile(
    py: Python<'_>,
    g: &PyGraph,
    order: PyReadonlyArray1<'_, i64>,
) -> PyResult<ThresholdProfile> {
    let inner = g.inner.clone();
    let ord = to_usize(order.as_slice()?, inner.n())?;
    let p = detach(py, || cluster::threshold_profile(&inner, &ord)).py()?;
    Ok(ThresholdProfile {
        prefix_connected: p.prefix_connected.into_pyarray(py).unbind(),
        suffix_connected: p.suffix_connected.into_pyarray(py).unbind(),
        cut: p.cut.into_pyarray(py).unbind(),
    })
}

/// Thresholds with both sides connected (and at least `min_size` nodes each), with sweep
/// estimates of both sides' measures.
#[pyfunction]
#[pyo3(signature = (g, order, measure="graph", rule="lazy-metropolis", min_size=1, max_eval=256))]
fn split_candidates(
    py: Python<'_>,
    g: &PyGraph,
    order: PyReadonlyArray1<'_, i64>,
    measure: &str,
    rule: &str,
    min_size: usize,
    max_eval: usize,
) -> PyResult<SplitCandidates> {
    let m = Measure::parse(measure, rule).py()?;
    let inner = g.inner.clone();
    let ord = to_usize(order.as_slice()?, inner.n())?;
    let c = detach(py, || {
        cluster::split_candidates(&inner, &ord, m, min_size, max_eval, &signal_pending)
    })
    .py()?;
    let k: Vec<i64> = c.iter().map(|x| x.k as i64).collect();
    let a: Vec<f64> = c.iter().map(|x| x.est_prefix).collect();
    let b: Vec<f64> = c.iter().map(|x| x.est_suffix).collect();
    Ok(SplitCandidates {
        k: k.into_pyarray(py).unbind(),
        est_prefix: a.into_pyarray(py).unbind(),
        est_suffix: b.into_pyarray(py).unbind(),
    })
}

/// Graph whose edge weights are the off-diagonal entries of the mixing matrix by `rule`.
#[pyfunction]
fn mixing_weight_graph(py: Python<'_>, g: &PyGraph, rule: &str) -> PyResult<PyGraph> {
    let r = MixingRule::parse(rule).py()?;
    let inner = g.inner.clone();
    let h = detach(py, || cluster::mixing_weight_graph(&inner, r)).py()?;
    Ok(PyGraph::wrap(h))
}

/// Exact measure of many clusters of `g` at once (in parallel): cluster `i` is
/// `nodes[offsets[i]..offsets[i+1]]`. Returns `(values, minimizing masks flattened in the
/// same layout)`; a one-node cluster has value 1 and an all-false mask.
#[pyfunction]
#[pyo3(signature = (g, nodes, offsets, measure="graph", rule="lazy-metropolis", max_exact=25))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn exact_cluster_measures<'py>(
    py: Python<'py>,
    g: &PyGraph,
    nodes: PyReadonlyArray1<'_, i64>,
    offsets: PyReadonlyArray1<'_, i64>,
    measure: &str,
    rule: &str,
    max_exact: usize,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<bool>>)> {
    let m = Measure::parse(measure, rule).py()?;
    let inner = g.inner.clone();
    let nodes = to_usize(nodes.as_slice()?, inner.n())?;
    let off = offsets.as_slice()?;
    let mut ranges = Vec::with_capacity(off.len().saturating_sub(1));
    for w in off.windows(2) {
        if w[0] < 0 || w[1] < w[0] || w[1] as usize > nodes.len() {
            return Err(crate::errors::to_py(CoreError::InvalidArgument(
                "offsets must be non-decreasing and within the node array".into(),
            )));
        }
        ranges.push((w[0] as usize, w[1] as usize));
    }
    let res = detach(py, || {
        cluster::exact_measures(&inner, &nodes, &ranges, m, max_exact, &signal_pending)
    });
    let res = res.py()?;
    let values: Vec<f64> = res.iter().map(|x| x.0).collect();
    let masks: Vec<bool> = res.into_iter().flat_map(|x| x.1).collect();
    Ok((values.into_pyarray(py), masks.into_pyarray(py)))
}

/// Refine a k-way partition by single-node moves keeping clusters connected.
#[pyfunction]
#[pyo3(signature = (g, labels, k, scores, objective="internal", measure="graph",
                    rule="lazy-metropolis", exact_limit=16, min_size=1, max_evals=20000))]
#[allow(clippy::too_many_arguments)]
fn refine_partition(
    py: Python<'_>,
    g: &PyGraph,
    labels: PyReadonlyArray1<'_, i64>,
    k: usize,
    scores: PyReadonlyArray1<'_, f64>,
    objective: &str,
    measure: &str,
    rule: &str,
    exact_limit: usize,
    min_size: usize,
    max_evals: usize,
) -> PyResult<Refinement> {
    let obj = match objective {
        "cut" => Objective::Cut,
        "internal" => Objective::Internal {
            measure: Measure::parse(measure, rule).py()?,
            exact_limit,
        },
        other => {
            return Err(crate::errors::to_py(CoreError::InvalidArgument(format!(
                "unknown objective {other:?}; expected \"internal\" or \"cut\""
            ))))
        }
    };
    let inner = g.inner.clone();
    let lab: Vec<usize> = labels
        .as_slice()?
        .iter()
        .map(|&x| if x < 0 { usize::MAX } else { x as usize })
        .collect();
    let sc = scores.as_slice()?.to_vec();
    let r = detach(py, || {
        partition::refine(
            &inner,
            &lab,
            k,
            &sc,
            obj,
            min_size,
            max_evals,
            &signal_pending,
        )
    })
    .py()?;
    let out: Vec<i64> = r.labels.iter().map(|&x| x as i64).collect();
    Ok(Refinement {
        labels: out.into_pyarray(py).unbind(),
        badness: r.badness.into_pyarray(py).unbind(),
        moves: r.moves,
        evals: r.evals,
        converged: r.converged,
    })
}

/// Random connected partition grown from `seeds` (see `ssdfl_core::cluster`).
#[pyfunction]
fn random_connected_partition<'py>(
    py: Python<'py>,
    g: &PyGraph,
    seeds: PyReadonlyArray1<'_, i64>,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let inner = g.inner.clone();
    let s = to_usize(seeds.as_slice()?, inner.n())?;
    let lab = detach(py, || cluster::random_connected_partition(&inner, &s, seed)).py()?;
    Ok(lab.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ThresholdProfile>()?;
    m.add_class::<SplitCandidates>()?;
    m.add_class::<Refinement>()?;
    m.add_function(wrap_pyfunction!(threshold_profile, m)?)?;
    m.add_function(wrap_pyfunction!(split_candidates, m)?)?;
    m.add_function(wrap_pyfunction!(mixing_weight_graph, m)?)?;
    m.add_function(wrap_pyfunction!(exact_cluster_measures, m)?)?;
    m.add_function(wrap_pyfunction!(refine_partition, m)?)?;
    m.add_function(wrap_pyfunction!(random_connected_partition, m)?)?;
    Ok(())
}

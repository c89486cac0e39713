//! Kernels of the cluster search: cluster measures (graph conductance or the Markov-chain
//! conductance of a cluster's mixing matrix), connectivity of the two sides of every sweep
//! threshold, and cheap sweep estimates of the internal conductance of both sides.
//!
//! A *cluster* here is a graph of its own (the induced subgraph, nodes `0..n`). An `order`
//! is a permutation of its nodes (a sweep ordering, e.g. by the Fiedler vector); threshold `k`
//! (`1 ≤ k < n`) splits it into the prefix `order[..k]` and the suffix `order[k..]`.
//!
//! Measures of a node set `P` (its induced subgraph):
//! - [`Measure::Graph`]: `h(P) = min_{∅≠S⊊P} cut_P(S) / min(vol_P S, vol_P (P∖S))` with
//!   volumes from the weighted degrees *inside* `P` (networkx semantics on the induced subgraph);
//! - [`Measure::Mixing`]: `Φ(W_P) = min_{∅≠S⊊P} (1/min(|S|,|P∖S|)) Σ_{i∈S, j∈P∖S} W_ij` with
//!   `W_P` the mixing matrix of the induced subgraph (degrees inside `P`).
//!
//! A single node is a perfectly connected cluster; both measures report
//! [`SINGLETON_CONDUCTANCE`] for it (1, the largest value either measure can take).

use crate::cheeger::{enumeration_cost, exact_cheeger_cancel, Normalization};
use crate::error::{watched, CoreError, Result, StopFn};
use crate::graph::Graph;
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Conductance reported for a one-node cluster (both measures are ≤ 1 on larger clusters).
pub const SINGLETON_CONDUCTANCE: f64 = 1.0;

/// Mixing-matrix rules (same definitions as `ssdfl.mixing_matrix`): off-diagonal entries
/// `W_ij` on the edges of the cluster, computed from degrees inside the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixingRule {
    /// `1 / (1 + max(c_i, c_j))`, `c` = unweighted degree.
    Metropolis,
    /// Half of Metropolis (the lazy `(I + W)/2`).
    LazyMetropolis,
    /// `1 / (1 + c_max)`.
    MaxDegree,
    /// `w_ij / (1 + max(d_i, d_j))`, `d` = weighted degree.
    WeightedMetropolis,
    /// Half of weighted Metropolis.
    LazyWeightedMetropolis,
}

impl MixingRule {
    /// Parse the rule names used by the Python API.
    pub fn parse(name: &str) -> Result<MixingRule> {
        Ok(match name {
            "metropolis" => MixingRule::Metropolis,
            "lazy-metropolis" => MixingRule::LazyMetropolis,
            "max-degree" => MixingRule::MaxDegree,
            "weighted-metropolis" => MixingRule::WeightedMetropolis,
            "lazy-weighted-metropolis" => MixingRule::LazyWeightedMetropolis,
            other => {
                return Err(CoreError::InvalidArgument(format!(
                    "unknown mixing rule {other:?}; expected metropolis, lazy-metropolis, \
                     max-degree, weighted-metropolis or lazy-weighted-metropolis"
                )))
            }
        })
    }

    /// Off-diagonal entry for an edge of weight `w` between nodes with unweighted degrees
    /// `(ci, cj)` and weighted degrees `(di, dj)`; `cmax` is the largest unweighted degree.
    #[inline]
    pub fn weight(self, w: f64, ci: f64, cj: f64, di: f64, dj: f64, cmax: f64) -> f64 {
        match self {
            MixingRule::Metropolis => 1.0 / (1.0 + ci.max(cj)),
            MixingRule::LazyMetropolis => 0.5 / (1.0 + ci.max(cj)),
            MixingRule::MaxDegree => 1.0 / (1.0 + cmax),
            MixingRule::WeightedMetropolis => w / (1.0 + di.max(dj)),
            MixingRule::LazyWeightedMetropolis => 0.5 * w / (1.0 + di.max(dj)),
        }
    }
}

/// Which conductance measures a cluster (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Graph conductance of the induced subgraph (volume normalization).
    Graph,
    /// Markov-chain conductance of the cluster's mixing matrix (size normalization).
    Mixing(MixingRule),
}

impl Measure {
    /// `"graph"` or `"mixing"` plus a rule name.
    pub fn parse(measure: &str, rule: &str) -> Result<Measure> {
        match measure {
            "graph" => Ok(Measure::Graph),
            "mixing" => Ok(Measure::Mixing(MixingRule::parse(rule)?)),
            other => Err(CoreError::InvalidArgument(format!(
                "unknown measure {other:?}; expected \"graph\" or \"mixing\""
            ))),
        }
    }
}

/// The graph whose edge weights are the off-diagonal entries of `g`'s mixing matrix by `rule`
/// (degrees of `g` itself). Its size-normalized Cheeger constant is `Φ(W)`, and its
/// combinatorial Laplacian is `I − W`.
pub fn mixing_weight_graph(g: &Graph, rule: MixingRule) -> Result<Graph> {
    let n = g.n();
    let cnt: Vec<f64> = (0..n).map(|u| g.num_neighbors(u) as f64).collect();
    let cmax = cnt.iter().copied().fold(0.0, f64::max);
    let d = g.degrees();
    let edges = g.edges();
    let mut src = Vec::with_capacity(edges.len());
    let mut dst = Vec::with_capacity(edges.len());
    let mut w = Vec::with_capacity(edges.len());
    for (u, v, wt) in edges {
        src.push(u as i64);
        dst.push(v as i64);
        w.push(rule.weight(wt, cnt[u], cnt[v], d[u], d[v], cmax));
    }
    Ok(Graph::from_edges(n, &src, &dst, Some(&w))?.0)
}

/// Per-threshold facts of a sweep ordering: for `k = 1..n-1` (index `k − 1`), whether the
/// prefix `order[..k]` and the suffix `order[k..]` induce connected subgraphs, and the weight
/// of the edges between them (`cut[k-1]`, original weights).
#[derive(Debug, Clone, PartialEq)]
pub struct ThresholdProfile {
    pub prefix_connected: Vec<bool>,
    pub suffix_connected: Vec<bool>,
    pub cut: Vec<f64>,
}

fn check_order(n: usize, order: &[usize]) -> Result<Vec<usize>> {
    if order.len() != n {
        return Err(CoreError::LengthMismatch {
            what: format!(
                "order has length {} for a cluster of {n} nodes",
                order.len()
            ),
        });
    }
    let mut pos = vec![usize::MAX; n];
    for (p, &u) in order.iter().enumerate() {
        if u >= n {
            return Err(CoreError::NodeOutOfRange { node: u as i64, n });
        }
        if pos[u] != usize::MAX {
            return Err(CoreError::InvalidArgument(format!(
                "order is not a permutation: node {u} appears twice"
            )));
        }
        pos[u] = p;
    }
    Ok(pos)
}

/// Connectivity of both sides and cut weight at every threshold of `order`, in
/// `O(m α(n))`: nodes are added one by one to a union-find (prefixes), then in reverse
/// (suffixes), counting components.
pub fn threshold_profile(g: &Graph, order: &[usize]) -> Result<ThresholdProfile> {
    let n = g.n();
    let pos = check_order(n, order)?;
    let t = n.saturating_sub(1);
    let side = |forward: bool| -> Vec<bool> {
        let mut uf = UnionFind::<u32>::new(n);
        let mut comps = 0usize;
        let mut out = Vec::with_capacity(n);
        for step in 0..n {
            let p = if forward { step } else { n - 1 - step };
            let u = order[p];
            comps += 1;
            for (v, _) in g.neighbors(u) {
                let inside = if forward { pos[v] < p } else { pos[v] > p };
                if inside && uf.union(u as u32, v as u32) {
                    comps -= 1;
                }
            }
            out.push(comps == 1);
        }
        out
    };
    let fwd = side(true); // fwd[p]: order[..=p] connected
    let bwd = side(false); // bwd[s]: order[n-1-s..] connected
    let mut prefix_connected = Vec::with_capacity(t);
    let mut suffix_connected = Vec::with_capacity(t);
    for k in 1..n {
        prefix_connected.push(fwd[k - 1]);
        suffix_connected.push(bwd[n - 1 - k]);
    }
    // cut(k) = Σ over edges with pos_u < k ≤ pos_v: difference array over k
    let mut diff = vec![0.0f64; n + 1];
    for u in 0..n {
        for (v, w) in g.neighbors(u) {
            let (a, b) = (pos[u], pos[v]);
            if a < b {
                diff[a + 1] += w;
                diff[b + 1] -= w;
            }
        }
    }
    let mut cut = Vec::with_capacity(t);
    let mut acc = 0.0;
    for d in diff.iter().take(n).skip(1) {
        acc += d;
        cut.push(acc.max(0.0));
    }
    Ok(ThresholdProfile {
        prefix_connected,
        suffix_connected,
        cut,
    })
}

/// Sweep estimate of the measure of the part `order[a..b]` along the same ordering: the
/// smallest measure of the sets `order[a..j]`, `a < j < b`, inside the part's induced
/// subgraph. Each value is the measure of an actual cut of the part, so the result is an
/// upper bound on the part's conductance. One node → [`SINGLETON_CONDUCTANCE`];
/// a side of zero volume (the part is disconnected) → 0.
pub fn part_sweep(
    g: &Graph,
    order: &[usize],
    pos: &[usize],
    a: usize,
    b: usize,
    measure: Measure,
) -> f64 {
    let len = b - a;
    if len <= 1 {
        return SINGLETON_CONDUCTANCE;
    }
    let inside = |v: usize| pos[v] >= a && pos[v] < b;
    // degrees inside the part
    let mut cnt = vec![0.0f64; len];
    let mut deg = vec![0.0f64; len];
    for i in 0..len {
        let u = order[a + i];
        for (v, w) in g.neighbors(u) {
            if inside(v) {
                cnt[i] += 1.0;
                deg[i] += w;
            }
        }
    }
    let cmax = cnt.iter().copied().fold(0.0, f64::max);
    let mut diff = vec![0.0f64; len + 1];
    for i in 0..len {
        let u = order[a + i];
        for (v, w) in g.neighbors(u) {
            if !inside(v) {
                continue;
            }
            let j = pos[v] - a;
            if i < j {
                let wt = match measure {
                    Measure::Graph => w,
                    Measure::Mixing(rule) => rule.weight(w, cnt[i], cnt[j], deg[i], deg[j], cmax),
                };
                diff[i + 1] += wt;
                diff[j + 1] -= wt;
            }
        }
    }
    let total: f64 = match measure {
        Measure::Graph => deg.iter().sum(),
        Measure::Mixing(_) => len as f64,
    };
    let mut best = f64::INFINITY;
    let mut cut = 0.0;
    let mut left = 0.0;
    for j in 1..len {
        cut += diff[j];
        left += match measure {
            Measure::Graph => deg[j - 1],
            Measure::Mixing(_) => 1.0,
        };
        let denom = left.min(total - left);
        let val = if denom <= 0.0 {
            0.0
        } else {
            cut.max(0.0) / denom
        };
        if val < best {
            best = val;
        }
    }
    best
}

/// A threshold whose two sides are both connected, with sweep estimates of their measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SplitCandidate {
    /// Threshold: the prefix holds `order[..k]`.
    pub k: usize,
    /// [`part_sweep`] estimate for the prefix.
    pub est_prefix: f64,
    /// [`part_sweep`] estimate for the suffix.
    pub est_suffix: f64,
}

/// The thresholds of `order` whose two sides are both connected (and at least `min_size`
/// nodes each), with sweep estimates of both sides. If there are more than `max_eval` of them,
/// `max_eval` evenly spaced ones (always including the first and last) are estimated.
/// Estimates run in parallel; `stop` is polled on the calling thread only ([`watched`]).
pub fn split_candidates(
    g: &Graph,
    order: &[usize],
    measure: Measure,
    min_size: usize,
    max_eval: usize,
    stop: StopFn,
) -> Result<Vec<SplitCandidate>> {
    let n = g.n();
    let prof = threshold_profile(g, order)?;
    let pos = check_order(n, order)?;
    let min_size = min_size.max(1);
    let feasible: Vec<usize> = (1..n)
        .filter(|&k| {
            prof.prefix_connected[k - 1]
                && prof.suffix_connected[k - 1]
                && k >= min_size
                && n - k >= min_size
        })
        .collect();
    let chosen: Vec<usize> = if feasible.len() <= max_eval.max(2) {
        feasible
    } else {
        let f = feasible.len();
        let m = max_eval.max(2);
        let mut idx: Vec<usize> = (0..m)
            .map(|i| ((i as f64) * ((f - 1) as f64) / ((m - 1) as f64)).round() as usize)
            .collect();
        idx.dedup();
        idx.into_iter().map(|i| feasible[i]).collect()
    };
    // part_sweep of both sides visits every node and adjacency entry about twice
    let cost = chosen.len() as f64 * 2.0 * (n + 2 * g.m()) as f64;
    watched(stop, cost, |cancel| {
        chosen
            .par_iter()
            .map(|&k| {
                if cancel.load(Ordering::Relaxed) {
                    return Err(CoreError::Interrupted);
                }
                Ok(SplitCandidate {
                    k,
                    est_prefix: part_sweep(g, order, &pos, 0, k, measure),
                    est_suffix: part_sweep(g, order, &pos, k, n, measure),
                })
            })
            .collect()
    })
}

/// Exact measure of a cluster given as its own graph (nodes `0..n`): `(value, minimizing
/// mask)` by enumeration ([`crate::cheeger::exact_cheeger`]); one node → ([`SINGLETON_CONDUCTANCE`], `[false]`).
/// `stop` is polled on the calling thread only ([`watched`]).
pub fn exact_measure(
    sub: &Graph,
    measure: Measure,
    max_exact: usize,
    stop: StopFn,
) -> Result<(f64, Vec<bool>)> {
    watched(stop, enumeration_cost(sub.n()), |cancel| {
        exact_measure_cancel(sub, measure, max_exact, cancel)
    })
}

/// [`exact_measure`] with a cancel flag (for use inside parallel work).
pub fn exact_measure_cancel(
    sub: &Graph,
    measure: Measure,
    max_exact: usize,
    cancel: &AtomicBool,
) -> Result<(f64, Vec<bool>)> {
    if sub.n() <= 1 {
        return Ok((SINGLETON_CONDUCTANCE, vec![false; sub.n()]));
    }
    let c = match measure {
        Measure::Graph => exact_cheeger_cancel(sub, Normalization::Volume, max_exact, cancel)?,
        Measure::Mixing(rule) => exact_cheeger_cancel(
            &mixing_weight_graph(sub, rule)?,
            Normalization::Size,
            max_exact,
            cancel,
        )?,
    };
    Ok((c.value, c.mask))
}

/// Total enumeration work below which [`exact_measures`] measures its clusters one after the
/// other on the calling thread (about a millisecond).
const BATCH_PARALLEL_MIN_COST: f64 = (1u64 << 20) as f64;

/// [`exact_measure`] of many clusters of `g`, in parallel; cluster `i` is the node list
/// `nodes[ranges[i].0..ranges[i].1]`. `stop` is polled on the calling thread only: the
/// clusters (and the enumerations inside them) share one cancel flag ([`watched`]), so the
/// batch never blocks a rayon worker on the Python interpreter or on the pool itself.
pub fn exact_measures(
    g: &Graph,
    nodes: &[usize],
    ranges: &[(usize, usize)],
    measure: Measure,
    max_exact: usize,
    stop: StopFn,
) -> Result<Vec<(f64, Vec<bool>)>> {
    let mut cost = 0.0;
    for &(a, b) in ranges {
        if a > b || b > nodes.len() {
            return Err(CoreError::InvalidArgument(format!(
                "cluster range {a}..{b} is outside the node list of length {}",
                nodes.len()
            )));
        }
        cost += enumeration_cost(b - a);
    }
    let one = |&(a, b): &(usize, usize), cancel: &AtomicBool| {
        let sub = g.induced_subgraph(&nodes[a..b])?;
        exact_measure_cancel(&sub, measure, max_exact, cancel)
    };
    watched(stop, cost, |cancel| {
        if cost < BATCH_PARALLEL_MIN_COST {
            ranges.iter().map(|r| one(r, cancel)).collect()
        } else {
            ranges.par_iter().map(|r| one(r, cancel)).collect()
        }
    })
}

/// Random partition of a connected graph into connected clusters grown from `seeds`
/// (distinct nodes; cluster `s` contains `seeds[s]`): until every node is assigned, an edge is
/// drawn uniformly among the edges joining an assigned and an unassigned node, and the
/// unassigned end joins the other end's cluster. Returns the label of every node.
///
/// The frontier is kept incrementally as the list of half-edges `a → b` (CSR positions) with
/// `a` assigned; a drawn half-edge whose `b` has been assigned since is removed (swap-remove)
/// and the draw repeated, which is exact rejection sampling: every live frontier edge appears
/// once (as the half-edge leaving its assigned end), so the accepted draw is uniform over them.
/// Each half-edge enters the list at most once, so the run is `O(n + m)` expected.
/// Randomness: xorshift64* seeded by `seed` (deterministic per seed).
pub fn random_connected_partition(g: &Graph, seeds: &[usize], seed: u64) -> Result<Vec<i64>> {
    let n = g.n();
    if seeds.is_empty() || seeds.len() > n {
        return Err(CoreError::InvalidArgument(format!(
            "need 1..{n} seed nodes, got {}",
            seeds.len()
        )));
    }
    let (indptr, indices) = (g.indptr(), g.indices());
    let mut lab = vec![-1i64; n];
    let mut frontier: Vec<usize> = Vec::new();
    let push = |v: usize, lab: &[i64], frontier: &mut Vec<usize>| {
        for p in indptr[v]..indptr[v + 1] {
            if lab[indices[p] as usize] < 0 {
                frontier.push(p);
            }
        }
    };
    for (s, &v) in seeds.iter().enumerate() {
        if v >= n {
            return Err(CoreError::NodeOutOfRange { node: v as i64, n });
        }
        if lab[v] >= 0 {
            return Err(CoreError::InvalidArgument(format!(
                "seed node {v} given twice"
            )));
        }
        lab[v] = s as i64;
    }
    for &v in seeds {
        push(v, &lab, &mut frontier);
    }
    // source node of every half-edge: the row whose range holds position p
    let mut src = vec![0u32; indices.len()];
    for v in 0..n {
        src[indptr[v]..indptr[v + 1]].fill(v as u32);
    }
    let mut x = seed ^ 0x9E37_79B9_7F4A_7C15;
    if x == 0 {
        x = 0x2545_F491_4F6C_DD1D;
    }
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut left = n - seeds.len();
    while left > 0 {
        if frontier.is_empty() {
            return Err(CoreError::Disconnected {
                components: 2,
                context: "random connected partitions need a connected graph".into(),
            });
        }
        // uniform index in 0..len (multiply-shift; bias ≤ len / 2⁶⁴)
        let i = ((next() as u128 * frontier.len() as u128) >> 64) as usize;
        let p = frontier[i];
        let b = indices[p] as usize;
        if lab[b] >= 0 {
            frontier.swap_remove(i);
            continue;
        }
        lab[b] = lab[src[p] as usize];
        left -= 1;
        frontier.swap_remove(i);
        push(b, &lab, &mut frontier);
    }
    Ok(lab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::never_stop;

    fn barbell() -> Graph {
        // two triangles {0,1,2} and {3,4,5} joined by the edge 2-3
        let src = [0, 0, 1, 3, 3, 4, 2];
        let dst = [1, 2, 2, 4, 5, 5, 3];
        Graph::from_edges(6, &src, &dst, None).unwrap().0
    }

    #[test]
    fn profile_of_barbell() {
        let g = barbell();
        let order = [0, 1, 2, 3, 4, 5];
        let p = threshold_profile(&g, &order).unwrap();
        assert_eq!(p.prefix_connected, vec![true, true, true, true, true]);
        assert_eq!(p.suffix_connected, vec![true, true, true, true, true]);
        assert_eq!(p.cut, vec![2.0, 2.0, 1.0, 2.0, 2.0]);
        let order = [0, 3, 1, 2, 4, 5];
        let p = threshold_profile(&g, &order).unwrap();
        assert_eq!(p.prefix_connected, vec![true, false, false, true, true]);
        assert_eq!(p.suffix_connected, vec![true, false, false, true, true]);
    }

    #[test]
    fn sweep_estimates_and_candidates() {
        let g = barbell();
        let order = [0, 1, 2, 3, 4, 5];
        let c = split_candidates(&g, &order, Measure::Graph, 1, 100, &never_stop).unwrap();
        assert_eq!(c.len(), 5);
        // threshold 3: two triangles; a triangle's conductance is 2/2 = 1
        let t = c.iter().find(|x| x.k == 3).unwrap();
        assert_eq!((t.est_prefix, t.est_suffix), (1.0, 1.0));
        // threshold 1: a singleton and a 5-node part (triangle 1-2 + bridge + triangle)
        let t = c.iter().find(|x| x.k == 1).unwrap();
        assert_eq!(t.est_prefix, SINGLETON_CONDUCTANCE);
        assert!(t.est_suffix <= 1.0 / 3.0 + 1e-12);
        let c = split_candidates(&g, &order, Measure::Graph, 3, 100, &never_stop).unwrap();
        assert_eq!(c.iter().map(|x| x.k).collect::<Vec<_>>(), vec![3]);
        assert!(threshold_profile(&g, &[0, 1, 2]).is_err());
        assert!(threshold_profile(&g, &[0, 1, 2, 3, 4, 4]).is_err());
    }

    #[test]
    fn batches_of_large_clusters_in_small_pools() {
        use crate::cheeger::exact_cheeger;
        // four clusters of 24–25 nodes in one graph (disjoint union plus bridges), measured in
        // one batch from inside 1- and 2-thread pools and from outside any pool
        let parts: Vec<Graph> = (0..4)
            .map(|s| crate::testutil::random_weighted_graph(24 + s % 2, 40 + s as u64, 3, 50.0))
            .collect();
        let (mut src, mut dst, mut w, mut nodes, mut ranges) =
            (vec![], vec![], vec![], vec![], vec![]);
        let mut off = 0;
        for p in &parts {
            for (u, v, x) in p.edges() {
                src.push((off + u) as i64);
                dst.push((off + v) as i64);
                w.push(x);
            }
            if off > 0 {
                src.push(off as i64 - 1);
                dst.push(off as i64);
                w.push(0.5);
            }
            ranges.push((off, off + p.n()));
            nodes.extend(off..off + p.n());
            off += p.n();
        }
        let g = Graph::from_edges(off, &src, &dst, Some(&w)).unwrap().0;
        let mx = Measure::Mixing(MixingRule::LazyMetropolis);
        for measure in [Measure::Graph, mx] {
            // reference: each cluster alone, from this thread
            let want: Vec<(f64, Vec<bool>)> = parts
                .iter()
                .map(|p| {
                    let c = match measure {
                        Measure::Graph => exact_cheeger(p, Normalization::Volume, 32, &never_stop),
                        Measure::Mixing(r) => exact_cheeger(
                            &mixing_weight_graph(p, r).unwrap(),
                            Normalization::Size,
                            32,
                            &never_stop,
                        ),
                    }
                    .unwrap();
                    (c.value, c.mask)
                })
                .collect();
            let outside = exact_measures(&g, &nodes, &ranges, measure, 32, &never_stop).unwrap();
            assert_eq!(outside, want);
            for threads in [1, 2] {
                let (g, nodes, ranges, want) =
                    (g.clone(), nodes.clone(), ranges.clone(), want.clone());
                crate::cheeger::tests::within(180, move || {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let got = pool.install(|| {
                        // two batches at once on the pool's workers, as two callers would
                        let (a, b) = rayon::join(
                            || exact_measures(&g, &nodes, &ranges, measure, 32, &never_stop),
                            || exact_measures(&g, &nodes, &ranges[..2], measure, 32, &never_stop),
                        );
                        assert_eq!(b.unwrap(), want[..2]);
                        a.unwrap()
                    });
                    assert_eq!(got, want, "{threads} threads");
                });
            }
        }
        // a stop that is already true: Interrupted before any work
        let r = exact_measures(&g, &nodes, &ranges, Measure::Graph, 32, &|| true);
        assert_eq!(r, Err(CoreError::Interrupted));
    }

    #[test]
    fn split_candidates_same_inside_a_pool() {
        let g = crate::testutil::random_weighted_graph(300, 9, 20, 10.0);
        let order: Vec<usize> = (0..300).collect();
        let me = std::thread::current().id();
        let stop = || {
            assert_eq!(std::thread::current().id(), me);
            false
        };
        let want = split_candidates(&g, &order, Measure::Graph, 1, 256, &stop).unwrap();
        assert!(!want.is_empty());
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let got = pool
            .install(|| split_candidates(&g, &order, Measure::Graph, 1, 256, &never_stop))
            .unwrap();
        assert_eq!(got, want);
    }

    #[test]
    fn mixing_weights_match_rule() {
        let g = barbell();
        let w = mixing_weight_graph(&g, MixingRule::LazyMetropolis).unwrap();
        // edge 2-3 joins two degree-3 nodes: 0.5 / 4
        let e = w
            .edges()
            .into_iter()
            .find(|e| e.0 == 2 && e.1 == 3)
            .unwrap();
        assert!((e.2 - 0.125).abs() < 1e-15);
        // every row of off-diagonals sums to at most 1/2 for a lazy rule
        assert!(w.degrees().iter().all(|&d| d <= 0.5));
        let mx = Measure::Mixing(MixingRule::LazyMetropolis);
        let order = [0, 1, 2, 3, 4, 5];
        let pos: Vec<usize> = (0..6).collect();
        // the triangle {0,1,2} alone: degrees 2, W_ij = 1/6, Φ = 2·(1/6)/1 = 1/3
        let v = part_sweep(&g, &order, &pos, 0, 3, mx);
        assert!((v - 1.0 / 3.0).abs() < 1e-12);
        assert!(MixingRule::parse("nope").is_err());
        assert!(Measure::parse("x", "metropolis").is_err());
    }

    #[test]
    fn random_connected_partition_is_connected_and_deterministic() {
        let g = crate::testutil::random_weighted_graph(200, 3, 8, 10.0);
        let comps = crate::metrics::connected_components(&g).1;
        assert_eq!(comps, 1, "test graph must be connected");
        let seeds = [5usize, 17, 60, 199];
        let a = random_connected_partition(&g, &seeds, 42).unwrap();
        assert_eq!(a, random_connected_partition(&g, &seeds, 42).unwrap());
        assert_ne!(a, random_connected_partition(&g, &seeds, 43).unwrap());
        for (s, &v) in seeds.iter().enumerate() {
            assert_eq!(a[v], s as i64);
            let nodes: Vec<usize> = (0..200).filter(|&u| a[u] == s as i64).collect();
            let sub = g.induced_subgraph(&nodes).unwrap();
            assert_eq!(crate::metrics::connected_components(&sub).1, 1);
        }
        assert!(a.iter().all(|&l| (0..4).contains(&l)));
        assert!(random_connected_partition(&g, &[1, 1], 0).is_err());
        assert!(random_connected_partition(&g, &[200], 0).is_err());
    }
}

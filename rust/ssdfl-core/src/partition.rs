//! Local refinement of a k-way partition into connected clusters.
//!
//! Objectives (each cluster `C` gets a *badness*; the search minimizes, lexicographically,
//! the largest badness and then their sum):
//! - [`Objective::Cut`]: badness = cut conductance `cut(C, V∖C) / min(vol C, vol V∖C)` in the
//!   whole graph (weighted degrees), updated in `O(deg u)` per move;
//! - [`Objective::Internal`]: badness = −ψ(C), ψ the internal measure of the induced subgraph
//!   ([`Measure`]): exact enumeration ([`crate::cheeger::exact_cheeger`]) when
//!   `|C| ≤ exact_limit`, otherwise the sweep value along the node `scores` restricted to `C`
//!   (an upper bound: the measure of an actual cut of `C`).
//!
//! Moves: one boundary node `u` goes from its cluster `A` to a neighbouring cluster `B` if `A∖u`
//! stays connected, `|A| − 1 ≥ min_size`, and the objective improves. Moves that touch the
//! currently worst cluster are tried first, then by the share of `u`'s weight going to `B`
//! (boundary-node priority). Passes repeat until no move improves (a local optimum for single
//! moves) or the evaluation budget runs out. Deterministic: no randomness, ties by node index.

use crate::cluster::{exact_measure, part_sweep, Measure, SINGLETON_CONDUCTANCE};
use crate::error::{CoreError, Result, StopFn};
use crate::graph::Graph;

/// What the refinement optimizes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// Minimize the largest cut conductance.
    Cut,
    /// Maximize the smallest internal measure.
    Internal {
        /// Graph conductance or mixing-matrix conductance of each cluster.
        measure: Measure,
        /// Clusters up to this size are measured exactly.
        exact_limit: usize,
    },
}

/// Outcome of [`refine`].
#[derive(Debug, Clone, PartialEq)]
pub struct RefineResult {
    /// Cluster label of every node (`0..k`).
    pub labels: Vec<usize>,
    /// Badness of every cluster (cut conductance, or −ψ).
    pub badness: Vec<f64>,
    /// Accepted moves.
    pub moves: usize,
    /// Objective evaluations of candidate clusters.
    pub evals: usize,
    /// True if a pass found no improving move (local optimum); false if the budget ran out.
    pub converged: bool,
}

const EPS: f64 = 1e-12;

/// Internal measure ψ of the cluster `nodes` (any order), see the module documentation.
pub fn internal_estimate(
    g: &Graph,
    nodes: &[usize],
    scores: &[f64],
    measure: Measure,
    exact_limit: usize,
    stop: StopFn,
) -> Result<f64> {
    if nodes.len() <= 1 {
        return Ok(SINGLETON_CONDUCTANCE);
    }
    let mut sorted = nodes.to_vec();
    sorted.sort_unstable_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    let sub = g.induced_subgraph(&sorted)?;
    if nodes.len() <= exact_limit {
        return Ok(exact_measure(&sub, measure, exact_limit, stop)?.0);
    }
    let id: Vec<usize> = (0..sorted.len()).collect();
    Ok(part_sweep(&sub, &id, &id, 0, sorted.len(), measure))
}

struct State<'a> {
    g: &'a Graph,
    labels: Vec<usize>,
    size: Vec<usize>,
    cut: Vec<f64>,
    vol: Vec<f64>,
    total_vol: f64,
    bad: Vec<f64>,
}

impl State<'_> {
    fn cut_badness(&self, cut: f64, vol: f64) -> f64 {
        let den = vol.min(self.total_vol - vol);
        if den <= 0.0 {
            0.0
        } else {
            cut / den
        }
    }
    fn members(&self, c: usize) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&u| self.labels[u] == c)
            .collect()
    }
    /// Is cluster `a` without `u` connected? `a` is connected, so every node of `a∖u` reaches
    /// some neighbour of `u` inside `a`; hence `a∖u` is connected iff those neighbours are in one
    /// component of `a∖u`. Breadth-first search from one of them stops as soon as all are found
    /// (usually a few hops: cost local, not `O(|a|)`); `seen` is a reusable generation-stamped
    /// scratch array, so even a full search costs `O(|a|)` and not `O(n)`.
    fn connected_without(&self, a: usize, u: usize, seen: &mut Scratch) -> bool {
        let g = self.g;
        seen.next();
        let mut wanted = 0usize;
        for (v, _) in g.neighbors(u) {
            if self.labels[v] == a && v != u && !seen.is_wanted(v) {
                seen.want(v);
                wanted += 1;
            }
        }
        if wanted <= 1 {
            return true; // a leaf of the cluster (or its last node's neighbourless case)
        }
        let start = g
            .neighbors(u)
            .map(|(v, _)| v)
            .find(|&v| self.labels[v] == a && v != u)
            .unwrap_or(u);
        seen.mark(u);
        seen.mark(start);
        seen.stack.clear();
        seen.stack.push(start);
        let mut found = 1usize;
        let mut head = 0usize;
        while head < seen.stack.len() {
            let x = seen.stack[head];
            head += 1;
            for (y, _) in g.neighbors(x) {
                if !seen.is_marked(y) && self.labels[y] == a {
                    seen.mark(y);
                    if seen.is_wanted(y) {
                        found += 1;
                        if found == wanted {
                            return true;
                        }
                    }
                    seen.stack.push(y);
                }
            }
        }
        false
    }
}

/// Visited marks that are reset in `O(1)` by bumping a generation counter.
struct Scratch {
    stamp: Vec<u32>,
    wanted: Vec<u32>,
    gen: u32,
    stack: Vec<usize>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            stamp: vec![0; n],
            wanted: vec![0; n],
            gen: 0,
            stack: Vec::new(),
        }
    }
    fn next(&mut self) {
        if self.gen == u32::MAX {
            self.stamp.iter_mut().for_each(|s| *s = 0);
            self.wanted.iter_mut().for_each(|s| *s = 0);
            self.gen = 0;
        }
        self.gen += 1;
    }
    fn mark(&mut self, u: usize) {
        self.stamp[u] = self.gen;
    }
    fn is_marked(&self, u: usize) -> bool {
        self.stamp[u] == self.gen
    }
    fn want(&mut self, u: usize) {
        self.wanted[u] = self.gen;
    }
    fn is_wanted(&self, u: usize) -> bool {
        self.wanted[u] == self.gen
    }
}

fn key(bad: &[f64]) -> (f64, f64) {
    let mx = bad.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (mx, bad.iter().sum())
}

fn better(new: (f64, f64), old: (f64, f64)) -> bool {
    new.0 < old.0 - EPS || (new.0 <= old.0 + EPS && new.1 < old.1 - EPS)
}

/// Refine `labels` (values `0..k`, every cluster non-empty and connected) by single-node moves;
/// see the module documentation. `scores` (length `n`) orders nodes inside large clusters for
/// the internal objective; a moved node takes the mean score of its new cluster neighbours.
#[allow(clippy::too_many_arguments)]
pub fn refine(
    g: &Graph,
    labels: &[usize],
    k: usize,
    scores: &[f64],
    objective: Objective,
    min_size: usize,
    max_evals: usize,
    stop: StopFn,
) -> Result<RefineResult> {
    let n = g.n();
    if labels.len() != n || scores.len() != n {
        return Err(CoreError::LengthMismatch {
            what: format!(
                "{} labels and {} scores for {n} nodes",
                labels.len(),
                scores.len()
            ),
        });
    }
    if k == 0 || labels.iter().any(|&l| l >= k) {
        return Err(CoreError::InvalidArgument(format!(
            "labels must lie in 0..{k} with k ≥ 1"
        )));
    }
    let mut size = vec![0usize; k];
    for &l in labels {
        size[l] += 1;
    }
    if let Some(c) = size.iter().position(|&s| s == 0) {
        return Err(CoreError::InvalidArgument(format!("cluster {c} is empty")));
    }
    let min_size = min_size.max(1);
    if let Some(c) = size.iter().position(|&s| s < min_size) {
        return Err(CoreError::InvalidArgument(format!(
            "cluster {c} has {} nodes, fewer than min_size = {min_size}",
            size[c]
        )));
    }
    let mut scores = scores.to_vec();
    let deg = g.degrees();
    let mut cut = vec![0.0; k];
    let mut vol = vec![0.0; k];
    for u in 0..n {
        vol[labels[u]] += deg[u];
        for (v, w) in g.neighbors(u) {
            if labels[v] != labels[u] {
                cut[labels[u]] += w;
            }
        }
    }
    let mut st = State {
        g,
        labels: labels.to_vec(),
        size,
        cut,
        vol,
        total_vol: g.total_volume(),
        bad: vec![0.0; k],
    };
    for c in 0..k {
        let mask: Vec<bool> = st.labels.iter().map(|&l| l == c).collect();
        if !crate::metrics::is_set_connected(g, &mask)? {
            return Err(CoreError::InvalidArgument(format!(
                "cluster {c} of the starting partition is not connected"
            )));
        }
    }
    let mut evals = 0usize;
    for c in 0..k {
        st.bad[c] = match objective {
            Objective::Cut => st.cut_badness(st.cut[c], st.vol[c]),
            Objective::Internal {
                measure,
                exact_limit,
            } => {
                evals += 1;
                -internal_estimate(g, &st.members(c), &scores, measure, exact_limit, stop)?
            }
        };
    }
    let mut seen = Scratch::new(n);
    let mut moves = 0usize;
    let mut converged = false;
    'passes: loop {
        if stop() {
            return Err(CoreError::Interrupted);
        }
        let worst = (0..k)
            .max_by(|&a, &b| st.bad[a].total_cmp(&st.bad[b]).then(b.cmp(&a)))
            .unwrap_or(0);
        // candidate moves (u, B) with priority keys
        let mut cand: Vec<(bool, f64, usize, usize)> = Vec::new();
        for (u, &du) in deg.iter().enumerate() {
            let a = st.labels[u];
            if st.size[a] <= min_size {
                continue;
            }
            let mut to: Vec<(usize, f64)> = Vec::new();
            for (v, w) in g.neighbors(u) {
                let b = st.labels[v];
                if b != a {
                    match to.iter_mut().find(|x| x.0 == b) {
                        Some(x) => x.1 += w,
                        None => to.push((b, w)),
                    }
                }
            }
            for (b, w) in to {
                let share = if du > 0.0 { w / du } else { 0.0 };
                cand.push((!(a == worst || b == worst), -share, u, b));
            }
        }
        cand.sort_by(|x, y| {
            x.0.cmp(&y.0)
                .then(x.1.total_cmp(&y.1))
                .then(x.2.cmp(&y.2))
                .then(x.3.cmp(&y.3))
        });
        let mut improved = false;
        for &(_, _, u, b) in &cand {
            if evals >= max_evals {
                break 'passes;
            }
            let a = st.labels[u];
            if a == b || st.size[a] <= min_size {
                continue;
            }
            let (mut w_a, mut w_b) = (0.0, 0.0);
            for (v, w) in g.neighbors(u) {
                if st.labels[v] == a {
                    w_a += w;
                } else if st.labels[v] == b {
                    w_b += w;
                }
            }
            if w_b <= 0.0 {
                continue; // no longer adjacent to B
            }
            let old = key(&st.bad);
            let (new_a, new_b, new_cut_a, new_cut_b);
            match objective {
                Objective::Cut => {
                    new_cut_a = st.cut[a] - (deg[u] - w_a) + w_a;
                    new_cut_b = st.cut[b] - w_b + (deg[u] - w_b);
                    new_a = st.cut_badness(new_cut_a, st.vol[a] - deg[u]);
                    new_b = st.cut_badness(new_cut_b, st.vol[b] + deg[u]);
                    let mut trial = st.bad.clone();
                    trial[a] = new_a;
                    trial[b] = new_b;
                    if !better(key(&trial), old) || !st.connected_without(a, u, &mut seen) {
                        continue;
                    }
                }
                Objective::Internal {
                    measure,
                    exact_limit,
                } => {
                    if !st.connected_without(a, u, &mut seen) {
                        continue;
                    }
                    let mut ma = st.members(a);
                    ma.retain(|&x| x != u);
                    let mut mb = st.members(b);
                    mb.push(u);
                    let saved = scores[u];
                    let (mut s_sum, mut s_w) = (0.0, 0.0);
                    for (v, w) in g.neighbors(u) {
                        if st.labels[v] == b {
                            s_sum += w * scores[v];
                            s_w += w;
                        }
                    }
                    scores[u] = s_sum / s_w;
                    evals += 2;
                    let pa = internal_estimate(g, &ma, &scores, measure, exact_limit, stop)?;
                    let pb = internal_estimate(g, &mb, &scores, measure, exact_limit, stop)?;
                    new_a = -pa;
                    new_b = -pb;
                    new_cut_a = st.cut[a] - (deg[u] - w_a) + w_a;
                    new_cut_b = st.cut[b] - w_b + (deg[u] - w_b);
                    let mut trial = st.bad.clone();
                    trial[a] = new_a;
                    trial[b] = new_b;
                    if !better(key(&trial), old) {
                        scores[u] = saved;
                        continue;
                    }
                }
            }
            if matches!(objective, Objective::Cut) {
                evals += 1;
            }
            st.labels[u] = b;
            st.size[a] -= 1;
            st.size[b] += 1;
            st.vol[a] -= deg[u];
            st.vol[b] += deg[u];
            st.cut[a] = new_cut_a.max(0.0);
            st.cut[b] = new_cut_b.max(0.0);
            st.bad[a] = new_a;
            st.bad[b] = new_b;
            moves += 1;
            improved = true;
            if stop() {
                return Err(CoreError::Interrupted);
            }
        }
        if !improved {
            converged = true;
            break;
        }
    }
    Ok(RefineResult {
        labels: st.labels,
        badness: st.bad,
        moves,
        evals,
        converged,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::never_stop;
    use crate::metrics::is_set_connected;

    /// Two 5-cliques {0..4}, {5..9} joined by the edge 4-5.
    fn two_cliques() -> Graph {
        let (mut s, mut d) = (vec![], vec![]);
        for base in [0i64, 5] {
            for i in 0..5 {
                for j in i + 1..5 {
                    s.push(base + i);
                    d.push(base + j);
                }
            }
        }
        s.push(4);
        d.push(5);
        Graph::from_edges(10, &s, &d, None).unwrap().0
    }

    #[test]
    fn repairs_a_bad_start_for_both_objectives() {
        let g = two_cliques();
        // start: node 5 wrongly in the first cluster
        let start = vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        let scores: Vec<f64> = (0..10).map(|x| x as f64).collect();
        let truth = vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1];
        for obj in [
            Objective::Cut,
            Objective::Internal {
                measure: Measure::Graph,
                exact_limit: 16,
            },
        ] {
            let r = refine(&g, &start, 2, &scores, obj, 1, 10_000, &never_stop).unwrap();
            assert_eq!(r.labels, truth, "{obj:?}");
            assert!(r.converged);
            for c in 0..2 {
                let m: Vec<bool> = r.labels.iter().map(|&l| l == c).collect();
                assert!(is_set_connected(&g, &m).unwrap());
            }
        }
        // the cut conductance of a clique half is 1/21
        let r = refine(&g, &truth, 2, &scores, Objective::Cut, 1, 100, &never_stop).unwrap();
        assert!((r.badness[0] - 1.0 / 21.0).abs() < 1e-12);
        assert_eq!(r.moves, 0);
    }

    #[test]
    fn early_stopping_connectivity_check_matches_plain_bfs() {
        // two triangles joined by a path, plus a pendant: removing path or hub nodes
        // disconnects, removing triangle corners does not
        let edges = [
            (0, 1),
            (1, 2),
            (2, 0),
            (2, 3),
            (3, 4),
            (4, 5),
            (5, 6),
            (6, 7),
            (7, 5),
            (7, 8),
            (1, 9),
        ];
        let s: Vec<i64> = edges.iter().map(|e| e.0).collect();
        let d: Vec<i64> = edges.iter().map(|e| e.1).collect();
        let g = Graph::from_edges(10, &s, &d, None).unwrap().0;
        let st = State {
            g: &g,
            labels: vec![0; 10],
            size: vec![10],
            cut: vec![0.0],
            vol: vec![0.0],
            total_vol: g.total_volume(),
            bad: vec![0.0],
        };
        let mut seen = Scratch::new(10);
        for u in 0..10 {
            let mask: Vec<bool> = (0..10).map(|v| v != u).collect();
            let plain = is_set_connected(&g, &mask).unwrap();
            assert_eq!(st.connected_without(0, u, &mut seen), plain, "node {u}");
        }
    }

    #[test]
    fn respects_min_size_and_rejects_bad_input() {
        let g = two_cliques();
        let scores = vec![0.0; 10];
        let start = vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1];
        // with min_size 5 the second cluster (4 nodes) is invalid
        assert!(refine(&g, &start, 2, &scores, Objective::Cut, 5, 100, &never_stop).is_err());
        let disconnected = vec![0, 1, 0, 0, 0, 1, 1, 1, 1, 1];
        let r = refine(
            &g,
            &disconnected,
            2,
            &scores,
            Objective::Cut,
            1,
            100,
            &never_stop,
        );
        assert!(r.is_err());
        assert!(refine(
            &g,
            &[0; 10],
            2,
            &scores,
            Objective::Cut,
            1,
            100,
            &never_stop
        )
        .is_err());
        assert!(refine(&g, &[0; 9], 1, &scores, Objective::Cut, 1, 100, &never_stop).is_err());
    }
}

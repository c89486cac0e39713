//! Undirected weighted graph in compressed sparse row (CSR) form.

use crate::error::{CoreError, Result};
use crate::parse::try_vec;
use petgraph::graph::{NodeIndex, UnGraph};
use rayon::prelude::*;

/// An undirected graph on nodes `0..n` with positive edge weights, stored as a symmetric CSR
/// adjacency: the neighbours of `u` are `indices[indptr[u]..indptr[u+1]]` (sorted, no
/// duplicates, no self-loops) with weights `weights[..]` at the same positions.
/// Each undirected edge `{u, v}` is stored twice, once in each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    n: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    weights: Vec<f64>,
    degrees: Vec<f64>,
    unit_weights: bool,
}

/// What [`Graph::from_edges`] dropped or merged while building the graph.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Self-loops ignored.
    pub self_loops: usize,
    /// Parallel edges merged into an existing edge (weights summed).
    pub merged: usize,
}

impl Graph {
    /// Build from edge endpoint arrays `src[k] -- dst[k]` with optional weights (default 1).
    /// Self-loops are dropped and parallel edges merged by summing weights (both counted in
    /// the report). Errors on out-of-range endpoints and weights that are not finite and > 0
    /// (the first offending edge is named).
    ///
    /// Linear time: a counting pass sizes the CSR rows, edges are scattered into both rows, and
    /// each row is sorted (stably, so both copies of a merged edge sum in the same order and
    /// the adjacency stays exactly symmetric) and deduplicated in parallel.
    pub fn from_edges(
        n: usize,
        src: &[i64],
        dst: &[i64],
        weights: Option<&[f64]>,
    ) -> Result<(Graph, BuildReport)> {
        if src.len() != dst.len() {
            return Err(CoreError::LengthMismatch {
                what: format!("{} sources but {} targets", src.len(), dst.len()),
            });
        }
        if let Some(w) = weights {
            if w.len() != src.len() {
                return Err(CoreError::LengthMismatch {
                    what: format!("{} edges but {} weights", src.len(), w.len()),
                });
            }
        }
        if n > u32::MAX as usize {
            return Err(CoreError::InvalidArgument(format!(
                "{n} nodes exceed the supported maximum {}",
                u32::MAX
            )));
        }
        let m = src.len();
        let out_of_range = |x: i64| x < 0 || x as u64 >= n as u64;
        let bad_weight = |k: usize| weights.is_some_and(|w| !(w[k].is_finite() && w[k] > 0.0));
        let first_bad = (0..m)
            .into_par_iter()
            .with_min_len(1 << 14)
            .position_first(|k| out_of_range(src[k]) || out_of_range(dst[k]) || bad_weight(k));
        if let Some(k) = first_bad {
            let (a, b) = (src[k], dst[k]);
            if out_of_range(a) || out_of_range(b) {
                let node = if out_of_range(a) { a } else { b };
                return Err(CoreError::NodeOutOfRange { node, n });
            }
            return Err(CoreError::InvalidWeight {
                index: k,
                u: a as usize,
                v: b as usize,
                value: weights.map_or(1.0, |w| w[k]),
            });
        }
        probe_memory(n)?;
        let mut report = BuildReport {
            self_loops: (0..m)
                .into_par_iter()
                .with_min_len(1 << 14)
                .filter(|&k| src[k] == dst[k])
                .count(),
            merged: 0,
        };
        // Row sizes, then scatter every edge into both rows. Both passes are split by node
        // range: each task scans all edges and handles the endpoints in its own range, so the
        // random writes are spread over the threads without atomics.
        let ranges = node_ranges(n);
        let what = "build the graph";
        let counts: Vec<Vec<usize>> = ranges
            .par_iter()
            .map(|r| -> Result<Vec<usize>> {
                let mut c = try_vec(r.len(), what)?;
                c.resize(r.len(), 0usize);
                for k in 0..m {
                    let (a, b) = (src[k] as usize, dst[k] as usize);
                    if a != b {
                        if r.contains(&a) {
                            c[a - r.start] += 1;
                        }
                        if r.contains(&b) {
                            c[b - r.start] += 1;
                        }
                    }
                }
                Ok(c)
            })
            .collect::<Result<_>>()?;
        let mut indptr = try_vec(n + 1, what)?;
        indptr.push(0usize);
        let mut acc = 0usize;
        for c in &counts {
            for &x in c {
                acc += x;
                indptr.push(acc);
            }
        }
        drop(counts);
        let nnz = indptr[n];
        let mut indices: Vec<u32> = try_vec(nnz, what)?;
        indices.resize(nnz, 0);
        let mut wts: Vec<f64> = try_vec(nnz, what)?;
        wts.resize(nnz, 1.0);
        {
            let mut parts = Vec::with_capacity(ranges.len());
            let (mut idx, mut w): (&mut [u32], &mut [f64]) = (&mut indices, &mut wts);
            for r in &ranges {
                let take = indptr[r.end] - indptr[r.start];
                let (x, rest_i) = idx.split_at_mut(take);
                let (y, rest_w) = w.split_at_mut(take);
                parts.push((r.clone(), x, y));
                idx = rest_i;
                w = rest_w;
            }
            let indptr = &indptr;
            parts.into_par_iter().for_each(|(r, idx, w)| {
                let base = indptr[r.start];
                let mut fill: Vec<usize> =
                    indptr[r.start..r.end].iter().map(|&x| x - base).collect();
                let mut put = |u: usize, v: usize, k: usize| {
                    let f = &mut fill[u - r.start];
                    idx[*f] = v as u32;
                    if let Some(ws) = weights {
                        w[*f] = ws[k];
                    }
                    *f += 1;
                };
                for k in 0..m {
                    let (a, b) = (src[k] as usize, dst[k] as usize);
                    if a != b {
                        if r.contains(&a) {
                            put(a, b, k);
                        }
                        if r.contains(&b) {
                            put(b, a, k);
                        }
                    }
                }
            });
        }
        // sort + merge every row in place; `lens[u]` = distinct neighbours of u
        let mut lens: Vec<usize> = try_vec(n, what)?;
        lens.resize(n, 0);
        for_each_row_block(
            &indptr,
            &mut indices,
            &mut wts,
            &mut lens,
            |rows, idx, w, lens| {
                let mut buf: Vec<(u32, f64)> = Vec::new();
                let base = indptr[rows.start];
                for (r, u) in rows.enumerate() {
                    let (s, e) = (indptr[u] - base, indptr[u + 1] - base);
                    let (ri, rw) = (&mut idx[s..e], &mut w[s..e]);
                    if !ri.windows(2).all(|p| p[0] < p[1]) {
                        buf.clear();
                        buf.extend(ri.iter().copied().zip(rw.iter().copied()));
                        buf.sort_by_key(|p| p.0); // stable: duplicates keep edge order
                        let mut len = 0usize;
                        for &(j, x) in buf.iter() {
                            if len > 0 && ri[len - 1] == j {
                                rw[len - 1] += x;
                            } else {
                                ri[len] = j;
                                rw[len] = x;
                                len += 1;
                            }
                        }
                        lens[r] = len;
                    } else {
                        lens[r] = e - s;
                    }
                }
            },
        );
        let new_nnz: usize = lens.iter().sum();
        if new_nnz != nnz {
            // compact rows to the front (new offsets never exceed old ones)
            let mut at = 0usize;
            for u in 0..n {
                let s = indptr[u];
                indices.copy_within(s..s + lens[u], at);
                wts.copy_within(s..s + lens[u], at);
                indptr[u] = at;
                at += lens[u];
            }
            indptr[n] = at;
            indices.truncate(at);
            wts.truncate(at);
        }
        report.merged = (nnz - new_nnz) / 2;
        let mut degrees: Vec<f64> = try_vec(n, what)?;
        degrees.resize(n, 0.0);
        degrees
            .par_iter_mut()
            .with_min_len(1 << 12)
            .enumerate()
            .for_each(|(u, d)| *d = wts[indptr[u]..indptr[u + 1]].iter().sum());
        check_finite_degrees(&degrees)?;
        let mut g = Graph {
            n,
            indptr,
            indices,
            weights: wts,
            degrees,
            unit_weights: false,
        };
        g.unit_weights = g
            .weights
            .par_iter()
            .with_min_len(1 << 14)
            .all(|&x| x == 1.0);
        Ok((g, report))
    }

    /// Build from canonical edges `(u, v, w)` with `u < v`, sorted and without duplicates.
    fn from_canonical(n: usize, edges: &[(u32, u32, f64)]) -> Graph {
        let unit_weights = edges.iter().all(|e| e.2 == 1.0);
        let mut counts = vec![0usize; n + 1];
        for &(u, v, _) in edges {
            counts[u as usize + 1] += 1;
            counts[v as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let indptr = counts;
        let nnz = indptr[n];
        let mut fill = indptr.clone();
        let mut indices = vec![0u32; nnz];
        let mut weights = vec![0f64; nnz];
        // edges sorted by (u, v): row u receives v in increasing order; row v receives u in
        // increasing order of u too, and all entries (x, v) with x < v come before (v, y).
        for &(u, v, w) in edges {
            let (u, v) = (u as usize, v as usize);
            indices[fill[u]] = v as u32;
            weights[fill[u]] = w;
            fill[u] += 1;
            indices[fill[v]] = u as u32;
            weights[fill[v]] = w;
            fill[v] += 1;
        }
        // rows are filled with lower neighbours (from edges (x, u)) interleaved with upper
        // ones; sort each row to restore the CSR invariant.
        let mut g = Graph {
            n,
            indptr,
            indices,
            weights,
            degrees: Vec::new(),
            unit_weights,
        };
        g.sort_rows();
        g.degrees = (0..n)
            .map(|u| g.weights[g.indptr[u]..g.indptr[u + 1]].iter().sum())
            .collect();
        g
    }

    fn sort_rows(&mut self) {
        for u in 0..self.n {
            let (s, e) = (self.indptr[u], self.indptr[u + 1]);
            let row = &self.indices[s..e];
            if row.windows(2).all(|p| p[0] < p[1]) {
                continue;
            }
            let mut pairs: Vec<(u32, f64)> = row
                .iter()
                .copied()
                .zip(self.weights[s..e].iter().copied())
                .collect();
            pairs.sort_unstable_by_key(|p| p.0);
            for (k, (j, w)) in pairs.into_iter().enumerate() {
                self.indices[s + k] = j;
                self.weights[s + k] = w;
            }
        }
    }

    /// Build from a symmetric CSR matrix (e.g. scipy's). Diagonal entries are dropped
    /// (counted as self-loops); an asymmetric pattern or weight is an error.
    pub fn from_csr(
        n: usize,
        indptr: &[i64],
        indices: &[i64],
        data: &[f64],
    ) -> Result<(Graph, BuildReport)> {
        if indptr.len() != n + 1 {
            return Err(CoreError::LengthMismatch {
                what: format!("indptr has length {} for {} rows", indptr.len(), n),
            });
        }
        if indices.len() != data.len() {
            return Err(CoreError::LengthMismatch {
                what: format!("{} indices but {} values", indices.len(), data.len()),
            });
        }
        let mut src = Vec::with_capacity(indices.len() / 2);
        let mut dst = Vec::with_capacity(indices.len() / 2);
        let mut w = Vec::with_capacity(indices.len() / 2);
        let mut lower: Vec<(i64, i64, f64)> = Vec::with_capacity(indices.len() / 2);
        let mut self_loops = 0usize;
        for r in 0..n {
            let (s, e) = (indptr[r], indptr[r + 1]);
            if s < 0 || e < s || e as usize > indices.len() {
                return Err(CoreError::InvalidArgument(format!(
                    "malformed CSR indptr at row {r}"
                )));
            }
            for k in s as usize..e as usize {
                let c = indices[k];
                if c < 0 || c as usize >= n {
                    return Err(CoreError::NodeOutOfRange { node: c, n });
                }
                let val = data[k];
                if val == 0.0 {
                    continue; // explicit zero: no edge
                }
                if !(val.is_finite() && val > 0.0) {
                    return Err(CoreError::InvalidArgument(format!(
                        "adjacency entry ({r}, {c}) = {val}: edge weights must be finite and > 0"
                    )));
                }
                let ri = r as i64;
                if c == ri {
                    self_loops += 1;
                } else if ri < c {
                    src.push(ri);
                    dst.push(c);
                    w.push(val);
                } else {
                    lower.push((c, ri, val));
                }
            }
        }
        // symmetry: upper and lower triangles must hold the same entries
        let mut upper: Vec<(i64, i64, f64)> = src
            .iter()
            .zip(dst.iter())
            .zip(w.iter())
            .map(|((&a, &b), &c)| (a, b, c))
            .collect();
        upper.sort_unstable_by_key(|e| (e.0, e.1));
        lower.sort_unstable_by_key(|e| (e.0, e.1));
        if upper.len() != lower.len() {
            return Err(CoreError::InvalidArgument(format!(
                "adjacency matrix is not symmetric: {} entries above the diagonal, {} below",
                upper.len(),
                lower.len()
            )));
        }
        for (a, b) in upper.iter().zip(lower.iter()) {
            if a.0 != b.0 || a.1 != b.1 || a.2 != b.2 {
                return Err(CoreError::InvalidArgument(format!(
                    "adjacency matrix is not symmetric: entry ({}, {}) = {} but ({}, {}) = {}",
                    a.0, a.1, a.2, b.1, b.0, b.2
                )));
            }
        }
        let (g, mut rep) = Graph::from_edges(n, &src, &dst, Some(&w))?;
        rep.self_loops += self_loops;
        Ok((g, rep))
    }

    /// Number of nodes.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of undirected edges.
    pub fn m(&self) -> usize {
        self.indices.len() / 2
    }
    /// CSR row pointers (length `n + 1`).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }
    /// CSR column indices (each undirected edge twice).
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }
    /// CSR values, aligned with [`Graph::indices`].
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
    /// Weighted degrees `d_u = Σ_v w_uv`.
    pub fn degrees(&self) -> &[f64] {
        &self.degrees
    }
    /// True if every edge weight equals 1 (an unweighted graph).
    pub fn unit_weights(&self) -> bool {
        self.unit_weights
    }
    /// Neighbours of `u` with weights.
    pub fn neighbors(&self, u: usize) -> impl Iterator<Item = (usize, f64)> + '_ {
        let (s, e) = (self.indptr[u], self.indptr[u + 1]);
        self.indices[s..e]
            .iter()
            .zip(self.weights[s..e].iter())
            .map(|(&v, &w)| (v as usize, w))
    }
    /// Unweighted degree (number of neighbours) of `u`.
    pub fn num_neighbors(&self, u: usize) -> usize {
        self.indptr[u + 1] - self.indptr[u]
    }
    /// Total volume `Σ_u d_u = 2 Σ_e w_e`.
    pub fn total_volume(&self) -> f64 {
        self.degrees.iter().sum()
    }

    /// Edges `(u, v, w)` with `u < v`, in CSR order.
    pub fn edges(&self) -> Vec<(usize, usize, f64)> {
        let mut out = Vec::with_capacity(self.m());
        for u in 0..self.n {
            for (v, w) in self.neighbors(u) {
                if u < v {
                    out.push((u, v, w));
                }
            }
        }
        out
    }

    /// The subgraph induced by `nodes` (relabelled `0..nodes.len()` in the given order).
    pub fn induced_subgraph(&self, nodes: &[usize]) -> Result<Graph> {
        let mut pos = vec![u32::MAX; self.n];
        for (k, &u) in nodes.iter().enumerate() {
            if u >= self.n {
                return Err(CoreError::NodeOutOfRange {
                    node: u as i64,
                    n: self.n,
                });
            }
            if pos[u] != u32::MAX {
                return Err(CoreError::InvalidSet(format!("node {u} listed twice")));
            }
            pos[u] = k as u32;
        }
        let mut edges = Vec::new();
        for (k, &u) in nodes.iter().enumerate() {
            for (v, w) in self.neighbors(u) {
                let pv = pos[v];
                if pv != u32::MAX && (k as u32) < pv {
                    edges.push((k as u32, pv, w));
                }
            }
        }
        edges.sort_unstable_by_key(|e| (e.0, e.1));
        Ok(Graph::from_canonical(nodes.len(), &edges))
    }

    /// Convert to a petgraph undirected graph with `f64` edge weights.
    pub fn to_petgraph(&self) -> UnGraph<(), f64> {
        let mut g = UnGraph::with_capacity(self.n, self.m());
        for _ in 0..self.n {
            g.add_node(());
        }
        for (u, v, w) in self.edges() {
            g.add_edge(NodeIndex::new(u), NodeIndex::new(v), w);
        }
        g
    }

    /// Build from a petgraph undirected graph whose edge weights convert to `f64`.
    pub fn from_petgraph<N, E: Copy + Into<f64>>(
        g: &UnGraph<N, E>,
    ) -> Result<(Graph, BuildReport)> {
        let mut src = Vec::with_capacity(g.edge_count());
        let mut dst = Vec::with_capacity(g.edge_count());
        let mut w = Vec::with_capacity(g.edge_count());
        for e in g.raw_edges() {
            src.push(e.source().index() as i64);
            dst.push(e.target().index() as i64);
            w.push(e.weight.into());
        }
        Graph::from_edges(g.node_count(), &src, &dst, Some(&w))
    }
}

/// Fail cleanly (instead of aborting or being killed later) when the per-node arrays of a
/// graph with `n` nodes cannot fit: reserve (without touching) one block the size of the four
/// `n`-long arrays the build needs. Under Linux's default overcommit heuristic an allocation
/// larger than RAM + swap is refused here.
/// Error unless every weighted degree and the total volume are finite (a sum of finite
/// weights, e.g. merged parallel edges of weight 1e308, can overflow to +inf).
fn check_finite_degrees(degrees: &[f64]) -> Result<()> {
    if let Some(u) = degrees.par_iter().position_first(|d| !d.is_finite()) {
        return Err(CoreError::InvalidArgument(format!(
            "weights overflow: the weighted degree of node {u} (the sum of its edge weights, \
             parallel edges merged) is not a finite number"
        )));
    }
    let total: f64 = degrees.par_iter().sum();
    if !total.is_finite() {
        return Err(CoreError::InvalidArgument(
            "weights overflow: the total volume (sum of all weighted degrees) is not a finite \
             number"
                .into(),
        ));
    }
    Ok(())
}

fn probe_memory(n: usize) -> Result<()> {
    let mut v: Vec<usize> = Vec::new();
    v.try_reserve_exact(n.saturating_add(1).saturating_mul(4))
        .map_err(|_| CoreError::OutOfMemory {
            what: format!("build a graph with {n} nodes"),
            mb: n
                .saturating_add(1)
                .saturating_mul(4 * std::mem::size_of::<usize>()) as f64
                / 1e6,
        })
}

/// Split `0..n` into one contiguous node range per rayon thread (fewer for small graphs).
fn node_ranges(n: usize) -> Vec<std::ops::Range<usize>> {
    let t = rayon::current_num_threads().clamp(1, (n / 4096).max(1));
    (0..t).map(|i| (i * n / t)..((i + 1) * n / t)).collect()
}

/// Run `f(rows, indices, weights, lens)` over blocks of consecutive CSR rows in parallel; each
/// call gets the slices of `indices`/`weights` covering exactly its rows and the matching part
/// of `lens` (one entry per row).
fn for_each_row_block<F>(
    indptr: &[usize],
    indices: &mut [u32],
    weights: &mut [f64],
    lens: &mut [usize],
    f: F,
) where
    F: Fn(std::ops::Range<usize>, &mut [u32], &mut [f64], &mut [usize]) + Sync,
{
    let n = lens.len();
    let nnz = indices.len();
    let blocks = (rayon::current_num_threads() * 8).max(1);
    let target = (nnz / blocks).max(1 << 14);
    let mut parts = Vec::new();
    let (mut idx, mut w, mut ln) = (indices, weights, lens);
    let mut start = 0usize;
    while start < n {
        // smallest end row whose block holds at least `target` entries
        let goal = indptr[start] + target;
        let end = match indptr[start + 1..=n].binary_search(&goal) {
            Ok(p) | Err(p) => (start + 1 + p).min(n),
        };
        let take = indptr[end] - indptr[start];
        let (a, rest_i) = idx.split_at_mut(take);
        let (b, rest_w) = w.split_at_mut(take);
        let (c, rest_l) = ln.split_at_mut(end - start);
        parts.push((start..end, a, b, c));
        idx = rest_i;
        w = rest_w;
        ln = rest_l;
        start = end;
    }
    parts
        .into_par_iter()
        .for_each(|(rows, a, b, c)| f(rows, a, b, c));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_symmetric_csr_and_merges() {
        let (g, rep) = Graph::from_edges(
            4,
            &[0, 1, 2, 1, 3],
            &[1, 2, 0, 0, 3],
            Some(&[1.0, 2.0, 3.0, 0.5, 9.0]),
        )
        .unwrap();
        assert_eq!(rep.self_loops, 1);
        assert_eq!(rep.merged, 1);
        assert_eq!(g.m(), 3);
        assert_eq!(g.degrees(), &[4.5, 3.5, 5.0, 0.0]);
        for u in 0..4 {
            for (v, w) in g.neighbors(u) {
                assert!(g.neighbors(v).any(|(x, y)| x == u && y == w));
            }
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            Graph::from_edges(2, &[0], &[2], None),
            Err(CoreError::NodeOutOfRange { node: 2, .. })
        ));
        for bad in [-1.0, 0.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Graph::from_edges(2, &[0], &[1], Some(&[bad])),
                Err(CoreError::InvalidWeight { .. })
            ));
        }
        assert!(Graph::from_csr(2, &[0, 1, 1], &[1], &[1.0]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn from_edges_matches_a_naive_merge(
            n in 1usize..40,
            raw in proptest::collection::vec((0i64..40, 0i64..40, 1u32..8), 0..300),
        ) {
            let edges: Vec<(i64, i64, f64)> = raw
                .into_iter()
                .map(|(a, b, w)| (a % n as i64, b % n as i64, w as f64 / 4.0))
                .collect();
            let src: Vec<i64> = edges.iter().map(|e| e.0).collect();
            let dst: Vec<i64> = edges.iter().map(|e| e.1).collect();
            let w: Vec<f64> = edges.iter().map(|e| e.2).collect();
            let (g, rep) = Graph::from_edges(n, &src, &dst, Some(&w)).unwrap();
            let mut want = std::collections::BTreeMap::new();
            let mut loops = 0;
            for &(a, b, x) in &edges {
                if a == b {
                    loops += 1;
                    continue;
                }
                *want.entry((a.min(b) as usize, a.max(b) as usize)).or_insert(0.0) += x;
            }
            let got: Vec<(usize, usize, f64)> = g.edges();
            let want: Vec<(usize, usize, f64)> =
                want.into_iter().map(|((a, b), x)| (a, b, x)).collect();
            proptest::prop_assert_eq!(&got, &want);
            proptest::prop_assert_eq!(rep.self_loops, loops);
            proptest::prop_assert_eq!(rep.merged, edges.len() - loops - want.len());
            for u in 0..n {
                let row: Vec<(usize, f64)> = g.neighbors(u).collect();
                proptest::prop_assert!(row.windows(2).all(|p| p[0].0 < p[1].0));
                for (v, x) in row {
                    proptest::prop_assert!(g.neighbors(v).any(|(y, z)| y == u && z == x));
                }
                let d: f64 = g.neighbors(u).map(|p| p.1).sum();
                proptest::prop_assert_eq!(g.degrees()[u], d);
            }
        }
    }

    #[test]
    fn overflowing_weights_are_errors() {
        // merged parallel edges 1e308 + 1e308 = inf
        let e = Graph::from_edges(3, &[0, 1, 1], &[1, 0, 2], Some(&[1e308, 1e308, 1.0]));
        assert!(matches!(e, Err(CoreError::InvalidArgument(m)) if m.contains("node 0")));
        // two edges at one node: a finite weight each, an infinite degree
        let e = Graph::from_edges(3, &[0, 0], &[1, 2], Some(&[1e308, 1e308]));
        assert!(
            matches!(e, Err(CoreError::InvalidArgument(m)) if m.starts_with("weights overflow"))
        );
        // finite degrees but an infinite total volume
        let e = Graph::from_edges(4, &[0, 2], &[1, 3], Some(&[1e308, 1e308]));
        assert!(matches!(e, Err(CoreError::InvalidArgument(m)) if m.contains("total volume")));
        assert!(Graph::from_edges(2, &[0, 0], &[1, 1], Some(&[1e307, 1e307])).is_ok());
    }

    #[test]
    fn impossible_sizes_are_errors_not_aborts() {
        assert!(matches!(
            probe_memory(usize::MAX / 2),
            Err(CoreError::OutOfMemory { ref what, .. }) if what.contains("graph with")
        ));
        assert!(probe_memory(1000).is_ok());
        assert!(matches!(
            Graph::from_edges(u32::MAX as usize + 1, &[], &[], None),
            Err(CoreError::InvalidArgument(_))
        ));
    }

    #[test]
    fn first_bad_edge_is_reported() {
        let err = Graph::from_edges(
            3,
            &[0, 1, 0, 2],
            &[1, 2, 2, 1],
            Some(&[1.0, 2.0, -1.0, 0.0]),
        );
        assert_eq!(
            err.unwrap_err(),
            CoreError::InvalidWeight {
                index: 2,
                u: 0,
                v: 2,
                value: -1.0
            }
        );
        assert_eq!(
            Graph::from_edges(3, &[0, 7, -1], &[1, 0, 0], None).unwrap_err(),
            CoreError::NodeOutOfRange { node: 7, n: 3 }
        );
    }

    #[test]
    fn large_build_splits_across_threads_and_matches_naive() {
        // enough nodes for several node ranges; LCG-generated edges with repeats and loops
        let n = 30_000usize;
        let mut x: u64 = 12345;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        let m = 200_000;
        let (mut src, mut dst, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..m {
            let a = next() % n;
            let b = if next() % 10 == 0 {
                a
            } else {
                (a + 1 + next() % 50) % n
            };
            src.push(a as i64);
            dst.push(b as i64);
            w.push((1 + next() % 4) as f64 * 0.5);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        let (g, rep) = pool
            .install(|| Graph::from_edges(n, &src, &dst, Some(&w)))
            .unwrap();
        let mut want = std::collections::BTreeMap::new();
        let mut loops = 0;
        for k in 0..m {
            let (a, b) = (src[k] as usize, dst[k] as usize);
            if a == b {
                loops += 1;
            } else {
                *want.entry((a.min(b), a.max(b))).or_insert(0.0) += w[k];
            }
        }
        assert_eq!(rep.self_loops, loops);
        assert_eq!(rep.merged, m - loops - want.len());
        let want: Vec<(usize, usize, f64)> =
            want.into_iter().map(|((a, b), c)| (a, b, c)).collect();
        assert_eq!(g.edges(), want);
        let (h, _) = pool
            .install(|| Graph::from_edges(n, &src, &dst, None))
            .unwrap();
        assert_eq!(h.m(), g.m());
        assert!(!h.unit_weights());
    }

    #[test]
    fn petgraph_round_trip() {
        let (g, _) =
            Graph::from_edges(5, &[0, 1, 2, 3], &[1, 2, 3, 4], Some(&[1., 2., 3., 4.])).unwrap();
        let p = g.to_petgraph();
        let (h, _) = Graph::from_petgraph(&p).unwrap();
        assert_eq!(g, h);
        let sub = g.induced_subgraph(&[3, 2, 4]).unwrap();
        assert_eq!(sub.m(), 2);
        assert_eq!(sub.degrees(), &[7.0, 3.0, 4.0]);
    }
}

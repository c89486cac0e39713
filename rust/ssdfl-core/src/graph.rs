//! Undirected weighted graph in compressed sparse row (CSR) form.

use crate::error::{CoreError, Result};
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
    /// the report). Errors on out-of-range endpoints and weights that are not finite and > 0.
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
        let mut report = BuildReport::default();
        let mut edges: Vec<(u32, u32, f64)> = Vec::with_capacity(src.len());
        for k in 0..src.len() {
            let (a, b) = (src[k], dst[k]);
            for x in [a, b] {
                if x < 0 || x as u64 >= n as u64 {
                    return Err(CoreError::NodeOutOfRange { node: x, n });
                }
            }
            let w = weights.map_or(1.0, |w| w[k]);
            if !(w.is_finite() && w > 0.0) {
                return Err(CoreError::InvalidWeight {
                    index: k,
                    u: a as usize,
                    v: b as usize,
                    value: w,
                });
            }
            if a == b {
                report.self_loops += 1;
                continue;
            }
            let (u, v) = if a < b { (a, b) } else { (b, a) };
            edges.push((u as u32, v as u32, w));
        }
        let unit = weights.is_none();
        edges.par_sort_unstable_by_key(|e| (e.0, e.1));
        // merge parallel edges
        let mut merged: Vec<(u32, u32, f64)> = Vec::with_capacity(edges.len());
        for e in edges {
            match merged.last_mut() {
                Some(last) if last.0 == e.0 && last.1 == e.1 => {
                    last.2 += e.2;
                    report.merged += 1;
                }
                _ => merged.push(e),
            }
        }
        let g = Self::from_canonical(n, &merged, unit && report.merged == 0);
        Ok((g, report))
    }

    /// Build from canonical edges `(u, v, w)` with `u < v`, sorted and without duplicates.
    fn from_canonical(n: usize, edges: &[(u32, u32, f64)], unit_weights: bool) -> Graph {
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
    /// True if every weight is 1 (built without weights and without merged edges).
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
        Ok(Graph::from_canonical(
            nodes.len(),
            &edges,
            self.unit_weights,
        ))
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

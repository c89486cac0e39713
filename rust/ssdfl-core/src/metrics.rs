//! Cut metrics and connectivity. Node sets are boolean masks of length `n`.
//!
//! Definitions (networkx semantics, weighted): `vol(S) = Σ_{u∈S} d_u` with weighted degrees
//! `d_u = Σ_v w_uv`; `cut(S, T) = Σ_{u∈S, v∈T, {u,v}∈E} w_uv`, each edge once;
//! `cut(S) = cut(S, V∖S)`.

use crate::error::{CoreError, Result};
use crate::graph::Graph;
use petgraph::unionfind::UnionFind;
use rayon::prelude::*;

const PAR_THRESHOLD: usize = 1 << 15;

fn check_mask(g: &Graph, mask: &[bool]) -> Result<()> {
    if mask.len() != g.n() {
        return Err(CoreError::LengthMismatch {
            what: format!(
                "mask has length {} for a graph with {} nodes",
                mask.len(),
                g.n()
            ),
        });
    }
    Ok(())
}

/// Number of `true` entries.
pub fn set_size(mask: &[bool]) -> usize {
    mask.iter().filter(|&&b| b).count()
}

fn check_proper(g: &Graph, mask: &[bool]) -> Result<usize> {
    check_mask(g, mask)?;
    let k = set_size(mask);
    if k == 0 {
        return Err(CoreError::InvalidSet("the set is empty".into()));
    }
    if k == g.n() {
        return Err(CoreError::InvalidSet(
            "the set contains every node (its complement is empty)".into(),
        ));
    }
    Ok(k)
}

/// How a metric weighs edges: by their stored weights, or each as 1 (networkx's
/// `weight=None`). `Unit` reads the CSR structure only, so an unweighted metric on a weighted
/// graph costs what the weighted one costs (no unweighted copy of the graph).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Weighting {
    /// The stored edge weights.
    #[default]
    Stored,
    /// Every edge counts 1; the degree of `u` is its number of neighbours.
    Unit,
}

impl Weighting {
    /// `Unit` when `unit` is true, else `Stored`.
    pub fn unit_if(unit: bool) -> Self {
        if unit {
            Weighting::Unit
        } else {
            Weighting::Stored
        }
    }

    fn degree(self, g: &Graph, u: usize) -> f64 {
        match self {
            Weighting::Stored => g.degrees()[u],
            Weighting::Unit => g.num_neighbors(u) as f64,
        }
    }

    fn total_volume(self, g: &Graph) -> f64 {
        match self {
            Weighting::Stored => g.total_volume(),
            Weighting::Unit => g.indices().len() as f64,
        }
    }

    /// Sum over the neighbours `v` of `u` that pass `keep` of the weight of `{u, v}`.
    fn row_sum(self, g: &Graph, u: usize, keep: impl Fn(usize) -> bool) -> f64 {
        match self {
            Weighting::Stored => g
                .neighbors(u)
                .filter(|&(v, _)| keep(v))
                .map(|(_, w)| w)
                .sum(),
            Weighting::Unit => g.neighbors(u).filter(|&(v, _)| keep(v)).count() as f64,
        }
    }
}

/// Volume `vol(S) = Σ_{u∈S} d_u` (weighted degrees).
pub fn volume(g: &Graph, mask: &[bool]) -> Result<f64> {
    volume_with(g, mask, Weighting::Stored)
}

/// Volume `vol(S) = Σ_{u∈S} d_u` with degrees under `wt`.
pub fn volume_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<f64> {
    check_mask(g, mask)?;
    let deg = |u: usize| wt.degree(g, u);
    Ok(if g.n() >= PAR_THRESHOLD {
        (0..g.n())
            .into_par_iter()
            .filter(|&u| mask[u])
            .map(deg)
            .sum()
    } else {
        (0..g.n()).filter(|&u| mask[u]).map(deg).sum()
    })
}

/// Cut `cut(S, V∖S)`: total weight of edges with exactly one endpoint in `S`.
pub fn cut_size(g: &Graph, mask: &[bool]) -> Result<f64> {
    cut_size_with(g, mask, Weighting::Stored)
}

/// Cut `cut(S, V∖S)` with edges weighted under `wt`.
pub fn cut_size_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<f64> {
    check_mask(g, mask)?;
    let row = |u: usize| wt.row_sum(g, u, |v| !mask[v]);
    Ok(if g.indices().len() >= PAR_THRESHOLD {
        (0..g.n())
            .into_par_iter()
            .filter(|&u| mask[u])
            .map(row)
            .sum()
    } else {
        (0..g.n()).filter(|&u| mask[u]).map(row).sum()
    })
}

/// Cut between two node sets: `Σ w_uv` over edges `{u, v}` with `u∈S, v∈T` or `u∈T, v∈S`,
/// each edge once. For disjoint sets this is networkx's `cut_size(G, S, T)`.
pub fn cut_between(g: &Graph, s: &[bool], t: &[bool]) -> Result<f64> {
    cut_between_with(g, s, t, Weighting::Stored)
}

/// [`cut_between`] with edges weighted under `wt`.
pub fn cut_between_with(g: &Graph, s: &[bool], t: &[bool], wt: Weighting) -> Result<f64> {
    check_mask(g, s)?;
    check_mask(g, t)?;
    let row = |u: usize| -> f64 {
        if !(s[u] || t[u]) {
            return 0.0;
        }
        wt.row_sum(g, u, |v| u < v && ((s[u] && t[v]) || (t[u] && s[v])))
    };
    Ok(if g.indices().len() >= PAR_THRESHOLD {
        (0..g.n()).into_par_iter().map(row).sum()
    } else {
        (0..g.n()).map(row).sum()
    })
}

/// The quantities every set metric needs: `(|S|, cut(S), vol(S), vol(V∖S))`.
pub fn set_stats(g: &Graph, mask: &[bool]) -> Result<(usize, f64, f64, f64)> {
    set_stats_with(g, mask, Weighting::Stored)
}

/// [`set_stats`] with edges weighted under `wt`.
pub fn set_stats_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<(usize, f64, f64, f64)> {
    let k = check_proper(g, mask)?;
    let cut = cut_size_with(g, mask, wt)?;
    let vol = volume_with(g, mask, wt)?;
    let rest = wt.total_volume(g) - vol;
    Ok((k, cut, vol, rest))
}

fn positive_volumes(vs: f64, vt: f64) -> Result<()> {
    if vs <= 0.0 || vt <= 0.0 {
        return Err(CoreError::InvalidSet(format!(
            "conductance is undefined when a side has zero volume (vol S = {vs}, vol S̄ = {vt})"
        )));
    }
    Ok(())
}

/// Conductance `cut(S) / min(vol S, vol S̄)`.
pub fn conductance(g: &Graph, mask: &[bool]) -> Result<f64> {
    conductance_with(g, mask, Weighting::Stored)
}

/// [`conductance`] with edges weighted under `wt`.
pub fn conductance_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<f64> {
    let (_, cut, vs, vt) = set_stats_with(g, mask, wt)?;
    positive_volumes(vs, vt)?;
    Ok(cut / vs.min(vt))
}

/// Normalized cut `cut(S)·(1/vol S + 1/vol S̄)`.
pub fn normalized_cut(g: &Graph, mask: &[bool]) -> Result<f64> {
    normalized_cut_with(g, mask, Weighting::Stored)
}

/// [`normalized_cut`] with edges weighted under `wt`.
pub fn normalized_cut_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<f64> {
    let (_, cut, vs, vt) = set_stats_with(g, mask, wt)?;
    positive_volumes(vs, vt)?;
    Ok(cut / vs + cut / vt)
}

/// Edge expansion `cut(S) / min(|S|, |S̄|)`.
pub fn edge_expansion(g: &Graph, mask: &[bool]) -> Result<f64> {
    edge_expansion_with(g, mask, Weighting::Stored)
}

/// [`edge_expansion`] with edges weighted under `wt`.
pub fn edge_expansion_with(g: &Graph, mask: &[bool], wt: Weighting) -> Result<f64> {
    let (k, cut, _, _) = set_stats_with(g, mask, wt)?;
    Ok(cut / (k.min(g.n() - k) as f64))
}

/// Connected-component label of every node (labels `0..c`, numbered by smallest member)
/// and the number of components `c`. Uses petgraph's union-find.
pub fn connected_components(g: &Graph) -> (Vec<usize>, usize) {
    let n = g.n();
    let mut uf = UnionFind::<u32>::new(n);
    for u in 0..n {
        for (v, _) in g.neighbors(u) {
            if u < v {
                uf.union(u as u32, v as u32);
            }
        }
    }
    let mut label_of_root = vec![usize::MAX; n];
    let mut labels = vec![0usize; n];
    let mut c = 0;
    for (u, lab) in labels.iter_mut().enumerate() {
        let r = uf.find(u as u32) as usize;
        if label_of_root[r] == usize::MAX {
            label_of_root[r] = c;
            c += 1;
        }
        *lab = label_of_root[r];
    }
    (labels, c)
}

/// True if the graph has at least one node and a single connected component.
pub fn is_connected(g: &Graph) -> bool {
    g.n() > 0 && connected_components(g).1 == 1
}

/// True if the subgraph induced by the nodes of `mask` is connected (BFS inside the set).
/// An empty set is not connected.
pub fn is_set_connected(g: &Graph, mask: &[bool]) -> Result<bool> {
    check_mask(g, mask)?;
    let Some(start) = mask.iter().position(|&b| b) else {
        return Ok(false);
    };
    let total = set_size(mask);
    let mut seen = vec![false; g.n()];
    let mut stack = vec![start];
    seen[start] = true;
    let mut count = 1;
    while let Some(u) = stack.pop() {
        for (v, _) in g.neighbors(u) {
            if mask[v] && !seen[v] {
                seen[v] = true;
                count += 1;
                stack.push(v);
            }
        }
    }
    Ok(count == total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path4() -> Graph {
        Graph::from_edges(4, &[0, 1, 2], &[1, 2, 3], Some(&[1.0, 2.0, 3.0]))
            .unwrap()
            .0
    }

    #[test]
    fn path_metrics_match_hand_values() {
        let g = path4();
        let s = [true, true, false, false];
        assert_eq!(volume(&g, &s).unwrap(), 4.0);
        assert_eq!(cut_size(&g, &s).unwrap(), 2.0);
        assert_eq!(conductance(&g, &s).unwrap(), 2.0 / 4.0);
        assert_eq!(normalized_cut(&g, &s).unwrap(), 2.0 / 4.0 + 2.0 / 8.0);
        assert_eq!(edge_expansion(&g, &s).unwrap(), 1.0);
        assert_eq!(
            cut_between(
                &g,
                &[true, false, false, false],
                &[false, false, false, true]
            )
            .unwrap(),
            0.0
        );
        assert!(conductance(&g, &[false; 4]).is_err());
        assert!(conductance(&g, &[true; 4]).is_err());
    }

    #[test]
    fn unit_weighting_equals_an_unweighted_copy() {
        let (src, dst, w): (Vec<i64>, Vec<i64>, Vec<f64>) = (
            vec![0, 0, 1, 2, 3, 4, 1],
            vec![1, 2, 2, 3, 4, 5, 5],
            vec![2.5, 1.0, 4.0, 0.5, 3.0, 7.0, 1.5],
        );
        let g = Graph::from_edges(6, &src, &dst, Some(&w)).unwrap().0;
        let u = Graph::from_edges(6, &src, &dst, None).unwrap().0;
        let s = [true, true, false, false, true, false];
        let t = [false, false, true, false, false, true];
        let unit = Weighting::Unit;
        assert_eq!(volume_with(&g, &s, unit).unwrap(), volume(&u, &s).unwrap());
        assert_eq!(volume_with(&g, &s, unit).unwrap(), 7.0); // degrees 2 + 3 + 2
        assert_eq!(
            cut_size_with(&g, &s, unit).unwrap(),
            cut_size(&u, &s).unwrap()
        );
        assert_eq!(cut_size_with(&g, &s, unit).unwrap(), 5.0);
        assert_eq!(
            cut_between_with(&g, &s, &t, unit).unwrap(),
            cut_between(&u, &s, &t).unwrap()
        );
        assert_eq!(conductance_with(&g, &s, unit).unwrap(), 5.0 / 7.0); // vol S̄ = 14 − 7
        assert_eq!(
            normalized_cut_with(&g, &s, unit).unwrap(),
            normalized_cut(&u, &s).unwrap()
        );
        assert_eq!(
            edge_expansion_with(&g, &s, unit).unwrap(),
            edge_expansion(&u, &s).unwrap()
        );
        // Stored is the weighted metric
        assert_eq!(
            volume_with(&g, &s, Weighting::Stored).unwrap(),
            volume(&g, &s).unwrap()
        );
        assert_ne!(volume(&g, &s).unwrap(), volume(&u, &s).unwrap());
    }

    #[test]
    fn components() {
        let g = Graph::from_edges(5, &[0, 3], &[1, 4], None).unwrap().0;
        let (lab, c) = connected_components(&g);
        assert_eq!(c, 3);
        assert_eq!(lab, vec![0, 0, 1, 2, 2]);
        assert!(!is_connected(&g));
        assert!(is_connected(&path4()));
        assert!(!is_set_connected(&path4(), &[true, false, true, false]).unwrap());
        assert!(is_set_connected(&path4(), &[false, true, true, false]).unwrap());
    }
}

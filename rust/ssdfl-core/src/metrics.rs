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

/// Volume `vol(S) = Σ_{u∈S} d_u` (weighted degrees).
pub fn volume(g: &Graph, mask: &[bool]) -> Result<f64> {
    check_mask(g, mask)?;
    let d = g.degrees();
    Ok(if g.n() >= PAR_THRESHOLD {
        (0..g.n())
            .into_par_iter()
            .filter(|&u| mask[u])
            .map(|u| d[u])
            .sum()
    } else {
        (0..g.n()).filter(|&u| mask[u]).map(|u| d[u]).sum()
    })
}

fn row_cut(g: &Graph, u: usize, mask: &[bool]) -> f64 {
    g.neighbors(u)
        .filter(|&(v, _)| !mask[v])
        .map(|(_, w)| w)
        .sum()
}

/// Cut `cut(S, V∖S)`: total weight of edges with exactly one endpoint in `S`.
pub fn cut_size(g: &Graph, mask: &[bool]) -> Result<f64> {
    check_mask(g, mask)?;
    Ok(if g.indices().len() >= PAR_THRESHOLD {
        (0..g.n())
            .into_par_iter()
            .filter(|&u| mask[u])
            .map(|u| row_cut(g, u, mask))
            .sum()
    } else {
        (0..g.n())
            .filter(|&u| mask[u])
            .map(|u| row_cut(g, u, mask))
            .sum()
    })
}

/// Cut between two node sets: `Σ w_uv` over edges `{u, v}` with `u∈S, v∈T` or `u∈T, v∈S`,
/// each edge once. For disjoint sets this is networkx's `cut_size(G, S, T)`.
pub fn cut_between(g: &Graph, s: &[bool], t: &[bool]) -> Result<f64> {
    check_mask(g, s)?;
    check_mask(g, t)?;
    let row = |u: usize| -> f64 {
        g.neighbors(u)
            .filter(|&(v, _)| u < v && ((s[u] && t[v]) || (t[u] && s[v])))
            .map(|(_, w)| w)
            .sum::<f64>()
    };
    Ok(if g.indices().len() >= PAR_THRESHOLD {
        (0..g.n()).into_par_iter().map(row).sum()
    } else {
        (0..g.n()).map(row).sum()
    })
}

/// The quantities every set metric needs: `(|S|, cut(S), vol(S), vol(V∖S))`.
pub fn set_stats(g: &Graph, mask: &[bool]) -> Result<(usize, f64, f64, f64)> {
    let k = check_proper(g, mask)?;
    let cut = cut_size(g, mask)?;
    let vol = volume(g, mask)?;
    let rest = g.total_volume() - vol;
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
    let (_, cut, vs, vt) = set_stats(g, mask)?;
    positive_volumes(vs, vt)?;
    Ok(cut / vs.min(vt))
}

/// Normalized cut `cut(S)·(1/vol S + 1/vol S̄)`.
pub fn normalized_cut(g: &Graph, mask: &[bool]) -> Result<f64> {
    let (_, cut, vs, vt) = set_stats(g, mask)?;
    positive_volumes(vs, vt)?;
    Ok(cut / vs + cut / vt)
}

/// Edge expansion `cut(S) / min(|S|, |S̄|)`.
pub fn edge_expansion(g: &Graph, mask: &[bool]) -> Result<f64> {
    let (k, cut, _, _) = set_stats(g, mask)?;
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

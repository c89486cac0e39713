//! Sweep cuts: the best prefix of a node ordering.
//!
//! For an ordering `π` of the nodes (ascending values of a vector `x`, ties by node index),
//! the prefix sets are `S_k = {π_1, …, π_k}`, `k = 1..n−1`. Their cuts come from one pass:
//! adding node `u` to the prefix changes the cut by `d_u − 2 w(u, S)`, and `w(u, S)` is the
//! weight from `u` to its neighbours ranked before it, so every node's increment is computed
//! independently (in parallel) and a prefix sum gives all cuts: `O(m + n log n)` in total.
//!
//! The sweep value is `min_k cut(S_k) / min(μ(S_k), μ(V∖S_k))` for the mass `μ` of a
//! [`Normalization`]; prefixes where the denominator is 0 are skipped. With `x = D^{-1/2} v₂`
//! (`v₂` the Fiedler vector of the normalized Laplacian) and `Volume`, the sweep value is at
//! most `√(2 λ₂)` (Cheeger's inequality, constructive side).

use crate::cheeger::{finish_cut, CheegerCut, Normalization};
use crate::error::{CoreError, Result};
use crate::graph::Graph;
use rayon::prelude::*;

const PAR_THRESHOLD: usize = 1 << 14;

/// Cut, volume and size of every prefix of an ordering.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepProfile {
    /// The ordering (a permutation of `0..n`).
    pub order: Vec<usize>,
    /// `cut[k]` = cut of the prefix of the first `k + 1` nodes, `k = 0..n−1` (the last entry,
    /// the whole vertex set, is 0).
    pub cut: Vec<f64>,
    /// `volume[k]` = volume (weighted degree sum) of the same prefix.
    pub volume: Vec<f64>,
    /// Total volume `vol(V)`; the complement of prefix `k` has volume `total_volume − volume[k]`.
    pub total_volume: f64,
}

/// The ordering by ascending `values` (ties by node index). Errors on NaN.
pub fn sweep_order(values: &[f64]) -> Result<Vec<usize>> {
    if let Some(i) = values.iter().position(|x| x.is_nan()) {
        return Err(CoreError::InvalidArgument(format!(
            "sweep vector has NaN at node {i}"
        )));
    }
    // sort (order-preserving u64 key, index) pairs: no indirect loads in the comparisons
    let key = |x: f64| -> u64 {
        let b = x.to_bits();
        if b >> 63 == 1 {
            !b
        } else {
            b | (1 << 63)
        }
    };
    let mut pairs: Vec<(u64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &x)| (key(if x == 0.0 { 0.0 } else { x }), i as u32))
        .collect();
    if values.len() >= PAR_THRESHOLD {
        pairs.par_sort_unstable();
    } else {
        pairs.sort_unstable();
    }
    Ok(pairs.into_iter().map(|(_, i)| i as usize).collect())
}

/// Cut and volume of every prefix of `order` (which must be a permutation of `0..n`).
pub fn sweep_profile(g: &Graph, order: &[usize]) -> Result<SweepProfile> {
    let n = g.n();
    if order.len() != n {
        return Err(CoreError::LengthMismatch {
            what: format!("ordering has length {} for {} nodes", order.len(), n),
        });
    }
    let mut rank = vec![u32::MAX; n];
    for (k, &u) in order.iter().enumerate() {
        if u >= n {
            return Err(CoreError::NodeOutOfRange { node: u as i64, n });
        }
        if rank[u] != u32::MAX {
            return Err(CoreError::InvalidArgument(format!(
                "ordering lists node {u} twice"
            )));
        }
        rank[u] = k as u32;
    }
    let deg = g.degrees();
    let (indptr, indices, weights) = (g.indptr(), g.indices(), g.weights());
    // node-order pass (sequential CSR reads): increment of u = d_u − 2·w(u, earlier nodes)
    let delta = |u: usize| -> f64 {
        let ru = rank[u];
        let mut before = 0.0;
        for k in indptr[u]..indptr[u + 1] {
            if rank[indices[k] as usize] < ru {
                before += weights[k];
            }
        }
        deg[u] - 2.0 * before
    };
    let by_node: Vec<f64> = if g.indices().len() >= PAR_THRESHOLD {
        (0..n).into_par_iter().map(delta).collect()
    } else {
        (0..n).map(delta).collect()
    };
    let inc: Vec<f64> = order.iter().map(|&u| by_node[u]).collect();
    let mut cut = Vec::with_capacity(n);
    let mut volume = Vec::with_capacity(n);
    let (mut c, mut v) = (0.0, 0.0);
    for (k, &d) in inc.iter().enumerate() {
        c += d;
        v += deg[order[k]];
        cut.push(c.max(0.0));
        volume.push(v);
    }
    if let Some(last) = cut.last_mut() {
        *last = 0.0;
    }
    Ok(SweepProfile {
        order: order.to_vec(),
        cut,
        volume,
        total_volume: g.total_volume(),
    })
}

/// Result of a sweep: the best cut and the prefix that gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepCut {
    /// The cut (set = lighter side of the best prefix split, value recomputed from scratch).
    pub cut: CheegerCut,
    /// Number of nodes in the best prefix (`1..n−1`).
    pub prefix_len: usize,
    /// The ordering used.
    pub order: Vec<usize>,
}

/// Best prefix of the ordering by ascending `values` under `norm`.
///
/// Errors: fewer than 2 nodes, length mismatch, NaN in `values`, or no prefix with a positive
/// denominator (every node isolated under `Volume`).
pub fn sweep_cut(g: &Graph, values: &[f64], norm: Normalization) -> Result<SweepCut> {
    let n = g.n();
    if n < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "a sweep cut needs at least 2 nodes, the graph has {n}"
        )));
    }
    if values.len() != n {
        return Err(CoreError::LengthMismatch {
            what: format!("vector has length {} for {} nodes", values.len(), n),
        });
    }
    let order = sweep_order(values)?;
    let prof = sweep_profile(g, &order)?;
    let (mut best, mut best_k) = (f64::INFINITY, usize::MAX);
    let mut size = 0.0;
    let total = match norm {
        Normalization::Volume => prof.total_volume,
        Normalization::Size => n as f64,
    };
    for k in 0..n - 1 {
        size += 1.0;
        let m = match norm {
            Normalization::Volume => prof.volume[k],
            Normalization::Size => size,
        };
        let den = m.min(total - m);
        if den > 0.0 {
            let v = prof.cut[k] / den;
            if v < best {
                best = v;
                best_k = k;
            }
        }
    }
    if best_k == usize::MAX {
        return Err(CoreError::InvalidArgument(
            "no prefix has positive volume on both sides".into(),
        ));
    }
    let mut mask = vec![false; n];
    for &u in &order[..=best_k] {
        mask[u] = true;
    }
    let mass = norm.masses(g);
    Ok(SweepCut {
        cut: finish_cut(g, mask, &mass),
        prefix_len: best_k + 1,
        order,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics;

    fn path(n: usize) -> Graph {
        let s: Vec<i64> = (0..n as i64 - 1).collect();
        let d: Vec<i64> = (1..n as i64).collect();
        Graph::from_edges(n, &s, &d, None).unwrap().0
    }

    #[test]
    fn profile_matches_from_scratch_metrics() {
        let g = Graph::from_edges(
            6,
            &[0, 0, 1, 2, 3, 4, 1],
            &[1, 2, 2, 3, 4, 5, 5],
            Some(&[1.0, 2.0, 0.5, 3.0, 1.5, 2.5, 0.25]),
        )
        .unwrap()
        .0;
        let order = vec![3, 0, 5, 1, 4, 2];
        let p = sweep_profile(&g, &order).unwrap();
        let mut mask = vec![false; 6];
        for k in 0..5 {
            mask[order[k]] = true;
            assert!((p.cut[k] - metrics::cut_size(&g, &mask).unwrap()).abs() < 1e-12);
            assert!((p.volume[k] - metrics::volume(&g, &mask).unwrap()).abs() < 1e-12);
        }
        assert_eq!(p.cut[5], 0.0);
        assert!(sweep_profile(&g, &[0, 0, 1, 2, 3, 4]).is_err());
        assert!(sweep_profile(&g, &[0, 1]).is_err());
    }

    #[test]
    fn order_is_ascending_with_ties_by_index() {
        let x = [0.5, -1.0, 0.5, -0.0, 0.0, f64::INFINITY, -3.0];
        assert_eq!(sweep_order(&x).unwrap(), vec![6, 1, 3, 4, 0, 2, 5]);
        let big: Vec<f64> = (0..40_000)
            .map(|i| ((i * 7919) % 1000) as f64 - 500.0)
            .collect();
        let o = sweep_order(&big).unwrap();
        assert!(o
            .windows(2)
            .all(|p| big[p[0]] < big[p[1]] || (big[p[0]] == big[p[1]] && p[0] < p[1])));
    }

    #[test]
    fn path_sweep_by_position_finds_middle_cut() {
        let n = 10;
        let g = path(n);
        let x: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let r = sweep_cut(&g, &x, Normalization::Volume).unwrap();
        // exact: cut 1, vol of half = 9 → 1/9.
        assert!((r.cut.value - 1.0 / 9.0).abs() < 1e-12);
        assert_eq!(r.prefix_len, 5);
        let s = sweep_cut(&g, &x, Normalization::Size).unwrap();
        assert!((s.cut.value - 1.0 / 5.0).abs() < 1e-12);
        assert!(sweep_cut(&g, &[f64::NAN; 10], Normalization::Volume).is_err());
    }

    #[test]
    fn sweep_is_never_below_exact() {
        let g = Graph::from_edges(
            7,
            &[0, 1, 2, 3, 4, 5, 0, 2],
            &[1, 2, 3, 4, 5, 6, 6, 5],
            Some(&[1.0, 2.0, 3.0, 0.5, 1.0, 2.0, 1.0, 0.7]),
        )
        .unwrap()
        .0;
        let exact =
            crate::cheeger::exact_cheeger(&g, Normalization::Volume, 32, &crate::error::never_stop)
                .unwrap();
        for seed in 0..20u64 {
            let x: Vec<f64> = (0..7)
                .map(|i| ((i as u64 * 2654435761 + seed * 97) % 101) as f64)
                .collect();
            let s = sweep_cut(&g, &x, Normalization::Volume).unwrap();
            assert!(s.cut.value >= exact.value - 1e-12);
        }
    }
}

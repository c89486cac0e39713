//! Laplacian spectra of small graphs (dense cyclic Jacobi), Cheeger bounds, and the internal
//! conductance of a cluster (exact enumeration or Fiedler sweep with certified bounds).
//!
//! Definitions: `L = D − A` (combinatorial) and `𝓛 = I − D^{-1/2} A D^{-1/2}` (normalized;
//! rows and columns of isolated nodes are zero, networkx convention); `λ₂` is the
//! second-smallest eigenvalue, 0 exactly for disconnected graphs. The Fiedler vector is the
//! unit eigenvector of `λ₂` with the sign fixed so that the first entry of magnitude at least
//! `1e-6·max|v|` is positive. Large graphs are the Python layer's job (sparse Lanczos); the
//! dense routines here refuse more than [`DENSE_EIGEN_MAX`] nodes.

use crate::cheeger::{self, CheegerCut, Normalization};
use crate::error::{CoreError, Result, StopFn};
use crate::graph::Graph;
use crate::metrics::connected_components;
use crate::sweep;

/// Largest graph handled by the dense Jacobi eigensolver (about `10 n³` flops).
pub const DENSE_EIGEN_MAX: usize = 400;

/// Dense row-major Laplacian (`normalized`: `𝓛`, else `L`).
pub fn laplacian_dense(g: &Graph, normalized: bool) -> Vec<f64> {
    let n = g.n();
    let d = g.degrees();
    let mut a = vec![0.0; n * n];
    for u in 0..n {
        if normalized {
            if d[u] > 0.0 {
                a[u * n + u] = 1.0;
            }
            for (v, w) in g.neighbors(u) {
                a[u * n + v] = -w / (d[u] * d[v]).sqrt();
            }
        } else {
            a[u * n + u] = d[u];
            for (v, w) in g.neighbors(u) {
                a[u * n + v] = -w;
            }
        }
    }
    a
}

/// All eigenpairs of a symmetric row-major `n × n` matrix by cyclic Jacobi rotations:
/// `(values ascending, vectors)` with `vectors[k]` the unit eigenvector of `values[k]`.
pub fn symmetric_eigen(a: &[f64], n: usize) -> Result<(Vec<f64>, Vec<Vec<f64>>)> {
    if a.len() != n * n {
        return Err(CoreError::LengthMismatch {
            what: format!("matrix has {} entries, expected {n}×{n}", a.len()),
        });
    }
    if a.iter().any(|x| !x.is_finite()) {
        return Err(CoreError::InvalidArgument(
            "matrix has a non-finite entry".into(),
        ));
    }
    let mut a = a.to_vec();
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let norm2: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let mut off = 0.0;
        for p in 0..n {
            for q in p + 1..n {
                off += a[p * n + q] * a[p * n + q];
            }
        }
        if off <= 1e-32 * norm2 || off == 0.0 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.sort_by(|&i, &j| a[i * n + i].total_cmp(&a[j * n + j]));
    let values = idx.iter().map(|&i| a[i * n + i]).collect();
    let vectors = idx
        .iter()
        .map(|&i| (0..n).map(|k| v[k * n + i]).collect())
        .collect();
    Ok((values, vectors))
}

fn fix_sign(mut v: Vec<f64>) -> Vec<f64> {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let big = v.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let first = v.iter().position(|x| x.abs() >= 1e-6 * big).unwrap_or(0);
    let s = if v.get(first).copied().unwrap_or(0.0) < 0.0 {
        -1.0 / norm
    } else {
        1.0 / norm
    };
    for x in v.iter_mut() {
        *x *= s;
    }
    v
}

fn check_dense(g: &Graph) -> Result<()> {
    if g.n() < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "spectral quantities need at least 2 nodes, the graph has {}",
            g.n()
        )));
    }
    if g.n() > DENSE_EIGEN_MAX {
        return Err(CoreError::TooLarge {
            what: "graph".into(),
            size: g.n(),
            limit: DENSE_EIGEN_MAX,
            hint: "use the sparse eigensolver of the Python API (ssdfl.fiedler_vector)".into(),
        });
    }
    Ok(())
}

/// `λ₂` of `𝓛` (`normalized`) or `L`; 0 for a disconnected graph. Dense, `n ≤ 400`.
pub fn algebraic_connectivity_dense(g: &Graph, normalized: bool) -> Result<f64> {
    check_dense(g)?;
    if connected_components(g).1 > 1 {
        return Ok(0.0);
    }
    let (vals, _) = symmetric_eigen(&laplacian_dense(g, normalized), g.n())?;
    Ok(vals[1].max(0.0))
}

/// `(λ₂, Fiedler vector)` of `𝓛` (`normalized`) or `L`. Errors with `Disconnected` on a
/// disconnected graph. Dense, `n ≤ 400`.
pub fn fiedler_dense(g: &Graph, normalized: bool) -> Result<(f64, Vec<f64>)> {
    check_dense(g)?;
    let c = connected_components(g).1;
    if c > 1 {
        return Err(CoreError::Disconnected {
            components: c,
            context: "λ₂ = 0 and the Fiedler vector is not defined".into(),
        });
    }
    let (vals, mut vecs) = symmetric_eigen(&laplacian_dense(g, normalized), g.n())?;
    let v = std::mem::take(&mut vecs[1]);
    Ok((vals[1].max(0.0), fix_sign(v)))
}

/// Cheeger bounds `(λ₂/2, √(2λ₂))` for `λ₂` of `𝓛`: `λ₂/2 ≤ h(G) ≤ √(2λ₂)`.
pub fn cheeger_bounds_dense(g: &Graph) -> Result<(f64, f64)> {
    let lam = algebraic_connectivity_dense(g, true)?;
    Ok((lam / 2.0, (2.0 * lam).sqrt()))
}

/// A Cheeger constant or its certified bracket.
#[derive(Debug, Clone, PartialEq)]
pub struct CheegerEstimate {
    /// The cut found: exact minimizer, or the best sweep cut. Its mask has the length of
    /// the graph the caller passed (for [`internal_conductance`]: the big graph).
    pub cut: CheegerCut,
    /// `lower ≤ h ≤ upper` (both `cut.value` when exact).
    pub lower: f64,
    /// Upper bound (`min(sweep, spectral)` when not exact).
    pub upper: f64,
    /// True when `cut.value` is the exact constant.
    pub exact: bool,
}

/// Cheeger constant of `g`: exact enumeration when `n ≤ max_exact`, otherwise the sweep of the
/// dense Fiedler vector (`D^{-1/2} v₂(𝓛)` for `Volume`, `v₂(L)` for `Size`) with the bounds
/// `λ₂(𝓛)/2 ≤ h ≤ min(sweep, √(2λ₂(𝓛)))`, resp. `λ₂(L)/2 ≤ i ≤ min(sweep, √(2 d_max λ₂(L)))`.
/// Disconnected graphs: value 0 with a component.
pub fn cheeger_estimate(
    g: &Graph,
    norm: Normalization,
    max_exact: usize,
    stop: StopFn,
) -> Result<CheegerEstimate> {
    if g.n() < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "the Cheeger constant needs at least 2 nodes, the graph has {}",
            g.n()
        )));
    }
    if let Some(c) = cheeger::disconnected_cut(g, norm) {
        return Ok(CheegerEstimate {
            cut: c,
            lower: 0.0,
            upper: 0.0,
            exact: true,
        });
    }
    if g.n() <= max_exact.min(cheeger::HARD_MAX_EXACT) {
        let c = cheeger::exact_cheeger(g, norm, max_exact, stop)?;
        return Ok(CheegerEstimate {
            lower: c.value,
            upper: c.value,
            cut: c,
            exact: true,
        });
    }
    let normalized = norm == Normalization::Volume;
    let (lam, v) = fiedler_dense(g, normalized)?;
    let x: Vec<f64> = if normalized {
        v.iter()
            .zip(g.degrees())
            .map(|(a, d)| a / d.sqrt())
            .collect()
    } else {
        v
    };
    let sw = sweep::sweep_cut(g, &x, norm)?;
    let spectral = if normalized {
        (2.0 * lam).sqrt()
    } else {
        let dmax = g.degrees().iter().fold(0.0f64, |m, &d| m.max(d));
        (2.0 * dmax * lam).sqrt()
    };
    Ok(CheegerEstimate {
        lower: lam / 2.0,
        upper: sw.cut.value.min(spectral),
        cut: sw.cut,
        exact: false,
    })
}

/// Internal conductance of a cluster: [`cheeger_estimate`] of the subgraph induced by `nodes`
/// (cuts, degrees and volumes taken inside the subgraph); the returned mask is over `g`'s nodes.
/// A cluster with fewer than 2 nodes is an error.
pub fn internal_conductance(
    g: &Graph,
    nodes: &[usize],
    norm: Normalization,
    max_exact: usize,
    stop: StopFn,
) -> Result<CheegerEstimate> {
    if nodes.len() < 2 {
        return Err(CoreError::InvalidSet(format!(
            "internal conductance needs a cluster of at least 2 nodes, got {}",
            nodes.len()
        )));
    }
    let sub = g.induced_subgraph(nodes)?;
    let mut est = cheeger_estimate(&sub, norm, max_exact, stop)?;
    let mut mask = vec![false; g.n()];
    for (k, &u) in nodes.iter().enumerate() {
        mask[u] = est.cut.mask[k];
    }
    est.cut.mask = mask;
    Ok(est)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cheeger::exact_chain_conductance;
    use crate::error::never_stop;

    fn random_graph(n: usize, seed: u64, p_mod: u64) -> Graph {
        crate::testutil::random_weighted_graph(n, seed, p_mod, 200.0)
    }

    fn path(n: usize) -> Graph {
        let s: Vec<i64> = (0..n as i64 - 1).collect();
        let d: Vec<i64> = (1..n as i64).collect();
        Graph::from_edges(n, &s, &d, None).unwrap().0
    }

    #[test]
    fn closed_form_spectra() {
        use std::f64::consts::PI;
        for n in [3usize, 6, 11] {
            let lam = algebraic_connectivity_dense(&path(n), false).unwrap();
            assert!((lam - (2.0 - 2.0 * (PI / n as f64).cos())).abs() < 1e-12);
            let (_, v) = fiedler_dense(&path(n), false).unwrap();
            // P_n Fiedler vector ∝ cos(π(i + 1/2)/n), first entry positive
            let r: Vec<f64> = (0..n)
                .map(|i| (PI * (i as f64 + 0.5) / n as f64).cos())
                .collect();
            let rn = r.iter().map(|x| x * x).sum::<f64>().sqrt();
            for i in 0..n {
                assert!((v[i] - r[i] / rn).abs() < 1e-10);
            }
            let mut s: Vec<i64> = (0..n as i64 - 1).collect();
            let mut d: Vec<i64> = (1..n as i64).collect();
            s.push(n as i64 - 1);
            d.push(0);
            let cyc = Graph::from_edges(n, &s, &d, None).unwrap().0;
            let lam = algebraic_connectivity_dense(&cyc, true).unwrap();
            assert!((lam - (1.0 - (2.0 * PI / n as f64).cos())).abs() < 1e-12);
        }
    }

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let g = random_graph(12, 3, 3);
        let a = laplacian_dense(&g, true);
        let (vals, vecs) = symmetric_eigen(&a, 12).unwrap();
        for (lam, v) in vals.iter().zip(&vecs) {
            for i in 0..12 {
                let av: f64 = (0..12).map(|k| a[i * 12 + k] * v[k]).sum();
                assert!((av - lam * v[i]).abs() < 1e-10);
            }
        }
        assert!(vals[0].abs() < 1e-12 && vals[11] <= 2.0 + 1e-12);
    }

    #[test]
    fn cheeger_inequalities_on_random_weighted_graphs() {
        for seed in 0..30u64 {
            let n = 3 + (seed as usize % 12);
            let g = random_graph(n, seed, 2 + seed % 4);
            let h = cheeger::exact_cheeger(&g, Normalization::Volume, 32, &never_stop).unwrap();
            let (lo, hi) = cheeger_bounds_dense(&g).unwrap();
            assert!(
                lo <= h.value + 1e-12 && h.value <= hi + 1e-12,
                "seed {seed}"
            );
            // sweep of D^{-1/2} v₂: at least the exact value, at most √(2λ₂)
            let est = cheeger_estimate(&g, Normalization::Volume, 0, &never_stop).unwrap();
            assert!(!est.exact);
            assert!(est.cut.value >= h.value - 1e-12);
            assert!(est.cut.value <= hi + 1e-9);
            assert!(est.lower <= h.value + 1e-12 && h.value <= est.upper + 1e-12);
            // size normalization bracket
            let i = cheeger::exact_cheeger(&g, Normalization::Size, 32, &never_stop).unwrap();
            let es = cheeger_estimate(&g, Normalization::Size, 0, &never_stop).unwrap();
            assert!(es.lower <= i.value + 1e-12 && i.value <= es.upper + 1e-12);
            assert!(es.cut.value >= i.value - 1e-12);
        }
    }

    /// Lazy Metropolis matrix `(I + W)/2`, `W_ij = 1/(1 + max(d_i, d_j))` (unweighted degrees).
    fn lazy_metropolis(g: &Graph) -> Vec<f64> {
        let n = g.n();
        let mut w = vec![0.0; n * n];
        for u in 0..n {
            let mut row = 0.0;
            for (v, _) in g.neighbors(u) {
                let x = 1.0 / (1.0 + g.num_neighbors(u).max(g.num_neighbors(v)) as f64);
                w[u * n + v] = 0.5 * x;
                row += x;
            }
            w[u * n + u] = 0.5 * (1.0 - row) + 0.5;
        }
        w
    }

    #[test]
    fn chain_cheeger_for_lazy_metropolis() {
        for seed in 0..25u64 {
            let n = 2 + (seed as usize % 11);
            let g = random_graph(n, seed + 100, 3);
            let w = lazy_metropolis(&g);
            for i in 0..n {
                let row: f64 = (0..n).map(|j| w[i * n + j]).sum();
                assert!((row - 1.0).abs() < 1e-12);
                for j in 0..n {
                    assert_eq!(w[i * n + j], w[j * n + i]);
                }
            }
            let (vals, _) = symmetric_eigen(&w, n).unwrap();
            assert!(vals[0] > 0.0, "lazy matrix must be positive definite");
            assert!((vals[n - 1] - 1.0).abs() < 1e-12);
            let lam2 = vals[n - 2];
            let phi = exact_chain_conductance(&w, n, 32, &never_stop)
                .unwrap()
                .value;
            assert!(1.0 - 2.0 * phi <= lam2 + 1e-12, "seed {seed}");
            assert!(lam2 <= 1.0 - phi * phi / 2.0 + 1e-12, "seed {seed}");
        }
    }

    #[test]
    fn internal_conductance_maps_back_and_errors() {
        // two triangles joined by an edge, plus a pendant node
        let g = Graph::from_edges(
            7,
            &[0, 1, 2, 3, 4, 5, 2, 6],
            &[1, 2, 0, 4, 5, 3, 3, 0],
            None,
        )
        .unwrap()
        .0;
        let r =
            internal_conductance(&g, &[3, 4, 5], Normalization::Volume, 32, &never_stop).unwrap();
        // triangle: ⌈3/2⌉/(3−1) = 1
        assert!((r.cut.value - 1.0).abs() < 1e-12 && r.exact);
        assert_eq!(r.cut.mask.len(), 7);
        assert!(r
            .cut
            .mask
            .iter()
            .enumerate()
            .all(|(u, &b)| !b || (3..6).contains(&u)));
        let e = internal_conductance(&g, &[0], Normalization::Volume, 32, &never_stop);
        assert!(matches!(e, Err(CoreError::InvalidSet(_))));
        let disc =
            internal_conductance(&g, &[0, 4], Normalization::Volume, 32, &never_stop).unwrap();
        assert_eq!(disc.cut.value, 0.0);
        assert!(matches!(
            fiedler_dense(&g.induced_subgraph(&[0, 4]).unwrap(), true),
            Err(CoreError::Disconnected { .. })
        ));
    }
}

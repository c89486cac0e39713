//! Fused simulator rounds: one pass of `Y = W X − f ⊙ D(X)` over all devices.
//!
//! `X` (`n × d`, row-major) holds every device's model, `W` is a CSR mixing matrix, and the
//! optional local step adds each device's optimizer direction
//! `D_i = G_i + μ_i (X_i − A_i) + ρ_i V_i` (gradient, proximal pull to the anchor `A_i`,
//! heavy-ball momentum buffer `V_i`), scaled by `f_i = η_i c_i`; momentum rows then store
//! `V_i ← D_i`. Rows are independent, so they are processed in parallel (rayon). The
//! arithmetic order matches the numpy path of `ssdfl.simulate` (products accumulated in CSR
//! order starting from 0, then `(x − a)·μ`, `v·ρ`, `y − D·f`), so both give the same floats.

use crate::error::{CoreError, Result};
use rayon::prelude::*;

/// Below this many entries (`n·d`) rows are processed on the calling thread.
pub const PARALLEL_MIN: usize = 1 << 15;

/// A CSR matrix borrowed from the caller (`indptr` has `n + 1` entries).
pub struct Csr<'a> {
    pub n: usize,
    pub indptr: &'a [i64],
    pub indices: &'a [i64],
    pub data: &'a [f64],
}

/// The optional local optimizer step of a round (see the module docs).
pub struct LocalStep<'a> {
    /// Gradients `G` (`n × d`).
    pub grad: &'a [f64],
    /// Per-device factors `f_i = η_i c_i` (`n`).
    pub factor: &'a [f64],
    /// Proximal coefficients `μ` (`n`) and anchors `A` (`n × d`).
    pub prox: Option<(&'a [f64], &'a [f64])>,
    /// Momentum coefficients `ρ` (`n`) and which rows are momentum devices (`n`).
    pub momentum: Option<(&'a [f64], &'a [bool])>,
}

fn mismatch(what: &str) -> CoreError {
    CoreError::LengthMismatch {
        what: what.to_string(),
    }
}

fn check_csr(w: &Csr<'_>, ncols: usize) -> Result<()> {
    if w.indptr.len() != w.n + 1 {
        return Err(mismatch("indptr must have n + 1 entries"));
    }
    if w.indices.len() != w.data.len() {
        return Err(mismatch("indices and data must have the same length"));
    }
    if w.indptr[0] != 0 || w.indptr[w.n] as usize != w.indices.len() {
        return Err(CoreError::InvalidArgument(
            "indptr must start at 0 and end at nnz".into(),
        ));
    }
    if w.indptr.windows(2).any(|p| p[1] < p[0]) {
        return Err(CoreError::InvalidArgument(
            "indptr must be non-decreasing".into(),
        ));
    }
    if let Some(&j) = w.indices.iter().find(|&&j| j < 0 || j as usize >= ncols) {
        return Err(CoreError::NodeOutOfRange { node: j, n: ncols });
    }
    Ok(())
}

/// Never reached: `gossip_round` checks that momentum comes with its buffer. Kept total
/// without panicking: leaves the row as the pure gossip result.
fn unreachable_row(_y: &mut [f64]) {}

/// `out = W x − f ⊙ D(x)` (or `x − f ⊙ D(x)` without `w`, or `W x` without `step`); updates
/// the momentum buffer `v` in place. `x`, `out`, `v` and the step's arrays are `n × d`.
pub fn gossip_round(
    w: Option<&Csr<'_>>,
    x: &[f64],
    n: usize,
    d: usize,
    step: Option<&LocalStep<'_>>,
    v: Option<&mut [f64]>,
    out: &mut [f64],
) -> Result<()> {
    let nd = n
        .checked_mul(d)
        .ok_or_else(|| CoreError::InvalidArgument("n·d overflows".into()))?;
    if x.len() != nd || out.len() != nd {
        return Err(mismatch("x and out must have n·d entries"));
    }
    if let Some(w) = w {
        if w.n != n {
            return Err(mismatch("W must have n rows"));
        }
        check_csr(w, n)?;
    }
    if let Some(s) = step {
        if s.grad.len() != nd || s.factor.len() != n {
            return Err(mismatch("grad must be n·d and factor n"));
        }
        if let Some((mu, a)) = s.prox {
            if mu.len() != n || a.len() != nd {
                return Err(mismatch("mu must be n and anchor n·d"));
            }
        }
        match (s.momentum, &v) {
            (Some((rho, is_m)), Some(v)) if rho.len() != n || is_m.len() != n || v.len() != nd => {
                return Err(mismatch("rho and is_momentum must be n, v n·d"));
            }
            (Some(_), None) => {
                return Err(CoreError::InvalidArgument(
                    "momentum needs the buffer v".into(),
                ))
            }
            _ => {}
        }
    }
    if d == 0 || n == 0 {
        return Ok(());
    }
    let row = |i: usize, y: &mut [f64], vrow: Option<&mut [f64]>| {
        match w {
            Some(w) => {
                // the first product initializes the row (0 + a = a, up to the sign of a zero),
                // saving a pass that would zero it first
                let (lo, hi) = (w.indptr[i] as usize, w.indptr[i + 1] as usize);
                if lo == hi {
                    y.fill(0.0);
                } else {
                    let (j, wij) = (w.indices[lo] as usize, w.data[lo]);
                    for (yv, xv) in y.iter_mut().zip(&x[j * d..(j + 1) * d]) {
                        *yv = wij * *xv;
                    }
                }
                for k in (lo + 1).min(hi)..hi {
                    let j = w.indices[k] as usize;
                    let wij = w.data[k];
                    for (yv, xv) in y.iter_mut().zip(&x[j * d..(j + 1) * d]) {
                        *yv += wij * *xv;
                    }
                }
            }
            None => y.copy_from_slice(&x[i * d..(i + 1) * d]),
        }
        let Some(s) = step else { return };
        let f = s.factor[i];
        let g = &s.grad[i * d..(i + 1) * d];
        let xi = &x[i * d..(i + 1) * d];
        // rows with μ_i = 0 / ρ_i = 0 skip those terms (and their memory traffic); the numpy
        // path adds exact zeros there, which changes at most the sign of a zero
        let prox = s
            .prox
            .and_then(|(mu, a)| (mu[i] != 0.0).then(|| (mu[i], &a[i * d..(i + 1) * d])));
        let mom = s
            .momentum
            .and_then(|(rho, is_m)| (rho[i] != 0.0 || is_m[i]).then_some((rho[i], is_m[i])));
        let vr = if mom.is_some() { vrow } else { None };
        match (prox, mom, vr) {
            (None, None, _) => {
                for (yv, gv) in y.iter_mut().zip(g) {
                    *yv -= gv * f;
                }
            }
            (Some((mu, a)), None, _) => {
                for ((yv, gv), (xv, av)) in y.iter_mut().zip(g).zip(xi.iter().zip(a)) {
                    let dd = gv + (xv - av) * mu;
                    *yv -= dd * f;
                }
            }
            (None, Some((rho, is_m)), Some(vr)) => {
                for ((yv, gv), vv) in y.iter_mut().zip(g).zip(vr.iter_mut()) {
                    let dd = gv + *vv * rho;
                    if is_m {
                        *vv = dd;
                    }
                    *yv -= dd * f;
                }
            }
            (Some((mu, a)), Some((rho, is_m)), Some(vr)) => {
                for (((yv, gv), (xv, av)), vv) in
                    y.iter_mut().zip(g).zip(xi.iter().zip(a)).zip(vr.iter_mut())
                {
                    let dd = gv + (xv - av) * mu + *vv * rho;
                    if is_m {
                        *vv = dd;
                    }
                    *yv -= dd * f;
                }
            }
            (_, Some(_), None) => unreachable_row(y),
        }
    };
    let with_v = step.is_some_and(|s| s.momentum.is_some());
    if nd < PARALLEL_MIN {
        // small problems: thread hand-offs would cost more than the work
        match v {
            Some(v) if with_v => out
                .chunks_mut(d)
                .zip(v.chunks_mut(d))
                .enumerate()
                .for_each(|(i, (y, vr))| row(i, y, Some(vr))),
            _ => out
                .chunks_mut(d)
                .enumerate()
                .for_each(|(i, y)| row(i, y, None)),
        }
        return Ok(());
    }
    match v {
        Some(v) if with_v => out
            .par_chunks_mut(d)
            .zip(v.par_chunks_mut(d))
            .enumerate()
            .for_each(|(i, (y, vr))| row(i, y, Some(vr))),
        _ => out
            .par_chunks_mut(d)
            .enumerate()
            .for_each(|(i, y)| row(i, y, None)),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dense_formula() {
        // 3 devices on a path, d = 2
        let indptr = [0i64, 2, 5, 7];
        let indices = [0i64, 1, 0, 1, 2, 1, 2];
        let data = [0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.75];
        let w = Csr {
            n: 3,
            indptr: &indptr,
            indices: &indices,
            data: &data,
        };
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let g = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let a = [0.0; 6];
        let mu = [0.0, 1.0, 0.0];
        let rho = [0.0, 0.0, 0.5];
        let is_m = [false, false, true];
        let f = [0.1, 0.1, 0.2];
        let mut v = [0.0, 0.0, 0.0, 0.0, 1.0, 1.0];
        let step = LocalStep {
            grad: &g,
            factor: &f,
            prox: Some((&mu, &a)),
            momentum: Some((&rho, &is_m)),
        };
        let mut out = [0.0; 6];
        gossip_round(Some(&w), &x, 3, 2, Some(&step), Some(&mut v), &mut out).unwrap();
        // row 0: W x = (2, 3); D = g = (0.1, 0.2)
        assert!((out[0] - (2.0 - 0.01)).abs() < 1e-15 && (out[1] - (3.0 - 0.02)).abs() < 1e-15);
        // row 1: W x = 0.5·(1,2) + 0.25·(3,4) + 0.25·(5,6) = (2.5, 3.5); D = g + 1·(x − 0)
        assert!((out[2] - (2.5 - 0.1 * 3.3)).abs() < 1e-15);
        // row 2: W x = 0.25·(3,4) + 0.75·(5,6) = (4.5, 5.5); D = g + 0.5·v = (1.0, 1.1)
        assert!((out[4] - (4.5 - 0.2 * 1.0)).abs() < 1e-15);
        assert!((v[4] - 1.0).abs() < 1e-15 && (v[5] - 1.1).abs() < 1e-15);
    }

    #[test]
    fn rejects_bad_input() {
        let w = Csr {
            n: 2,
            indptr: &[0, 1, 2],
            indices: &[0, 5],
            data: &[1.0, 1.0],
        };
        let mut out = [0.0; 2];
        assert!(gossip_round(Some(&w), &[1.0, 2.0], 2, 1, None, None, &mut out).is_err());
        assert!(gossip_round(None, &[1.0], 2, 1, None, None, &mut out).is_err());
    }
}

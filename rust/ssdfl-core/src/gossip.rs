//! Fused simulator rounds: one pass of `Y = W X − f ⊙ D(X)` over all devices.
//!
//! `X` (`n × d`, row-major) holds every device's model, `W` is a CSR mixing matrix, and the
//! optional local step adds each device's optimizer direction
//! `D_i = G_i + μ_i (X_i − A_i) + ρ_i V_i` (gradient, proximal pull to the anchor `A_i`,
//! heavy-ball momentum buffer `V_i`), scaled by `f_i = η_i c_i`; momentum rows then store
//! `V_i ← D_i`. The gradient `G` is either given or computed inside the pass for the built-in
//! models ([`Gradient`]): then one round reads `X`, the model data and the optimizer buffers
//! once and writes `Y` once.
//!
//! Scheduling: chunks of consecutive rows run in parallel on rayon's current pool (no chunk
//! waits on another, so a call made from inside a rayon worker cannot deadlock); each row is
//! streamed left to right in pieces of at most [`BLOCK_MAX`] columns. Tiles of row ranges ×
//! column blocks (to keep an `X[:, c0..c1]` slab cache-resident while rows gather it) were
//! measured slower at N = d = 1000: their short strided segments defeat the hardware prefetcher
//! on the model arrays, while the whole `X` (8 MB) already fits the last-level cache. Dense and
//! least-squares gradients need a whole row first: it goes into a per-chunk scratch row.
//!
//! Floating-point order: the mixing products are accumulated in CSR order starting from the
//! first product, then `((x − a)·μ)`, `(v·ρ)` and `y − D·f`, and the separable gradient is
//! `(x − b)·a` — the order of the numpy path of `ssdfl.simulate`, so both give the same floats
//! (no fused multiply-add is ever emitted). Dense and least-squares gradients sum in their own
//! order (equal to the numpy gradient up to rounding). The kernel is generic over `f32`/`f64`.

use crate::error::{CoreError, Result};
use rayon::prelude::*;
use std::ops::{Add, Div, Mul, Sub};

/// Below this many entries (`n·d`) the round runs on the calling thread.
pub const PARALLEL_MIN: usize = 1 << 15;

/// Widest column piece of a row handled at once (its gradient fits a stack buffer).
pub const BLOCK_MAX: usize = 256;

/// The state's float type (`f32` or `f64`).
pub trait Real:
    Copy
    + Send
    + Sync
    + PartialEq
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + 'static
{
    const ZERO: Self;
    /// `n` as this type (device sample counts).
    fn from_count(n: usize) -> Self;
    /// `t` rounded to this type.
    fn from_f64(t: f64) -> Self;
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    fn from_count(n: usize) -> Self {
        n as f64
    }
    fn from_f64(t: f64) -> Self {
        t
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    fn from_count(n: usize) -> Self {
        n as f32
    }
    fn from_f64(t: f64) -> Self {
        t as f32
    }
}

/// A CSR matrix borrowed from the caller (`indptr` has `n + 1` entries).
pub struct Csr<'a, T> {
    pub n: usize,
    pub indptr: &'a [i64],
    pub indices: &'a [i64],
    pub data: &'a [T],
}

/// Where the local step's gradient `G` comes from.
pub enum Gradient<'a, T> {
    /// Precomputed `G` (`n × d`).
    Given(&'a [T]),
    /// Separable quadratic: `g_i = (x_i − b_i) ⊙ a_i` (`a`, `b`: `n × d`).
    Separable { a: &'a [T], b: &'a [T] },
    /// Quadratic: `g_i = A_i (x_i − b_i)` (`a`: `n × d × d` row-major, `b`: `n × d`).
    Dense { a: &'a [T], b: &'a [T] },
    /// Least squares: `g_i = Z_iᵀ(Z_i x_i − y_i)/n_i + λ x_i`, device `i`'s samples the rows
    /// `offsets[i]..offsets[i + 1]` of `z` (`m × d`) and `y` (`m`), every device non-empty.
    LeastSquares {
        z: &'a [T],
        y: &'a [T],
        offsets: &'a [i64],
        l2: T,
    },
}

/// The optional local optimizer step of a round (see the module docs).
pub struct LocalStep<'a, T> {
    pub grad: Gradient<'a, T>,
    /// Per-device factors `f_i = η_i c_i` (`n`).
    pub factor: &'a [T],
    /// Proximal coefficients `μ` (`n`) and anchors `A` (`n × d`).
    pub prox: Option<(&'a [T], &'a [T])>,
    /// Momentum coefficients `ρ` (`n`) and which rows are momentum devices (`n`).
    pub momentum: Option<(&'a [T], &'a [bool])>,
}

fn mismatch(what: &str) -> CoreError {
    CoreError::LengthMismatch {
        what: what.to_string(),
    }
}

fn invalid(what: &str) -> CoreError {
    CoreError::InvalidArgument(what.to_string())
}

fn check_csr<T>(w: &Csr<'_, T>, ncols: usize) -> Result<()> {
    if w.indptr.len() != w.n + 1 {
        return Err(mismatch("indptr must have n + 1 entries"));
    }
    if w.indices.len() != w.data.len() {
        return Err(mismatch("indices and data must have the same length"));
    }
    if w.indptr[0] != 0 || w.indptr[w.n] as usize != w.indices.len() {
        return Err(invalid("indptr must start at 0 and end at nnz"));
    }
    if w.indptr.windows(2).any(|p| p[1] < p[0]) {
        return Err(invalid("indptr must be non-decreasing"));
    }
    if let Some(&j) = w.indices.iter().find(|&&j| j < 0 || j as usize >= ncols) {
        return Err(CoreError::NodeOutOfRange { node: j, n: ncols });
    }
    Ok(())
}

fn check_step<T>(
    s: &LocalStep<'_, T>,
    n: usize,
    d: usize,
    nd: usize,
    v: Option<usize>,
) -> Result<()> {
    if s.factor.len() != n {
        return Err(mismatch("factor must have n entries"));
    }
    match &s.grad {
        Gradient::Given(g) if g.len() != nd => return Err(mismatch("grad must be n·d")),
        Gradient::Separable { a, b } if a.len() != nd || b.len() != nd => {
            return Err(mismatch("separable a and b must be n·d"))
        }
        Gradient::Dense { a, b } => {
            let ndd = nd
                .checked_mul(d)
                .ok_or_else(|| invalid("n·d·d overflows"))?;
            if a.len() != ndd || b.len() != nd {
                return Err(mismatch("dense A must be n·d·d and b n·d"));
            }
        }
        Gradient::LeastSquares { z, y, offsets, .. } => {
            if offsets.len() != n + 1 || offsets[0] != 0 || offsets[n] as usize != y.len() {
                return Err(mismatch("offsets must have n + 1 entries from 0 to len(y)"));
            }
            if offsets.windows(2).any(|p| p[1] <= p[0]) {
                return Err(invalid("every device needs at least one sample"));
            }
            if Some(z.len()) != y.len().checked_mul(d) {
                return Err(mismatch("z must be len(y)·d"));
            }
        }
        _ => {}
    }
    if let Some((mu, a)) = s.prox {
        if mu.len() != n || a.len() != nd {
            return Err(mismatch("mu must be n and anchor n·d"));
        }
    }
    match (s.momentum, v) {
        (Some((rho, is_m)), Some(vl)) if rho.len() != n || is_m.len() != n || vl != nd => {
            Err(mismatch("rho and is_momentum must be n, v n·d"))
        }
        (Some(_), None) => Err(invalid("momentum needs the buffer v")),
        _ => Ok(()),
    }
}

/// `out = W x − f ⊙ D(x)` (or `x − f ⊙ D(x)` without `w`, or `W x` without `step`); updates
/// the momentum buffer `v` in place. `x`, `out`, `v` and the step's arrays are `n × d`.
pub fn gossip_round<T: Real>(
    w: Option<&Csr<'_, T>>,
    x: &[T],
    n: usize,
    d: usize,
    step: Option<&LocalStep<'_, T>>,
    v: Option<&mut [T]>,
    out: &mut [T],
) -> Result<()> {
    let nd = n.checked_mul(d).ok_or_else(|| invalid("n·d overflows"))?;
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
        check_step(s, n, d, nd, v.as_ref().map(|v| v.len()))?;
    }
    if d == 0 || n == 0 {
        return Ok(());
    }
    // the buffer is touched only by momentum steps
    let v = if step.is_some_and(|s| s.momentum.is_some()) {
        v
    } else {
        None
    };
    let k = Kernel { w, x, d, step };
    let threads = if nd < PARALLEL_MIN {
        1
    } else {
        rayon::current_num_threads().max(1)
    };
    k.rows(out, v, threads);
    Ok(())
}

/// Whether the CPU has AVX2 (the kernel then runs its AVX2 build).
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `Σ a_k b_k` with eight interleaved partial sums (vectorizes; order fixed for given `len`).
#[inline(always)]
fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut acc = [T::ZERO; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (p, q) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] = acc[k] + p[k] * q[k];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (p, q) in ra.iter().zip(rb) {
        s = s + *p * *q;
    }
    s
}

struct Kernel<'k, 'a, T> {
    w: Option<&'k Csr<'a, T>>,
    x: &'k [T],
    d: usize,
    step: Option<&'k LocalStep<'a, T>>,
}

impl<T: Real> Kernel<'_, '_, T> {
    /// Rows in parallel (chunks of consecutive rows, a few per thread for balance); each row
    /// first gets its full gradient row if the model needs one (dense / least squares), then
    /// runs through [`Kernel::segment`] in column pieces of at most `BLOCK_MAX` (the separable
    /// gradient of a piece lives in an L1-sized stack buffer).
    fn rows(&self, out: &mut [T], v: Option<&mut [T]>, threads: usize) {
        let d = self.d;
        let n = out.len() / d;
        let rows = if threads > 1 {
            n.div_ceil(8 * threads).max(1)
        } else {
            n
        };
        let whole_row = matches!(
            self.step.map(|s| &s.grad),
            Some(Gradient::Dense { .. } | Gradient::LeastSquares { .. })
        );
        let avx2 = has_avx2();
        let chunk = |(c, (ys, vs)): (usize, (&mut [T], Option<&mut [T]>))| {
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the CPU supports AVX2 (checked by has_avx2).
                unsafe { self.chunk_avx2(c * rows, ys, vs, whole_row) };
                return;
            }
            let _ = avx2;
            self.chunk(c * rows, ys, vs, whole_row);
        };
        match v {
            Some(v) if threads > 1 => out
                .par_chunks_mut(rows * d)
                .zip(v.par_chunks_mut(rows * d))
                .enumerate()
                .for_each(|(c, (y, vr))| chunk((c, (y, Some(vr))))),
            Some(v) => out
                .chunks_mut(rows * d)
                .zip(v.chunks_mut(rows * d))
                .enumerate()
                .for_each(|(c, (y, vr))| chunk((c, (y, Some(vr))))),
            None if threads > 1 => out
                .par_chunks_mut(rows * d)
                .enumerate()
                .for_each(|(c, y)| chunk((c, (y, None)))),
            None => out
                .chunks_mut(rows * d)
                .enumerate()
                .for_each(|(c, y)| chunk((c, (y, None)))),
        }
    }

    /// Rows `first..` of one chunk (`ys`, `vs`: their rows of `out` and `v`).
    #[inline(always)]
    fn chunk(&self, first: usize, ys: &mut [T], mut vs: Option<&mut [T]>, whole_row: bool) {
        let d = self.d;
        let (mut g, mut tmp) = if whole_row {
            (vec![T::ZERO; d], vec![T::ZERO; d])
        } else {
            (Vec::new(), Vec::new())
        };
        let mut scratch = [T::ZERO; BLOCK_MAX];
        for (r, y) in ys.chunks_mut(d).enumerate() {
            let i = first + r;
            if whole_row {
                self.gradient_row(i, &mut g, &mut tmp);
            }
            let mut vrow = vs.as_deref_mut().map(|v| &mut v[r * d..(r + 1) * d]);
            let mut c0 = 0;
            for yp in y.chunks_mut(BLOCK_MAX) {
                let c1 = c0 + yp.len();
                let vp = vrow.as_deref_mut().map(|v| &mut v[c0..c1]);
                let gp = whole_row.then(|| &g[c0..c1]);
                self.segment(i, c0, yp, vp, gp, &mut scratch);
                c0 = c1;
            }
        }
    }

    /// [`Kernel::chunk`] compiled for AVX2: the same IEEE operations in wider vectors (no
    /// fused multiply-add is enabled), so the same bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn chunk_avx2(&self, first: usize, ys: &mut [T], vs: Option<&mut [T]>, whole_row: bool) {
        self.chunk(first, ys, vs, whole_row)
    }

    /// Row `i`'s dense or least-squares gradient into `g` (`d` entries; `r`: scratch).
    #[inline(always)]
    fn gradient_row(&self, i: usize, g: &mut [T], r: &mut [T]) {
        let d = self.d;
        let xi = &self.x[i * d..(i + 1) * d];
        let Some(s) = self.step else { return };
        match &s.grad {
            Gradient::Dense { a, b } => {
                let bi = &b[i * d..(i + 1) * d];
                let ai = &a[i * d * d..(i + 1) * d * d];
                for ((rv, xv), bv) in r.iter_mut().zip(xi).zip(bi) {
                    *rv = *xv - *bv;
                }
                for (k, gk) in g.iter_mut().enumerate() {
                    *gk = dot(&ai[k * d..(k + 1) * d], r);
                }
            }
            Gradient::LeastSquares { z, y, offsets, l2 } => {
                let (lo, hi) = (offsets[i] as usize, offsets[i + 1] as usize);
                g.fill(T::ZERO);
                for s in lo..hi {
                    let zs = &z[s * d..(s + 1) * d];
                    let r = dot(zs, xi) - y[s];
                    for (gv, zv) in g.iter_mut().zip(zs) {
                        *gv = *gv + *zv * r;
                    }
                }
                let cnt = T::from_count(hi - lo);
                for (gv, xv) in g.iter_mut().zip(xi) {
                    *gv = *gv / cnt + *l2 * *xv;
                }
            }
            _ => {}
        }
    }

    /// Columns `c0..c0 + y.len()` of row `i`: `y = (W x)_i − f_i D_i` and the momentum update
    /// of `vr` (`y`, `vr`: those columns). `g_seg`: these columns of row `i`'s precomputed gradient
    /// (dense / least squares), if any.
    #[inline(always)]
    fn segment(
        &self,
        i: usize,
        c0: usize,
        y: &mut [T],
        vrow: Option<&mut [T]>,
        g_seg: Option<&[T]>,
        scratch: &mut [T],
    ) {
        let (d, x, c1) = (self.d, self.x, c0 + y.len());
        let cols = |j: usize| &x[j * d + c0..j * d + c1];
        match self.w {
            Some(w) => {
                // the first product initializes the segment (0 + a = a, up to the sign of a
                // zero), saving a pass that would zero it first
                let (lo, hi) = (w.indptr[i] as usize, w.indptr[i + 1] as usize);
                if lo == hi {
                    y.fill(T::ZERO);
                } else {
                    let wij = w.data[lo];
                    for (yv, xv) in y.iter_mut().zip(cols(w.indices[lo] as usize)) {
                        *yv = wij * *xv;
                    }
                }
                for k in (lo + 1).min(hi)..hi {
                    let wij = w.data[k];
                    for (yv, xv) in y.iter_mut().zip(cols(w.indices[k] as usize)) {
                        *yv = *yv + wij * *xv;
                    }
                }
            }
            None => y.copy_from_slice(cols(i)),
        }
        let Some(s) = self.step else { return };
        let f = s.factor[i];
        let xi = cols(i);
        let g: &[T] = match (&s.grad, g_seg) {
            (_, Some(gr)) => gr,
            (Gradient::Given(g), None) => &g[i * d + c0..i * d + c1],
            (Gradient::Separable { a, b }, None) => {
                let buf = &mut scratch[..c1 - c0];
                let (a, b) = (&a[i * d + c0..i * d + c1], &b[i * d + c0..i * d + c1]);
                for ((gv, xv), (av, bv)) in buf.iter_mut().zip(xi).zip(a.iter().zip(b)) {
                    *gv = (*xv - *bv) * *av;
                }
                buf
            }
            // dense / least squares always come with their row (see `rows`)
            _ => return,
        };
        // rows with μ_i = 0 / ρ_i = 0 skip those terms (and their memory traffic); the numpy
        // path adds exact zeros there, which changes at most the sign of a zero
        let prox = s
            .prox
            .and_then(|(mu, a)| (mu[i] != T::ZERO).then(|| (mu[i], &a[i * d + c0..i * d + c1])));
        let mom = s
            .momentum
            .and_then(|(rho, is_m)| (rho[i] != T::ZERO || is_m[i]).then_some((rho[i], is_m[i])));
        match (prox, mom, vrow) {
            (None, None, _) | (None, Some(_), None) => {
                for (yv, gv) in y.iter_mut().zip(g) {
                    *yv = *yv - *gv * f;
                }
            }
            (Some((mu, a)), None, _) | (Some((mu, a)), Some(_), None) => {
                for ((yv, gv), (xv, av)) in y.iter_mut().zip(g).zip(xi.iter().zip(a)) {
                    let dd = *gv + (*xv - *av) * mu;
                    *yv = *yv - dd * f;
                }
            }
            (None, Some((rho, is_m)), Some(vr)) => {
                for ((yv, gv), vv) in y.iter_mut().zip(g).zip(vr.iter_mut()) {
                    let dd = *gv + *vv * rho;
                    if is_m {
                        *vv = dd;
                    }
                    *yv = *yv - dd * f;
                }
            }
            (Some((mu, a)), Some((rho, is_m)), Some(vr)) => {
                for (((yv, gv), (xv, av)), vv) in
                    y.iter_mut().zip(g).zip(xi.iter().zip(a)).zip(vr.iter_mut())
                {
                    let dd = *gv + (*xv - *av) * mu + *vv * rho;
                    if is_m {
                        *vv = dd;
                    }
                    *yv = *yv - dd * f;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dense_formula() {
        // 3 devices on a path, d = 2
        let indptr = [0i64, 2, 5, 7];
        let indices = [0i64, 1, 0, 1, 2, 1, 2];
        let data = [0.5f64, 0.5, 0.5, 0.25, 0.25, 0.25, 0.75];
        let w = Csr {
            n: 3,
            indptr: &indptr,
            indices: &indices,
            data: &data,
        };
        let x = [1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0];
        let g = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];
        let a = [0.0; 6];
        let mu = [0.0, 1.0, 0.0];
        let rho = [0.0, 0.0, 0.5];
        let is_m = [false, false, true];
        let f = [0.1, 0.1, 0.2];
        let mut v = [0.0f64, 0.0, 0.0, 0.0, 1.0, 1.0];
        let step = LocalStep {
            grad: Gradient::Given(&g),
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
        assert!(gossip_round::<f64>(None, &[1.0], 2, 1, None, None, &mut out).is_err());
        // a least-squares device without samples
        let step = LocalStep {
            grad: Gradient::LeastSquares {
                z: &[1.0],
                y: &[1.0],
                offsets: &[0, 1, 1],
                l2: 0.0,
            },
            factor: &[1.0, 1.0],
            prox: None,
            momentum: None,
        };
        assert!(gossip_round(None, &[1.0, 2.0], 2, 1, Some(&step), None, &mut out).is_err());
    }

    /// Deterministic pseudo-random numbers in [-1, 1) (xorshift).
    fn noise(len: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// A ring with self-loops and one chord per node: rows of 4 entries in CSR order.
    fn ring(n: usize) -> (Vec<i64>, Vec<i64>, Vec<f64>) {
        let (mut p, mut idx, mut dat) = (vec![0i64], vec![], vec![]);
        for i in 0..n {
            let mut nb = vec![i, (i + 1) % n, (i + n - 1) % n, (i * 7 + 3) % n];
            nb.sort_unstable();
            nb.dedup();
            for &j in &nb {
                idx.push(j as i64);
                dat.push(1.0 / nb.len() as f64);
            }
            p.push(idx.len() as i64);
        }
        (p, idx, dat)
    }

    /// Plain per-row loops in the documented order: the reference of the tiled kernel.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        w: &Csr<'_, f64>,
        x: &[f64],
        n: usize,
        d: usize,
        g: &[f64],
        f: &[f64],
        mu: &[f64],
        a: &[f64],
        rho: &[f64],
        is_m: &[bool],
        v: &mut [f64],
    ) -> Vec<f64> {
        let mut out = vec![0.0; n * d];
        for i in 0..n {
            for c in 0..d {
                let (lo, hi) = (w.indptr[i] as usize, w.indptr[i + 1] as usize);
                let mut y = w.data[lo] * x[w.indices[lo] as usize * d + c];
                for k in lo + 1..hi {
                    y += w.data[k] * x[w.indices[k] as usize * d + c];
                }
                let mut dd = g[i * d + c];
                if mu[i] != 0.0 {
                    dd += (x[i * d + c] - a[i * d + c]) * mu[i];
                }
                if rho[i] != 0.0 || is_m[i] {
                    dd += v[i * d + c] * rho[i];
                    if is_m[i] {
                        v[i * d + c] = dd;
                    }
                }
                out[i * d + c] = y - dd * f[i];
            }
        }
        out
    }

    #[test]
    fn tiled_separable_equals_reference_bitwise() {
        for &(n, d) in &[(7usize, 5usize), (300, 300), (64, 1000), (2000, 20)] {
            let (p, idx, dat) = ring(n);
            let w = Csr {
                n,
                indptr: &p,
                indices: &idx,
                data: &dat,
            };
            let x = noise(n * d, 1);
            let sa: Vec<f64> = noise(n * d, 2).iter().map(|t| 1.5 + t).collect();
            let sb = noise(n * d, 3);
            let anchor = noise(n * d, 4);
            let f: Vec<f64> = (0..n).map(|i| 0.01 + 0.001 * (i % 5) as f64).collect();
            let mu: Vec<f64> = (0..n).map(|i| if i % 3 == 1 { 0.3 } else { 0.0 }).collect();
            let rho: Vec<f64> = (0..n).map(|i| if i % 3 == 2 { 0.6 } else { 0.0 }).collect();
            let is_m: Vec<bool> = (0..n).map(|i| i % 3 == 2).collect();
            let v0 = noise(n * d, 5);
            let g: Vec<f64> = (0..n * d).map(|k| (x[k] - sb[k]) * sa[k]).collect();
            let mut v_ref = v0.clone();
            let want = reference(&w, &x, n, d, &g, &f, &mu, &anchor, &rho, &is_m, &mut v_ref);
            for grad in [Gradient::Given(&g), Gradient::Separable { a: &sa, b: &sb }] {
                let step = LocalStep {
                    grad,
                    factor: &f,
                    prox: Some((&mu, &anchor)),
                    momentum: Some((&rho, &is_m)),
                };
                for threads in [1, 3] {
                    let pool = rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()
                        .unwrap();
                    let mut v = v0.clone();
                    let mut out = vec![f64::NAN; n * d];
                    pool.install(|| {
                        gossip_round(Some(&w), &x, n, d, Some(&step), Some(&mut v), &mut out)
                    })
                    .unwrap();
                    assert_eq!(out, want, "n={n} d={d} threads={threads}");
                    assert_eq!(v, v_ref);
                }
            }
        }
    }

    #[test]
    fn dense_and_least_squares_gradients() {
        let (n, d) = (40usize, 33usize);
        let (p, idx, dat) = ring(n);
        let w = Csr {
            n,
            indptr: &p,
            indices: &idx,
            data: &dat,
        };
        let x = noise(n * d, 7);
        let b = noise(n * d, 8);
        let amat = noise(n * d * d, 9);
        let f = vec![0.1; n];
        // dense: g_i = A_i (x_i − b_i), summed naively
        let mut g = vec![0.0; n * d];
        for i in 0..n {
            for k in 0..d {
                g[i * d + k] = (0..d)
                    .map(|j| amat[i * d * d + k * d + j] * (x[i * d + j] - b[i * d + j]))
                    .sum();
            }
        }
        // least squares: device i has 1 + i % 4 samples
        let counts: Vec<usize> = (0..n).map(|i| 1 + i % 4).collect();
        let mut offsets = vec![0i64];
        for c in &counts {
            offsets.push(offsets.last().unwrap() + *c as i64);
        }
        let m = *offsets.last().unwrap() as usize;
        let z = noise(m * d, 10);
        let yv = noise(m, 11);
        let l2 = 0.05;
        let mut gl = vec![0.0; n * d];
        for i in 0..n {
            for s in offsets[i] as usize..offsets[i + 1] as usize {
                let r: f64 = (0..d).map(|j| z[s * d + j] * x[i * d + j]).sum::<f64>() - yv[s];
                for j in 0..d {
                    gl[i * d + j] += z[s * d + j] * r;
                }
            }
            for j in 0..d {
                gl[i * d + j] = gl[i * d + j] / counts[i] as f64 + l2 * x[i * d + j];
            }
        }
        for (grad, want_g) in [
            (Gradient::Dense { a: &amat, b: &b }, &g),
            (
                Gradient::LeastSquares {
                    z: &z,
                    y: &yv,
                    offsets: &offsets,
                    l2,
                },
                &gl,
            ),
        ] {
            let step = LocalStep {
                grad,
                factor: &f,
                prox: None,
                momentum: None,
            };
            let given = LocalStep {
                grad: Gradient::Given(want_g),
                factor: &f,
                prox: None,
                momentum: None,
            };
            let mut out = vec![0.0; n * d];
            let mut want = vec![0.0; n * d];
            gossip_round(Some(&w), &x, n, d, Some(&step), None, &mut out).unwrap();
            gossip_round(Some(&w), &x, n, d, Some(&given), None, &mut want).unwrap();
            for (o, e) in out.iter().zip(&want) {
                assert!((o - e).abs() <= 1e-13 * (1.0 + e.abs()), "{o} vs {e}");
            }
        }
    }

    #[test]
    fn f32_state_close_to_f64() {
        let (n, d) = (50usize, 17usize);
        let (p, idx, dat) = ring(n);
        let dat32: Vec<f32> = dat.iter().map(|&t| t as f32).collect();
        let x = noise(n * d, 12);
        let sa: Vec<f64> = noise(n * d, 13).iter().map(|t| 1.5 + t).collect();
        let sb = noise(n * d, 14);
        let f = vec![0.05; n];
        let cast = |v: &[f64]| v.iter().map(|&t| t as f32).collect::<Vec<f32>>();
        let mut o64 = vec![0.0; n * d];
        let mut o32 = vec![0.0f32; n * d];
        let w64 = Csr {
            n,
            indptr: &p,
            indices: &idx,
            data: &dat,
        };
        let w32 = Csr {
            n,
            indptr: &p,
            indices: &idx,
            data: &dat32,
        };
        let s64 = LocalStep {
            grad: Gradient::Separable { a: &sa, b: &sb },
            factor: &f,
            prox: None,
            momentum: None,
        };
        let (sa32, sb32, f32v) = (cast(&sa), cast(&sb), cast(&f));
        let s32 = LocalStep {
            grad: Gradient::Separable { a: &sa32, b: &sb32 },
            factor: &f32v,
            prox: None,
            momentum: None,
        };
        gossip_round(Some(&w64), &x, n, d, Some(&s64), None, &mut o64).unwrap();
        gossip_round(Some(&w32), &cast(&x), n, d, Some(&s32), None, &mut o32).unwrap();
        for (a, b) in o64.iter().zip(&o32) {
            assert!((a - *b as f64).abs() < 1e-6, "{a} vs {b}");
        }
    }
}

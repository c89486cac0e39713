//! Exact Cheeger constants by enumeration of all `2^(n-1)` cuts.
//!
//! Definitions (weighted, networkx semantics): for a proper non-empty `S ⊂ V`,
//! `cut(S) = Σ_{u∈S, v∉S} w_uv`, and with a node *mass* `μ` (the weighted degree `d_u` for
//! [`Normalization::Volume`], 1 for [`Normalization::Size`])
//!
//! ```text
//!     h(G) = min_S  cut(S) / min(μ(S), μ(V∖S)).
//! ```
//!
//! `Volume` gives the conductance (Cheeger constant) `h(G) = min cut/min(vol S, vol S̄)`,
//! `Size` the edge expansion `min cut/min(|S|, |S̄|)`. The Markov-chain conductance
//! `Φ(W) = min_{0<|S|≤n/2} (1/|S|) Σ_{i∈S, j∉S} W_ij` of a symmetric matrix `W` is the `Size`
//! value of the graph whose edge weights are the off-diagonal entries of `W`.
//!
//! # Algorithm
//! Node `n−1` is fixed outside `S` (a cut and its complement have the same value), so the
//! free nodes `0..n−1` give `2^(n−1)` codes. They are split into `L` *low* nodes and
//! `K = n−1−L` *high* nodes: `S = T ∪ H`. For all `2^L` low sets `T`, `cut(T)` and `μ(T)` are
//! tabulated once. The high sets `H` are visited in Gray-code order (one node enters or leaves
//! per step, `O(n)` update of `cut(H)`, `μ(H)` and of `a_v = w(v, H)` for the low nodes `v`),
//! and for each `H` the whole block of `2^L` sets is evaluated with
//! `cut(T ∪ H) = cut(T) + cut(H) − 2 Σ_{v∈T} a_v`, where the subset sums of `a` are built from
//! two half tables, so the inner loop is a branch-free, vectorizable pass over contiguous
//! arrays that only flags rows containing an improvement on the current best value. The
//! Gray-code index space of `H` is cut into chunks processed in parallel with rayon (in order on
//! one thread below [`PARALLEL_MIN_N`] nodes); each chunk recomputes its start state from
//! scratch (bounded rounding drift) and first checks a cancel flag. The [`StopFn`] is polled
//! only by the calling thread, which sets the flag ([`crate::error::watched`]).
//! The winning set's value is recomputed from scratch at the end.

use crate::error::{watched, CoreError, Result, StopFn};
use crate::graph::Graph;
use crate::metrics::connected_components;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

/// Default largest `n` accepted by exact enumeration (`2^31` cuts, a few seconds).
pub const DEFAULT_MAX_EXACT: usize = 32;
/// Largest `n` accepted even when the caller raises the limit (`2^47` cuts take days).
pub const HARD_MAX_EXACT: usize = 48;

/// Number of low nodes tabulated per block (block = `2^LOW_BITS` sets).
const LOW_BITS: usize = 11;
/// Bits of the inner (vectorized) row; the block is `2^(L−ROW_BITS)` rows.
const ROW_BITS: usize = 8;
/// About `2^CHUNK_LOG2` sets per parallel chunk (one stop poll per chunk).
const CHUNK_LOG2: usize = 22;

/// Which mass normalizes the cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `cut(S) / min(vol S, vol S̄)` with weighted degrees: conductance.
    Volume,
    /// `cut(S) / min(|S|, |S̄|)`: edge expansion.
    Size,
}

impl Normalization {
    /// Parse `"volume"` or `"size"`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "volume" => Ok(Normalization::Volume),
            "size" => Ok(Normalization::Size),
            other => Err(CoreError::InvalidArgument(format!(
                "unknown normalization {other:?}; expected \"volume\" or \"size\""
            ))),
        }
    }

    /// Mass of every node: weighted degree (`Volume`) or 1 (`Size`).
    pub fn masses(self, g: &Graph) -> Vec<f64> {
        match self {
            Normalization::Volume => g.degrees().to_vec(),
            Normalization::Size => vec![1.0; g.n()],
        }
    }
}

/// A cut and its normalized value.
#[derive(Debug, Clone, PartialEq)]
pub struct CheegerCut {
    /// `cut(S) / min(μ(S), μ(S̄))`.
    pub value: f64,
    /// The set `S` (boolean mask): the side with the smaller mass (ties: the side without
    /// node `n−1`).
    pub mask: Vec<bool>,
    /// `cut(S)`.
    pub cut: f64,
    /// `μ(S)` (volume or size of the returned side).
    pub mass: f64,
    /// `μ(V∖S)`.
    pub complement_mass: f64,
}

/// `(cut(S), μ(S), μ(V∖S))` computed from scratch.
pub fn cut_and_masses(g: &Graph, mask: &[bool], mass: &[f64]) -> (f64, f64, f64) {
    let mut cut = 0.0;
    let (mut ms, mut mt) = (0.0, 0.0);
    for u in 0..g.n() {
        if mask[u] {
            ms += mass[u];
            for (v, w) in g.neighbors(u) {
                if !mask[v] {
                    cut += w;
                }
            }
        } else {
            mt += mass[u];
        }
    }
    (cut, ms, mt)
}

/// Build the result for `mask`, flipping to the lighter side.
pub(crate) fn finish_cut(g: &Graph, mut mask: Vec<bool>, mass: &[f64]) -> CheegerCut {
    let (cut, mut ms, mut mt) = cut_and_masses(g, &mask, mass);
    let last_in = mask.last().copied().unwrap_or(false);
    if mt < ms || (mt == ms && last_in) {
        for b in mask.iter_mut() {
            *b = !*b;
        }
        std::mem::swap(&mut ms, &mut mt);
    }
    let den = ms.min(mt);
    let value = if cut == 0.0 { 0.0 } else { cut / den };
    CheegerCut {
        value,
        mask,
        cut,
        mass: ms,
        complement_mass: mt,
    }
}

/// For a disconnected graph: value 0 and a connected component as the set (the one of
/// smallest positive mass; any component if every mass is zero). `None` if connected.
pub fn disconnected_cut(g: &Graph, norm: Normalization) -> Option<CheegerCut> {
    let (labels, c) = connected_components(g);
    if c <= 1 {
        return None;
    }
    let mass = norm.masses(g);
    let mut comp_mass = vec![0.0; c];
    for (u, &l) in labels.iter().enumerate() {
        comp_mass[l] += mass[u];
    }
    let mut pick = 0;
    let mut best = f64::INFINITY;
    for (l, &m) in comp_mass.iter().enumerate() {
        if m > 0.0 && m < best {
            best = m;
            pick = l;
        }
    }
    let mask: Vec<bool> = labels.iter().map(|&l| l == pick).collect();
    let (cut, ms, mt) = cut_and_masses(g, &mask, &mass);
    Some(CheegerCut {
        value: 0.0,
        mask,
        cut,
        mass: ms,
        complement_mass: mt,
    })
}

/// Enumerations of fewer nodes run sequentially on the calling thread (they are a single
/// chunk of at most `2^22` cuts, about 2 ms). From 24 nodes on (two or more chunks) the chunks
/// run in parallel: measured on 2 cores at load 6–9, n = 24 took 3.1 ms best / 12.0 ms median
/// in parallel vs 4.0 / 13.4 ms sequentially for 1–2 % more CPU time (`docs/cheeger.md`).
pub const PARALLEL_MIN_N: usize = 24;

/// Work estimate of enumerating an `n`-node graph (one unit per cut), for [`watched`].
pub fn enumeration_cost(n: usize) -> f64 {
    (n.saturating_sub(1) as f64).exp2()
}

fn check_size(n: usize, max_exact: usize) -> Result<()> {
    if n < 2 {
        return Err(CoreError::InvalidArgument(format!(
            "the Cheeger constant needs at least 2 nodes, the graph has {n}"
        )));
    }
    let limit = max_exact.min(HARD_MAX_EXACT);
    if n > limit {
        let hint = if limit < HARD_MAX_EXACT {
            format!(
                "enumeration visits 2^{} cuts; raise max_exact (at most {HARD_MAX_EXACT}) or \
                 use the sweep method with certified bounds",
                n - 1
            )
        } else {
            "use the sweep method with certified bounds".to_string()
        };
        return Err(CoreError::TooLarge {
            what: "graph".into(),
            size: n,
            limit,
            hint,
        });
    }
    Ok(())
}

/// Exact Cheeger constant of `g` under `norm` by enumeration of all cuts.
///
/// Errors: fewer than 2 nodes (`InvalidArgument`); `n > max_exact` or `n > HARD_MAX_EXACT`
/// (`TooLarge`); `stop()` returned true (`Interrupted`). A disconnected graph has value 0
/// (see [`disconnected_cut`]). `stop` is polled only on the calling thread ([`watched`]).
pub fn exact_cheeger(
    g: &Graph,
    norm: Normalization,
    max_exact: usize,
    stop: StopFn,
) -> Result<CheegerCut> {
    check_size(g.n(), max_exact)?;
    watched(stop, enumeration_cost(g.n()), |cancel| {
        exact_cheeger_cancel(g, norm, max_exact, cancel)
    })
}

/// [`exact_cheeger`] with a cancel flag instead of a [`StopFn`] (`Interrupted` soon after the
/// flag is set), for callers already inside a parallel computation. Graphs of fewer than
/// [`PARALLEL_MIN_N`] nodes are enumerated on the calling thread alone.
pub fn exact_cheeger_cancel(
    g: &Graph,
    norm: Normalization,
    max_exact: usize,
    cancel: &AtomicBool,
) -> Result<CheegerCut> {
    check_size(g.n(), max_exact)?;
    if cancel.load(Ordering::Relaxed) {
        return Err(CoreError::Interrupted);
    }
    if let Some(c) = disconnected_cut(g, norm) {
        return Ok(c);
    }
    let mass = norm.masses(g);
    let engine = Engine::new(g, &mass);
    let code = engine.run(cancel, g.n() >= PARALLEL_MIN_N)?;
    let mask: Vec<bool> = (0..g.n()).map(|u| (code >> u) & 1 == 1).collect();
    Ok(finish_cut(g, mask, &mass))
}

/// Exact Markov-chain conductance of a dense symmetric `n × n` row-major matrix `w`:
/// `Φ(W) = min_{0<|S|≤n/2} (1/|S|) Σ_{i∈S, j∉S} W_ij` (diagonal ignored). Returns the cut with
/// `value = Φ(W)` and the minimizing set (`|S| ≤ n/2`).
pub fn exact_chain_conductance(
    w: &[f64],
    n: usize,
    max_exact: usize,
    stop: StopFn,
) -> Result<CheegerCut> {
    let g = dense_to_graph(w, n)?;
    exact_cheeger(&g, Normalization::Size, max_exact, stop)
}

/// Graph whose edges are the positive off-diagonal entries of a dense symmetric matrix.
pub fn dense_to_graph(w: &[f64], n: usize) -> Result<Graph> {
    if w.len() != n * n {
        return Err(CoreError::LengthMismatch {
            what: format!("matrix has {} entries, expected {n}×{n}", w.len()),
        });
    }
    let (mut src, mut dst, mut val) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        for j in 0..n {
            let x = w[i * n + j];
            if !x.is_finite() || x < 0.0 {
                return Err(CoreError::InvalidArgument(format!(
                    "matrix entry ({i}, {j}) = {x} is negative or not finite"
                )));
            }
            if x != w[j * n + i] {
                return Err(CoreError::InvalidArgument(format!(
                    "matrix is not symmetric: W[{i},{j}] = {x} but W[{j},{i}] = {}",
                    w[j * n + i]
                )));
            }
            if i < j && x > 0.0 {
                src.push(i as i64);
                dst.push(j as i64);
                val.push(x);
            }
        }
    }
    Ok(Graph::from_edges(n, &src, &dst, Some(&val))?.0)
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[inline(always)]
fn row_hit_generic(
    ct: &[f64],
    mt: &[f64],
    s_lo: &[f64],
    base: f64,
    mass_h: f64,
    tot: f64,
    thr: f64,
) -> bool {
    let mut hits = 0u32;
    for ((&c0, &m0), &sl) in ct.iter().zip(mt).zip(s_lo.iter()) {
        let c = base + c0 - 2.0 * sl;
        let m = m0 + mass_h;
        let r = tot - m;
        let den = if m < r { m } else { r };
        hits += (c < thr * den) as u32;
    }
    hits > 0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn row_hit_avx2(
    ct: &[f64],
    mt: &[f64],
    s_lo: &[f64],
    base: f64,
    mass_h: f64,
    tot: f64,
    thr: f64,
) -> bool {
    row_hit_generic(ct, mt, s_lo, base, mass_h, tot, thr)
}

fn gray(i: u64) -> u64 {
    i ^ (i >> 1)
}

/// Enumeration engine over a connected graph with positive masses.
struct Engine {
    n: usize,
    /// Free nodes `0..k` (`k = n − 1`).
    k: usize,
    /// Low nodes `0..low`.
    low: usize,
    /// Row length `2^row_bits` inside a block.
    row_bits: usize,
    adj: Vec<f64>,
    deg: Vec<f64>,
    mass: Vec<f64>,
    total_mass: f64,
    cut_t: Vec<f64>,
    mass_t: Vec<f64>,
    /// The CPU has AVX2 and FMA.
    avx2: bool,
}

impl Engine {
    fn new(g: &Graph, mass: &[f64]) -> Engine {
        let n = g.n();
        let k = n - 1;
        let low = k.min(LOW_BITS);
        let row_bits = low.min(ROW_BITS);
        let mut adj = vec![0.0; n * n];
        for u in 0..n {
            for (v, w) in g.neighbors(u) {
                adj[u * n + v] = w;
            }
        }
        let deg = g.degrees().to_vec();
        let size = 1usize << low;
        let mut cut_t = vec![0.0; size];
        let mut mass_t = vec![0.0; size];
        for t in 1..size {
            let v = usize::BITS as usize - 1 - t.leading_zeros() as usize;
            let rest = t ^ (1 << v);
            let mut w = 0.0;
            let mut bits = rest;
            while bits != 0 {
                let u = bits.trailing_zeros() as usize;
                w += adj[v * n + u];
                bits &= bits - 1;
            }
            cut_t[t] = cut_t[rest] + deg[v] - 2.0 * w;
            mass_t[t] = mass_t[rest] + mass[v];
        }
        Engine {
            n,
            k,
            low,
            row_bits,
            adj,
            deg,
            mass: mass.to_vec(),
            total_mass: mass.iter().sum(),
            cut_t,
            mass_t,
            avx2: has_avx2(),
        }
    }

    /// Minimizing code (bit `u` set ⇔ node `u ∈ S`); `Interrupted` once `cancel` is set
    /// (checked before each chunk). Chunks run in parallel if `parallel`, else in order on the
    /// calling thread; the reduction by `(value, code)` makes the result the same either way.
    fn run(&self, cancel: &AtomicBool, parallel: bool) -> Result<u64> {
        let high = self.k - self.low;
        let chunk_log = high.min(CHUNK_LOG2.saturating_sub(self.low));
        let chunks = 1u64 << (high - chunk_log);
        let chunk_len = 1u64 << chunk_log;
        let one = |c: u64| {
            if cancel.load(Ordering::Relaxed) {
                return None;
            }
            Some(self.chunk(c * chunk_len, (c + 1) * chunk_len))
        };
        let pick = |a: Option<(f64, u64)>, b: Option<(f64, u64)>| match (a, b) {
            (Some(x), Some(y)) => Some(if y.0 < x.0 || (y.0 == x.0 && y.1 < x.1) {
                y
            } else {
                x
            }),
            _ => None,
        };
        let start = Some((f64::INFINITY, u64::MAX));
        let best = if parallel && chunks > 1 {
            (0..chunks).into_par_iter().map(one).reduce(|| start, pick)
        } else {
            (0..chunks).map(one).fold(start, pick)
        };
        match best {
            Some((v, code)) if v.is_finite() => Ok(code),
            Some(_) => Err(CoreError::InvalidArgument(
                "no cut with a positive denominator (all node masses zero?)".into(),
            )),
            None => Err(CoreError::Interrupted),
        }
    }

    /// Best `(value, code)` over the high Gray indices `start..end`.
    fn chunk(&self, start: u64, end: u64) -> (f64, u64) {
        let (n, low) = (self.n, self.low);
        let mut h = gray(start);
        // state from scratch
        let mut cut_h = 0.0;
        let mut mass_h = 0.0;
        let mut a = vec![0.0; low];
        for b in 0..(self.k - low) {
            if (h >> b) & 1 == 1 {
                let u = low + b;
                mass_h += self.mass[u];
                let mut w_in = 0.0;
                for b2 in 0..(self.k - low) {
                    if (h >> b2) & 1 == 1 {
                        w_in += self.adj[u * n + low + b2];
                    }
                }
                cut_h += self.deg[u];
                // each internal edge is subtracted twice overall (once per endpoint)
                cut_h -= w_in;
                for (v, av) in a.iter_mut().enumerate() {
                    *av += self.adj[u * n + v];
                }
            }
        }
        let mut s_lo = vec![0.0; 1 << self.row_bits];
        let mut s_hi = vec![0.0; 1 << (low - self.row_bits)];
        let mut best = (f64::INFINITY, u64::MAX);
        let mut i = start;
        loop {
            self.block(cut_h, mass_h, &a, h, &mut s_lo, &mut s_hi, &mut best);
            i += 1;
            if i >= end {
                break;
            }
            let b = i.trailing_zeros() as usize;
            let u = low + b;
            let entering = (h >> b) & 1 == 0;
            let mut w = 0.0;
            let mut bits = h & !(1u64 << b);
            while bits != 0 {
                let x = bits.trailing_zeros() as usize;
                w += self.adj[u * n + low + x];
                bits &= bits - 1;
            }
            let sign = if entering { 1.0 } else { -1.0 };
            cut_h += sign * (self.deg[u] - 2.0 * w);
            mass_h += sign * self.mass[u];
            let row = &self.adj[u * n..u * n + low];
            for (av, &x) in a.iter_mut().zip(row) {
                *av += sign * x;
            }
            h ^= 1u64 << b;
        }
        best
    }

    /// True if some set of the row may beat `thr` (`c < thr·den`); vectorized (AVX2 when the
    /// CPU has it, detected at run time).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn row_hit(
        &self,
        ct: &[f64],
        mt: &[f64],
        s_lo: &[f64],
        base: f64,
        mass_h: f64,
        tot: f64,
        thr: f64,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: `avx2` is true only if the running CPU supports AVX2 and FMA.
            return unsafe { row_hit_avx2(ct, mt, s_lo, base, mass_h, tot, thr) };
        }
        row_hit_generic(ct, mt, s_lo, base, mass_h, tot, thr)
    }

    /// Scan the `2^low` sets `T ∪ H` for the fixed high set `H` (code `h`).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn block(
        &self,
        cut_h: f64,
        mass_h: f64,
        a: &[f64],
        h: u64,
        s_lo: &mut [f64],
        s_hi: &mut [f64],
        best: &mut (f64, u64),
    ) {
        let rb = self.row_bits;
        for t in 1..s_lo.len() {
            s_lo[t] = s_lo[t & (t - 1)] + a[t.trailing_zeros() as usize];
        }
        for t in 1..s_hi.len() {
            s_hi[t] = s_hi[t & (t - 1)] + a[rb + t.trailing_zeros() as usize];
        }
        let row = 1usize << rb;
        let tot = self.total_mass;
        let hbase = h << self.low;
        for (j, &sh) in s_hi.iter().enumerate() {
            let base = cut_h - 2.0 * sh;
            let off = j << rb;
            let ct = &self.cut_t[off..off + row];
            let mt = &self.mass_t[off..off + row];
            let thr = best.0;
            if self.row_hit(ct, mt, s_lo, base, mass_h, tot, thr) {
                for t in 0..row {
                    let code = hbase | (off + t) as u64;
                    if code == 0 {
                        continue;
                    }
                    let c = base + ct[t] - 2.0 * s_lo[t];
                    let m = mt[t] + mass_h;
                    let den = m.min(tot - m);
                    if den > 0.0 {
                        let v = c.max(0.0) / den;
                        if v < best.0 {
                            *best = (v, code);
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::never_stop;

    fn brute(g: &Graph, norm: Normalization) -> f64 {
        let n = g.n();
        let mass = norm.masses(g);
        let mut best = f64::INFINITY;
        for code in 1u64..(1 << (n - 1)) {
            let mask: Vec<bool> = (0..n).map(|u| (code >> u) & 1 == 1).collect();
            let (c, a, b) = cut_and_masses(g, &mask, &mass);
            let d = a.min(b);
            if d > 0.0 {
                best = best.min(c / d);
            }
        }
        best
    }

    fn cycle(n: usize) -> Graph {
        let src: Vec<i64> = (0..n as i64).collect();
        let dst: Vec<i64> = (0..n as i64).map(|u| (u + 1) % n as i64).collect();
        Graph::from_edges(n, &src, &dst, None).unwrap().0
    }

    fn complete(n: usize) -> Graph {
        let (mut s, mut d) = (vec![], vec![]);
        for u in 0..n as i64 {
            for v in u + 1..n as i64 {
                s.push(u);
                d.push(v);
            }
        }
        Graph::from_edges(n, &s, &d, None).unwrap().0
    }

    /// Deterministic pseudo-random weighted connected graph.
    fn random_graph(n: usize, seed: u64) -> Graph {
        crate::testutil::random_weighted_graph(n, seed, 4, 100.0)
    }

    #[test]
    fn cycles_and_complete_graphs() {
        for n in 3..=20 {
            let c = exact_cheeger(&cycle(n), Normalization::Volume, 32, &never_stop).unwrap();
            assert!((c.value - 1.0 / (n / 2) as f64).abs() < 1e-12, "C_{n}");
            let s = exact_cheeger(&cycle(n), Normalization::Size, 32, &never_stop).unwrap();
            assert!((s.value - 2.0 / (n / 2) as f64).abs() < 1e-12, "C_{n} size");
            let k = exact_cheeger(&complete(n), Normalization::Volume, 32, &never_stop).unwrap();
            let expect = (n.div_ceil(2)) as f64 / (n - 1) as f64;
            assert!(
                (k.value - expect).abs() < 1e-12,
                "K_{n}: {} vs {expect}",
                k.value
            );
            let ks = exact_cheeger(&complete(n), Normalization::Size, 32, &never_stop).unwrap();
            assert!((ks.value - n.div_ceil(2) as f64).abs() < 1e-12);
        }
    }

    #[test]
    fn matches_brute_force_on_random_weighted_graphs() {
        for seed in 0..40u64 {
            let n = 2 + (seed as usize % 15);
            let g = random_graph(n, seed);
            for norm in [Normalization::Volume, Normalization::Size] {
                let r = exact_cheeger(&g, norm, 32, &never_stop).unwrap();
                let b = brute(&g, norm);
                assert!((r.value - b).abs() <= 1e-10 * b.max(1.0), "seed {seed}");
                let mass = norm.masses(&g);
                let (c, ms, mt) = cut_and_masses(&g, &r.mask, &mass);
                assert!(ms <= mt);
                assert!((c / ms.min(mt) - r.value).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn larger_graph_uses_several_chunks() {
        // n = 24: 2^23 codes, 2^12 high codes in 4 chunks.
        let g = random_graph(24, 7);
        let r = exact_cheeger(&g, Normalization::Volume, 32, &never_stop).unwrap();
        let b = brute(&g, Normalization::Volume);
        assert!((r.value - b).abs() <= 1e-10 * b.max(1.0));
    }

    #[test]
    fn conventions_and_errors() {
        let g = Graph::from_edges(5, &[0, 2, 3], &[1, 3, 4], None)
            .unwrap()
            .0;
        let r = exact_cheeger(&g, Normalization::Volume, 32, &never_stop).unwrap();
        assert_eq!(r.value, 0.0);
        assert_eq!(r.cut, 0.0);
        assert_eq!(r.mask, vec![true, true, false, false, false]);
        let one = Graph::from_edges(1, &[], &[], None).unwrap().0;
        assert!(matches!(
            exact_cheeger(&one, Normalization::Volume, 32, &never_stop),
            Err(CoreError::InvalidArgument(_))
        ));
        assert!(matches!(
            exact_cheeger(&cycle(40), Normalization::Volume, 32, &never_stop),
            Err(CoreError::TooLarge { limit: 32, .. })
        ));
        assert!(matches!(
            exact_cheeger(&cycle(50), Normalization::Volume, 100, &never_stop),
            Err(CoreError::TooLarge { limit: 48, .. })
        ));
        let stop = || true;
        assert!(matches!(
            exact_cheeger(&cycle(10), Normalization::Volume, 32, &stop),
            Err(CoreError::Interrupted)
        ));
        assert!(Normalization::parse("vol").is_err());
    }

    #[test]
    fn watched_enumeration_stops_mid_run() {
        // stop turns true 30 ms in: only a poll during the run can see it (the first poll
        // happens at the start), so Interrupted proves mid-run polling from the caller thread.
        let g = random_graph(34, 5);
        let t0 = std::time::Instant::now();
        let stop = move || t0.elapsed().as_millis() > 30;
        let r = exact_cheeger(&g, Normalization::Volume, 40, &stop);
        assert!(matches!(r, Err(CoreError::Interrupted)));
        let v = crate::error::run_watched(&never_stop, |c| Ok(c.load(Ordering::Relaxed)));
        assert_eq!(v, Ok(false));
    }

    /// Run `f` on its own thread; fail (instead of hanging) if it takes over `secs` seconds.
    pub(crate) fn within<T: Send + 'static>(
        secs: u64,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(std::time::Duration::from_secs(secs))
            .expect("timed out: deadlock?")
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn nested_in_small_pools_does_not_deadlock() {
        // As many ≥ 24-node enumerations as pool threads, each started from a worker: the old
        // watcher parked every worker while their chunks waited in the same pool's queue.
        let graphs: Vec<Graph> = (0..4).map(|s| random_graph(25, 100 + s)).collect();
        // reference: the engine on this thread alone, chunks in order
        let seq: Vec<CheegerCut> = graphs
            .iter()
            .map(|g| {
                let mass = Normalization::Volume.masses(g);
                let code = Engine::new(g, &mass)
                    .run(&AtomicBool::new(false), false)
                    .unwrap();
                let mask = (0..g.n()).map(|u| (code >> u) & 1 == 1).collect();
                finish_cut(g, mask, &mass)
            })
            .collect();
        for threads in [1, 2] {
            let (gs, want) = (graphs.clone(), seq.clone());
            within(120, move || {
                let got: Vec<CheegerCut> = pool(threads).install(|| {
                    gs.par_iter()
                        .map(|g| exact_cheeger(g, Normalization::Volume, 32, &never_stop).unwrap())
                        .collect()
                });
                assert_eq!(got, want, "{threads} threads");
            });
        }
    }

    #[test]
    fn stop_is_polled_only_on_the_calling_thread() {
        let g = random_graph(26, 3);
        let me = std::thread::current().id();
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let stop = || {
            assert_eq!(std::thread::current().id(), me);
            polls.fetch_add(1, Ordering::Relaxed);
            false
        };
        let a = exact_cheeger(&g, Normalization::Size, 32, &stop).unwrap();
        let b = exact_cheeger(&g, Normalization::Size, 32, &never_stop).unwrap();
        assert_eq!(a, b);
        assert!(polls.load(Ordering::Relaxed) >= 1);
        // a panic inside the watched work reaches the caller (no hang, no lost thread)
        let r = std::panic::catch_unwind(|| {
            crate::error::run_watched(&never_stop, |_| -> Result<()> { panic!("boom") })
        });
        assert!(r.is_err());
    }

    #[test]
    fn run_watched_on_a_worker_runs_inline() {
        within(60, || {
            pool(1).install(|| {
                let stop = || false;
                let r = crate::error::run_watched(&stop, |c| {
                    Ok((0..64u64).into_par_iter().map(|x| x * x).sum::<u64>()
                        + c.load(Ordering::Relaxed) as u64)
                });
                assert_eq!(r, Ok((0..64u64).map(|x| x * x).sum()));
            })
        });
    }

    #[test]
    fn chain_conductance_of_a_dense_matrix() {
        // W = lazy walk on the 4-cycle: W_ii = 1/2, W_{i,i±1} = 1/4.
        let n = 4;
        let mut w = vec![0.0; 16];
        for i in 0..n {
            w[i * n + i] = 0.5;
            w[i * n + (i + 1) % n] = 0.25;
            w[i * n + (i + n - 1) % n] = 0.25;
        }
        let r = exact_chain_conductance(&w, n, 32, &never_stop).unwrap();
        // S = two adjacent nodes: (1/2)(1/4 + 1/4) = 1/4.
        assert!((r.value - 0.25).abs() < 1e-15);
        w[1] = 0.3;
        assert!(exact_chain_conductance(&w, n, 32, &never_stop).is_err());
    }
}

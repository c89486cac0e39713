//! Exact, mergeable weighted sums for reproducible FedAvg (GradsSharding).
//!
//! Every element's weighted sum `A = Σ w_i x_i` is accumulated *exactly* in a fixed-point
//! integer ("superaccumulator") of 32-bit digits held in `i64` limbs (carry-save), wide enough
//! for the whole exponent range of the input type, the product with a weight, and 2^32 terms.
//! Because integer addition is associative and commutative, the accumulated value is the same
//! for every client order, grouping (tree) or element slicing (shards). Exact partial sums can
//! be serialised ([`reduce`] in partial mode) and merged later without any rounding. Only the
//! final step rounds, and it is a fixed function of the exact numerator `A` and of the exact
//! weight total supplied by the caller as `(k, w_prime)`:
//!
//! `result = sat_T(fl_T(fl64(2^-k · A) / w_prime))`, with `w_prime = fl64(2^-k · W)`,
//! `2^-k W ∈ [1/2, 1)`, `fl64` the IEEE round-to-nearest-even to binary64 (with gradual
//! underflow), `/` IEEE binary64 division, `fl_T` the rounding to the output type and `sat_T`
//! saturation to its finite range. An exact zero gives `+0`.
//!
//! Weights must be pre-scaled by a power of two so that they lie in `{0} ∪ [2^-64, 2)`.

use crate::error::{CoreError, StopFn};
use rayon::prelude::*;
use thiserror::Error;

/// Why a partial-sum encoding was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartialFault {
    /// A group header runs past the end of the bytes.
    TruncatedHeader,
    /// A group's digit window lies outside the accumulator (wrong dtype or corrupt bytes).
    WindowOutOfRange,
    /// A group's digits run past the end of the bytes.
    TruncatedBody,
    /// Bytes remain after the last group (wrong length or dtype).
    TrailingBytes,
}

impl PartialFault {
    /// Stable machine-readable name (crosses the Python binding).
    pub fn name(self) -> &'static str {
        match self {
            PartialFault::TruncatedHeader => "truncated_header",
            PartialFault::WindowOutOfRange => "window_out_of_range",
            PartialFault::TruncatedBody => "truncated_body",
            PartialFault::TrailingBytes => "trailing_bytes",
        }
    }
}

impl std::fmt::Display for PartialFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PartialFault::TruncatedHeader => "truncated header",
            PartialFault::WindowOutOfRange => "digit window out of range (wrong dtype?)",
            PartialFault::TruncatedBody => "truncated body",
            PartialFault::TrailingBytes => "trailing bytes (wrong length or dtype?)",
        })
    }
}

/// Everything an exact reduction can reject, each kind with its fields so that callers (the
/// Python binding) can act on them without parsing messages.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum ExactSumError {
    /// A NaN or ±inf in raw input `client` at flat element `element` (of this call).
    #[error("non-finite input {client} at element {element}: {value}")]
    NonFinite {
        client: usize,
        element: usize,
        value: f64,
    },
    /// Partial-sum input `which` is not a valid encoding for `n` elements of this dtype.
    #[error("partial sum {which} is malformed: {fault}")]
    MalformedPartial { which: usize, fault: PartialFault },
    /// A pre-scaled weight outside `{0} ∪ [2^-64, 2)`.
    #[error("weight {index} = {value} is outside {{0}} ∪ [2^-64, 2) after scaling")]
    Weight { index: usize, value: f64 },
    /// The weight total `w_prime` is not finite and positive.
    #[error("weight total {w_prime} must be finite and > 0")]
    WeightTotal { w_prime: f64 },
    /// Lengths of inputs, weights or output disagree.
    #[error("length mismatch: {what}")]
    LengthMismatch { what: String },
    /// More than [`MAX_TERMS`] inputs in one call.
    #[error("{terms} terms in one call, at most {MAX_TERMS} allowed")]
    TooManyTerms { terms: usize },
    /// The caller asked to stop (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
}

impl From<ExactSumError> for CoreError {
    fn from(e: ExactSumError) -> Self {
        match e {
            ExactSumError::Interrupted => CoreError::Interrupted,
            ExactSumError::LengthMismatch { what } => CoreError::LengthMismatch { what },
            other => CoreError::InvalidArgument(other.to_string()),
        }
    }
}

/// Result of the exact reductions.
pub type Result<T> = std::result::Result<T, ExactSumError>;

/// Elements per group: the unit of parallel work and of the partial-sum window encoding.
pub const GROUP: usize = 256;
/// Elements per unit of the final-mode fast path (a multiple of [`GROUP`]).
pub const FAST: usize = 8 * GROUP;
const DIGIT: i64 = 1 << 32;
const HALF_DIGIT: i64 = 1 << 31;
/// Smallest allowed nonzero (pre-scaled) weight.
pub const MIN_WEIGHT_EXP: i32 = -64;
/// Largest number of terms (raw inputs plus partials) merged in one call.
pub const MAX_TERMS: usize = 1 << 30;

/// A floating-point input type with its accumulator layout.
pub trait ExactFloat: Copy + Send + Sync + 'static {
    /// Number of 32-bit digits of the accumulator.
    const LIMBS: usize;
    /// Binary exponent of the least significant bit of digit 0.
    const LO: i32;
    /// Bits of the integer mantissa.
    const MANT_BITS: u32;
    /// Name used in error messages.
    const NAME: &'static str;
    /// `(negative, mantissa, exponent)` with value `±mantissa · 2^exponent`; `None` if not finite.
    fn decompose(self) -> Option<(bool, u64, i32)>;
    /// [`ExactFloat::decompose`] for a value known to be finite, without branches.
    fn decompose_finite(self) -> (bool, u64, i32);
    /// The bit pattern without the sign (monotone in `|self|` for finite values).
    fn abs_bits(self) -> u64;
    /// Largest [`ExactFloat::abs_bits`] of a slice (0 if empty), in the narrowest integer
    /// type so that it vectorises.
    fn max_abs_bits_slice(rs: &[Self]) -> u64;
    /// Smallest exponent of the least significant mantissa bit over the nonzero values of a
    /// slice (`i32::MAX` if there are none); vectorises.
    fn min_lsb_slice(rs: &[Self]) -> i32;
    /// `t` with `|x| < 2^t` for the value whose [`ExactFloat::abs_bits`] is `b`; `None` if
    /// that value is not finite.
    fn top_of_abs_bits(b: u64) -> Option<i32>;
    /// `t` with `|self| < 2^t`, or `None` if not finite (from the exponent field only).
    fn top_exp(self) -> Option<i32>;
    /// Round a binary64 value to this type, saturating at the largest finite value.
    fn from_f64_sat(v: f64) -> Self;
    /// The value as f64 (exact for f32 and f64), for error messages.
    fn to_f64(self) -> f64;
}

impl ExactFloat for f32 {
    // product lsb ≥ 2^(-149-116); |w x| < 2^129; 2^32 terms and a sign → bits [-265, 162]
    // = 14 digits; a product is written as ND ≤ 4 digits from its lowest one, which for a
    // 1-bit weight starts at digit ≤ 11 → 16 digits (the top ones may only receive zeros).
    const LIMBS: usize = 16;
    const LO: i32 = -265;
    const MANT_BITS: u32 = 24;
    const NAME: &'static str = "float32";
    #[inline(always)]
    fn decompose(self) -> Option<(bool, u64, i32)> {
        let b = self.to_bits();
        let neg = b >> 31 != 0;
        let e = ((b >> 23) & 0xff) as i32;
        let f = (b & 0x7f_ffff) as u64;
        match e {
            0xff => None,
            0 => Some((neg, f, -149)),
            _ => Some((neg, f | 0x80_0000, e - 150)),
        }
    }
    #[inline(always)]
    fn decompose_finite(self) -> (bool, u64, i32) {
        let b = self.to_bits();
        let f = (b >> 23) & 0xff;
        let m = (b & 0x7f_ffff) | (((f != 0) as u32) << 23);
        (b >> 31 != 0, m as u64, f.max(1) as i32 - 150)
    }
    #[inline(always)]
    fn abs_bits(self) -> u64 {
        (self.to_bits() & 0x7fff_ffff) as u64
    }
    fn top_of_abs_bits(b: u64) -> Option<i32> {
        f32::from_bits(b as u32).top_exp()
    }
    #[inline(always)]
    fn min_lsb_slice(rs: &[f32]) -> i32 {
        let k = rs
            .iter()
            .map(|v| {
                let a = v.to_bits() & 0x7fff_ffff;
                if a == 0 {
                    0xff
                } else {
                    a >> 23
                }
            })
            .fold(0xffu32, |x, y| x.min(y));
        if k == 0xff {
            i32::MAX
        } else {
            k.max(1) as i32 - 150
        }
    }
    #[inline(always)]
    fn max_abs_bits_slice(rs: &[f32]) -> u64 {
        rs.iter()
            .map(|v| v.to_bits() & 0x7fff_ffff)
            .fold(0u32, |a, b| a.max(b)) as u64
    }
    #[inline(always)]
    fn top_exp(self) -> Option<i32> {
        let f = (self.to_bits() >> 23) & 0xff;
        if f == 0xff {
            None
        } else {
            Some(f.max(1) as i32 - 126)
        }
    }
    #[inline(always)]
    fn from_f64_sat(v: f64) -> f32 {
        // branchless saturation (vectorises); v is never NaN here
        (v as f32).clamp(-f32::MAX, f32::MAX)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl ExactFloat for f64 {
    // product lsb ≥ 2^(-1074-116); |w x| < 2^1025; 2^32 terms and a sign → bits [-1190, 1058]
    // = 71 digits; products are written as ND ≤ 5 digits from digit ≤ 67 → 73 digits.
    const LIMBS: usize = 73;
    const LO: i32 = -1190;
    const MANT_BITS: u32 = 53;
    const NAME: &'static str = "float64";
    #[inline(always)]
    fn decompose(self) -> Option<(bool, u64, i32)> {
        let b = self.to_bits();
        let neg = b >> 63 != 0;
        let e = ((b >> 52) & 0x7ff) as i32;
        let f = b & 0x000f_ffff_ffff_ffff;
        match e {
            0x7ff => None,
            0 => Some((neg, f, -1074)),
            _ => Some((neg, f | (1u64 << 52), e - 1075)),
        }
    }
    #[inline(always)]
    fn decompose_finite(self) -> (bool, u64, i32) {
        let b = self.to_bits();
        let f = (b >> 52) & 0x7ff;
        let m = (b & 0x000f_ffff_ffff_ffff) | (((f != 0) as u64) << 52);
        (b >> 63 != 0, m, f.max(1) as i32 - 1075)
    }
    #[inline(always)]
    fn abs_bits(self) -> u64 {
        self.to_bits() & 0x7fff_ffff_ffff_ffff
    }
    fn top_of_abs_bits(b: u64) -> Option<i32> {
        f64::from_bits(b).top_exp()
    }
    #[inline(always)]
    fn min_lsb_slice(rs: &[f64]) -> i32 {
        let k = rs
            .iter()
            .map(|v| {
                let a = v.to_bits() & 0x7fff_ffff_ffff_ffff;
                if a == 0 {
                    0x7ff
                } else {
                    a >> 52
                }
            })
            .fold(0x7ffu64, |x, y| x.min(y));
        if k == 0x7ff {
            i32::MAX
        } else {
            k.max(1) as i32 - 1075
        }
    }
    #[inline(always)]
    fn max_abs_bits_slice(rs: &[f64]) -> u64 {
        rs.iter()
            .map(|v| v.to_bits() & 0x7fff_ffff_ffff_ffff)
            .fold(0u64, |a, b| a.max(b))
    }
    #[inline(always)]
    fn top_exp(self) -> Option<i32> {
        let f = (self.to_bits() >> 52) & 0x7ff;
        if f == 0x7ff {
            None
        } else {
            Some(f.max(1) as i32 - 1022)
        }
    }
    #[inline(always)]
    fn from_f64_sat(v: f64) -> f64 {
        v.clamp(-f64::MAX, f64::MAX)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// A pre-scaled weight split into mantissa and exponent (`w = m · 2^e`).
#[derive(Clone, Copy, Debug)]
struct Weight {
    m: u64,
    e: i32,
}

fn split_weights(weights: &[f64]) -> Result<Vec<Weight>> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            if !w.is_finite()
                || !(0.0..2.0).contains(&w)
                || (w != 0.0 && w < 2f64.powi(MIN_WEIGHT_EXP))
            {
                return Err(ExactSumError::Weight { index: i, value: w });
            }
            let (_, m, e) = w.decompose().unwrap_or((false, 0, 0));
            // Strip trailing zeros so that small-integer and power-of-two weights give narrow
            // products (fewer digits touched per addition).
            let tz = if m == 0 { 0 } else { m.trailing_zeros() };
            Ok(Weight {
                m: m >> tz,
                e: e + tz as i32,
            })
        })
        .collect()
}

/// Per-element accumulator state: limbs plus the touched digit range.
struct Acc<'a> {
    d: &'a mut [i64],
    lo: usize,
    hi: usize,
}

impl Acc<'_> {
    /// Add `±mx · 2^ex · w` writing exactly `ND` digits (`ND` covers the product width).
    #[inline(always)]
    fn add_product<const ND: usize>(
        &mut self,
        lo_exp: i32,
        neg: bool,
        mx: u64,
        ex: i32,
        w: Weight,
    ) {
        let v = (mx as u128) * (w.m as u128);
        if v == 0 {
            return;
        }
        // Position ≥ 0 and idx + ND ≤ LIMBS by construction of the layout (module docs).
        let pos = (ex + w.e - lo_exp) as usize;
        let idx = pos >> 5;
        let r = (pos & 31) as u32;
        let low = v << r;
        let top = if r == 0 { 0 } else { (v >> (128 - r)) as u64 };
        let sgn = -(neg as i64);
        // In range by the layout (see `LIMBS`); checked anyway so bad arithmetic cannot panic.
        let Some(d) = self.d.get_mut(idx..idx + ND) else {
            debug_assert!(false, "digit index out of layout");
            return;
        };
        for (j, x) in d.iter_mut().enumerate() {
            let c = if j < 4 {
                ((low >> (32 * j)) as u64 & 0xffff_ffff) as i64
            } else {
                top as i64
            };
            *x += (c ^ sgn) - sgn;
        }
        self.lo = self.lo.min(idx);
        self.hi = self.hi.max(idx + ND - 1);
    }

    #[inline(always)]
    fn add_digits(&mut self, start: usize, digits: &[i32]) {
        for (j, &g) in digits.iter().enumerate() {
            self.d[start + j] += g as i64;
        }
        if !digits.is_empty() {
            self.lo = self.lo.min(start);
            self.hi = self.hi.max(start + digits.len() - 1);
        }
    }

    /// Balanced normalisation: every digit but the top one in `[-2^31, 2^31)`.
    /// Returns `(lo, hi)` of the nonzero digits, or `None` for an exact zero.
    fn normalise(&mut self) -> Option<(usize, usize)> {
        if self.lo > self.hi {
            return None;
        }
        let n = self.d.len();
        let mut i = self.lo;
        while i + 1 < n {
            let c = (self.d[i] + HALF_DIGIT) >> 32;
            self.d[i] -= c * DIGIT;
            self.d[i + 1] += c;
            if i >= self.hi && c == 0 {
                break;
            }
            i += 1;
        }
        self.hi = self.hi.max((i + 1).min(n - 1));
        let mut lo = self.lo;
        let mut hi = self.hi;
        while lo <= hi && self.d[lo] == 0 {
            lo += 1;
        }
        while hi > lo && self.d[hi] == 0 {
            hi -= 1;
        }
        if lo > hi || self.d[hi] == 0 {
            None
        } else {
            Some((lo, hi))
        }
    }

    /// Zero the touched range (restores the all-zero invariant).
    fn clear(&mut self) {
        if self.lo <= self.hi {
            let top = (self.hi + 1).min(self.d.len() - 1);
            for x in &mut self.d[self.lo..=top] {
                *x = 0;
            }
        }
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

/// Round `±m · 2^e` (m with its top bit set; bit 0 may be a sticky bit) to binary64, RNE,
/// with gradual underflow; saturates at ±f64::MAX.
fn round_to_f64(neg: bool, m: u64, e: i32) -> f64 {
    let q = e + 63; // exponent of the leading bit
    let sign = if neg { 1u64 << 63 } else { 0 };
    if q > 1023 {
        return if neg { -f64::MAX } else { f64::MAX };
    }
    let p: i32 = if q >= -1022 { 53 } else { q + 1075 };
    let drop = 64 - p; // ≥ 11
    let mm = m as u128;
    let kept: u128 = if drop >= 128 {
        0
    } else {
        let kept = mm >> drop;
        let rem = mm & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        if rem > half || (rem == half && kept & 1 == 1) {
            kept + 1
        } else {
            kept
        }
    };
    let bits = if q >= -1022 {
        let (kept, q) = if kept == 1u128 << 53 {
            (1u128 << 52, q + 1)
        } else {
            (kept, q)
        };
        if q > 1023 {
            return if neg { -f64::MAX } else { f64::MAX };
        }
        (((q + 1023) as u64) << 52) | ((kept as u64) & ((1u64 << 52) - 1))
    } else {
        kept as u64 // subnormal, or exactly 2^52 = the smallest normal
    };
    f64::from_bits(sign | bits)
}

/// Add the weighted raw inputs at element `at`; `Err(c)` names a non-finite input.
#[inline(always)]
fn add_raw<T: ExactFloat, const ND: usize>(
    acc: &mut Acc<'_>,
    raw: &[&[T]],
    w: &[Weight],
    at: usize,
) -> std::result::Result<(), usize> {
    for (c, (r, &wc)) in raw.iter().zip(w).enumerate() {
        match r[at].decompose() {
            Some((neg, m, e)) => acc.add_product::<ND>(T::LO, neg, m, e, wc),
            None => return Err(c),
        }
    }
    Ok(())
}

/// Fast exact path for final mode: accumulate every element of a group in one `i128` whose
/// least significant bit is `2^base`, `base = (max top exponent in the group) − 95`: with
/// `|w| < 2` and at most 2^31 terms the sum stays below 2^127, and a term is exact iff its
/// lowest bit is ≥ `base`. Elements with a term below the window are left for the wide
/// accumulator (`done[i] = false`). Same exact value, same rounding → same bits.
fn fast_final_group<T: ExactFloat>(
    raw: &[&[T]],
    w: &[Weight],
    start: usize,
    out: &mut [T],
    k: i32,
    w_prime: f64,
    done: &mut [bool],
) {
    let len = out.len();
    if raw.is_empty() {
        return;
    }
    // Largest magnitude by the order of the bit patterns (vectorisable); NaN/inf sort last.
    let mut mx = 0u64;
    for r in raw {
        mx = mx.max(max_abs_bits(&r[start..start + len]));
    }
    let top = match T::top_of_abs_bits(mx) {
        Some(t) => t,
        None => return, // non-finite: the wide path reports it
    };
    // Narrow tier (float32 with weights of ≤ 29 significant bits, e.g. sample counts): one
    // i64 per element whose unit is 2^base, base = top + 1 + tbits − 63, so a sum of fewer
    // than 2^tbits terms |w x| < 2^(top+1) cannot overflow. A term is formed as the binary64
    // product x · (w · 2^-base), exact because it has ≤ 53 significant bits; it is in the
    // window iff that product is an integer (checked by converting back). The window spans
    // 63 − tbits − 25 − (weight bits) binades below the group's largest magnitude.
    let wbits = w
        .iter()
        .map(|x| 64 - x.m.leading_zeros())
        .max()
        .unwrap_or(1) as i32;
    let tbits = 64 - (raw.len() as u64).leading_zeros() as i32; // 2^tbits > terms
                                                                // Widest-vector tier: the same construction with the exact sums held in binary64, unit
                                                                // 2^base53 (base53 = top + 1 + tbits − 53): terms and sums are integers < 2^53, so every
                                                                // addition is exact; a term is an integer iff (|p| + 2^52) − 2^52 = |p|. All SIMD-able.
    let base53 = top + 1 + tbits - 53;
    if T::MANT_BITS as i32 + wbits <= 53 && (-1000..1000).contains(&base53) {
        let mut accf = [0f64; FAST];
        let exact = f64_tier_group(raw, w, start, len, base53, &mut accf[..len]);
        let sc = base53 - k;
        if exact && (-1022..=960).contains(&sc) {
            // a · 2^sc is exact (a has ≤ 53 bits, normal range): one rounding in `/`.
            scale_div(&accf[..len], out, pow2(sc), w_prime);
            done.iter_mut().for_each(|d| *d = true);
            return;
        }
    }
    let base64 = top + 1 + tbits - 63;
    if T::MANT_BITS as i32 + wbits <= 53 && (-1000..1000).contains(&base64) {
        let mut acc64 = [0i64; FAST];
        let mut badf = [0u8; FAST];
        for (r, &wc) in raw.iter().zip(w) {
            if wc.m == 0 {
                continue;
            }
            // w · 2^-base: exact (|base| < 1000, w ∈ [2^-64, 2) has 53 bits at most)
            let scale = (wc.m as f64) * pow2(wc.e - base64);
            let rs = &r[start..start + len];
            for ((&v, a), b) in rs.iter().zip(acc64.iter_mut()).zip(badf.iter_mut()) {
                let p = v.to_f64() * scale;
                let t = p as i64;
                *b |= ((t as f64) != p) as u8;
                *a += t;
            }
        }
        if badf[..len].iter().all(|&b| b == 0) {
            let sc = base64 - k;
            if (-1022..=960).contains(&sc) {
                // fl64(acc · 2^sc) = fl64(acc) · 2^sc in the normal range; `as f64` rounds
                // to nearest even.
                let f = pow2(sc);
                for (o, &a) in out.iter_mut().zip(acc64.iter()) {
                    *o = T::from_f64_sat((a as f64) * f / w_prime);
                }
                done.iter_mut().for_each(|d| *d = true);
                return;
            }
            let acc: Vec<i128> = acc64[..len].iter().map(|&x| x as i128).collect();
            finish_fast(&acc, base64, out, k, w_prime, done, &[false; FAST]);
            return;
        }
    }
    let mut acc = [0i128; FAST];
    let mut bad = [false; FAST];
    let base = top - 95;
    for (r, &wc) in raw.iter().zip(w) {
        if wc.m == 0 {
            continue;
        }
        let rs = &r[start..start + len];
        for ((&v, a), b) in rs.iter().zip(acc.iter_mut()).zip(bad.iter_mut()) {
            let (neg, m, e) = v.decompose_finite();
            let sh = e + wc.e - base;
            if sh < 0 {
                *b |= m != 0;
                continue;
            }
            let p = (((m as u128) * (wc.m as u128)) << sh) as i128;
            *a += if neg { -p } else { p };
        }
    }
    finish_fast(&acc[..len], base, out, k, w_prime, done, &bad);
}

/// Inner loop of the binary64 tier: `acc += x · scale`, `bad += |frac(x · scale)|`.
#[inline(always)]
fn f64_tier_add_generic<T: ExactFloat>(rs: &[T], acc: &mut [f64], bad: &mut [f64], scale: f64) {
    let c52 = 4_503_599_627_370_496.0f64;
    for ((&v, a), b) in rs.iter().zip(acc.iter_mut()).zip(bad.iter_mut()) {
        let p = v.to_f64() * scale;
        let q = p.abs();
        *b += ((q + c52) - c52 - q).abs();
        *a += p;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn f64_tier_add_avx2<T: ExactFloat>(rs: &[T], acc: &mut [f64], bad: &mut [f64], scale: f64) {
    f64_tier_add_generic(rs, acc, bad, scale)
}

/// Dispatch the binary64-tier loop to an AVX2 build when the CPU has it (same IEEE
/// operations, so the same bits; only the vector width differs).
#[inline(always)]
fn f64_tier_add<T: ExactFloat>(rs: &[T], acc: &mut [f64], bad: &mut [f64], scale: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { f64_tier_add_avx2(rs, acc, bad, scale) };
            return;
        }
    }
    f64_tier_add_generic(rs, acc, bad, scale)
}

#[inline(always)]
fn add_scaled_generic<T: ExactFloat>(rs: &[T], acc: &mut [f64], scale: f64) {
    for (&v, a) in rs.iter().zip(acc.iter_mut()) {
        *a += v.to_f64() * scale;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn add_scaled_avx2<T: ExactFloat>(rs: &[T], acc: &mut [f64], scale: f64) {
    add_scaled_generic(rs, acc, scale)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn min_lsb_avx2<T: ExactFloat>(rs: &[T]) -> i32 {
    T::min_lsb_slice(rs)
}

/// [`ExactFloat::min_lsb_slice`] with AVX2 dispatch.
#[inline(always)]
fn min_lsb<T: ExactFloat>(rs: &[T]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { min_lsb_avx2(rs) };
        }
    }
    T::min_lsb_slice(rs)
}

/// Binary64 tier accumulation of one group: `acc += x · scale_c` for every client. When every
/// term's lowest bit is ≥ `2^base` (checked per client from the smallest exponent present)
/// the products are integers and no per-value check is needed; otherwise each product is
/// checked and `false` is returned if any is not an integer.
fn f64_tier_group<T: ExactFloat>(
    raw: &[&[T]],
    w: &[Weight],
    start: usize,
    len: usize,
    base: i32,
    acc: &mut [f64],
) -> bool {
    let all_int = raw.iter().zip(w).all(|(r, wc)| {
        wc.m == 0 || {
            let l = min_lsb(&r[start..start + len]);
            l == i32::MAX || l + wc.e >= base
        }
    });
    if all_int {
        for (r, &wc) in raw.iter().zip(w) {
            if wc.m == 0 {
                continue;
            }
            let scale = (wc.m as f64) * pow2(wc.e - base);
            let rs = &r[start..start + len];
            #[cfg(target_arch = "x86_64")]
            {
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    unsafe { add_scaled_avx2(rs, acc, scale) };
                    continue;
                }
            }
            add_scaled_generic(rs, acc, scale);
        }
        return true;
    }
    let mut bad = vec![0f64; len];
    for (r, &wc) in raw.iter().zip(w) {
        if wc.m == 0 {
            continue;
        }
        let scale = (wc.m as f64) * pow2(wc.e - base);
        f64_tier_add(&r[start..start + len], acc, &mut bad, scale);
    }
    bad.iter().all(|&b| b == 0.0)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn max_abs_bits_avx2<T: ExactFloat>(rs: &[T]) -> u64 {
    T::max_abs_bits_slice(rs)
}

/// [`ExactFloat::max_abs_bits_slice`] with AVX2 dispatch (integer maxima: same result).
#[inline(always)]
fn max_abs_bits<T: ExactFloat>(rs: &[T]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            return unsafe { max_abs_bits_avx2(rs) };
        }
    }
    T::max_abs_bits_slice(rs)
}

#[inline(always)]
fn scale_div_generic<T: ExactFloat>(acc: &[f64], out: &mut [T], f: f64, w_prime: f64) {
    for (o, &a) in out.iter_mut().zip(acc) {
        *o = T::from_f64_sat(a * f / w_prime);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn scale_div_avx2<T: ExactFloat>(acc: &[f64], out: &mut [T], f: f64, w_prime: f64) {
    scale_div_generic(acc, out, f, w_prime)
}

/// `out[i] = sat_T(fl_T((acc[i] · f) / w_prime))` (IEEE operations; AVX2 when available).
#[inline(always)]
fn scale_div<T: ExactFloat>(acc: &[f64], out: &mut [T], f: f64, w_prime: f64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { scale_div_avx2(acc, out, f, w_prime) };
            return;
        }
    }
    scale_div_generic(acc, out, f, w_prime)
}

/// `2^e` for `-1022 ≤ e ≤ 1023`.
#[inline(always)]
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Exact window sums of one group for partial mode: returns `base` with `acc[i] · 2^base`
/// the exact weighted sum of element `i` unless `bad[i]`; `None` when the group holds a
/// non-finite value or there are no raw inputs (the wide path then handles everything).
fn fast_sums_group<T: ExactFloat>(
    raw: &[&[T]],
    w: &[Weight],
    start: usize,
    len: usize,
    acc: &mut [i128; GROUP],
    bad: &mut [bool; GROUP],
) -> Option<i32> {
    if raw.is_empty() {
        return None;
    }
    let mut mx = 0u64;
    for r in raw {
        mx = mx.max(max_abs_bits(&r[start..start + len]));
    }
    let top = T::top_of_abs_bits(mx)?;
    let wbits = w
        .iter()
        .map(|x| 64 - x.m.leading_zeros())
        .max()
        .unwrap_or(1) as i32;
    let tbits = 64 - (raw.len() as u64).leading_zeros() as i32;
    let base53 = top + 1 + tbits - 53;
    if T::MANT_BITS as i32 + wbits <= 53 && (-1000..1000).contains(&base53) {
        let mut accf = [0f64; GROUP];
        if f64_tier_group(raw, w, start, len, base53, &mut accf[..len]) {
            for (a, &f) in acc.iter_mut().zip(accf.iter()) {
                *a = f as i128; // an integer below 2^53: exact
            }
            return Some(base53);
        }
    }
    let base = top - 95;
    for (r, &wc) in raw.iter().zip(w) {
        if wc.m == 0 {
            continue;
        }
        let rs = &r[start..start + len];
        for ((&v, a), b) in rs.iter().zip(acc.iter_mut()).zip(bad.iter_mut()) {
            let (neg, m, e) = v.decompose_finite();
            let sh = e + wc.e - base;
            if sh < 0 {
                *b |= m != 0;
                continue;
            }
            let p = (((m as u128) * (wc.m as u128)) << sh) as i128;
            *a += if neg { -p } else { p };
        }
    }
    Some(base)
}

/// Balanced 32-bit digits of `v · 2^base` in the layout whose digit 0 weighs `2^lo_exp`
/// (`base ≥ lo_exp`), appended to `out`; returns `(lowest nonzero digit, count)`, or `None`
/// for zero. Balanced digits (in `[-2^31, 2^31)`) of an integer are unique, so this equals
/// the wide accumulator's normalised, trimmed digits.
fn window_digits(v: i128, base: i32, lo_exp: i32, out: &mut Vec<i64>) -> Option<(usize, usize)> {
    if v == 0 {
        return None;
    }
    let shift = (base - lo_exp) as usize;
    let mut d = shift >> 5;
    let r = (shift & 31) as u32;
    let mut s = ((v & ((1i128 << (32 - r)) - 1)) << r) as i64; // in [0, 2^32)
    let mut rest = v >> (32 - r);
    let mut first: Option<usize> = None;
    let begin = out.len();
    loop {
        let mut dig = s;
        if dig >= HALF_DIGIT {
            dig -= DIGIT;
            rest += 1;
        }
        if first.is_none() && dig != 0 {
            first = Some(d);
        }
        if first.is_some() {
            out.push(dig);
        }
        if rest == 0 {
            break;
        }
        s = (rest & 0xffff_ffff) as i64;
        rest >>= 32;
        d += 1;
    }
    first.map(|lo| (lo, out.len() - begin))
}

/// Sum the partial sums of group `g` into `acc` (unit `2^base`, returned) when all their digit
/// windows fit within 3 digits; `None` otherwise.
fn merge_partials_group(
    idx: &[PartialIndex<'_>],
    g: usize,
    len: usize,
    acc: &mut [i128; GROUP],
) -> Option<i32> {
    let wins: Vec<(usize, usize, usize)> = idx.iter().map(|p| p.groups[g]).collect();
    let lo = wins.iter().filter(|w| w.2 > 0).map(|w| w.1).min();
    let Some(lo) = lo else {
        return Some(0); // every partial is zero in this group (acc stays 0)
    };
    let hi = wins.iter().map(|w| w.1 + w.2).max().unwrap_or(lo);
    if hi - lo > 3 {
        return None;
    }
    for (p, &(off, plo, nd)) in idx.iter().zip(&wins) {
        if nd == 0 {
            continue;
        }
        let body = &p.bytes[off..off + len * nd * 4];
        for (a, el) in acc.iter_mut().zip(body.chunks_exact(nd * 4)) {
            let mut v: i128 = 0;
            for (j, ch) in el.chunks_exact(4).enumerate() {
                let dgt = i32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) as i128;
                v += dgt << (32 * (plo + j - lo));
            }
            *a += v;
        }
    }
    Some(lo as i32 * 32)
}

/// `sat_T(fl_T(fl64(2^-k · v · 2^base_off) / w_prime))` where `base_off` is relative to the
/// layout's `LO` (digit offset × 32).
#[inline]
fn round_i128<T: ExactFloat>(v: i128, base_off: i32, k: i32, w_prime: f64) -> T {
    if v == 0 {
        return T::from_f64_sat(0.0);
    }
    let mag = v.unsigned_abs();
    let lz = mag.leading_zeros();
    let x = mag << lz;
    let m = ((x >> 64) as u64) | (((x as u64) != 0) as u64);
    let a = round_to_f64(v < 0, m, T::LO + base_off - lz as i32 + 64 - k);
    T::from_f64_sat(a / w_prime)
}

/// Round the exact window sums `acc[i] · 2^base` of the elements not marked `bad`.
fn finish_fast<T: ExactFloat>(
    acc: &[i128],
    base: i32,
    out: &mut [T],
    k: i32,
    w_prime: f64,
    done: &mut [bool],
    bad: &[bool],
) {
    let len = out.len();
    for i in 0..len {
        if bad[i] {
            continue;
        }
        done[i] = true;
        let a = acc[i];
        out[i] = if a == 0 {
            T::from_f64_sat(0.0)
        } else {
            let mag = a.unsigned_abs();
            let lz = mag.leading_zeros();
            let x = mag << lz;
            let m = ((x >> 64) as u64) | (((x as u64) != 0) as u64);
            let v = round_to_f64(a < 0, m, base - lz as i32 + 64 - k);
            T::from_f64_sat(v / w_prime)
        };
    }
}

/// `fl64(2^-k · value)` of the normalised accumulator digits `d[lo..=hi]` (balanced).
fn digits_to_f64(d: &mut [i64], lo: usize, hi: usize, lo_exp: i32, k: i32) -> f64 {
    let neg = d[hi] < 0;
    if neg {
        for x in &mut d[lo..=hi] {
            *x = -*x;
        }
    }
    // Convert to standard digits in [0, 2^32).
    for i in lo..hi {
        let c = d[i] >> 32;
        d[i] -= c * DIGIT;
        d[i + 1] += c;
    }
    let mut t = hi;
    while t > lo && d[t] == 0 {
        t -= 1;
    }
    // Top four digits into a u128, the rest into a sticky flag.
    let mut x: u128 = 0;
    let bottom = t.saturating_sub(3).max(lo);
    for i in (bottom..=t).rev() {
        x = (x << 32) | (d[i] as u64 as u128);
    }
    let sticky = d[lo..bottom].iter().any(|&v| v != 0);
    // value ≈ x · 2^(32·bottom + lo_exp)
    let lz = x.leading_zeros();
    x <<= lz;
    let m = ((x >> 64) as u64) | (((x as u64) != 0 || sticky) as u64);
    let e = 32 * bottom as i32 + lo_exp - lz as i32 + 64 - k;
    round_to_f64(neg, m, e)
}

/// Parsed window headers of one partial-sum encoding: per group `(byte offset, lo, nd)`.
struct PartialIndex<'a> {
    bytes: &'a [u8],
    groups: Vec<(usize, usize, usize)>,
}

fn index_partial<'a>(
    bytes: &'a [u8],
    n: usize,
    limbs: usize,
    which: usize,
) -> Result<PartialIndex<'a>> {
    let ng = n.div_ceil(GROUP);
    let mut groups = Vec::with_capacity(ng);
    let mut off = 0usize;
    let bad = |fault: PartialFault| ExactSumError::MalformedPartial { which, fault };
    for g in 0..ng {
        let len = GROUP.min(n - g * GROUP);
        if off + 4 > bytes.len() {
            return Err(bad(PartialFault::TruncatedHeader));
        }
        let lo = u16::from_le_bytes([bytes[off], bytes[off + 1]]) as usize;
        let nd = u16::from_le_bytes([bytes[off + 2], bytes[off + 3]]) as usize;
        off += 4;
        if nd > 0 && lo + nd > limbs {
            return Err(bad(PartialFault::WindowOutOfRange));
        }
        let body = len * nd * 4;
        if off + body > bytes.len() {
            return Err(bad(PartialFault::TruncatedBody));
        }
        groups.push((off, lo, nd));
        off += body;
    }
    if off != bytes.len() {
        return Err(bad(PartialFault::TrailingBytes));
    }
    Ok(PartialIndex { bytes, groups })
}

/// What [`reduce`] produces.
pub enum Mode<'a, T> {
    /// Round to `out` with the weight total `(k, w_prime)`.
    Final {
        out: &'a mut [T],
        k: i32,
        w_prime: f64,
    },
    /// Return the exact partial sums, window-encoded.
    Partial,
}

/// Message prefix of [`ExactSumError::NonFinite`] (kept for compatibility; the binding passes
/// the fields themselves).
pub const NONFINITE_TAG: &str = "non-finite input";

/// Exactly accumulate `Σ_c weights[c] · raw[c][i] + Σ_p partials[p][i]` for `i < n`, then
/// either round it ([`Mode::Final`]) or return the exact sums encoded (see [`Mode::Partial`]):
/// per group of [`GROUP`] elements a header `lo: u16, nd: u16` and `len · nd` little-endian
/// `i32` balanced digits (element-major), digit `j` of an element weighing `2^(32(lo+j)+LO)`.
pub fn reduce<T: ExactFloat>(
    raw: &[&[T]],
    weights: &[f64],
    partials: &[&[u8]],
    n: usize,
    mode: Mode<'_, T>,
    stop: StopFn<'_>,
) -> Result<Option<Vec<u8>>> {
    reduce_with(raw, weights, partials, n, mode, stop, true)
}

/// [`reduce`] with the `i128` fast path switchable (`fast = false` forces the wide
/// accumulator everywhere; used to test that both paths give the same bits).
pub fn reduce_with<T: ExactFloat>(
    raw: &[&[T]],
    weights: &[f64],
    partials: &[&[u8]],
    n: usize,
    mode: Mode<'_, T>,
    stop: StopFn<'_>,
    fast: bool,
) -> Result<Option<Vec<u8>>> {
    if raw.len() != weights.len() {
        return Err(ExactSumError::LengthMismatch {
            what: format!("{} inputs but {} weights", raw.len(), weights.len()),
        });
    }
    if raw.len() + partials.len() > MAX_TERMS {
        return Err(ExactSumError::TooManyTerms {
            terms: raw.len() + partials.len(),
        });
    }
    for (c, r) in raw.iter().enumerate() {
        if r.len() != n {
            return Err(ExactSumError::LengthMismatch {
                what: format!("input {c} has {} elements, expected {n}", r.len()),
            });
        }
    }
    let w = split_weights(weights)?;
    let idx: Vec<PartialIndex> = partials
        .iter()
        .enumerate()
        .map(|(p, b)| index_partial(b, n, T::LIMBS, p))
        .collect::<Result<_>>()?;
    let ng = n.div_ceil(GROUP);
    // Digits touched by one product: mantissa bits + weight bits + a 31-bit shift.
    let wbits = w
        .iter()
        .map(|x| 64 - x.m.leading_zeros())
        .max()
        .unwrap_or(1);
    let nd = (T::MANT_BITS + wbits + 31).div_ceil(32) as usize;
    let work =
        |g: usize, out: Option<&mut [T]>, k: i32, w_prime: f64, done: &[bool]| -> Result<Vec<u8>> {
            if g % 1024 == 1023 && stop() {
                return Err(ExactSumError::Interrupted);
            }
            let start = g * GROUP;
            let len = GROUP.min(n - start);
            let mut limbs = vec![0i64; T::LIMBS];
            let mut digits: Vec<(usize, usize)> = Vec::new();
            let mut store: Vec<i64> = Vec::new();
            let partial_mode = out.is_none();
            if partial_mode {
                digits.reserve(len);
                store.reserve(len * 4);
            }
            let mut out = out;
            // Partial mode: exact window sums where they fit (same digits as the wide path).
            let mut facc = [0i128; GROUP];
            let mut fbad = [false; GROUP];
            let fbase = if partial_mode && fast && idx.is_empty() {
                fast_sums_group(raw, &w, start, len, &mut facc, &mut fbad)
            } else {
                None
            };
            // Merging partial sums only: if every partial's digit window in this group lies
            // within 3 digits of the lowest one, each element's exact total fits an i128
            // (|partial| < 2^95.x, at most 2^30 partials).
            let mut pacc = [0i128; GROUP];
            let pbase = if fast && raw.is_empty() && !idx.is_empty() {
                merge_partials_group(&idx, g, len, &mut pacc)
            } else {
                None
            };
            if let Some(pb) = pbase {
                for i in 0..len {
                    let v = pacc[i];
                    match out.as_deref_mut() {
                        Some(o) => o[i] = round_i128::<T>(v, pb, k, w_prime),
                        None => match window_digits(v, T::LO + pb, T::LO, &mut store) {
                            None => digits.push((0, 0)),
                            Some(lo_cnt) => digits.push(lo_cnt),
                        },
                    }
                }
            }
            for i in 0..len {
                if pbase.is_some() || done.get(i).copied().unwrap_or(false) {
                    continue;
                }
                if let Some(base) = fbase {
                    if !fbad[i] {
                        match window_digits(facc[i], base, T::LO, &mut store) {
                            None => digits.push((0, 0)),
                            Some(lo_cnt) => digits.push(lo_cnt),
                        }
                        continue;
                    }
                }
                let mut acc = Acc {
                    d: &mut limbs,
                    lo: usize::MAX,
                    hi: 0,
                };
                let res = match nd {
                    0..=2 => add_raw::<T, 2>(&mut acc, raw, &w, start + i),
                    3 => add_raw::<T, 3>(&mut acc, raw, &w, start + i),
                    4 => add_raw::<T, 4>(&mut acc, raw, &w, start + i),
                    _ => add_raw::<T, 5>(&mut acc, raw, &w, start + i),
                };
                if let Err(c) = res {
                    return Err(ExactSumError::NonFinite {
                        client: c,
                        element: start + i,
                        value: raw[c][start + i].to_f64(),
                    });
                }
                for pi in &idx {
                    let (off, lo, nd) = pi.groups[g];
                    if nd > 0 {
                        let b = &pi.bytes[off + i * nd * 4..off + (i + 1) * nd * 4];
                        let mut tmp = [0i32; 80];
                        for (j, ch) in b.chunks_exact(4).enumerate() {
                            tmp[j] = i32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]);
                        }
                        acc.add_digits(lo, &tmp[..nd]);
                    }
                }
                let nz = acc.normalise();
                match out.as_deref_mut() {
                    Some(o) => {
                        o[i] = match nz {
                            None => T::from_f64_sat(0.0),
                            Some((lo, hi)) => {
                                let a = digits_to_f64(acc.d, lo, hi, T::LO, k);
                                T::from_f64_sat(a / w_prime)
                            }
                        };
                    }
                    None => match nz {
                        None => digits.push((0, 0)),
                        Some((lo, hi)) => {
                            digits.push((lo, hi + 1 - lo));
                            store.extend_from_slice(&acc.d[lo..=hi]);
                        }
                    },
                }
                acc.clear();
            }
            if !partial_mode {
                return Ok(Vec::new());
            }
            // Window of the group: union of element windows.
            let glo = digits
                .iter()
                .filter(|x| x.1 > 0)
                .map(|x| x.0)
                .min()
                .unwrap_or(0);
            let ghi = digits
                .iter()
                .filter(|x| x.1 > 0)
                .map(|x| x.0 + x.1)
                .max()
                .unwrap_or(0);
            let nd = ghi.saturating_sub(glo);
            let mut buf = Vec::with_capacity(4 + len * nd * 4);
            buf.extend_from_slice(&(glo as u16).to_le_bytes());
            buf.extend_from_slice(&(nd as u16).to_le_bytes());
            let mut pos = 0usize;
            for &(lo, cnt) in &digits {
                for j in glo..ghi {
                    let v = if cnt > 0 && j >= lo && j < lo + cnt {
                        store[pos + j - lo] as i32
                    } else {
                        0
                    };
                    buf.extend_from_slice(&v.to_le_bytes());
                }
                pos += cnt;
            }
            Ok(buf)
        };
    match mode {
        Mode::Final { out, k, w_prime } => {
            if out.len() != n {
                return Err(ExactSumError::LengthMismatch {
                    what: format!("output has {} elements, expected {n}", out.len()),
                });
            }
            if !(w_prime.is_finite() && w_prime > 0.0) {
                return Err(ExactSumError::WeightTotal { w_prime });
            }
            let use_fast = fast && idx.is_empty();
            out.par_chunks_mut(FAST)
                .enumerate()
                .try_for_each(|(c, o)| -> Result<()> {
                    let mut done = [false; FAST];
                    let m = o.len();
                    if use_fast {
                        fast_final_group(raw, &w, c * FAST, o, k, w_prime, &mut done[..m]);
                        if done[..m].iter().all(|&d| d) {
                            return Ok(());
                        }
                    }
                    for (j, sub) in o.chunks_mut(GROUP).enumerate() {
                        let g = c * (FAST / GROUP) + j;
                        work(g, Some(sub), k, w_prime, &done[j * GROUP..])?;
                    }
                    Ok(())
                })?;
            Ok(None)
        }
        Mode::Partial => {
            let parts: Vec<Vec<u8>> = (0..ng)
                .into_par_iter()
                .with_min_len(4)
                .map(|g| work(g, None, 0, 1.0, &[]))
                .collect::<Result<_>>()?;
            let total = parts.iter().map(|p| p.len()).sum();
            let mut res = Vec::with_capacity(total);
            for p in parts {
                res.extend_from_slice(&p);
            }
            Ok(Some(res))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::never_stop;

    fn mean<T: ExactFloat + Default>(xs: &[Vec<T>], w: &[f64], k: i32, wp: f64) -> Vec<T> {
        let n = xs[0].len();
        let raw: Vec<&[T]> = xs.iter().map(|v| v.as_slice()).collect();
        let mut out = vec![T::default(); n];
        reduce(
            &raw,
            w,
            &[],
            n,
            Mode::Final {
                out: &mut out,
                k,
                w_prime: wp,
            },
            &never_stop,
        )
        .unwrap();
        out
    }

    #[test]
    fn simple_means() {
        // (1 + 2 + 4) / 3 with weights 1: W = 3 = 0.75 · 2^2 → k = 2, w' = 0.75.
        let xs = vec![vec![1.0f64, -0.0], vec![2.0, 0.0], vec![4.0, 0.0]];
        let r = mean(&xs, &[1.0; 3], 2, 0.75);
        assert_eq!(r[0], 7.0 / 3.0);
        assert_eq!(r[1].to_bits(), 0);
    }

    #[test]
    fn cancellation_is_exact() {
        let xs = vec![vec![1e30f32], vec![1.0], vec![-1e30]];
        let r = mean(&xs, &[1.0; 3], 2, 0.75);
        assert_eq!(r[0], (1.0f64 / 3.0) as f32);
    }

    #[test]
    fn partial_merge_matches_flat() {
        let xs: Vec<Vec<f64>> = (0..5)
            .map(|c| {
                (0..700)
                    .map(|i| ((i * 7919 + c * 104729) % 1000) as f64 * 1e-3 - 0.5)
                    .collect()
            })
            .collect();
        let flat = mean(&xs, &[1.0; 5], 3, 0.625);
        let raw: Vec<&[f64]> = xs.iter().map(|v| v.as_slice()).collect();
        let p1 = reduce(&raw[..2], &[1.0; 2], &[], 700, Mode::Partial, &never_stop)
            .unwrap()
            .unwrap();
        let p2 = reduce(&raw[2..], &[1.0; 3], &[], 700, Mode::Partial, &never_stop)
            .unwrap()
            .unwrap();
        let mut out = vec![0.0; 700];
        reduce::<f64>(
            &[],
            &[],
            &[&p1, &p2],
            700,
            Mode::Final {
                out: &mut out,
                k: 3,
                w_prime: 0.625,
            },
            &never_stop,
        )
        .unwrap();
        assert_eq!(out, flat);
    }

    #[test]
    fn rejects_nan_and_bad_weights() {
        let xs = [vec![1.0f32], vec![f32::NAN]];
        let raw: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
        let e = reduce(&raw, &[1.0, 1.0], &[], 1, Mode::Partial, &never_stop);
        assert!(matches!(
            e,
            Err(ExactSumError::NonFinite { client: 1, element: 0, value }) if value.is_nan()
        ));
        let e = reduce(&raw[..1], &[3.0], &[], 1, Mode::Partial, &never_stop);
        assert!(matches!(e, Err(ExactSumError::Weight { index: 0, value }) if value == 3.0));
        let e = reduce::<f32>(&[], &[], &[&[1, 2, 3]], 1, Mode::Partial, &never_stop);
        assert_eq!(
            e.err(),
            Some(ExactSumError::MalformedPartial {
                which: 0,
                fault: PartialFault::TruncatedHeader
            })
        );
        // header says 0 digits for one group, then a stray byte
        let e = reduce::<f32>(&[], &[], &[&[0, 0, 0, 0, 9]], 1, Mode::Partial, &never_stop);
        assert_eq!(
            e.err(),
            Some(ExactSumError::MalformedPartial {
                which: 0,
                fault: PartialFault::TrailingBytes
            })
        );
        let e = reduce::<f32>(&[], &[], &[&[0, 0, 99, 0]], 1, Mode::Partial, &never_stop);
        assert!(matches!(
            e,
            Err(ExactSumError::MalformedPartial {
                fault: PartialFault::WindowOutOfRange,
                ..
            })
        ));
        let c: CoreError = ExactSumError::Interrupted.into();
        assert_eq!(c, CoreError::Interrupted);
    }

    #[test]
    fn rounding_subnormal_and_ties() {
        // 2^-1074 · 3 / 2 = 1.5 ulp → ties to even 2 ulp.
        assert_eq!(round_to_f64(false, 3u64 << 62, -1074 - 63), 2.0 * 5e-324);
        assert_eq!(round_to_f64(false, 1u64 << 63, -1075 - 63), 0.0);
        assert_eq!(round_to_f64(true, 1u64 << 63, 0 - 63), -1.0);
    }
}

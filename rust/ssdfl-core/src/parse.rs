//! Fast edge-list parsing (parallel over chunks of lines, no per-token allocation).
//!
//! Format: one record per line, fields separated by ASCII whitespace or commas: `u v [weight]`
//! for an edge, a lone `u` for a node (isolated or not). Empty lines and lines whose first
//! non-blank character is `#` or `%` are skipped, and anything after a `#` is a comment.
//! Lines end in `\n`, `\r\n` or a lone `\r` (old Mac files); a leading UTF-8 byte-order mark
//! is ignored. Weights must parse as finite numbers > 0.
//!
//! Memory: every buffer is sized from a line count and reserved fallibly, so an input too large
//! for the memory available is an error ("not enough memory …"), never an abort.
//!
//! Node numbering: if every label is an integer (optional sign, decimal digits, fits in `i64`),
//! node `i` is the `i`-th smallest label (so labels `0..n-1` map to themselves); otherwise every
//! label is a string and nodes are numbered in order of first appearance in the file (lone-node
//! lines included), labels kept as (UTF-8) strings.
//!
//! Speed: the input is split at line boundaries into chunks parsed on the rayon pool, integers
//! are parsed straight from bytes, and integer labels are mapped to node indices with a dense
//! lookup table when their range is small (a sort otherwise).

use crate::error::{CoreError, Result};
use rayon::prelude::*;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Node labels as read from a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// Every label was an integer; sorted ascending, node `i` has label `ints[i]`.
    Int(Vec<i64>),
    /// Labels in order of first appearance.
    Str(Vec<String>),
}

impl Labels {
    /// Number of nodes.
    pub fn len(&self) -> usize {
        match self {
            Labels::Int(v) => v.len(),
            Labels::Str(v) => v.len(),
        }
    }
    /// True if there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A parsed edge list: endpoints as node indices, weights (1 where a line has none), labels.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeList {
    pub src: Vec<i64>,
    pub dst: Vec<i64>,
    pub weights: Vec<f64>,
    /// True if at least one line carried a weight.
    pub weighted: bool,
    pub labels: Labels,
}

/// Parse an edge list from its text (see the module documentation for the format).
pub fn parse_edge_list(text: &str) -> Result<EdgeList> {
    parse_edge_list_bytes(text.as_bytes())
}

/// Smallest chunk handed to one rayon task.
const MIN_CHUNK: usize = 1 << 18;

/// One line split into at most three fields.
enum Record<'a> {
    Skip,
    Node(&'a [u8]),
    Edge(&'a [u8], &'a [u8], Option<&'a [u8]>),
}

#[inline]
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b',' | b'\x0b' | b'\x0c')
}

/// Split one line (without its `\n`) into a record; `Err(msg)` for a malformed line.
#[inline]
fn split_line(line: &[u8]) -> std::result::Result<Record<'_>, String> {
    let line = match line.iter().position(|&b| b == b'#') {
        Some(p) => &line[..p],
        None => line,
    };
    let mut fields: [&[u8]; 3] = [&[]; 3];
    let mut count = 0usize;
    let mut i = 0usize;
    let len = line.len();
    while i < len {
        while i < len && is_sep(line[i]) {
            i += 1;
        }
        if i >= len {
            break;
        }
        let start = i;
        while i < len && !is_sep(line[i]) {
            i += 1;
        }
        if count == 0 && line[start] == b'%' {
            return Ok(Record::Skip);
        }
        if count == 3 {
            return Err(format!(
                "expected 'u v [weight]', found more than 3 fields in {:?}",
                preview(line).trim()
            ));
        }
        fields[count] = &line[start..i];
        count += 1;
    }
    Ok(match count {
        0 => Record::Skip,
        1 => Record::Node(fields[0]),
        2 => Record::Edge(fields[0], fields[1], None),
        _ => Record::Edge(fields[0], fields[1], Some(fields[2])),
    })
}

/// Parse a decimal integer (optional sign) that fits in `i64`.
#[inline]
fn parse_int(tok: &[u8]) -> Option<i64> {
    let (neg, digits) = match tok.first() {
        Some(b'-') => (true, &tok[1..]),
        Some(b'+') => (false, &tok[1..]),
        _ => (false, tok),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(d as i64)?; // accumulate negatively: i64::MIN fits
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

/// At most 60 characters of `bytes` (lossy UTF-8) for an error message; longer input is cut
/// and marked with `…` so a binary file cannot produce a huge message.
fn preview(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(&bytes[..bytes.len().min(240)]);
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() || bytes.len() > 240 {
        out.push('…');
    }
    out
}

/// Parse a weight token; must be a finite number > 0.
#[inline]
fn parse_weight(tok: &[u8]) -> std::result::Result<f64, String> {
    let s = std::str::from_utf8(tok)
        .map_err(|_| format!("weight {:?} is not a number", preview(tok)))?;
    let v: f64 = s
        .parse()
        .map_err(|_| format!("weight {:?} is not a number", preview(tok)))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("weight {} must be finite and > 0", preview(tok)));
    }
    Ok(v)
}

/// Byte ranges of chunks that start at line starts and end after a `\n` (or at the end).
fn chunk_bounds(data: &[u8]) -> Vec<(usize, usize)> {
    let threads = rayon::current_num_threads().max(1);
    let target = (data.len() / (threads * 4)).max(MIN_CHUNK);
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < data.len() {
        let mut end = (start + target).min(data.len());
        if end < data.len() {
            end = match data[end..].iter().position(|&b| b == b'\n') {
                Some(p) => end + p + 1,
                None => data.len(),
            };
        }
        out.push((start, end));
        start = end;
    }
    out
}

/// Iterate over the lines of `chunk` with their 1-based line number inside the chunk.
fn lines(chunk: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    chunk
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(k, l)| (k + 1, l))
}

/// Result of the integer-label pass over one chunk.
#[derive(Default)]
struct IntChunk {
    src: Vec<i64>,
    dst: Vec<i64>,
    weights: Vec<f64>,
    lone: Vec<i64>,
    weighted: bool,
    /// First malformed line (chunk-local line number, message).
    error: Option<(usize, String)>,
    /// A label that is not an integer was seen (before any error).
    not_int: bool,
    /// An allocation of this many bytes failed.
    oom: Option<usize>,
}

/// Parse one integer field starting at `*i` (after optional separators): an optional `-` and
/// at most 18 digits, followed by a separator or the end of the line. `None` sends the line to
/// the general path (signs `+`, long numbers, comments, non-integer labels, …).
#[inline]
fn fast_int(line: &[u8], i: &mut usize) -> Option<i64> {
    let len = line.len();
    let mut j = *i;
    while j < len && is_sep(line[j]) {
        j += 1;
    }
    let neg = j < len && line[j] == b'-';
    if neg {
        j += 1;
    }
    let start = j;
    let mut v: i64 = 0;
    while j < len {
        let d = line[j].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if j - start == 18 {
            return None;
        }
        v = v * 10 + d as i64;
        j += 1;
    }
    if j == start || (j < len && !is_sep(line[j])) {
        return None;
    }
    *i = j;
    Some(if neg { -v } else { v })
}

/// Single-pass parse of the common line shape `int int [weight]`: the two endpoints and the
/// weight token, or `None` when the line needs [`split_line`] (comments, lone nodes, string
/// labels, extra fields, empty lines). Agrees with the general path whenever it answers.
#[inline]
fn fast_int_edge(line: &[u8]) -> Option<(i64, i64, Option<&[u8]>)> {
    let len = line.len();
    let mut i = 0usize;
    let a = fast_int(line, &mut i)?;
    let b = fast_int(line, &mut i)?;
    while i < len && is_sep(line[i]) {
        i += 1;
    }
    if i == len {
        return Some((a, b, None));
    }
    let start = i;
    while i < len && !is_sep(line[i]) {
        if line[i] == b'#' {
            return None;
        }
        i += 1;
    }
    let w = &line[start..i];
    while i < len && is_sep(line[i]) {
        i += 1;
    }
    if i != len {
        return None;
    }
    Some((a, b, Some(w)))
}

/// Upper bound on the records of a chunk: its number of lines.
fn line_count(chunk: &[u8]) -> usize {
    chunk.iter().filter(|&&b| b == b'\n').count() + 1
}

/// The error for an allocation that failed (`bytes` requested).
pub(crate) fn out_of_memory(what: &str, bytes: usize) -> CoreError {
    CoreError::OutOfMemory {
        what: what.to_string(),
        mb: bytes as f64 / 1e6,
    }
}

/// An empty vector with room for exactly `n` items, or the out-of-memory error.
pub(crate) fn try_vec<T>(n: usize, what: &str) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(n)
        .map_err(|_| out_of_memory(what, n.saturating_mul(std::mem::size_of::<T>())))?;
    Ok(v)
}

fn int_pass(chunk: &[u8]) -> IntChunk {
    let mut out = IntChunk::default();
    let cap = line_count(chunk);
    if out.src.try_reserve_exact(cap).is_err()
        || out.dst.try_reserve_exact(cap).is_err()
        || out.weights.try_reserve_exact(cap).is_err()
    {
        out.oom = Some(cap * 8);
        return out;
    }
    for (k, line) in lines(chunk) {
        let (x, y, w) = match fast_int_edge(line) {
            Some(edge) => edge,
            None => match split_line(line) {
                Err(msg) => {
                    out.error = Some((k, msg));
                    return out;
                }
                Ok(Record::Skip) => continue,
                Ok(Record::Node(a)) => match parse_int(a) {
                    Some(x) => {
                        if out.lone.try_reserve(1).is_err() {
                            out.oom = Some(out.lone.len() * 16);
                            return out;
                        }
                        out.lone.push(x);
                        continue;
                    }
                    None => {
                        out.not_int = true;
                        return out;
                    }
                },
                Ok(Record::Edge(a, b, w)) => {
                    let (Some(x), Some(y)) = (parse_int(a), parse_int(b)) else {
                        out.not_int = true;
                        return out;
                    };
                    (x, y, w)
                }
            },
        };
        let wv = match w {
            None => 1.0,
            Some(t) => match parse_weight(t) {
                Ok(v) => {
                    out.weighted = true;
                    v
                }
                Err(msg) => {
                    out.error = Some((k, msg));
                    return out;
                }
            },
        };
        out.src.push(x);
        out.dst.push(y);
        out.weights.push(wv);
    }
    out
}

/// Number of `\n` bytes in `data[..pos]` (only computed to report an error's line).
fn line_offset(data: &[u8], pos: usize) -> usize {
    data[..pos].iter().filter(|&&b| b == b'\n').count()
}

/// Parse an edge list from raw bytes (see the module documentation for the format).
pub fn parse_edge_list_bytes(data: &[u8]) -> Result<EdgeList> {
    let data = data.strip_prefix(b"\xef\xbb\xbf").unwrap_or(data);
    if has_lone_cr(data) {
        let fixed = normalize_cr(data)?;
        return parse_normalized(&fixed);
    }
    parse_normalized(data)
}

/// True if some `\r` is not followed by `\n` (a line ending of old Mac files).
fn has_lone_cr(data: &[u8]) -> bool {
    // jump from `\r` to `\r` (a vectorised search; most files have none at all)
    let mut i = 0usize;
    while let Some(p) = data[i..].iter().position(|&b| b == b'\r') {
        let j = i + p;
        if data.get(j + 1) != Some(&b'\n') {
            return true;
        }
        i = j + 1;
    }
    false
}

/// A copy of `data` with every lone `\r` replaced by `\n`.
fn normalize_cr(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = try_vec(data.len(), "copy the input")?;
    out.extend(data.iter().enumerate().map(|(i, &b)| {
        if b == b'\r' && data.get(i + 1) != Some(&b'\n') {
            b'\n'
        } else {
            b
        }
    }));
    Ok(out)
}

fn parse_normalized(data: &[u8]) -> Result<EdgeList> {
    let bounds = chunk_bounds(data);
    let chunks: Vec<IntChunk> = bounds
        .par_iter()
        .map(|&(s, e)| int_pass(&data[s..e]))
        .collect();
    for (c, &(s, _)) in chunks.iter().zip(bounds.iter()) {
        if let Some(bytes) = c.oom {
            return Err(out_of_memory("parse the edge list", bytes));
        }
        if let Some((k, msg)) = &c.error {
            return Err(CoreError::Parse {
                line: line_offset(data, s) + k,
                msg: msg.clone(),
            });
        }
        if c.not_int {
            return parse_string_labels(data, &bounds);
        }
    }
    let weighted = chunks.iter().any(|c| c.weighted);
    let m: usize = chunks.iter().map(|c| c.src.len()).sum();
    let what = "hold the edge list";
    let mut src = try_vec(m, what)?;
    let mut dst = try_vec(m, what)?;
    let mut weights = try_vec(m, what)?;
    let mut lone = try_vec(chunks.iter().map(|c| c.lone.len()).sum(), what)?;
    for c in chunks {
        src.extend_from_slice(&c.src);
        dst.extend_from_slice(&c.dst);
        weights.extend_from_slice(&c.weights);
        lone.extend_from_slice(&c.lone);
    }
    let labels = relabel_ints(&mut src, &mut dst, &lone)?;
    Ok(EdgeList {
        src,
        dst,
        weights,
        weighted,
        labels: Labels::Int(labels),
    })
}

/// Replace integer labels in `src`/`dst` by their rank among all labels (edges and `lone`);
/// returns the sorted distinct labels.
fn relabel_ints(src: &mut [i64], dst: &mut [i64], lone: &[i64]) -> Result<Vec<i64>> {
    let all = || src.iter().chain(dst.iter()).chain(lone.iter());
    let total = src.len() + dst.len() + lone.len();
    if total == 0 {
        return Ok(Vec::new());
    }
    let what = "number the nodes";
    let (lo, hi) = all().fold((i64::MAX, i64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let span = (hi as i128 - lo as i128 + 1) as u128;
    if span <= (4 * total as u128 + 1024) {
        // dense table: rank[x - lo] = index of label x
        let span = span as usize;
        let mut rank: Vec<u32> = try_vec(span, what)?;
        rank.resize(span, u32::MAX);
        for &x in all() {
            rank[(x - lo) as usize] = 0;
        }
        let mut labels = try_vec(rank.iter().filter(|&&r| r == 0).count(), what)?;
        for (off, r) in rank.iter_mut().enumerate() {
            if *r == 0 {
                *r = labels.len() as u32;
                labels.push(lo + off as i64);
            }
        }
        let map = |x: &mut i64| *x = rank[(*x - lo) as usize] as i64;
        src.par_iter_mut().for_each(map);
        dst.par_iter_mut().for_each(map);
        Ok(labels)
    } else {
        let mut labels: Vec<i64> = try_vec(total, what)?;
        labels.extend(all().copied());
        labels.par_sort_unstable();
        labels.dedup();
        let map = |x: &mut i64| {
            *x = labels.binary_search(x).map_or(0, |p| p as i64);
        };
        src.par_iter_mut().for_each(map);
        dst.par_iter_mut().for_each(map);
        Ok(labels)
    }
}

/// FxHash-style hasher for label bytes (no DoS concern: input is a local file).
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut buf = [0u8; 8];
            buf.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(K);
        }
        self.0 = h;
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// One tokenized line for the string-label pass.
struct StrRec<'a> {
    a: &'a [u8],
    b: Option<&'a [u8]>,
    w: f64,
}

/// Tokenize a chunk for the string-label pass: records, weighted flag, first error (line 0:
/// the records could not be allocated; the message is the byte count).
#[allow(clippy::type_complexity)]
fn str_pass(chunk: &[u8]) -> (Vec<StrRec<'_>>, bool, Option<(usize, String)>) {
    let mut recs = Vec::new();
    let cap = line_count(chunk);
    if recs.try_reserve_exact(cap).is_err() {
        // line 0: the allocation failed (reported as out-of-memory, not as a line)
        let bytes = cap.saturating_mul(std::mem::size_of::<StrRec>());
        return (recs, false, Some((0, bytes.to_string())));
    }
    let mut weighted = false;
    for (k, line) in lines(chunk) {
        match split_line(line) {
            Err(msg) => return (recs, weighted, Some((k, msg))),
            Ok(Record::Skip) => {}
            Ok(Record::Node(a)) => recs.push(StrRec { a, b: None, w: 1.0 }),
            Ok(Record::Edge(a, b, w)) => {
                let wv = match w {
                    None => 1.0,
                    Some(t) => match parse_weight(t) {
                        Ok(v) => {
                            weighted = true;
                            v
                        }
                        Err(msg) => return (recs, weighted, Some((k, msg))),
                    },
                };
                recs.push(StrRec {
                    a,
                    b: Some(b),
                    w: wv,
                });
            }
        }
    }
    (recs, weighted, None)
}

fn parse_string_labels<'a>(data: &'a [u8], bounds: &[(usize, usize)]) -> Result<EdgeList> {
    let parts: Vec<_> = bounds
        .par_iter()
        .map(|&(s, e)| str_pass(&data[s..e]))
        .collect();
    for ((_, _, err), &(s, _)) in parts.iter().zip(bounds.iter()) {
        if let Some((k, msg)) = err {
            if *k == 0 {
                let bytes = msg.parse().unwrap_or(0);
                return Err(out_of_memory("parse the edge list", bytes));
            }
            return Err(CoreError::Parse {
                line: line_offset(data, s) + k,
                msg: msg.clone(),
            });
        }
    }
    let weighted = parts.iter().any(|p| p.1);
    let m: usize = parts
        .iter()
        .map(|p| p.0.iter().filter(|r| r.b.is_some()).count())
        .sum();
    let what = "hold the edge list";
    let mut map: HashMap<&'a [u8], i64, BuildHasherDefault<FxHasher>> = HashMap::default();
    let mut names: Vec<String> = Vec::new();
    let mut src = try_vec(m, what)?;
    let mut dst = try_vec(m, what)?;
    let mut weights = try_vec(m, what)?;
    let mut id_of = |tok: &'a [u8], names: &mut Vec<String>, pos: usize| -> Result<i64> {
        if let Some(&id) = map.get(tok) {
            return Ok(id);
        }
        let s = std::str::from_utf8(tok).map_err(|_| CoreError::Parse {
            line: line_offset(data, pos) + 1,
            msg: format!("label {:?} is not valid UTF-8", preview(tok)),
        })?;
        let id = names.len() as i64;
        if names.try_reserve(1).is_err() || map.try_reserve(1).is_err() {
            return Err(out_of_memory("number the nodes", names.len() * 64));
        }
        names.push(s.to_owned());
        map.insert(tok, id);
        Ok(id)
    };
    let base = data.as_ptr() as usize;
    for (recs, _, _) in &parts {
        for r in recs {
            // byte offset of the token, used only to name the line of a non-UTF-8 label
            let pos_of = |t: &[u8]| t.as_ptr() as usize - base;
            let a = id_of(r.a, &mut names, pos_of(r.a))?;
            if let Some(b) = r.b {
                let b = id_of(b, &mut names, pos_of(b))?;
                src.push(a);
                dst.push(b);
                weights.push(r.w);
            }
        }
    }
    Ok(EdgeList {
        src,
        dst,
        weights,
        weighted,
        labels: Labels::Str(names),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_labels_sorted() {
        let e = parse_edge_list("# c\n5 3\n3 10 2.5\n\n7\n").unwrap();
        assert_eq!(e.labels, Labels::Int(vec![3, 5, 7, 10]));
        assert_eq!(e.src, vec![1, 0]);
        assert_eq!(e.dst, vec![0, 3]);
        assert_eq!(e.weights, vec![1.0, 2.5]);
        assert!(e.weighted);
    }

    #[test]
    fn sparse_int_labels_use_the_sorted_path() {
        let e = parse_edge_list("-9000000000000 5\n5 9223372036854775807\n").unwrap();
        assert_eq!(e.labels, Labels::Int(vec![-9_000_000_000_000, 5, i64::MAX]));
        assert_eq!((e.src, e.dst), (vec![0, 1], vec![1, 2]));
        assert!(!e.weighted);
    }

    #[test]
    fn string_labels_first_appearance() {
        let e = parse_edge_list("b a\na,c 1 # note\nz\n").unwrap();
        assert_eq!(
            e.labels,
            Labels::Str(vec!["b".into(), "a".into(), "c".into(), "z".into()])
        );
        assert_eq!(e.src, vec![0, 1]);
        assert_eq!(e.dst, vec![1, 2]);
        // a lone node before any edge is numbered first; mixed int/str labels are strings
        let e = parse_edge_list("q\r\n1 x\r\n").unwrap();
        assert_eq!(
            e.labels,
            Labels::Str(vec!["q".into(), "1".into(), "x".into()])
        );
    }

    #[test]
    fn error_messages_are_short() {
        let long = format!("0 1 2 {}\n", "x".repeat(10_000));
        let Err(CoreError::Parse { msg, .. }) = parse_edge_list(&long) else {
            panic!("expected a parse error")
        };
        assert!(msg.len() < 120 && msg.ends_with("…\""), "{msg}");
        let bin: Vec<u8> = (0..5000u32).map(|k| 0x80 + (k % 64) as u8).collect();
        let Err(CoreError::Parse { line: 1, msg }) = parse_edge_list_bytes(&bin) else {
            panic!("expected a parse error")
        };
        assert!(msg.len() < 300, "{msg}");
    }

    proptest::proptest! {
        #[test]
        fn fast_path_agrees_with_the_general_path(
            line in proptest::collection::vec(
                proptest::sample::select(b"0123456789-+#%,. \t\rax".to_vec()), 0..24
            )
        ) {
            if let Some((a, b, w)) = fast_int_edge(&line) {
                match split_line(&line) {
                    Ok(Record::Edge(ta, tb, tw)) => {
                        proptest::prop_assert_eq!(parse_int(ta), Some(a));
                        proptest::prop_assert_eq!(parse_int(tb), Some(b));
                        proptest::prop_assert_eq!(tw, w);
                    }
                    _ => proptest::prop_assert!(false, "fast path accepted {:?}", line),
                }
            }
        }
    }

    #[test]
    fn fast_path_shapes() {
        assert_eq!(fast_int_edge(b"12 -7"), Some((12, -7, None)));
        assert_eq!(
            fast_int_edge(b" 1,2, 0.5 \r"),
            Some((1, 2, Some(&b"0.5"[..])))
        );
        for other in [
            &b""[..],
            b"# c",
            b"%x",
            b"1",
            b"1 2 3 4",
            b"1 2 # c",
            b"+1 2",
            b"a b",
        ] {
            assert_eq!(fast_int_edge(other), None, "{other:?}");
        }
        // 19 digits go to the general path, which checks for overflow
        assert_eq!(fast_int_edge(b"1234567890123456789 0"), None);
        let e = parse_edge_list("1234567890123456789 0\n").unwrap();
        assert_eq!(e.labels, Labels::Int(vec![0, 1_234_567_890_123_456_789]));
    }

    #[test]
    fn lone_carriage_returns_end_lines() {
        // old Mac line endings: `\r` alone ends a line (it must not join two lines)
        let e = parse_edge_list("0 1\r1 2 3\r5\r").unwrap();
        assert_eq!(e.labels, Labels::Int(vec![0, 1, 2, 5]));
        assert_eq!((e.src, e.dst), (vec![0, 1], vec![1, 2]));
        assert_eq!(e.weights, vec![1.0, 3.0]);
        let e = parse_edge_list("0\r1\r").unwrap();
        assert!(e.src.is_empty(), "two lone nodes, not an edge");
        // mixed endings; errors name the line counted with `\r` as a line end
        let e = parse_edge_list("a b\r\nb c\rc d\n").unwrap();
        assert_eq!(e.src.len(), 3);
        assert!(matches!(
            parse_edge_list("0 1\r0 1 x\r"),
            Err(CoreError::Parse { line: 2, .. })
        ));
    }

    #[test]
    fn impossible_allocations_are_errors() {
        let Err(e @ CoreError::OutOfMemory { .. }) = try_vec::<u64>(usize::MAX / 4, "test") else {
            panic!("expected an out-of-memory error")
        };
        assert!(
            e.to_string().starts_with("not enough memory to test"),
            "{e}"
        );
        assert_eq!(try_vec::<u64>(10, "x").unwrap().capacity(), 10);
    }

    #[test]
    fn int_parser_edge_cases() {
        assert_eq!(parse_int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int(b"9223372036854775808"), None);
        assert_eq!(parse_int(b"+7"), Some(7));
        for bad in [&b""[..], b"-", b"1.0", b"1e3", b"0x1", b"12a"] {
            assert_eq!(parse_int(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse_edge_list("0 1\n1 2 x\n").unwrap_err(),
            CoreError::Parse {
                line: 2,
                msg: "weight \"x\" is not a number".into()
            }
        );
        assert!(matches!(
            parse_edge_list("0 1 2 3\n"),
            Err(CoreError::Parse { line: 1, .. })
        ));
        for w in ["-2", "0", "nan", "inf"] {
            assert!(matches!(
                parse_edge_list(&format!("0 1\n\n0 1 {w}\n")),
                Err(CoreError::Parse { line: 3, .. })
            ));
        }
        assert!(matches!(
            parse_edge_list_bytes(b"a b\nc \xff\n"),
            Err(CoreError::Parse { line: 2, .. })
        ));
    }

    #[test]
    fn big_input_is_split_and_reassembled_in_order() {
        // several chunks: result must equal a naive sequential parse
        let mut text = String::new();
        let mut want = Vec::new();
        for k in 0..200_000i64 {
            let (u, v) = ((k * 7919) % 50_021, (k * 104_729 + 3) % 50_021);
            text.push_str(&format!("{} {} {}\n", u * 3, v * 3, 1 + k % 5));
            want.push((u * 3, v * 3, (1 + k % 5) as f64));
        }
        assert!(text.len() > 4 * MIN_CHUNK);
        let e = parse_edge_list(&text).unwrap();
        let Labels::Int(lab) = &e.labels else {
            panic!("expected integer labels")
        };
        assert!(lab.windows(2).all(|p| p[0] < p[1]));
        for (k, &(u, v, w)) in want.iter().enumerate() {
            assert_eq!(lab[e.src[k] as usize], u);
            assert_eq!(lab[e.dst[k] as usize], v);
            assert_eq!(e.weights[k], w);
        }
        // an error deep inside is reported with its global line number
        text.push_str("1 2 3 4\n");
        assert!(matches!(
            parse_edge_list(&text),
            Err(CoreError::Parse { line: 200_001, .. })
        ));
        // a string label in the last chunk switches the whole file to string labels
        let mut t2 = text.replace("1 2 3 4\n", "");
        t2.push_str("zz 0\n");
        let e2 = parse_edge_list(&t2).unwrap();
        let Labels::Str(names) = &e2.labels else {
            panic!("expected string labels")
        };
        assert_eq!(names[e2.src[0] as usize], want[0].0.to_string());
        assert_eq!(names[e2.src[200_000] as usize], "zz");
        assert_eq!(e2.src.len(), 200_001);
    }
}

//! Fast edge-list parsing.
//!
//! Format: one record per line, fields separated by whitespace or commas: `u v [weight]` for an
//! edge, a lone `u` for a node (isolated or not). Empty lines and lines starting with `#` or `%`
//! are skipped, and anything after a `#` is a comment.
//!
//! Node numbering: if every label is an integer, node `i` is the `i`-th smallest label (so labels
//! `0..n-1` map to themselves); otherwise nodes are numbered in order of first appearance and
//! labels are kept as strings.

use crate::error::{CoreError, Result};
use std::collections::HashMap;

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
    let mut toks: Vec<&str> = Vec::new(); // endpoint tokens; isolated nodes recorded in `lone`
    let mut lone: Vec<&str> = Vec::new();
    let mut weights: Vec<f64> = Vec::new();
    let mut weighted = false;
    let mut all_int = true;
    for (lineno, raw) in text.lines().enumerate() {
        let line = match raw.find('#') {
            Some(p) => &raw[..p],
            None => raw,
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('%') {
            continue;
        }
        let mut fields = line
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty());
        let a = fields.next();
        let b = fields.next();
        let w = fields.next();
        if fields.next().is_some() {
            return Err(CoreError::Parse {
                line: lineno + 1,
                msg: format!("expected 'u v [weight]', found more than 3 fields in {line:?}"),
            });
        }
        match (a, b) {
            (Some(a), None) => {
                all_int &= a.parse::<i64>().is_ok();
                lone.push(a);
            }
            (Some(a), Some(b)) => {
                all_int &= a.parse::<i64>().is_ok() && b.parse::<i64>().is_ok();
                toks.push(a);
                toks.push(b);
                let wv = match w {
                    None => 1.0,
                    Some(ws) => {
                        weighted = true;
                        let v: f64 = ws.parse().map_err(|_| CoreError::Parse {
                            line: lineno + 1,
                            msg: format!("weight {ws:?} is not a number"),
                        })?;
                        if !(v.is_finite() && v > 0.0) {
                            return Err(CoreError::Parse {
                                line: lineno + 1,
                                msg: format!("weight {ws} must be finite and > 0"),
                            });
                        }
                        v
                    }
                };
                weights.push(wv);
            }
            (None, _) => continue,
        }
    }
    let (ids, labels) = if all_int {
        let parse = |s: &str| s.parse::<i64>().unwrap_or_default();
        let mut uniq: Vec<i64> = toks.iter().chain(lone.iter()).map(|s| parse(s)).collect();
        uniq.sort_unstable();
        uniq.dedup();
        let ids: Vec<i64> = toks
            .iter()
            .map(|s| uniq.binary_search(&parse(s)).unwrap_or_default() as i64)
            .collect();
        (ids, Labels::Int(uniq))
    } else {
        let mut map: HashMap<&str, i64> = HashMap::with_capacity(toks.len() / 4 + lone.len());
        let mut names: Vec<String> = Vec::new();
        // first appearance in file order: edges and lone nodes interleave, but a lone node that
        // also appears in an edge keeps its edge position; lone-only nodes come after.
        let mut ids = Vec::with_capacity(toks.len());
        for s in toks.iter() {
            let next = names.len() as i64;
            let id = *map.entry(s).or_insert_with(|| {
                names.push((*s).to_string());
                next
            });
            ids.push(id);
        }
        for s in lone.iter() {
            if !map.contains_key(s) {
                map.insert(s, names.len() as i64);
                names.push((*s).to_string());
            }
        }
        (ids, Labels::Str(names))
    };
    let mut src = Vec::with_capacity(weights.len());
    let mut dst = Vec::with_capacity(weights.len());
    for pair in ids.chunks_exact(2) {
        src.push(pair[0]);
        dst.push(pair[1]);
    }
    Ok(EdgeList {
        src,
        dst,
        weights,
        weighted,
        labels,
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
    fn string_labels_first_appearance() {
        let e = parse_edge_list("b a\na,c 1 # note\nz\n").unwrap();
        assert_eq!(
            e.labels,
            Labels::Str(vec!["b".into(), "a".into(), "c".into(), "z".into()])
        );
        assert_eq!(e.src, vec![0, 1]);
        assert_eq!(e.dst, vec![1, 2]);
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
        assert!(matches!(
            parse_edge_list("0 1 -2\n"),
            Err(CoreError::Parse { line: 1, .. })
        ));
    }
}

//! Deterministic test graphs shared by the unit tests of several modules.

use crate::graph::Graph;

/// Pseudo-random weighted connected graph on `n` nodes (xorshift from `seed`): a random
/// spanning tree plus each other pair with probability `1/p_mod`; weights
/// `0.1 + k/weight_div` with `k` uniform in `0..1000`.
pub(crate) fn random_weighted_graph(n: usize, seed: u64, p_mod: u64, weight_div: f64) -> Graph {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let (mut s, mut d, mut w) = (vec![], vec![], vec![]);
    for v in 1..n as u64 {
        s.push((next() % v) as i64);
        d.push(v as i64);
        w.push(0.1 + (next() % 1000) as f64 / weight_div);
    }
    for u in 0..n as i64 {
        for v in u + 1..n as i64 {
            if next() % p_mod == 0 {
                s.push(u);
                d.push(v);
                w.push(0.1 + (next() % 1000) as f64 / weight_div);
            }
        }
    }
    Graph::from_edges(n, &s, &d, Some(&w)).unwrap().0
}

//! 128-bit content digests for the aggregation store's integrity checks.
//!
//! Integrity, not authentication: a digest detects corrupted, truncated or replaced bytes; it
//! is unkeyed, so anyone who can rewrite an object can rewrite its digest too. Two algorithms:
//!
//! * [`Algo::Xxh3`] — XXH3-128 (xxHash, seed 0), non-cryptographic, the default: ≈ 10× faster
//!   than BLAKE2b and ample for random-corruption detection (a random change goes unnoticed
//!   with probability 2⁻¹²⁸).
//! * [`Algo::Blake3`] — BLAKE3 truncated to 128 bits, cryptographic, kept for comparison.
//!
//! A digest is 16 bytes in the algorithm's canonical (big-endian for XXH3, as `xxhash`'s
//! `digest()` prints it) byte order. Chunked digests hash consecutive `chunk`-byte pieces
//! (the last one shorter) in parallel on the rayon pool, a batch at a time, polling the
//! [`StopFn`] on the calling thread between batches (never from a pool worker).

use crate::error::{CoreError, Result, StopFn};
use rayon::prelude::*;

/// A 128-bit digest in canonical byte order.
pub type Digest = [u8; 16];

/// Digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algo {
    /// XXH3-128, seed 0.
    Xxh3,
    /// BLAKE3, first 16 bytes of the output.
    Blake3,
}

impl Algo {
    /// Algorithm from its name (`"xxh3-128"`, `"blake3-128"`).
    pub fn from_name(name: &str) -> Option<Algo> {
        match name {
            "xxh3-128" => Some(Algo::Xxh3),
            "blake3-128" => Some(Algo::Blake3),
            _ => None,
        }
    }

    /// The name used in file headers.
    pub fn name(self) -> &'static str {
        match self {
            Algo::Xxh3 => "xxh3-128",
            Algo::Blake3 => "blake3-128",
        }
    }
}

/// Digest of `data`.
pub fn digest(algo: Algo, data: &[u8]) -> Digest {
    match algo {
        Algo::Xxh3 => xxhash_rust::xxh3::xxh3_128(data).to_be_bytes(),
        Algo::Blake3 => {
            let h = blake3::hash(data);
            let mut d = [0u8; 16];
            d.copy_from_slice(&h.as_bytes()[..16]);
            d
        }
    }
}

/// Bytes hashed per parallel batch between two polls of the stop function.
const BATCH_BYTES: usize = 64 << 20;
/// Below this many bytes the chunks are hashed on the calling thread. Waking pool workers
/// costs more than it saves for the 1 MiB windows a function verifies (measured on a loaded
/// 2-core machine: 0.2 s of a 0.9 s round went to hand-offs); XXH3 runs near memory speed on
/// one core, so the pool pays only for whole objects (and for BLAKE3).
const PAR_MIN_BYTES: usize = 32 << 20;

/// Digests of consecutive `chunk`-byte pieces of `data` (the last may be shorter; none for
/// empty `data`). `chunk` must be ≥ 1.
pub fn chunk_digests(algo: Algo, data: &[u8], chunk: usize, stop: StopFn) -> Result<Vec<Digest>> {
    let chunk = chunk.max(1);
    let mut out = Vec::with_capacity(data.len().div_ceil(chunk));
    if data.len() < PAR_MIN_BYTES {
        out.extend(data.chunks(chunk).map(|c| digest(algo, c)));
        return Ok(out);
    }
    let batch = (BATCH_BYTES / chunk).max(1) * chunk;
    for piece in data.chunks(batch) {
        if stop() {
            return Err(CoreError::Interrupted);
        }
        // The caller is not a pool worker waiting on anything: `par_chunks` only splits work.
        let part: Vec<Digest> = piece
            .par_chunks(chunk)
            .with_min_len(2)
            .map(|c| digest(algo, c))
            .collect();
        out.extend(part);
    }
    Ok(out)
}

/// Index of the first `chunk`-byte piece of `data` whose digest differs from `expected`
/// (`expected.len()` must equal the number of pieces, else `Some(min(len, pieces))`).
pub fn first_mismatch(
    algo: Algo,
    data: &[u8],
    chunk: usize,
    expected: &[Digest],
    stop: StopFn,
) -> Result<Option<usize>> {
    let got = chunk_digests(algo, data, chunk, stop)?;
    if got.len() != expected.len() {
        return Ok(Some(got.len().min(expected.len())));
    }
    Ok(got.iter().zip(expected).position(|(a, b)| a != b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::never_stop as never;

    fn hex(d: &Digest) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_vectors() {
        // XXH3-128 of the empty input (xxHash's reference: 99aa06d3014798d86001c324468d497f);
        // BLAKE3 of the empty input (the BLAKE3 spec's test vector, first 16 bytes).
        assert_eq!(
            hex(&digest(Algo::Xxh3, b"")),
            "99aa06d3014798d86001c324468d497f"
        );
        assert_eq!(
            hex(&digest(Algo::Blake3, b"")),
            "af1349b9f5f9a1a6a0404dea36dcc949"
        );
    }

    #[test]
    fn chunks_match_one_by_one_and_detect_every_position() {
        let big: Vec<u8> = (0..(33u32 << 20) + 12345)
            .map(|i| (i * 31 % 251) as u8)
            .collect();
        for algo in [Algo::Xxh3, Algo::Blake3] {
            // the sequential (small input) and the rayon (≥ PAR_MIN_BYTES) paths
            for (data, chunk) in [(&big[..100_001], 1000usize), (&big[..], 1 << 18)] {
                let par = chunk_digests(algo, data, chunk, &never).unwrap();
                let seq: Vec<Digest> = data.chunks(chunk).map(|c| digest(algo, c)).collect();
                assert_eq!(par, seq);
                assert_eq!(
                    first_mismatch(algo, data, chunk, &seq, &never).unwrap(),
                    None
                );
                for pos in [0, chunk - 1, chunk, data.len() / 2, data.len() - 1] {
                    let mut bad = data.to_vec();
                    bad[pos] ^= 0x40;
                    assert_eq!(
                        first_mismatch(algo, &bad, chunk, &seq, &never).unwrap(),
                        Some(pos / chunk)
                    );
                }
            }
        }
        assert!(chunk_digests(Algo::Xxh3, &[], 16, &never)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn stop_interrupts_large_inputs() {
        let data = vec![0u8; PAR_MIN_BYTES];
        assert!(matches!(
            chunk_digests(Algo::Xxh3, &data, 1 << 16, &|| true),
            Err(CoreError::Interrupted)
        ));
    }
}

"""Checksums of the aggregation store: XXH3-128 digests (Rust) against independent
implementations, corruption of every chunk detected, old formats handled as documented."""

from __future__ import annotations

import hashlib
import itertools
import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdfl import _core
from ssdfl.aggregation import functions as fn
from ssdfl.aggregation import store as sm


def _xxh(b: bytes) -> bytes:
    """XXH3-128 by the independent ``xxhash`` package (the test skips without it)."""
    xxhash = pytest.importorskip("xxhash")
    return xxhash.xxh3_128(b).digest()


def test_known_vectors() -> None:
    # reference values: xxHash's XXH3-128 of "" and the BLAKE3 spec's hash of "" (16 bytes)
    empty = np.zeros(0, np.uint8)
    assert _core.digest128(empty).hex() == "99aa06d3014798d86001c324468d497f"
    assert _core.digest128(empty, "blake3-128").hex() == "af1349b9f5f9a1a6a0404dea36dcc949"
    with pytest.raises(ValueError, match="unknown digest algorithm"):
        _core.digest128(empty, "md5")
    with pytest.raises(ValueError, match="chunk_bytes"):
        _core.chunk_digests(empty, 0)


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5000), chunk=st.integers(1, 700))
def test_digests_equal_the_xxhash_package(data: bytes, chunk: int) -> None:
    arr = np.frombuffer(data, np.uint8)
    assert _core.digest128(arr) == _xxh(data)
    got = _core.chunk_digests(arr, chunk)
    assert got == b"".join(_xxh(data[i : i + chunk]) for i in range(0, len(data), chunk))


def test_large_parallel_chunks_equal_xxhash_and_blake3() -> None:
    data = np.random.default_rng(0).integers(0, 256, (5 << 20) + 777, dtype=np.uint8)
    raw = data.tobytes()
    cb = 1 << 18
    got = _core.chunk_digests(data, cb)
    assert got == b"".join(_xxh(raw[i : i + cb]) for i in range(0, len(raw), cb))
    blake3 = pytest.importorskip("blake3")
    got3 = _core.chunk_digests(data, cb, "blake3-128")
    assert got3 == b"".join(
        blake3.blake3(raw[i : i + cb]).digest()[:16] for i in range(0, len(raw), cb)
    )


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=3000),
    cuts=st.lists(st.integers(0, 3000), max_size=8),
    chunk=st.integers(1, 400),
)
def test_streaming_hasher_is_independent_of_the_pieces(
    data: bytes, cuts: list[int], chunk: int
) -> None:
    h = sm._ChunkHasher(chunk)
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    for a, b in itertools.pairwise(bounds):
        h.update(data[a:b])
    want = [_xxh(data[i : i + chunk]).hex() for i in range(0, len(data), chunk)]
    assert h.finish() == want


def test_checksum_object_matches_xxhash_of_the_file(tmp_path) -> None:
    store = sm.LocalStore(tmp_path)
    x = np.random.default_rng(1).standard_normal(3 * sm.CHUNK + 5).astype(np.float32)
    sm.put_array(store, "a.npy", x)
    raw = (tmp_path / "a.npy").read_bytes()
    d = json.loads((tmp_path / "a.npy.b2").read_bytes())
    info = sm.npy_info(store, "a.npy", verify=False)
    assert d["format"] == "ssdfl-npy-xxh3/2" and d["algorithm"] == "xxh3-128"
    assert d["length"] == len(raw)
    assert d["header"] == _xxh(raw[: info.offset]).hex()
    cb = sm.CHUNK * 4
    body = raw[info.offset :]
    assert d["chunks"] == [_xxh(body[i : i + cb]).hex() for i in range(0, len(body), cb)]
    assert np.array_equal(sm.get_array(store, "a.npy"), x)


def _flip(path, pos: int, bit: int) -> None:
    b = bytearray(path.read_bytes())
    b[pos] ^= 1 << bit
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_corruption_in_every_chunk_is_detected(tmp_path, dtype) -> None:
    store = sm.LocalStore(tmp_path)
    chunk, n = 64, 64 * 7 + 13
    x = np.arange(n, dtype=dtype)
    sm.put_npy_parts(store, "c.npy", x.dtype, x.shape, [x.tobytes()], chunk=chunk)
    info = sm.npy_info(store, "c.npy")
    isz = x.dtype.itemsize
    for j in range(-(-n // chunk)):
        a, b = j * chunk, min((j + 1) * chunk, n)
        for pos in (a * isz, b * isz - 1):  # first and last byte of chunk j
            _flip(tmp_path / "c.npy", info.offset + pos, 3)
            with pytest.raises(sm.IntegrityError, match=rf"elements \[{a}, {b}\)"):
                sm.get_array(store, "c.npy")
            # a read of only this chunk's elements also sees it
            with pytest.raises(sm.IntegrityError):
                sm.read_verified(store, info, b - 1, b)
            _flip(tmp_path / "c.npy", info.offset + pos, 3)
    assert np.array_equal(sm.get_array(store, "c.npy"), x)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 600),
    chunk=st.integers(1, 128),
    where=st.floats(0, 1, exclude_max=True),
    bit=st.integers(0, 7),
)
def test_any_flipped_bit_is_detected(tmp_path_factory, n, chunk, where, bit) -> None:
    d = tmp_path_factory.mktemp("flip")
    store = sm.LocalStore(d)
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    sm.put_npy_parts(store, "f.npy", x.dtype, x.shape, [x.tobytes()], chunk=chunk)
    size = (d / "f.npy").stat().st_size
    pos = int(where * size)
    _flip(d / "f.npy", pos, bit)
    with pytest.raises(sm.SsdflError):
        sm.get_array(store, "f.npy")


def _blake2b_sidecar(raw: bytes, offset: int, chunk: int, isz: int) -> bytes:
    """A format-1 checksum object, computed independently with hashlib."""

    def h(b: bytes) -> str:
        return hashlib.blake2b(b, digest_size=16).hexdigest()

    body, cb = raw[offset:], chunk * isz
    d = {
        "format": "ssdfl-npy-blake2b/1",
        "length": len(raw),
        "header": h(raw[:offset]),
        "chunk_elements": chunk,
        "chunks": [h(body[i : i + cb]) for i in range(0, len(body), cb)],
    }
    return json.dumps(d).encode()


def test_old_blake2b_checksum_objects_still_verify(tmp_path) -> None:
    store = sm.LocalStore(tmp_path)
    x = np.random.default_rng(2).standard_normal(2 * sm.CHUNK + 9).astype(np.float32)
    store.put("old.npy", sm.npy_header(x.dtype, x.shape) + x.tobytes())
    info = sm.npy_info(store, "old.npy", verify=False)
    raw = (tmp_path / "old.npy").read_bytes()
    store.put("old.npy.b2", _blake2b_sidecar(raw, info.offset, sm.CHUNK, 4))
    assert sm.npy_info(store, "old.npy").checksum.algo == "blake2b-128"
    assert np.array_equal(sm.get_array(store, "old.npy"), x)
    _flip(tmp_path / "old.npy", info.offset + 4 * (sm.CHUNK + 3), 0)
    with pytest.raises(sm.IntegrityError, match=rf"elements \[{sm.CHUNK}, {2 * sm.CHUNK}\)"):
        sm.get_array(store, "old.npy")


def test_unknown_checksum_format_is_refused_with_the_known_ones(tmp_path) -> None:
    store = sm.LocalStore(tmp_path)
    sm.put_array(store, "u.npy", np.ones(10, np.float32))
    d = json.loads(store.get("u.npy.b2"))
    d["format"] = "ssdfl-npy-sha3/9"
    store.put("u.npy.b2", json.dumps(d).encode())
    with pytest.raises(sm.IntegrityError, match="ssdfl-npy-xxh3/2"):
        sm.get_array(store, "u.npy")


def test_partial_sum_digests_are_xxh3_and_old_format_is_refused(tmp_path) -> None:
    store = sm.LocalStore(tmp_path)
    blocks = [b"\x01\x02\x03", b"", b"xyz" * 50]
    parts = fn.encode_partial({"dtype": "float32", "start": 0, "end": 3, "block": 1}, blocks)
    store.put_parts("p.xps", parts)
    raw = (tmp_path / "p.xps").read_bytes()
    assert raw[:8] == b"SSDFLXP3"
    (hlen,) = struct.unpack("<Q", raw[8:16])
    hdr = raw[32 : 32 + hlen]
    assert raw[16:32] == _xxh(hdr)
    meta, base = fn.read_partial_header(store, "p.xps")
    assert meta["digests"] == [_xxh(b).hex() for b in blocks] and base == 32 + hlen
    store.put("old.xps", b"SSDFLXP2" + raw[8:])
    with pytest.raises(sm.IntegrityError, match=r"old format SSDFLXP2.*rerun the round"):
        fn.read_partial_header(store, "old.xps")

"""Object stores for serverless aggregation: a local directory (default) and S3 (boto3).

Both expose whole-object atomic ``put`` (a reader sees the old object or the complete new one,
never a prefix: the local store writes a temporary file and renames it; an S3 PUT is atomic by
protocol) and ranged reads, which is all an aggregation function needs. Client updates and
results are ``.npy`` objects; :func:`npy_info` validates an object's header and length so a
missing or truncated client object fails with an error naming it before any work starts.

Integrity: :func:`put_array` writes beside every ``.npy`` object a checksum object
``<key>.b2`` (JSON, format ``ssdfl-npy-xxh3/2``: total length, XXH3-128 of the ``.npy`` header
and of every chunk of :data:`CHUNK` elements, computed in Rust without the GIL); readers
(:func:`npy_info`, :func:`get_array`, :func:`read_verified`) check the length and the digests
of the bytes they use before using them, and fail with :class:`IntegrityError` naming the
object. XXH3 is a non-cryptographic hash: it detects corruption, truncation and replacement,
it does not authenticate (no key; whoever can rewrite an object can rewrite its checksum).
Checksum objects of the previous format (``ssdfl-npy-blake2b/1``, BLAKE2b-128) are still
read and verified, at BLAKE2b's speed; new ones are always XXH3.
``put_array(..., exclusive=True)`` creates an object only if its key is free
(:class:`ObjectExistsError` otherwise), so two writers can never replace each other's update.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import shutil
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl._atomic import atomic_write
from ssdfl.errors import (
    IntegrityError,
    MissingObjectError,
    ObjectExistsError,
    SsdflError,
    TruncatedObjectError,
)

Chunk = bytes | bytearray | memoryview


class ObjectStore(ABC):
    """Minimal object-store interface used by aggregation functions."""

    @abstractmethod
    def put_parts(self, key: str, parts: Iterable[Chunk], *, exclusive: bool = False) -> int:
        """Atomically store the concatenation of ``parts`` under ``key``; return its size.
        ``exclusive``: only if ``key`` does not exist yet (:class:`ObjectExistsError`)."""

    @abstractmethod
    def get_range(self, key: str, start: int, length: int) -> bytes:
        """``length`` bytes of ``key`` from ``start`` (error if fewer are available)."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes; :class:`MissingObjectError` if absent."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` (no error if absent)."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[str]:
        """Sorted keys starting with ``prefix``."""

    @abstractmethod
    def move(self, src: str, dst: str) -> None:
        """Publish ``src`` under ``dst`` (atomic replace where the backend allows) and drop it."""

    @abstractmethod
    def url(self, key: str) -> str:
        """Human-readable location of ``key`` for messages."""

    def put(self, key: str, data: Chunk, *, exclusive: bool = False) -> int:
        return self.put_parts(key, [data], exclusive=exclusive)

    def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose key starts with ``prefix``."""
        for k in self.list(prefix):
            self.delete(k)

    def get(self, key: str) -> bytes:
        return self.get_range(key, 0, self.size(key))

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except MissingObjectError:
            return False
        return True

    def get_range_into(self, key: str, start: int, out: memoryview) -> None:
        """Fill ``out`` with bytes of ``key`` from ``start`` (the local store avoids a copy)."""
        out[:] = self.get_range(key, start, len(out))


def _check_key(key: str) -> str:
    p = PurePosixPath(key)
    if not key or p.is_absolute() or ".." in p.parts:
        raise SsdflError(f"invalid object key {key!r}: use a relative path without '..'")
    return key


class LocalStore(ObjectStore):
    """Objects as files under ``root`` (keys are relative POSIX paths)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def url(self, key: str) -> str:
        return str(self._path(key))

    def put_parts(self, key: str, parts: Iterable[Chunk], *, exclusive: bool = False) -> int:
        target = self._path(key)
        if exclusive and target.exists():
            raise ObjectExistsError(f"object {self.url(key)} already exists")
        dest = (
            target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.new") if exclusive else target
        )
        n = 0
        with atomic_write(dest, "wb") as fh:
            for part in parts:
                fh.write(part)
                n += len(memoryview(part).cast("B"))
        if exclusive:  # link(2) refuses an existing name: create-if-absent, atomically
            try:
                os.link(dest, target)
            except FileExistsError:
                raise ObjectExistsError(f"object {self.url(key)} already exists") from None
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(dest)
        return n

    def get_range(self, key: str, start: int, length: int) -> bytes:
        buf = bytearray(length)
        self.get_range_into(key, start, memoryview(buf))
        return bytes(buf)

    def get_range_into(self, key: str, start: int, out: memoryview) -> None:
        out = out.cast("B")
        try:
            with open(self._path(key), "rb", buffering=0) as fh:
                fh.seek(start)
                got = 0
                while got < len(out):
                    r = fh.readinto(out[got:])
                    if not r:
                        break
                    got += r
        except FileNotFoundError:
            raise MissingObjectError(f"object {self.url(key)} does not exist") from None
        if got != len(out):
            raise TruncatedObjectError(
                f"object {self.url(key)} is truncated: wanted bytes [{start}, {start + len(out)}),"
                f" got {got}"
            )

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise MissingObjectError(f"object {self.url(key)} does not exist") from None

    def delete(self, key: str) -> None:
        path = self._path(key)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        self._prune(path.parent)

    def _prune(self, parent: Path) -> None:
        """Drop directories left empty (temporary prefixes), never the root itself."""
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def delete_prefix(self, prefix: str) -> None:
        """Remove the objects under ``prefix``, including temporary files of writers that died
        (a prefix that names a directory is removed as a whole)."""
        d = self._path(prefix.rstrip("/"))
        if d.is_dir() and d != self.root:
            shutil.rmtree(d, ignore_errors=True)
            self._prune(d.parent)
        super().delete_prefix(prefix)

    def list(self, prefix: str = "") -> list[str]:
        keys = [
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        ]
        return sorted(k for k in keys if k.startswith(prefix))

    def move(self, src: str, dst: str) -> None:
        d = self._path(dst)
        d.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(self._path(src), d)
        except FileNotFoundError:
            raise MissingObjectError(f"object {self.url(src)} does not exist") from None


class S3Store(ObjectStore):
    """Objects in an S3 bucket (or any S3-compatible server via ``endpoint_url``) under
    ``prefix``. Credentials come from the usual boto3 chain; the client is created lazily so
    the store can be pickled to worker processes."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url
        self.region_name = region_name
        self.client_kwargs = dict(client_kwargs or {})
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Store({self.bucket!r}, {self.prefix!r}, endpoint_url={self.endpoint_url!r})"

    def __getstate__(self) -> dict[str, Any]:
        d = self.__dict__.copy()
        d["_client"] = None
        return d

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import boto3
            except ImportError as exc:  # pragma: no cover - boto3 is an optional extra
                raise SsdflError("S3Store needs boto3: pip install 'ssdfl[s3]'") from exc
            kw = dict(self.client_kwargs)
            if "config" not in kw:  # fail in seconds on an unreachable endpoint, not minutes
                from botocore.config import Config

                kw["config"] = Config(
                    connect_timeout=5,
                    read_timeout=60,
                    retries={"max_attempts": 3, "mode": "standard"},
                )
            self._client = boto3.client(
                "s3", endpoint_url=self.endpoint_url, region_name=self.region_name, **kw
            )
        return self._client

    def _k(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._k(key)}"

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put_parts(self, key: str, parts: Iterable[Chunk], *, exclusive: bool = False) -> int:
        body = b"".join(bytes(memoryview(p).cast("B")) for p in parts)
        extra = {"IfNoneMatch": "*"} if exclusive else {}
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._k(key), Body=body, **extra)
        except Exception as exc:
            code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
            if exclusive and code in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise ObjectExistsError(f"object {self.url(key)} already exists") from None
            raise
        return len(body)

    def get_range(self, key: str, start: int, length: int) -> bytes:
        if length == 0:
            self.size(key)
            return b""
        try:
            r = self.client.get_object(
                Bucket=self.bucket, Key=self._k(key), Range=f"bytes={start}-{start + length - 1}"
            )
        except Exception as exc:
            if self._missing(exc):
                raise MissingObjectError(f"object {self.url(key)} does not exist") from None
            if "InvalidRange" in str(exc):
                raise TruncatedObjectError(
                    f"object {self.url(key)} is truncated: no bytes at offset {start}"
                ) from None
            raise
        data = r["Body"].read()
        if len(data) != length:
            raise TruncatedObjectError(
                f"object {self.url(key)} is truncated: wanted bytes [{start}, {start + length}),"
                f" got {len(data)}"
            )
        return data

    def size(self, key: str) -> int:
        try:
            return int(
                self.client.head_object(Bucket=self.bucket, Key=self._k(key))["ContentLength"]
            )
        except Exception as exc:
            if self._missing(exc):
                raise MissingObjectError(f"object {self.url(key)} does not exist") from None
            raise

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._k(key))

    def list(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        for page in pages:
            out.extend(o["Key"][len(self.prefix) :] for o in page.get("Contents", []))
        return sorted(out)

    def move(self, src: str, dst: str) -> None:
        self.size(src)
        self.client.copy_object(
            Bucket=self.bucket,
            Key=self._k(dst),
            CopySource={"Bucket": self.bucket, "Key": self._k(src)},
        )
        self.delete(src)


StoreFactory = Callable[..., ObjectStore]
"""``factory(rest_of_spec, **kwargs) -> ObjectStore`` for a spec ``scheme://rest``."""

STORES: dict[str, StoreFactory] = {}
"""Object stores by URL scheme (``open_store``); a spec without a registered scheme is a local
directory (:class:`LocalStore`)."""


def register_store(scheme: str, factory: StoreFactory) -> None:
    """Make ``open_store("<scheme>://...")`` build its store with ``factory`` (refuses a taken
    scheme)."""
    if scheme in STORES:
        raise SsdflError(f"store scheme {scheme!r} is already registered")
    STORES[scheme] = factory


def open_store(spec: str | os.PathLike[str] | ObjectStore, **kwargs: Any) -> ObjectStore:
    """A store from a spec: an existing store, ``<scheme>://…`` of a registered scheme
    (:data:`STORES`: ``s3://bucket/prefix``) or a local directory; ``kwargs`` go to the
    scheme's factory."""
    if isinstance(spec, ObjectStore):
        return spec
    s = str(spec)
    scheme, sep, rest = s.partition("://")
    if sep and scheme in STORES:
        return STORES[scheme](rest, **kwargs)
    return LocalStore(s)


def _s3_store(rest: str, **kwargs: Any) -> ObjectStore:
    bucket, _, prefix = rest.partition("/")
    return S3Store(bucket, prefix, **kwargs)


register_store("s3", _s3_store)


# ---------------------------------------------------------------------------------------------
# .npy objects


#: Elements per checksummed chunk of a ``.npy`` object (256 KiB of float32).
CHUNK: int = 1 << 16
CHECKSUM_SUFFIX = ".b2"
#: Digest algorithm of new checksums (``_core.digest128``; XXH3-128, seed 0).
DIGEST_ALGO = "xxh3-128"
#: Checksum-object format written now, and every format still read (format → algorithm).
CHECKSUM_FORMAT = "ssdfl-npy-xxh3/2"
CHECKSUM_FORMATS: dict[str, str] = {
    CHECKSUM_FORMAT: DIGEST_ALGO,
    "ssdfl-npy-blake2b/1": "blake2b-128",
}


def _bytes_view(data: Chunk) -> np.ndarray:
    return np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)


class _Rust:
    """A digest computed by ``ssdfl._core`` (GIL released; chunks hashed in parallel)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def one(self, data: Chunk) -> bytes:
        return _core.digest128(_bytes_view(data), self.name)

    def chunks(self, data: Chunk, chunk_bytes: int) -> bytes:
        return _core.chunk_digests(_bytes_view(data), chunk_bytes, self.name)


class _Blake2b:
    """BLAKE2b-128 (hashlib): only to verify checksum objects of format 1."""

    name = "blake2b-128"

    def one(self, data: Chunk) -> bytes:
        return hashlib.blake2b(memoryview(data).cast("B"), digest_size=16).digest()

    def chunks(self, data: Chunk, chunk_bytes: int) -> bytes:
        mv = memoryview(data).cast("B")
        return b"".join(self.one(mv[i : i + chunk_bytes]) for i in range(0, len(mv), chunk_bytes))


#: Digest implementations by algorithm name (each: ``one(data)`` and ``chunks(data, n)`` →
#: 16 bytes per digest).
ALGOS: dict[str, Any] = {
    "xxh3-128": _Rust("xxh3-128"),
    "blake3-128": _Rust("blake3-128"),
    "blake2b-128": _Blake2b(),
}


def digest(data: Chunk, algo: str = DIGEST_ALGO) -> str:
    """128-bit digest of ``data`` as hex (XXH3-128 unless ``algo`` says otherwise)."""
    return ALGOS[algo].one(data).hex()


def chunk_digests(data: Chunk, chunk_bytes: int, algo: str = DIGEST_ALGO) -> list[str]:
    """Hex digests of consecutive ``chunk_bytes``-byte pieces of ``data`` (last one shorter)."""
    raw = ALGOS[algo].chunks(data, chunk_bytes)
    return [raw[i : i + 16].hex() for i in range(0, len(raw), 16)]


def checksum_key(key: str) -> str:
    """Key of the checksum object of ``key``."""
    return key + CHECKSUM_SUFFIX


@dataclass(frozen=True)
class Checksum:
    """Checksum of a ``.npy`` object: total length, header digest and per-chunk digests of
    the data (chunk ``j`` = elements ``[j·chunk, (j+1)·chunk)``), hex, by ``algo``."""

    length: int
    header: str
    chunk: int
    chunks: tuple[str, ...]
    algo: str = DIGEST_ALGO

    @functools.cached_property
    def packed(self) -> bytes:
        """The chunk digests concatenated (16 bytes each)."""
        return bytes.fromhex("".join(self.chunks))

    def to_json(self) -> bytes:
        fmt = [f for f, a in CHECKSUM_FORMATS.items() if a == self.algo]
        if not fmt:
            raise SsdflError(f"no checksum-object format stores {self.algo} digests")
        d = {"format": fmt[0], "algorithm": self.algo, "length": self.length,
             "header": self.header, "chunk_elements": self.chunk,
             "chunks": list(self.chunks)}  # fmt: skip
        return json.dumps(d).encode()


class _ChunkHasher:
    """Digests of consecutive ``chunk_bytes`` pieces of a byte stream fed in any pieces: whole
    chunks are hashed in place (one Rust call per piece), only a piece's ragged ends are
    buffered."""

    def __init__(self, chunk_bytes: int, algo: str = DIGEST_ALGO) -> None:
        self.chunk_bytes = max(1, chunk_bytes)
        self.algo = ALGOS[algo]
        self._out: list[bytes] = []
        self._pending = bytearray()

    def update(self, data: Chunk) -> None:
        mv = memoryview(data).cast("B")
        cb = self.chunk_bytes
        if self._pending:
            take = min(len(mv), cb - len(self._pending))
            self._pending += mv[:take]
            mv = mv[take:]
            if len(self._pending) < cb:
                return
            self._out.append(self.algo.one(self._pending))
            self._pending = bytearray()
        whole = len(mv) // cb * cb
        if whole:
            self._out.append(self.algo.chunks(mv[:whole], cb))
        self._pending += mv[whole:]

    def finish(self) -> list[str]:
        if self._pending:
            self._out.append(self.algo.one(self._pending))
            self._pending = bytearray()
        raw = b"".join(self._out)
        return [raw[i : i + 16].hex() for i in range(0, len(raw), 16)]


def put_npy_parts(
    store: ObjectStore,
    key: str,
    dtype: np.dtype,
    shape: tuple[int, ...],
    data: Iterable[Chunk],
    *,
    exclusive: bool = False,
    chunk: int = CHUNK,
) -> int:
    """Store a C-ordered ``.npy`` whose data bytes come in pieces, and its checksum object."""
    header = npy_header(dtype, shape)
    hasher = _ChunkHasher(chunk * np.dtype(dtype).itemsize)

    def parts() -> Iterator[Chunk]:
        yield header
        for piece in data:
            hasher.update(piece)
            yield piece

    n = store.put_parts(key, parts(), exclusive=exclusive)
    cs = Checksum(n, digest(header), chunk, tuple(hasher.finish()))
    store.put(checksum_key(key), cs.to_json(), exclusive=exclusive)
    return n


def put_array(store: ObjectStore, key: str, arr: np.ndarray, *, exclusive: bool = False) -> int:
    """Store ``arr`` as a ``.npy`` object (without copying its contiguous data) and its
    checksum object; ``exclusive``: refuse a key that is already taken."""
    a = np.ascontiguousarray(arr)
    return put_npy_parts(
        store, key, a.dtype, a.shape, [a.data.cast("B")] if a.size else [],
        exclusive=exclusive,
    )  # fmt: skip


def add_checksum(store: ObjectStore, key: str, chunk: int = CHUNK) -> Checksum:
    """Seal an object uploaded by another tool: read it, validate its ``.npy`` header and write
    its checksum object (trust on first read)."""
    info = npy_info(store, key, verify=False)
    hasher = _ChunkHasher(chunk * info.dtype.itemsize)
    step = max(1, (8 << 20) // max(1, chunk * info.dtype.itemsize)) * chunk
    buf = np.empty(min(step, max(info.size, 1)), dtype=info.dtype)
    for lo in range(0, info.size, step):
        v = buf[: min(step, info.size - lo)]
        read_elements_into(store, info, lo, v)
        hasher.update(v.data.cast("B"))
    head = store.get_range(key, 0, info.offset)
    cs = Checksum(store.size(key), digest(head), chunk, tuple(hasher.finish()))
    store.put(checksum_key(key), cs.to_json())
    return cs


def load_checksum(store: ObjectStore, key: str) -> Checksum:
    """The checksum object of ``key`` (:class:`IntegrityError` if absent or malformed)."""
    try:
        raw = store.get(checksum_key(key))
    except MissingObjectError:
        raise IntegrityError(
            f"object {store.url(key)} has no checksum object {checksum_key(key)!r}: upload it "
            "with put_array/upload_clients or seal it with add_checksum"
        ) from None
    try:
        d = json.loads(raw)
        fmt = d.get("format")
        if fmt not in CHECKSUM_FORMATS:
            raise ValueError(
                f"format {fmt!r}; this ssdfl reads {', '.join(map(repr, CHECKSUM_FORMATS))}"
            )
        cs = Checksum(int(d["length"]), str(d["header"]), int(d["chunk_elements"]),
                      tuple(str(x) for x in d["chunks"]), CHECKSUM_FORMATS[fmt])  # fmt: skip
        if cs.chunk < 1 or cs.length < 0:
            raise ValueError("bad sizes")
        if any(len(x) != 32 for x in (cs.header, *cs.chunks)):
            raise ValueError("digests must be 32 hex digits")
        cs.packed  # noqa: B018 - parse the hex now (ValueError if it is not hex)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IntegrityError(
            f"checksum object of {store.url(key)} is unreadable ({exc}): corrupted"
        ) from None
    return cs


@dataclass(frozen=True)
class NpyInfo:
    """Header of a ``.npy`` object: dtype, shape, the byte offset of the data and (when
    verified) its checksum."""

    key: str
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    checksum: Checksum | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize


def npy_header(arr_dtype: np.dtype, shape: tuple[int, ...]) -> bytes:
    """The ``.npy`` (v1/v2) header of a C-ordered array."""
    buf = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(arr_dtype))
    d: dict[str, Any] = {"descr": descr, "fortran_order": False}
    d["shape"] = tuple(int(x) for x in shape)
    try:
        np.lib.format.write_array_header_1_0(buf, d)
    except ValueError:  # header longer than 65535 bytes (huge shapes): version 2.0
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, d)
    return buf.getvalue()


def npy_info(store: ObjectStore, key: str, *, verify: bool = True) -> NpyInfo:
    """Parse and validate the header of ``key``; the object length must match it exactly.
    With ``verify`` (default) its checksum object must exist and match the length and the
    header bytes; the data chunks are verified by the readers when they are read."""
    total = store.size(key)
    head = store.get_range(key, 0, min(total, 4096))
    fp = io.BytesIO(head)
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        dt = np.dtype(dtype)
        if dt.hasobject or dt.itemsize == 0:
            raise ValueError(f"unsupported dtype {dt}")
        if any(int(x) < 0 for x in shape):
            raise ValueError(f"negative dimension in shape {shape}")
    except Exception as exc:
        raise TruncatedObjectError(
            f"object {store.url(key)} is not a readable .npy: {exc}"
        ) from None
    if fortran and len(shape) > 1:
        raise SsdflError(f"object {store.url(key)} is Fortran-ordered; upload C-ordered arrays")
    info = NpyInfo(key, dt, tuple(int(x) for x in shape), fp.tell())
    if total != info.offset + info.nbytes:
        raise TruncatedObjectError(
            f"object {store.url(key)} has {total} bytes but its header announces "
            f"{info.offset + info.nbytes} ({info.shape} {info.dtype}): truncated or corrupt"
        )
    if not verify:
        return info
    cs = load_checksum(store, key)
    if cs.length != total:
        raise IntegrityError(
            f"object {store.url(key)} has {total} bytes but its checksum records {cs.length}: "
            "replaced or corrupted"
        )
    if digest(head[: info.offset], cs.algo) != cs.header:
        raise IntegrityError(f"object {store.url(key)}: .npy header fails its checksum (corrupted)")
    if len(cs.chunks) != -(-info.size // cs.chunk):
        raise IntegrityError(
            f"checksum object of {store.url(key)} lists {len(cs.chunks)} chunks, the object has "
            f"{-(-info.size // cs.chunk)}: corrupted"
        )
    return NpyInfo(info.key, info.dtype, info.shape, info.offset, cs)


def covering_range(info: NpyInfo, lo: int, hi: int) -> tuple[int, int]:
    """Elements to read so that ``[lo, hi)`` can be verified: whole checksum chunks."""
    if info.checksum is None or hi <= lo:
        return lo, hi
    c = info.checksum.chunk
    return lo // c * c, min(-(-hi // c) * c, info.size)


def read_verified(
    store: ObjectStore, info: NpyInfo, lo: int, hi: int, buf: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """Elements ``[lo, hi)`` of a ``.npy`` object, read in whole checksum chunks and verified
    (:class:`IntegrityError` on a mismatch). ``buf`` (1-D, the object's dtype, at least the
    covering length) avoids an allocation. Returns ``(view, bytes read)``."""
    clo, chi = covering_range(info, lo, hi)
    if buf is None:
        buf = np.empty(chi - clo, dtype=info.dtype)
    v = buf[: chi - clo]
    read_elements_into(store, info, clo, v)
    cs = info.checksum
    if cs is not None and chi > clo:
        j0, j1 = clo // cs.chunk, -(-chi // cs.chunk)
        got = ALGOS[cs.algo].chunks(v.data.cast("B"), cs.chunk * info.dtype.itemsize)
        want = cs.packed[16 * j0 : 16 * j1]
        if got != want:
            j = j0 + next(
                i for i in range(j1 - j0) if got[16 * i : 16 * i + 16] != want[16 * i : 16 * i + 16]
            )
            a, b = j * cs.chunk, min((j + 1) * cs.chunk, info.size)
            raise IntegrityError(
                f"object {store.url(info.key)}: elements [{a}, {b}) fail their checksum (corrupted)"
            )
    return v[lo - clo : hi - clo], (chi - clo) * info.dtype.itemsize


def get_array(store: ObjectStore, key: str, *, verify: bool = True) -> np.ndarray:
    """Read a whole ``.npy`` object (verified against its checksum unless ``verify=False``)."""
    info = npy_info(store, key, verify=verify)
    out = np.empty(info.shape, dtype=info.dtype)
    read_verified(store, info, 0, info.size, out.reshape(-1))
    return out


def read_elements_into(store: ObjectStore, info: NpyInfo, lo: int, out: np.ndarray) -> None:
    """Fill 1-D ``out`` with flat elements ``[lo, lo + len(out))`` of a ``.npy`` object
    (unverified; see :func:`read_verified`)."""
    isz = info.dtype.itemsize
    store.get_range_into(info.key, info.offset + lo * isz, out.data.cast("B"))


def iter_chunks(data: memoryview, size: int = 1 << 24) -> Iterator[memoryview]:
    """Split a byte view into chunks of at most ``size`` bytes."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def measure_bandwidth(store: ObjectStore, mb: float = 64.0, key: str = ".bw-probe") -> float:
    """Sequential read bandwidth of ``store`` in MB/s (MiB/s): PUT ``mb`` MiB, GET it back in
    8 MiB ranged reads, delete it. Feeds :class:`ssdfl.aggregation.cost.Pricing`'s bandwidth."""
    n = int(mb * 2**20)
    store.put(key, np.random.default_rng(0).integers(0, 255, n, dtype=np.uint8).tobytes())
    try:
        buf = bytearray(min(n, 8 << 20))
        t0 = time.perf_counter()
        for s in range(0, n, len(buf)):
            part = memoryview(buf)[: min(len(buf), n - s)]
            store.get_range_into(key, s, part)
        dt = time.perf_counter() - t0
    finally:
        store.delete(key)
    return n / 2**20 / max(dt, 1e-9)

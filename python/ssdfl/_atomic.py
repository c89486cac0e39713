"""Atomic file output: write to a temporary file beside the target, then rename.

The temporary file is created by :func:`tempfile.mkstemp` (mode 0600); before it is renamed into
place its mode is set to ``0o666 & ~umask``, so outputs get the permissions :func:`open` would give.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

_UMASK_LOCK = threading.Lock()


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:  # fallback: set and restore (not atomic against other threads creating files)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a newly created regular file gets: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file in ``path``'s directory; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. The file
    honours the umask (``0o666 & ~umask``).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, file_mode())
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a file name
    (e.g. matplotlib's ``savefig``); rename it onto ``path`` on success.

    The file honours the umask (``0o666 & ~umask``), whatever mode the writer created it with.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


#: Marker file written into every directory produced by :func:`atomic_dir`.
OUTPUT_MARKER = ".ssdfl-output"


def _umask() -> int:
    """The process umask, read without changing it where /proc allows (thread-safe)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:  # pragma: no cover - not Linux
        pass
    old = os.umask(0o022)  # pragma: no cover
    os.umask(old)  # pragma: no cover
    return old  # pragma: no cover


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """Raise if ``path`` cannot become an output directory of :func:`atomic_dir`: it is a file,
    or an existing non-empty directory that ssdfl did not write (no :data:`OUTPUT_MARKER`), which
    would be replaced as a whole. Call it before long work to fail fast."""
    target = Path(path)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise NotADirectoryError(f"output directory {target} exists and is not a directory")
        if any(target.iterdir()) and not (target / OUTPUT_MARKER).exists():
            raise FileExistsError(
                f"output directory {target} exists and holds files ssdfl did not write; it "
                "would be replaced as a whole: choose a new directory or remove it"
            )
    return target


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False if unsupported."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    r = fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return r == 0


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path`` to write a command's outputs into; on
    success it takes ``path``'s place as a whole, on any exception it is removed.

    The result is a directory entirely from one run, or absent (never a mix of two runs, never
    half written). An existing directory is replaced as a whole: atomically on Linux
    (``renameat2`` exchange); elsewhere it is renamed aside first, so ``path`` is briefly
    absent. Existing non-empty directories that ssdfl did not write are refused
    (:func:`check_output_dir`). The directory honours the umask and holds
    :data:`OUTPUT_MARKER`.
    """
    import shutil

    target = check_output_dir(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        (tmp / OUTPUT_MARKER).write_text("written by ssdfl\n")
        yield tmp
        check_output_dir(target)
        if target.is_dir() and not target.is_symlink():
            if _exchange(tmp, target):
                shutil.rmtree(tmp, ignore_errors=True)  # the old directory, now at tmp
                return
            old = target.with_name(f".{target.name}.{os.getpid()}.old")
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise

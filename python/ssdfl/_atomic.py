"""Atomic file output: write to a temporary file beside the target, then rename.

The temporary file is created by :func:`tempfile.mkstemp` (mode 0600); before it is renamed into
place its mode is set to ``0o666 & ~umask``, so outputs get the permissions :func:`open` would give.

Output directories (:func:`atomic_dir`) carry a manifest (:data:`OUTPUT_MARKER`, JSON: every
file ssdfl wrote with its size and SHA-256). An existing directory is replaced only when every
entry in it is in its manifest, unchanged; otherwise the run is refused naming the foreign
files, so replacing a folder never deletes a file ssdfl did not write (docs/reliability.md).

Every temporary holds an exclusive ``flock`` for as long as its writer lives; a temporary whose
lock is free belongs to a dead run (kill -9, power loss) and is removed by the next run that
writes the same target (:func:`sweep_stale`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Literal

from ssdfl.errors import OutputPathError

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


#: Infix of every temporary name written here (``.<name>.ssdfl-XXXXXXXX.tmp``), so that
#: :func:`sweep_stale` only ever removes names this module creates.
TMP_TAG = "ssdfl-"
#: Age (s) after which an unlocked file temporary of :func:`atomic_path` may be swept (its
#: writer reopens the file by name; the age covers a writer that replaced the locked inode).
PATH_TMP_MIN_AGE = 60.0


def _lock_fd(fd: int) -> bool:
    """Try an exclusive, non-blocking ``flock`` on ``fd``."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _hold(path: Path, *, directory: bool) -> int | None:
    """Open ``path`` and take its lock (None if it vanished, i.e. a sweeper removed it)."""
    try:
        fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    except OSError:
        return None
    fcntl.flock(fd, fcntl.LOCK_EX)  # blocks only while a sweeper inspects it
    try:
        same = os.stat(path).st_ino == os.fstat(fd).st_ino
    except OSError:
        same = False
    if not same:
        os.close(fd)
        return None
    return fd


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries that dead runs left beside ``target`` and return them.

    Swept: directories ``.<name>.XXXXXXXX.tmp`` of :func:`atomic_dir` that hold
    :data:`OUTPUT_MARKER` and whose lock is free; ``.<name>.<pid>.old`` directories (holding the
    marker) of a dead pid; files ``.<name>.ssdfl-XXXXXXXX.tmp`` of :func:`atomic_write` and
    ``.<stem>.ssdfl-XXXXXXXX<suffix>`` of :func:`atomic_path` whose lock is free (the latter
    only once older than :data:`PATH_TMP_MIN_AGE`). A live run holds its lock, so nothing of a
    running writer is touched; nothing without these exact names is touched.
    """
    t = Path(target)
    parent = t.parent if str(t.parent) else Path(".")
    name, stem, suffix = re.escape(t.name), re.escape(t.stem), re.escape(t.suffix)
    dir_re = re.compile(rf"\.{name}\.[A-Za-z0-9_]{{8}}\.tmp")
    old_re = re.compile(rf"\.{name}\.(\d+)\.old")
    file_re = re.compile(rf"\.{name}\.{TMP_TAG}[A-Za-z0-9_]{{8}}\.tmp")
    path_re = re.compile(rf"\.{stem}\.{TMP_TAG}[A-Za-z0-9_]{{8}}{suffix}")
    removed: list[Path] = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    import time

    for e in entries:
        p = Path(e.path)
        try:
            if e.is_symlink():
                continue
            if e.is_dir():
                m_old = old_re.fullmatch(e.name)
                if not (dir_re.fullmatch(e.name) or m_old) or not (p / OUTPUT_MARKER).is_file():
                    continue
                if m_old and _pid_alive(int(m_old.group(1))):
                    continue
                fd = os.open(p, os.O_RDONLY | os.O_DIRECTORY)
                try:
                    if _lock_fd(fd):
                        shutil.rmtree(p, ignore_errors=True)
                        removed.append(p)
                finally:
                    os.close(fd)
            elif e.is_file():
                is_write = file_re.fullmatch(e.name) is not None
                is_path = path_re.fullmatch(e.name) is not None
                if not (is_write or is_path):
                    continue
                if not is_write and time.time() - e.stat().st_mtime < PATH_TMP_MIN_AGE:
                    continue
                fd = os.open(p, os.O_RDONLY)
                try:
                    if _lock_fd(fd) and os.stat(p).st_ino == os.fstat(fd).st_ino:
                        os.unlink(p)
                        removed.append(p)
                finally:
                    os.close(fd)
        except OSError:
            continue
    return removed


def _mkstemp_locked(target: Path, suffix: str, prefix: str) -> tuple[int, str, int]:
    """A new temporary file beside ``target`` with its lock held: (fd, path, lock fd)."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
        lock = os.dup(fd)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return fd, tmp, lock
        except FileNotFoundError:
            pass
        os.close(lock)  # swept in the instant before the lock: take another name
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file in ``path``'s directory; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. The file
    honours the umask (``0o666 & ~umask``). The temporary (``.<name>.ssdfl-XXXXXXXX.tmp``) is
    locked while it exists, so a killed writer's leftover is recognised by :func:`sweep_stale`.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp, lock = _mkstemp_locked(target, ".tmp", f".{target.name}.{TMP_TAG}")
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
    finally:
        os.close(lock)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` for a writer that takes a file name
    (e.g. matplotlib's ``savefig``); rename it onto ``path`` on success.

    The file honours the umask (``0o666 & ~umask``), whatever mode the writer created it with.
    Leftovers of dead runs beside ``path`` are swept first (:func:`sweep_stale`).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale(target)
    fd, tmp, lock = _mkstemp_locked(target, target.suffix, f".{target.stem}.{TMP_TAG}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    finally:
        os.close(lock)


#: Marker and manifest written into every directory produced by :func:`atomic_dir`.
OUTPUT_MARKER = ".ssdfl-output"
_MANIFEST_FORMAT = "ssdfl-output/2"
#: Largest number of foreign files named in a refusal (the rest are counted).
_NAMED = 5
#: Places no output may go (kernel and device file systems).
_FORBIDDEN_ROOTS = (Path("/proc"), Path("/sys"), Path("/dev"))


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _walk(root: Path) -> tuple[list[str], list[str]]:
    """Relative POSIX paths of the files (and symlinks) and of the directories under ``root``."""
    files, dirs = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in list(dirnames):
            full = base / d
            rel = full.relative_to(root).as_posix()
            if full.is_symlink():
                files.append(rel)  # a link is an entry, never followed
                dirnames.remove(d)
            else:
                dirs.append(rel)
        files += [(base / f).relative_to(root).as_posix() for f in filenames]
    return sorted(files), sorted(dirs)


def write_manifest(directory: str | os.PathLike[str]) -> Path:
    """Write :data:`OUTPUT_MARKER` into ``directory``: every file now in it (relative path,
    size, SHA-256). :func:`atomic_dir` calls it on success; the manifest is what a later run
    may replace."""
    root = Path(directory)
    files, _dirs = _walk(root)
    entries: dict[str, dict[str, Any]] = {}
    for rel in files:
        if rel == OUTPUT_MARKER:
            continue
        p = root / rel
        if p.is_symlink():
            entries[rel] = {"symlink": os.readlink(p)}
        else:
            entries[rel] = {"size": p.stat().st_size, "sha256": _sha256(p)}
    marker = root / OUTPUT_MARKER
    text = json.dumps({"format": _MANIFEST_FORMAT, "written_by": "ssdfl", "files": entries},
                      indent=1, sort_keys=True)  # fmt: skip
    marker.write_text(text + "\n", encoding="utf-8")
    return marker


def foreign_files(directory: str | os.PathLike[str]) -> list[str]:
    """Entries of an existing output ``directory`` that ssdfl did not write: not in its manifest,
    or changed since (size or SHA-256), or everything when there is no readable manifest (a
    folder of an older ssdfl, or not ssdfl's at all). Empty: the folder may be replaced."""
    root = Path(directory)
    files, dirs = _walk(root)
    try:
        data = json.loads((root / OUTPUT_MARKER).read_text(encoding="utf-8"))
        listed = data["files"] if data.get("format") == _MANIFEST_FORMAT else None
        if not isinstance(listed, dict):
            listed = None
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        listed = None
    if listed is None:
        return [f for f in files if f != OUTPUT_MARKER] + [
            d + "/" for d in dirs if not any(f.startswith(d + "/") for f in files)
        ]
    foreign: list[str] = []
    for rel in files:
        if rel == OUTPUT_MARKER:
            continue
        info = listed.get(rel)
        p = root / rel
        if not isinstance(info, dict):
            foreign.append(rel)
        elif p.is_symlink() or "symlink" in info:
            if not (p.is_symlink() and os.readlink(p) == info.get("symlink")):
                foreign.append(f"{rel} (changed since ssdfl wrote it)")
        elif p.stat().st_size != info.get("size") or _sha256(p) != info.get("sha256"):
            foreign.append(f"{rel} (changed since ssdfl wrote it)")
    owned_dirs = {str(Path(r).parent.as_posix()) for r in listed}
    parents = {q.as_posix() for r in listed for q in Path(r).parents}
    foreign += [d + "/" for d in dirs if d not in parents and d not in owned_dirs]
    return foreign


def _has_manifest(root: Path) -> bool:
    try:
        data = json.loads((root / OUTPUT_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("format") == _MANIFEST_FORMAT


def _refuse_foreign(target: Path, flag: str) -> None:
    foreign = foreign_files(target)
    if foreign:
        named = ", ".join(foreign[:_NAMED])
        more = f" and {len(foreign) - _NAMED} more" if len(foreign) > _NAMED else ""
        if (target / OUTPUT_MARKER).is_file() and not _has_manifest(target):
            raise OutputPathError(
                f"{flag} {target} was written by an older ssdfl that kept no list of its files, "
                f"so they cannot be told from yours ({named}{more}); remove the folder or "
                f"choose another {flag}"
            )
        raise OutputPathError(
            f"{flag} {target} holds files ssdfl did not write ({named}{more}); replacing the "
            f"folder would delete them: move them out, or choose another {flag}"
        )


def _nearest_existing(p: Path) -> Path:
    q = p
    while not q.exists() and not q.is_symlink() and q != q.parent:
        q = q.parent
    return q


def check_out(
    path: str | os.PathLike[str], *, kind: Literal["dir", "file"] = "dir", flag: str = "--out"
) -> Path:
    """Check an output path BEFORE the work, raising :class:`~ssdfl.errors.OutputPathError`
    whose message names ``flag`` (not a temporary path). Refused: a symbolic link (the output
    would replace the link, not go where it points); a path under ``/proc``, ``/sys`` or
    ``/dev``; a parent that is not a directory or where no file can be created (checked by
    creating and removing a probe, so read-only file systems and permissions are caught, also
    for root); for ``kind="dir"``: an existing file, or an existing directory holding entries
    ssdfl did not write (:func:`foreign_files`); for ``kind="file"``: an existing directory.
    Leftovers of dead runs beside the path are swept (:func:`sweep_stale`). Every command with
    ``--out`` calls it first."""
    target = Path(path)
    if not str(path):
        raise OutputPathError(f"{flag} is empty; give a path")
    absolute = Path(os.path.abspath(target))
    real = Path(os.path.realpath(absolute.parent)) / absolute.name
    for root in _FORBIDDEN_ROOTS:
        if real == root or root in real.parents or absolute == root or root in absolute.parents:
            raise OutputPathError(f"{flag} {target} is under {root}, where no output can go")
    if target.is_symlink():
        dest = os.readlink(target)
        raise OutputPathError(
            f"{flag} {target} is a symbolic link (to {dest}); give the real path instead"
        )
    if target.exists():
        if kind == "dir" and not target.is_dir():
            raise OutputPathError(f"{flag} {target} exists and is not a directory")
        if kind == "file" and target.is_dir():
            raise OutputPathError(f"{flag} {target} is a directory; give a file name")
    base = _nearest_existing(absolute.parent)
    if not base.is_dir():
        raise OutputPathError(f"{flag} {target}: {base} is not a directory")
    try:
        probe = tempfile.mkdtemp(prefix=".ssdfl-probe-", dir=base)
        os.rmdir(probe)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise OutputPathError(f"{flag} {target} cannot be written ({why} in {base})") from None
    if kind == "dir" and target.is_dir():
        _refuse_foreign(target, flag)
    sweep_stale(absolute)
    return target


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """:func:`check_out` for an output directory (``--out``); kept for existing callers."""
    return check_out(path, kind="dir")


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


def _mkdtemp_locked(target: Path) -> tuple[Path, int]:
    """A new temporary directory beside ``target`` holding the marker, with its lock held."""
    while True:
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
        fd = _hold(tmp, directory=True)
        if fd is not None:
            return tmp, fd


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str], *, flag: str = "--out") -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path`` to write a command's outputs into; on
    success it takes ``path``'s place as a whole, on any exception it is removed.

    The result is a directory entirely from one run, or absent (never a mix of two runs, never
    half written). An existing directory is replaced as a whole: atomically on Linux
    (``renameat2`` exchange); elsewhere it is renamed aside first, so ``path`` is briefly
    absent. It is replaced only if everything in it is in its manifest, unchanged
    (:func:`check_out`, checked before and again just before the swap); the new directory
    gets a manifest of what this run wrote (:func:`write_manifest`) and honours the umask.
    The temporary directory is locked while the run lives; one left by a dead run is swept by
    the next run (:func:`sweep_stale`).
    """
    target = check_out(path, kind="dir", flag=flag)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, lock = _mkdtemp_locked(target)
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        (tmp / OUTPUT_MARKER).write_text("written by ssdfl (run in progress)\n")
        yield tmp
        write_manifest(tmp)
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            raise OutputPathError(f"{flag} {target} changed during the run and is not a directory")
        if target.is_dir():
            _refuse_foreign(target, flag)
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
    finally:
        os.close(lock)

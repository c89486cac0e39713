"""Preload of :class:`~ssdfl.aggregation.executors.LocalProcessExecutor`'s forkserver.

Imported by the forkserver process (``set_forkserver_preload``), before multiprocessing saves the
signal handlers its children get back. There it makes every function process start with SIGINT
ignored (the caller ends its functions on Ctrl-C; a child must not raise KeyboardInterrupt in
the moment between fork and its own setup) and records the server's pid, so that a child can
tell whether its parent died before it asked for ``PR_SET_PDEATHSIG``. Imported anywhere else
it changes nothing.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import ssdfl.aggregation.functions  # noqa: F401  (the warm runtime: numpy, ssdfl, the kernel)


def _in_forkserver() -> bool:
    """True while ``multiprocessing.forkserver.main`` imports this module (its preload)."""
    fs = sys.modules.get("multiprocessing.forkserver")
    if fs is None:
        return False
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_code is fs.main.__code__:
            return True
        frame = frame.f_back
    return False


#: pid of the forkserver that preloaded this module (None in any other process)
SERVER_PID: int | None = None
if _in_forkserver():
    SERVER_PID = os.getpid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)


#: Longest AF_UNIX socket path we let multiprocessing use (``sun_path`` holds 108 bytes on
#: Linux, 104 on macOS, each counting the terminating NUL).
SOCKET_PATH_MAX = 100
#: What multiprocessing adds to its temporary directory for the forkserver's socket:
#: ``<tmp>/pymp-XXXXXXXX/listener-XXXXXXXX``.
_SOCKET_SUFFIX = len("/pymp-XXXXXXXX/listener-XXXXXXXX")
#: Short directories tried, in order, when ``$TMPDIR`` is too long for a socket path.
SHORT_TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


def use_short_socket_dir() -> str | None:
    """Give multiprocessing a temporary directory short enough for the forkserver's AF_UNIX
    socket, before the forkserver starts: with ``$TMPDIR`` (or ``tempfile.tempdir``) so long
    that ``<tmp>/pymp-…/listener-…`` exceeds :data:`SOCKET_PATH_MAX` bytes, the socket lives
    under the first writable directory of :data:`SHORT_TEMP_DIRS` instead (removed at exit, as
    multiprocessing removes its own). Returns the directory chosen, or ``None`` when
    multiprocessing's default is short enough or its directory is already fixed."""
    import shutil
    import tempfile
    from multiprocessing import process, util

    # where multiprocessing.util.get_temp_dir keeps its directory (CPython 3.8-3.13)
    config = process.current_process()._config  # type: ignore[attr-defined]
    if config.get("tempdir") is not None:
        return None  # already chosen (and the forkserver, if running, already listens there)
    if len(os.fsencode(tempfile.gettempdir())) + _SOCKET_SUFFIX <= SOCKET_PATH_MAX:
        return None
    for base in SHORT_TEMP_DIRS:
        if os.path.isdir(base) and os.access(base, os.W_OK | os.X_OK):
            break
    else:
        return None  # nowhere shorter: multiprocessing reports the long path itself
    tempdir = tempfile.mkdtemp(prefix="pymp-", dir=base)
    util.info("created temp directory %s (TMPDIR too long for a socket path)", tempdir)
    remove = util._remove_temp_dir  # type: ignore[attr-defined]  # as get_temp_dir registers it
    util.Finalize(None, remove, args=(shutil.rmtree, tempdir), exitpriority=-100)
    config["tempdir"] = tempdir
    return tempdir

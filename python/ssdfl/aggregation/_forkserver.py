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

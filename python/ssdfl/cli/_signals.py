"""Signals of the ``ssdfl`` command: SIGTERM is handled like SIGINT (Ctrl-C), and a Ctrl-C
while the command line is still importing prints one line, not a traceback.

A handled SIGTERM raises :class:`KeyboardInterrupt` in the main thread, so every cleanup that
runs on Ctrl-C (temporary output directories, the store prefix of ``shard run``, function
processes) runs on ``kill``/``timeout`` too; the command exits with status 130.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType, TracebackType

#: Exit status of an interrupted command (128 + SIGINT), for Ctrl-C and SIGTERM alike.
INTERRUPTED = 130


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def handle_sigterm() -> None:
    """Make SIGTERM raise :class:`KeyboardInterrupt` (main thread only; no-op elsewhere)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)


def quiet_interrupt_at_exit() -> None:
    """An uncaught :class:`KeyboardInterrupt` (e.g. Ctrl-C during the imports of the command
    line, before its error boundary exists) prints ``interrupted`` and exits 130."""
    previous = sys.excepthook

    def hook(tp: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(tp, KeyboardInterrupt) and "--debug" not in sys.argv:
            import multiprocessing

            if multiprocessing.parent_process() is None:  # workers leave the line to us
                sys.stderr.write("interrupted\n")
            sys.stderr.flush()
            os._exit(INTERRUPTED)
        previous(tp, value, tb)

    sys.excepthook = hook

"""Executors that run aggregation functions: in this process, one fresh local process per
function (default; optional hard memory cap), or on a Dask distributed cluster."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from ssdfl.aggregation.functions import FunctionJob, FunctionReport, run_function
from ssdfl.errors import SsdflError


class Executor(ABC):
    """Runs a batch of independent functions (one level of the aggregation DAG)."""

    memory_limit_mb: float | None = None

    @abstractmethod
    def run(self, jobs: Sequence[FunctionJob]) -> list[FunctionReport]:
        """Run every job; return their reports in job order (failures are reported, not raised)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (clusters)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InlineExecutor(Executor):
    """Run functions sequentially in the calling process (no isolation, no memory cap)."""

    def run(self, jobs: Sequence[FunctionJob]) -> list[FunctionReport]:
        return [run_function(j) for j in jobs]


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent (the forkserver, which exits with our
    caller) dies, so no function outlives a killed round and writes after its cleanup."""
    import contextlib
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    from ssdfl.aggregation._forkserver import SERVER_PID

    if SERVER_PID is not None and os.getppid() != SERVER_PID:
        os._exit(1)  # the forkserver died before prctl: the caller is gone, do not run


def _child(job: FunctionJob, conn: Any) -> None:
    # Ctrl-C at a terminal signals the whole process group: the caller handles it and ends
    # its functions (``_stop_all``); a function raising KeyboardInterrupt itself would only
    # print a traceback of a child process to the user's terminal. (Children of our
    # preloaded forkserver start with SIGINT ignored already, see ``_forkserver``.)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        rep = run_function(job)
        try:
            conn.send(rep)
        except (BrokenPipeError, ConnectionError):
            os._exit(1)  # the caller stopped listening (interrupted): nothing to report to
    finally:
        conn.close()


def _start_forkserver() -> None:
    """Start multiprocessing's forkserver with SIGINT ignored. The server is a fresh
    interpreter (fork + exec): an ignored signal stays ignored across ``exec``, so a terminal's
    Ctrl-C while it imports numpy and ssdfl cannot print its traceback (its preload keeps
    SIGINT ignored, ``_forkserver``). Here SIGINT is ignored only while the server is spawned
    (``ensure_running`` does not wait for its imports); the caller handles Ctrl-C after."""
    import threading
    from multiprocessing import forkserver

    if threading.current_thread() is not threading.main_thread():
        forkserver.ensure_running()
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, old)


class LocalProcessExecutor(Executor):
    """Each function in its own fresh process (forked from a ``forkserver`` that has imported
    numpy and ssdfl, like a warm serverless runtime; nothing is shared with the caller), at
    most ``max_workers`` at a time. With ``memory_limit_mb`` every process is capped (a
    resident-size watchdog plus ``RLIMIT_DATA`` and ``RLIMIT_AS``, see
    :func:`ssdfl.aggregation.functions.apply_memory_cap`): past the cap an allocation fails or
    the process is killed, and the function is reported as failed instead of the host
    swapping.
    ``rayon_threads`` sets ``RAYON_NUM_THREADS`` in the children."""

    def __init__(
        self,
        max_workers: int | None = None,
        memory_limit_mb: float | None = None,
        rayon_threads: int | None = 1,
    ) -> None:
        self.max_workers = max(1, max_workers or min(4, os.cpu_count() or 1))
        self.memory_limit_mb = memory_limit_mb
        self.rayon_threads = rayon_threads

    def run(self, jobs: Sequence[FunctionJob]) -> list[FunctionReport]:
        from ssdfl.aggregation._forkserver import use_short_socket_dir

        use_short_socket_dir()  # the forkserver's socket path must fit AF_UNIX's limit
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["ssdfl.aggregation._forkserver"])
        _start_forkserver()
        reports: list[FunctionReport | None] = [None] * len(jobs)
        pending = list(enumerate(jobs))
        running: list[tuple[int, Any, Any, FunctionJob]] = []
        saved = os.environ.get("RAYON_NUM_THREADS")
        if self.rayon_threads:
            os.environ["RAYON_NUM_THREADS"] = str(self.rayon_threads)
        try:
            while pending or running:
                while pending and len(running) < self.max_workers:
                    i, job = pending.pop(0)
                    if self.memory_limit_mb is not None and job.memory_limit_mb is None:
                        job = _with_cap(job, self.memory_limit_mb)
                    recv, send = ctx.Pipe(duplex=False)
                    p = ctx.Process(target=_child, args=(job, send), name=f"ssdfl-{job.name}")
                    p.start()
                    send.close()
                    running.append((i, p, recv, job))
                i, p, recv, job = running[0]  # stays listed until reaped (see except below)
                rep = None
                try:
                    rep = recv.recv()
                except EOFError:
                    pass
                p.join()
                recv.close()
                running.pop(0)
                if rep is None:
                    code = p.exitcode
                    why = (
                        f"killed by {signal.Signals(-code).name}"
                        if code is not None and code < 0
                        else f"exited with status {code}"
                    )
                    capped = job.memory_limit_mb is not None and code is not None and code < 0
                    # a failed allocation in Rust aborts (SIGABRT) instead of raising MemoryError
                    error = (
                        f"memory cap exceeded (most likely): process {why} under the "
                        f"{job.memory_limit_mb} MiB cap"
                        if capped
                        else f"process {why}"
                    )
                    rep = FunctionReport(job.name, ok=False, error=error)
                reports[i] = rep
        except BaseException:
            # Ctrl-C or an error here: end every running function before the caller cleans up,
            # so none writes into the store afterwards.
            _stop_all(running)
            raise
        finally:
            if self.rayon_threads:
                if saved is None:
                    os.environ.pop("RAYON_NUM_THREADS", None)
                else:
                    os.environ["RAYON_NUM_THREADS"] = saved
        return [r for r in reports if r is not None]


def _stop_all(running: Sequence[tuple[int, Any, Any, FunctionJob]]) -> None:
    """Terminate (then kill) and reap the given processes."""
    for _, p, _, _ in running:
        if p.is_alive():
            p.terminate()
    for _, p, recv, _ in running:
        p.join(timeout=2.0)
        if p.is_alive():
            p.kill()
            p.join()
        recv.close()


def _with_cap(job: FunctionJob, cap: float) -> FunctionJob:
    from dataclasses import replace

    return replace(job, memory_limit_mb=cap)


class DaskExecutor(Executor):
    """Submit functions to a Dask distributed cluster: the scheduler at ``address``, or a
    ``LocalCluster(n_workers, threads_per_worker, processes)`` started (and closed) by this
    executor. Memory caps are not enforced here (use Dask's own worker ``memory_limit``)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        n_workers: int = 2,
        threads_per_worker: int = 1,
        processes: bool = True,
        **cluster_kwargs: Any,
    ) -> None:
        from dask.distributed import Client, LocalCluster

        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=n_workers,
                threads_per_worker=threads_per_worker,
                processes=processes,
                dashboard_address=None,
                **cluster_kwargs,
            )
            self.client = Client(self._cluster)
        else:
            self.client = Client(address)

    def run(self, jobs: Sequence[FunctionJob]) -> list[FunctionReport]:
        futs = [
            self.client.submit(run_function, j, pure=False, key=f"{j.name}-{id(j)}") for j in jobs
        ]
        try:
            return list(self.client.gather(futs))
        except BaseException:
            self.client.cancel(futs, force=True)
            raise

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


ExecutorFactory = Callable[..., Executor]
"""``factory(max_workers=, memory_limit_mb=, address=) -> Executor``."""

EXECUTORS: dict[str, ExecutorFactory] = {}
"""The executors by name (``get_executor``, ``ssdfl shard run --executor``)."""


def register_executor(name: str, factory: ExecutorFactory) -> None:
    """Make ``factory`` available as ``get_executor(name, ...)`` (refuses a taken name)."""
    if name in EXECUTORS:
        raise SsdflError(f"executor {name!r} is already registered")
    EXECUTORS[name] = factory


def get_executor(
    kind: str = "local",
    *,
    max_workers: int | None = None,
    memory_limit_mb: float | None = None,
    address: str | None = None,
) -> Executor:
    """The executor registered as ``kind`` (:data:`EXECUTORS`): ``"local"`` (processes),
    ``"inline"`` or ``"dask"`` (``address`` or a LocalCluster)."""
    factory = EXECUTORS.get(kind)
    if factory is None:
        names = ", ".join(map(repr, EXECUTORS))
        raise SsdflError(f"unknown executor {kind!r}; use one of {names}")
    return factory(max_workers=max_workers, memory_limit_mb=memory_limit_mb, address=address)


register_executor(
    "local",
    lambda max_workers=None, memory_limit_mb=None, address=None: LocalProcessExecutor(
        max_workers=max_workers, memory_limit_mb=memory_limit_mb
    ),
)
register_executor("inline", lambda **_: InlineExecutor())
register_executor(
    "dask",
    lambda max_workers=None, memory_limit_mb=None, address=None: DaskExecutor(
        address, n_workers=max_workers or 2
    ),
)

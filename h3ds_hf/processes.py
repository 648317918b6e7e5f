"""Workers that stop quietly on Ctrl-C: process pools (``evaluate --jobs``, ``prepare
--jobs``) and, for threads, interrupts deferred to where the main thread can take them.

Workers are started with "spawn": forking a process that ran the compiled evaluation kernels is
unsafe with numba's OpenMP layer (see :mod:`h3ds_hf.evaluation.parallel`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager, nullcontext
from typing import Any

from h3ds_hf.errors import WorkerDiedError

#: Whether this platform can block signals per thread (POSIX); elsewhere workers may print a
#: KeyboardInterrupt traceback when Ctrl-C lands while they start.
_MASKS = hasattr(signal, "pthread_sigmask")


@contextmanager
def process_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor]:
    """A "spawn" process pool whose workers leave Ctrl-C to the parent.

    A terminal's Ctrl-C reaches every process of the group: the workers ignore it (no traceback
    per worker, even while they start up) and, when the body raises (KeyboardInterrupt
    included), the parent stops them at once instead of waiting for their current task.

    Raises:
        WorkerDiedError: a worker failed to start (its initializer raised) or stopped abruptly
            (the kernel's out-of-memory killer, a kill); the others are stopped.
    """
    pool = _QuietPool(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )
    try:
        yield pool
    except BaseException as error:
        for process in list(getattr(pool, "_processes", {}).values()):  # no public API (< 3.14)
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        if isinstance(error, BrokenProcessPool):
            raise WorkerDiedError(
                f"one of {workers} worker processes failed to start or stopped abruptly "
                "(killed, or out of memory?); retry with fewer --jobs"
            ) from error
        raise
    pool.shutdown(wait=True)


class _QuietPool(ProcessPoolExecutor):
    """Starts its workers (which happens inside ``submit``) with SIGINT blocked: a worker
    inherits the mask, so a Ctrl-C during its start-up (interpreter, imports, unpickling) stays
    pending until :func:`_start_worker` ignores it. The parent gets its own on unblocking."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        with _interrupts_blocked() if _MASKS else nullcontext():
            return super().submit(fn, *args, **kwargs)


@contextmanager
def _interrupts_blocked() -> Iterator[None]:
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if _MASKS:  # a Ctrl-C pending since start-up is discarded: it is ignored now
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if initializer is not None:
        initializer(*initargs)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity, where the platform has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class StopFlag:
    """A flag that worker threads poll and signal handlers set. It holds no lock: a lock taken
    by the main thread when a signal lands (Python runs handlers between any two bytecodes,
    inside threading's own code too) would never be released, and the workers waiting on it
    would never stop."""

    def __init__(self) -> None:
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set


@contextmanager
def deferred_interrupts(stop: StopFlag) -> Iterator[None]:
    """Inside, Ctrl-C (SIGINT) and SIGTERM only set ``stop``; on leaving, the first one is
    delivered again, to the handlers that were in place (KeyboardInterrupt by default).

    For the main thread while it starts, waits for and joins worker threads: their locks and
    queues are then never left half-taken by an interrupt. Signals that were ignored stay
    ignored; outside the main thread (where handlers cannot be set) nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def record(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) not in (signal.SIG_IGN, None):
            previous[signum] = signal.signal(signum, record)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        signal.raise_signal(received[0])

"""Parallelism shared by the package: one compiled parallel region at a time per process, and
worker-process pools that stop quietly on Ctrl-C.

numba runs ``parallel=True`` kernels on a threading layer chosen when the first one starts:
OpenMP or TBB when their libraries load, else its own "workqueue", which aborts the whole
process when two Python threads start parallel kernels at once (a web app serving requests in
threads, for instance). Every kernel already uses all cores, so running them one at a time
costs nothing: callers hold :data:`KERNEL_LOCK` around each parallel kernel.

Forking a process after it ran kernels is unsafe with the OpenMP layer (the child stops with
"fork() called from a process already using GNU OpenMP"): :func:`process_pool` uses the "spawn"
start method.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

#: Held while a numba ``parallel=True`` kernel runs.
KERNEL_LOCK = threading.Lock()


@contextmanager
def process_pool(
    workers: int, initializer: Callable[..., None] | None = None, initargs: tuple[Any, ...] = ()
) -> Iterator[ProcessPoolExecutor]:
    """A "spawn" process pool whose workers leave Ctrl-C to the parent.

    A terminal's Ctrl-C reaches every process of the group: the workers ignore it (no traceback
    per worker) and, when the body raises (KeyboardInterrupt included), the parent stops them
    at once instead of waiting for their current task.
    """
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(initializer, initargs),
    )
    try:
        yield pool
    except BaseException:
        for process in list(getattr(pool, "_processes", {}).values()):  # no public API (< 3.14)
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _start_worker(initializer: Callable[..., None] | None, initargs: tuple[Any, ...]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if initializer is not None:
        initializer(*initargs)

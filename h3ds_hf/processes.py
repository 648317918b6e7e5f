"""Worker-process pools that stop quietly on Ctrl-C (``evaluate --jobs``, ``prepare --jobs``).

Workers are started with "spawn": forking a process that ran the compiled evaluation kernels is
unsafe with numba's OpenMP layer (see :mod:`h3ds_hf.evaluation.parallel`).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any


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

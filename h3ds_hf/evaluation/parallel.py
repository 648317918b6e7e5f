"""How the compiled parallel kernels share the cores: never stalled by a busy one.

Every ``parallel=True`` kernel is launched through :func:`kernel_threads`, which

- runs one kernel at a time per process (numba's "workqueue" threading layer, used when neither
  OpenMP nor TBB loads, aborts the process when two Python threads launch kernels at once);
- runs kernels over small inputs on the calling thread alone: a parallel launch costs a
  wake-up of the other threads (~0.1 ms with passive waiting, far more when a core is busy),
  more than the whole work below ~:data:`PARALLEL_MIN_WORK` elements;
- uses the thread count of :func:`set_kernel_threads` otherwise (all cores by default;
  ``h3ds-hf evaluate --jobs`` gives each worker process its share).

Results never depend on the thread count: every kernel writes per-element results, or sums
over fixed chunks added in a fixed order.

OpenMP threads that wait actively for work spin on their core; when another process keeps a
core busy, a parallel region then waits for a descheduled spinning thread, ~64 ms per launch
at any input size (measured on a 2-core machine). Passive waiting (threads sleep between
regions) is set below before numba loads its OpenMP layer, unless the user chose otherwise.

Forking a process after it ran kernels is unsafe with the OpenMP layer (the child stops with
"fork() called from a process already using GNU OpenMP"): :func:`h3ds_hf.processes.process_pool`
uses the "spawn" start method.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Read by GNU OpenMP (and Intel's, KMP_BLOCKTIME) when numba first loads its threading layer,
# i.e. at the first parallel launch, which always comes after this module is imported.
for _name, _value in (("OMP_WAIT_POLICY", "PASSIVE"), ("KMP_BLOCKTIME", "0")):
    os.environ.setdefault(_name, _value)

import numba  # noqa: E402  (after the OpenMP settings above)

#: Below this many elements (points, queries, blocks x their size) a kernel runs on one thread.
#: Measured on 2 cores (Procrustes moments, ICP matching): one thread is faster up to ~10k
#: elements on an idle machine and up to ~30k with the other core busy.
PARALLEL_MIN_WORK = 20_000

_lock = threading.Lock()
#: [threads large kernels run with]; a list so that the setting is shared by every thread.
_threads = [numba.config.NUMBA_NUM_THREADS]


def set_kernel_threads(threads: int) -> None:
    """Use ``threads`` (1 .. numba.config.NUMBA_NUM_THREADS) threads in every later kernel
    launch of this process, from any Python thread."""
    _threads[0] = max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS))


def kernel_threads_setting() -> int:
    """The thread count large kernels run with (:func:`set_kernel_threads`)."""
    return _threads[0]


@contextmanager
def kernel_threads(work: int) -> Iterator[None]:
    """Hold the process's kernel slot for one parallel kernel over ``work`` elements, with the
    thread count that suits its size (1 below :data:`PARALLEL_MIN_WORK`)."""
    with _lock:
        numba.set_num_threads(_threads[0] if work >= PARALLEL_MIN_WORK else 1)
        yield

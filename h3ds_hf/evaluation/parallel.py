"""One compiled parallel region at a time per process, whatever numba's threading layer.

numba runs ``parallel=True`` kernels on a threading layer chosen when the first one starts:
OpenMP or TBB when their libraries load, else its own "workqueue", which aborts the whole
process when two Python threads start parallel kernels at once (a web app serving requests in
threads, for instance). Every kernel already uses all cores, so running them one at a time
costs nothing: callers hold :data:`KERNEL_LOCK` around each parallel kernel.

Forking a process after it ran kernels is unsafe with the OpenMP layer (the child stops with
"fork() called from a process already using GNU OpenMP"): evaluate in several processes with
the "spawn" start method, as ``h3ds-hf evaluate --jobs`` does.
"""

from __future__ import annotations

import threading

#: Held while a numba ``parallel=True`` kernel runs.
KERNEL_LOCK = threading.Lock()

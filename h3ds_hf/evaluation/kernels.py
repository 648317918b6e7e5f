"""Compiling the evaluation kernels once, on every core, and saying so.

numba compiles each kernel on its first call and caches the machine code on disk
(``cache=True``: next to the package, or numba's user cache when that folder is read-only, or
``$NUMBA_CACHE_DIR``); later processes load it (~0.3 s, numba's own start-up). Compiling is
single-threaded and takes ~19 s on this 2-core machine for the h3ds protocol's kernels, so the
first evaluation after an install compiles them ahead of its first call
(:func:`prepare_kernels`): with one line of notice, and shared out between this process and
helper processes, one per further core, each compiling its part into the same cache.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import threading

from numba import float64, int64, uint64

from h3ds_hf.evaluation import alignment, blocktree, matching, neighbors
from h3ds_hf.processes import available_cores

logger = logging.getLogger(__name__)

#: Argument types of the kernels, by one letter each: float64 and int64 scalars, and
#: C-contiguous arrays of 1 or 2 dimensions (uint64 keys).
_TYPES = {
    "f": float64,
    "i": int64,
    "F": float64[::1],
    "I": int64[::1],
    "U": uint64[::1],
    "G": float64[:, ::1],
    "J": int64[:, ::1],
}
#: The kernels the h3ds protocol calls from Python (those they call are compiled with them),
#: their argument types as called, and their compile time on 2 cores (s), which shares them
#: out between processes. tests/test_kernels.py checks the types against a real evaluation.
_ENTRY_KERNELS = (
    (matching._match_step, "GGJFGGGIIIiIFG", 5.6),
    (blocktree.search_blocks, "GGGIIIiGIFI", 4.7),
    (blocktree._cell_nodes, "UGIi", 2.2),
    (alignment._centred_moments, "GG", 1.5),
    (neighbors._packed_keys, "GFfii", 1.0),
    (alignment._transform_points, "GG", 0.5),
    (alignment._transform_and_cost, "GGG", 0.3),
    (neighbors._bounding_box, "G", 0.3),
    (neighbors._unpacked, "Ui", 0.3),
    (neighbors._cut_blocks, "Fiif", 0.2),
    (neighbors._steps, "G", 0.2),
    (blocktree._gather, "GI", 0.1),
)
#: Seconds a compiling process spends besides its kernels (numba's start-up), measured.
_START_SECONDS = 3.0

_prepared = [False]
_lock = threading.Lock()


def compilation_needed() -> bool:
    """True when some kernel has no usable on-disk cache (it will compile on first use)."""
    return any(not kernel._cache._cache_file._load_index() for kernel, _, _ in _ENTRY_KERNELS)


def prepare_kernels() -> None:
    """Once per process: when some kernel is not compiled yet, log one line (WARNING, shown
    by default) and compile them all into the cache, on every core this process may use."""
    with _lock:
        if _prepared[0]:
            return
        _prepared[0] = True
        if compilation_needed():
            processes = available_cores()
            logger.warning(
                "compiling the evaluation kernels once (about %d s)", compile_seconds(processes)
            )
            compile_kernels(processes)


def compile_kernels(processes: int) -> None:
    """Compile every entry kernel into the on-disk cache, shared out between this process
    and ``processes - 1`` helpers. A failure costs only time: what was not compiled ahead is
    compiled on first use."""
    shares = _shares(max(1, processes))
    # A frozen or embedded host's executable is not a Python to run `-c` with.
    can_start = bool(sys.executable) and not getattr(sys, "frozen", False)
    helpers = []
    for share in shares[1:] if can_start else ():
        code = f"from {__name__} import _compile_share; _compile_share({share})"
        try:
            helpers.append(
                subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        except (OSError, ValueError) as error:
            logger.debug("no helper process to compile kernels: %s", error)
    try:
        _compile_share(shares[0])
        for helper in helpers:
            if helper.wait():
                logger.debug("a kernel-compiling helper exited with %d", helper.returncode)
    finally:  # Ctrl-C included: the helpers' work is no longer awaited
        for helper in helpers:
            if helper.poll() is None:
                helper.kill()
                helper.wait()


def compile_seconds(processes: int) -> int:
    """About how long :func:`compile_kernels` takes on this many idle cores (s): 20 with one,
    11 with two (measured: 19.1 and 11.4)."""
    shares = _shares(max(1, processes))
    slowest = max(sum(_ENTRY_KERNELS[i][2] for i in share) for share in shares)
    return round(slowest + _START_SECONDS)


def _shares(processes: int) -> list[list[int]]:
    """Indices into :data:`_ENTRY_KERNELS` per process, longest compile first to the least
    loaded share (each share non-empty)."""
    shares: list[list[int]] = [[] for _ in range(min(processes, len(_ENTRY_KERNELS)))]
    seconds = [0.0] * len(shares)
    order = sorted(range(len(_ENTRY_KERNELS)), key=lambda i: -_ENTRY_KERNELS[i][2])
    for index in order:
        lightest = seconds.index(min(seconds))
        shares[lightest].append(index)
        seconds[lightest] += _ENTRY_KERNELS[index][2]
    return shares


def _compile_share(indices: list[int]) -> None:
    """Compile the entry kernels at ``indices`` for the argument types the protocol uses."""
    for index in indices:
        kernel, types, _ = _ENTRY_KERNELS[index]
        try:
            kernel.compile(tuple(_TYPES[code] for code in types))
        except Exception as error:  # ahead of time only: the first call compiles it anyway
            logger.debug("compiling %s ahead of time failed: %s", kernel.__name__, error)

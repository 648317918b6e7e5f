"""Whether the compiled kernels still have to be compiled, and saying so once.

numba compiles each kernel on its first call and caches the machine code on disk
(``cache=True``: next to the package, or numba's user cache when that folder is read-only, or
``$NUMBA_CACHE_DIR``); later processes load it. The first evaluation after an install therefore
waits for the compiler, with nothing else to show: :func:`announce_compilation` logs one line
before it starts.
"""

from __future__ import annotations

import logging

from h3ds_hf.evaluation import alignment, blocktree, matching, neighbors

logger = logging.getLogger(__name__)

#: The kernels the h3ds protocol calls from Python (those it calls from kernels are compiled
#: with them).
_ENTRY_KERNELS = (
    matching._match_step,
    blocktree.search_blocks,
    blocktree._cell_nodes,
    blocktree._gather,
    neighbors._packed_keys,
    neighbors._bounding_box,
    neighbors._unpacked,
    neighbors._steps,
    neighbors._cut_blocks,
    alignment._centred_moments,
    alignment._transform_points,
    alignment._transform_and_cost,
)
#: Every kernel of both protocols, measured on 2 cores: 20 s at load average 2, 40-55 s at 6-9.
COMPILE_SECONDS = 20

_announced = [False]


def compilation_needed() -> bool:
    """True when some kernel has no usable on-disk cache (it will compile on first use)."""
    return any(not kernel._cache._cache_file._load_index() for kernel in _ENTRY_KERNELS)


def announce_compilation() -> None:
    """Log once per process, at WARNING level (shown by default), that the kernels are about
    to be compiled, when they are."""
    if not _announced[0] and compilation_needed():
        _announced[0] = True
        logger.warning("compiling the evaluation kernels once (about %d s)", COMPILE_SECONDS)

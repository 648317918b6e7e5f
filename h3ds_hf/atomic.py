"""Atomic writes: a reader sees the old file or folder or the new one, never half of either.

Files go to a temporary sibling renamed over the target. A folder is built in a staging sibling
(:func:`staging_folder`) and swapped with the target in one step (:func:`replace_folder`):
``renameat2(RENAME_EXCHANGE)`` on Linux, so no instant exists where the target is missing, even
if the process is killed. Staging names carry the creating process's id, so a later run removes
what a killed one left of the same target, and only that.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)  # paths only: no secret to scrub

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` into a temporary sibling of ``path`` (mode 0644), then rename it over;
    on any error (a full disk included) the sibling is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        Path(tmp).chmod(0o644)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def staging_folder(target: Path) -> Path:
    """A new empty sibling of ``target`` to build its next content in.

    First, what interrupted runs left beside ``target`` is dealt with: a previous content
    moved aside by a killed replacement is put back if ``target`` is missing, and staging
    folders of processes that no longer run are removed (those of running ones are kept).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    _recover(target)
    prefix = f".{target.name}.partial-{os.getpid()}-"
    return Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))


def replace_folder(staging: Path, target: Path) -> Path:
    """Make the finished ``staging`` folder (a sibling of ``target``) the ``target``; the old
    content is removed once the new one is in place. ``target`` is never missing meanwhile."""
    staging.chmod(0o755)  # mkdtemp creates 0700 folders
    if not target.exists():
        staging.replace(target)
        return target
    if _exchange(staging, target):
        shutil.rmtree(staging)  # now the old content
        return target
    # No atomic exchange (not Linux, or a file system without it): two renames, with the old
    # content kept under a name that staging_folder() puts back if we die in between.
    aside = target.parent / f".{target.name}.old-{os.getpid()}-{staging.name[-8:]}"
    target.replace(aside)
    staging.replace(target)
    shutil.rmtree(aside)
    return target


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically with renameat2(RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(
        _AT_FDCWD, os.fsencode(first), _AT_FDCWD, os.fsencode(second), _RENAME_EXCHANGE
    )
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def _recover(target: Path) -> None:
    """Put back an old content moved aside by a killed replacement; remove dead staging."""
    pattern = re.compile(rf"\.{re.escape(target.name)}\.(partial|old)-(\d+)-.*")
    for path in sorted(target.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if match is None or _alive(int(match[2])):
            continue
        if match[1] == "old" and not target.exists():
            logger.warning("restoring %s, left aside by an interrupted run", target)
            path.replace(target)
        else:
            logger.info("removing %s, left by an interrupted run", path)
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's running process
        return True
    return True

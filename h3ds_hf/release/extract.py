"""Safe, streaming extraction of the official release zip.

The members are shared out between one thread per core, each reading runs of neighbouring
members from their own spans of the archive, four at a time (their ZipCrypto decryption runs
together: :mod:`h3ds_hf.release.unzip`), while one more thread computes the md5 of the whole
file. Decryption, inflation, CRC-32 and md5 all run without Python's lock, so the threads use
the cores. The spans were checked to tile the archive when it opened: no junk or unlisted
member hides between the members read. Memory stays flat whatever the archive size (~12 MB
per thread). Everything lands in a temporary sibling of the target folder, renamed at the
end; on any error (wrong token, corrupt data, md5 mismatch, unsafe member) and on Ctrl-C,
the threads stop, the sibling is removed and nothing is left half-written.
"""

from __future__ import annotations

import functools
import hashlib
import json
import queue
import shutil
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from h3ds_hf.atomic import replace_folder, staging_folder
from h3ds_hf.errors import (
    ChecksumError,
    OutputExistsError,
    UnsafeArchiveError,
    get_logger,
)
from h3ds_hf.processes import StopFlag, available_cores, deferred_interrupts
from h3ds_hf.release.catalog import Catalog, catalog_for_version
from h3ds_hf.release.sources import (
    ZipSource,
    file_chunks,
)
from h3ds_hf.release.unzip import ArchiveMember, write_members

logger = get_logger(__name__)

#: Written into an extracted release, so that a re-run recognises its own output.
MARKER = ".h3ds-hf-extract.json"
#: Most threads by default.
MAX_JOBS = 8
#: Stored bytes per run of neighbouring members handed to a thread at most: runs are read in
#: long sequential stretches, and the threads' loads even out.
_RUN_BYTES = 32 << 20
#: Runs per thread at least.
_RUNS_PER_JOB = 4
#: Seconds between progress bar updates.
_REFRESH_SECONDS = 0.2


def extract_release(
    archive: str | Path,
    target: str | Path,
    *,
    token: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = True,
    jobs: int | None = None,
) -> Path:
    """Extract the release zip into ``target`` (which becomes the release root).

    Args:
        archive: the official zip (ZipCrypto) or any zip of the raw layout.
        target: folder to create; if it already holds this archive's extraction the call is
            a no-op (idempotent), any other existing content is refused.
        token: the access token (zip password); defaults to ``$H3DS_ACCESS_TOKEN``.
        catalog: release description whose md5 the archive must match; by default the shipped
            release whose version equals the archive's ``version.txt``, if any.
        progress: show a tqdm bar over the archive's bytes.
        jobs: threads extracting; by default one per core (at most :data:`MAX_JOBS`).

    Returns:
        The target folder.
    """
    source = ZipSource(archive, token)
    target = Path(target).expanduser()
    if catalog is None:
        version = source.read_bytes("version.txt").decode("utf-8", "replace").strip()
        catalog = catalog_for_version(version)
    expected_md5 = catalog.md5 if catalog is not None else None
    if not expected_md5:
        logger.warning(
            "%s: no catalog gives its md5 (pass --catalog or --release): the archive is not "
            "checked against the published one",
            source.path,
        )
    if target.exists():
        if _already_extracted(target, source):
            logger.info("%s already holds this release; nothing to do", target)
            return target
        raise OutputExistsError(f"{target} exists and is not an extraction of {source.path.name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(target)
    try:
        jobs = jobs if jobs is not None else min(available_cores(), MAX_JOBS)
        digest = _extract_in_threads(source, staging, progress, max(1, jobs))
        if expected_md5 and digest != expected_md5:
            raise ChecksumError(
                f"{source.path} has md5 {digest}, release {catalog.name} expects {expected_md5}"
            )
        marker = {"archive": source.path.name, "md5": digest, "size": source.path.stat().st_size}
        (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")
        replace_folder(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _extract_in_threads(source: ZipSource, staging: Path, progress: bool, jobs: int) -> str:
    """Write the release's members into ``staging`` from ``jobs`` threads; return the
    archive's md5, computed by one more thread meanwhile. This thread watches them: the first
    error, or Ctrl-C, stops every thread between two chunks and is raised once all are done."""
    runs = _neighbour_runs(source.ordered, jobs)
    read = [[0] for _ in runs]  # archive bytes each run has read, for the progress bar
    stop = StopFlag()

    def destination(member: ArchiveMember) -> Path | None:
        relative = _relative_to_release(member.name, source)
        if relative is None:  # a folder entry: read through, to check it holds nothing
            return None
        path = staging.joinpath(*relative.parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    tasks: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
    for run, count in zip(runs, read, strict=True):
        tasks.put(
            functools.partial(
                write_members, source.path, run, source.password, destination, count, stop
            )
        )
    # Threads report on a queue written in C, which never blocks: the main thread takes no
    # lock that a worker needs (see StopFlag), and its interrupts wait for it (see below).
    reports: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
    workers = [functools.partial(_md5, source.path, stop)] + [
        functools.partial(_run_tasks, tasks, stop) for _ in range(max(1, min(jobs, len(runs))))
    ]
    threads = [threading.Thread(target=_reported, args=(w, reports), daemon=True) for w in workers]
    digest, error = "", None
    bar = tqdm(
        total=sum(_stored_bytes(run) for run in runs),
        unit="B",
        unit_scale=True,
        desc="Extracting",
        disable=not progress,
    )
    with bar, deferred_interrupts(stop):
        for thread in threads:
            thread.start()
        running = len(threads)
        while running and error is None and not stop.is_set():
            try:
                kind, value = reports.get(timeout=_REFRESH_SECONDS)
            except queue.Empty:
                kind, value = "", None
            if kind == "done":
                running -= 1
            elif kind == "error":
                error = value
            elif kind == "result" and isinstance(value, str):  # the md5's
                digest = value
            bar.update(sum(count[0] for count in read) - bar.n)
        stop.set()  # the threads stop at their next chunk
        for thread in threads:
            thread.join()
    if error is not None:
        raise error
    return digest


def _reported(work: Callable[[], str | None], reports: queue.SimpleQueue) -> None:
    """Run ``work`` (in a thread): put ("result", its value) or ("error", the exception),
    then ("done", None) on ``reports``."""
    try:
        reports.put(("result", work()))
    except BaseException as error:  # the main thread raises it
        reports.put(("error", error))
    finally:
        reports.put(("done", None))


def _run_tasks(tasks: queue.SimpleQueue, stop: StopFlag) -> None:
    """Run queued tasks until none is left or ``stop`` is set."""
    while not stop.is_set():
        try:
            task = tasks.get_nowait()
        except queue.Empty:
            return
        task()


def _md5(path: Path, stop: StopFlag) -> str:
    """md5 hex digest of a file, unless ``stop`` is set first (then "")."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in file_chunks(handle):
            if stop.is_set():
                return ""
            digest.update(chunk)
    return digest.hexdigest()


def _neighbour_runs(members: list[ArchiveMember], jobs: int) -> list[list[ArchiveMember]]:
    """``members`` (in archive order) cut into runs of neighbours holding about the same
    number of stored bytes each: at least ``jobs`` x _RUNS_PER_JOB runs (fewer if there are
    fewer members), about _RUN_BYTES each at most."""
    total = _stored_bytes(members)
    count = max(jobs * _RUNS_PER_JOB, -(-total // _RUN_BYTES))
    share = max(1, total // count)
    runs: list[list[ArchiveMember]] = [[]]
    held = 0
    for member in members:
        if held >= share:
            runs.append([])
            held = 0
        runs[-1].append(member)
        held += member.stop - member.offset
    return [run for run in runs if run]


def _stored_bytes(members: list[ArchiveMember]) -> int:
    """Bytes the members' spans take in the archive."""
    return sum(m.stop - m.offset for m in members)


def _relative_to_release(name: str, source: ZipSource) -> PurePosixPath | None:
    """The member's path relative to the release root; None for folder entries."""
    pure = PurePosixPath(name)  # checked when the source opened
    if name.endswith("/"):
        return None
    if source.prefix and not pure.as_posix().startswith(source.prefix):
        raise UnsafeArchiveError(f"{source.path}: member {name!r} is outside {source.prefix}")
    relative = pure.relative_to(source.prefix) if source.prefix else pure
    return relative if relative.parts else None


def _already_extracted(target: Path, source: ZipSource) -> bool:
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return marker.get("archive") == source.path.name and marker.get("md5") == source.archive_md5()

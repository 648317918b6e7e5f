"""Safe, streaming extraction of the official release zip.

One sequential pass over the archive: stream-unzip decrypts and inflates each member while the
md5 of the raw archive bytes is computed on the same chunks, so memory stays flat whatever the
archive size. Everything lands in a temporary sibling of the target folder, renamed at the end;
on any error (wrong token, corrupt data, md5 mismatch, unsafe member) the sibling is removed and
nothing is left half-written.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from h3ds_hf.atomic import replace_folder, staging_folder
from h3ds_hf.errors import (
    ChecksumError,
    CorruptArchiveError,
    OutputExistsError,
    UnsafeArchiveError,
    get_logger,
)
from h3ds_hf.release.catalog import Catalog, catalog_for_version
from h3ds_hf.release.sources import (
    IGNORED_PREFIX,
    ZipSource,
    bounded_chunks,
    check_member_name,
    file_chunks,
    without_spans,
)

logger = get_logger(__name__)

#: Written into an extracted release, so that a re-run recognises its own output.
MARKER = ".h3ds-hf-extract.json"


def extract_release(
    archive: str | Path,
    target: str | Path,
    *,
    token: str | None = None,
    catalog: Catalog | None = None,
    progress: bool = True,
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
        digest = _extract_into(source, staging, progress)
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


def _extract_into(source: ZipSource, staging: Path, progress: bool) -> str:
    """Stream every member of the release into ``staging``; return the archive's md5."""
    digest = hashlib.md5(usedforsecurity=False)
    size = source.path.stat().st_size
    with (
        source.path.open("rb") as handle,
        tqdm(total=size, unit="B", unit_scale=True, desc="Extracting", disable=not progress) as bar,
    ):

        def hashed_chunks() -> Iterator[bytes]:
            for chunk in file_chunks(handle):
                digest.update(chunk)
                bar.update(len(chunk))
                yield chunk

        # Ignored members (macOS forks) are left out of what is inflated; the others must come
        # in the central directory's order, under its names: what is written is what is listed.
        expected = iter(source.ordered)
        for name, data in source.stream_members(without_spans(hashed_chunks(), source.skipped)):
            member = next(expected, None)
            if member is None or member.name != name:
                raise UnsafeArchiveError(
                    f"{source.path}: member {name!r} is not where the central directory says"
                )
            relative = _relative_to_release(name, source)
            if relative is None:
                for _ in bounded_chunks(data, member, source.path):  # a folder: drain it
                    pass
                continue
            destination = staging.joinpath(*relative.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with destination.open("wb") as out:
                for chunk in bounded_chunks(data, member, source.path):
                    out.write(chunk)
        missing = next(expected, None)
        if missing is not None:
            raise CorruptArchiveError(f"{source.path}: member {missing.name} cannot be read")
    return digest.hexdigest()


def _relative_to_release(name: str, source: ZipSource) -> PurePosixPath | None:
    """The member's path relative to the release root; None for folder and ignored entries."""
    pure = check_member_name(name, source.path)
    if name.endswith("/") or name.startswith(IGNORED_PREFIX):
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

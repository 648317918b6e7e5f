"""Uploads staged as a predictions folder: one mesh (with its landmarks), or a zip of a folder.

Whatever is uploaded ends up as ``{scene_id}_{views}.ply|obj|glb`` (and
``{scene_id}_{views}.landmarks.json``) files in a fresh folder, so that it is scored by
:func:`h3ds_hf.benchmark.batch.evaluate_folder`, exactly like ``h3ds-hf evaluate``. A zip is
untrusted: only files with those suffixes are taken, by their base name (never a path of the
archive, so nothing is written outside the folder), encrypted members are refused, and the
bytes written are counted against a bound whatever the archive's headers claim.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from h3ds_hf.errors import H3DSError
from h3ds_hf.evaluation import LANDMARKS_SUFFIX, PREDICTION_SUFFIXES

#: Default bound on the bytes a zip may expand to (overridden by $H3DS_MAX_UPLOAD_MB).
MAX_UPLOAD_BYTES = 4 << 30
#: Most members a zip may have (59 scenes x 7 views configs x 2 files, with room to spare).
MAX_MEMBERS = 4096
_KEY = re.compile(r"^(?P<scene>.+)_(?P<views>\d+)$")
_CHUNK = 1 << 20


class UploadError(H3DSError, ValueError):
    """An upload that cannot be scored: unsafe, too large, or not named as expected."""


@dataclass(frozen=True)
class PredictionName:
    """What a file name says: ``{scene_id}_{views}`` and whether it is the landmarks file."""

    scene_id: str
    views_config: str
    landmarks: bool


def parse_prediction_name(name: str) -> PredictionName | None:
    """``'abc_3.ply'`` -> ('abc', '3', False); ``'abc_3.landmarks.json'`` -> ('abc', '3',
    True); None for a name that does not say its scene and views config."""
    base = PurePosixPath(name).name
    landmarks = base.endswith(LANDMARKS_SUFFIX)
    if landmarks:
        stem = base[: -len(LANDMARKS_SUFFIX)]
    elif base.lower().endswith(PREDICTION_SUFFIXES):
        stem = base.rsplit(".", 1)[0]
    else:
        return None
    match = _KEY.match(stem)
    return None if match is None else PredictionName(match["scene"], match["views"], landmarks)


def is_mesh_file(name: str) -> bool:
    return name.lower().endswith(PREDICTION_SUFFIXES)


def stage_mesh(
    mesh: Path, landmarks: Path | None, scene_id: str, views_config: str, folder: Path
) -> Path:
    """Copy one reconstruction (and its landmarks) into ``folder`` under its benchmark name.

    Returns:
        the staged mesh, ``folder / f"{scene_id}_{views_config}{suffix}"``.
    """
    suffix = Path(mesh.name).suffix.lower()
    if suffix not in PREDICTION_SUFFIXES:
        raise UploadError(f"{mesh.name}: expected a .ply, .obj or .glb reconstruction")
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{scene_id}_{views_config}"
    staged = Path(shutil.copyfile(mesh, folder / f"{stem}{suffix}"))
    if landmarks is not None:
        shutil.copyfile(landmarks, folder / f"{stem}{LANDMARKS_SUFFIX}")
    return staged


def extract_predictions(
    archive: Path,
    folder: Path,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_members: int = MAX_MEMBERS,
) -> list[str]:
    """Extract the reconstructions and landmarks of a zip into ``folder`` (flat, by base name).

    Files of other types, hidden files and macOS resource forks are skipped.

    Returns:
        the names written, sorted.

    Raises:
        UploadError: not a zip, encrypted, too many members, more than ``max_bytes`` once
            expanded, two members with the same base name, or no reconstruction at all.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError):
        raise UploadError(f"{archive.name} is not a readable zip archive") from None
    folder.mkdir(parents=True, exist_ok=True)
    written: set[str] = set()
    total = 0
    with zf:
        members = [info for info in zf.infolist() if not info.is_dir()]
        if len(members) > max_members:
            raise UploadError(f"{archive.name} has {len(members)} files (at most {max_members})")
        for info in members:
            path = PurePosixPath(info.filename.replace("\\", "/"))
            name = path.name
            wanted = is_mesh_file(name) or name.endswith(LANDMARKS_SUFFIX)
            if not wanted or name.startswith(".") or "__MACOSX" in path.parts:
                continue
            if name in written:
                raise UploadError(f"{archive.name} holds two files named {name}")
            if info.flag_bits & 0x1:
                raise UploadError(f"{archive.name} is encrypted: upload a plain zip")
            total = _copy_member(zf, info, folder / name, total, max_bytes, archive.name)
            written.add(name)
    if not any(is_mesh_file(name) for name in written):
        raise UploadError(f"{archive.name} holds no .ply, .obj or .glb reconstruction")
    return sorted(written)


def _copy_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, total: int, limit: int, label: str
) -> int:
    """Copy one member, counting the bytes really written; returns the new total."""
    try:
        with zf.open(info) as source, target.open("xb") as sink:
            while chunk := source.read(_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise UploadError(f"{label} expands to more than {limit >> 20} MB")
                sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
        raise UploadError(f"{label}: cannot read {info.filename}") from None
    return total

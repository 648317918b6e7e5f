"""Several methods in one evaluation: which folders of reconstructions are which method."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from h3ds_hf.errors import EvaluationError
from h3ds_hf.evaluation import PREDICTION_SUFFIXES


def method_folders(paths: Sequence[str | Path]) -> list[tuple[str, Path]]:
    """(method name, folder) of each folder of reconstructions given.

    A folder holding reconstruction files (``*.ply|obj|glb``) is one method, named by the
    folder. A single folder holding none, but subfolders that do, is a parent of methods:
    each such subfolder is one (sorted by name).

    Raises:
        EvaluationError: two methods would have the same name.
    """
    folders = [Path(path) for path in paths]
    if len(folders) == 1 and folders[0].is_dir() and not _holds_predictions(folders[0]):
        children = sorted(p for p in folders[0].iterdir() if p.is_dir() and _holds_predictions(p))
        folders = children or folders
    methods = [(folder.resolve().name, folder) for folder in folders]
    names = [name for name, _ in methods]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise EvaluationError(f"several prediction folders are named {', '.join(repeated)}")
    return methods


def _holds_predictions(folder: Path) -> bool:
    return any(p.suffix.lower() in PREDICTION_SUFFIXES and p.is_file() for p in folder.iterdir())

"""A scene's dataset row as a one-row Arrow table, without needless copies of its media.

datasets' example writer converts rows with Arrow builders, which grow their buffers by
doubling: a 180 MB 'all-views' row can transiently take several times its size. Here the
photo and mask columns are binary arrays over the scene's :class:`~h3ds_hf.hub.rows.Media`
buffer: used as is when the row's views are stored in order (all views), gathered into one
exact-size buffer otherwise. The table has exactly the schema of
:func:`h3ds_hf.hub.features.scene_features`, so the Parquet written from it is what the
example writer would write.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
from datasets import Features

from h3ds_hf.errors import MalformedFileError
from h3ds_hf.hub.rows import Media, SceneData, scene_row


def _plain(value: Any) -> Any:
    """numpy arrays (possibly nested in dicts and lists) as Python lists."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _binary(media: Media, views: Sequence[int]) -> pa.Array:
    """A binary array of the bytes of ``views``, in that order."""
    spans = [media.spans[view] for view in views]
    if not spans:
        return pa.array([], type=pa.binary())
    contiguous = all(spans[i][1] == spans[i + 1][0] for i in range(len(spans) - 1))
    if contiguous:  # views stored in this order: offsets into the scene's buffer, no copy
        offsets = np.array([start for start, _ in spans] + [spans[-1][1]], dtype=np.int32)
        data = pa.py_buffer(media.data)
    else:
        view = memoryview(media.data)
        data = pa.py_buffer(b"".join(view[start:end] for start, end in spans))
        offsets = np.zeros(len(spans) + 1, dtype=np.int32)
        np.cumsum([end - start for start, end in spans], out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), len(spans), [None, pa.py_buffer(offsets), data])


def _check_paths(paths: list[str], scene_id: str) -> None:
    """Media paths must be relative names inside the release: nothing may point at the source."""
    for path in paths:
        pure = PurePosixPath(path)
        if pure.is_absolute() or ".." in pure.parts or not path.startswith(f"{scene_id}/"):
            raise MalformedFileError(f"scene {scene_id}: media path {path!r} is not relative")


def _views(scene: SceneData, views: list[dict], list_type: pa.ListType) -> pa.ListArray:
    struct: pa.StructType = list_type.value_type
    indices = [view["view_index"] for view in views]
    stores = {"image": scene.images, "mask": scene.masks}
    children = []
    for field in struct:
        if field.name in stores:
            paths = [view[field.name]["path"] for view in views]
            _check_paths(paths, scene.ground_truth.scene_id)
            parts = {"bytes": _binary(stores[field.name], indices), "path": pa.array(paths)}
            fields = list(field.type)
            arrays = [parts[f.name] for f in fields]
            children.append(pa.StructArray.from_arrays(arrays, fields=fields))
        else:
            values = [view[field.name] for view in views]
            children.append(pa.array(_plain(values), type=field.type))
    items = pa.StructArray.from_arrays(children, fields=list(struct))
    offsets = pa.array([0, len(views)], type=pa.int32())
    return pa.ListArray.from_arrays(offsets, items, type=list_type)


def row_table(scene: SceneData, views: Sequence[int], features: Features) -> pa.Table:
    """The row of ``scene`` for ``views`` (see :func:`h3ds_hf.hub.rows.scene_row`) as a
    one-row Arrow table with the schema of ``features``.

    Raises:
        MalformedFileError: a media path is not a relative name inside the release.
    """
    row = scene_row(scene, views, media_bytes=False)
    schema = features.arrow_schema
    columns = [
        _views(scene, row[field.name], field.type)
        if field.name == "views"
        else pa.array([_plain(row[field.name])], type=field.type)
        for field in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)

"""Ground truth read back from a folder written by ``h3ds-hf prepare`` (or its Hub download).

Someone who has the Hub dataset but not the raw release can still score reconstructions:
``h3ds-hf evaluate --source <prepared folder>``. Only the ground-truth columns are read from
the Parquet files (never the photos), one row group (= one scene) at a time.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from h3ds_hf.benchmark.batch import file_sha256
from h3ds_hf.benchmark.names import parse_config_name
from h3ds_hf.errors import H3DSError, SourceError, UnknownSceneError
from h3ds_hf.hub.prepare import MANIFEST_NAME
from h3ds_hf.hub.rows import arrow_rows, ground_truth_from_row
from h3ds_hf.release.catalog import Catalog, SceneInfo
from h3ds_hf.scene import GroundTruth

#: Columns a ground truth needs.
GT_COLUMNS = ["scene_id", "vertices", "faces", "landmarks", "regions"]
_VIEW_INDEX = "views.list.element.view_index"


def _test_shards(folder: Path) -> dict[str, list[Path]]:
    """Config name -> its 'test' Parquet shards, for every config folder of a prepared folder."""
    shards = {}
    for config in sorted(path for path in folder.iterdir() if path.is_dir()):
        files = sorted(config.glob("test-*.parquet"))
        try:
            parse_config_name(config.name)
        except ValueError:
            continue
        if files:
            shards[config.name] = files
    return shards


def is_prepared_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``h3ds-hf prepare``, or a download of the Hub
    dataset it published (config folders of Parquet shards)."""
    path = Path(path)
    return path.is_dir() and (
        (path / MANIFEST_NAME).is_file()
        or ((path / "README.md").is_file() and bool(_test_shards(path)))
    )


class PreparedRelease:
    """A prepared dataset folder seen as a release: a catalog and ground truths by scene id.

    The catalog lists the scenes of the ``test`` split with their tags, the views configs
    prepared (their view indices as written) and the view count (from ``all-views`` when it
    was prepared, else one more than the largest index used). Its version is the one recorded
    by ``prepare`` ('unknown' in a Hub download, which does not carry that record).
    """

    def __init__(self, folder: str | Path) -> None:
        with _unreadable_as_source_error(folder):
            self._open(folder)

    def _open(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self._files = _test_shards(self.folder)
        if not self._files:
            raise SourceError(f"{self.folder} holds no config folder with a 'test' split")
        try:
            manifest = json.loads((self.folder / MANIFEST_NAME).read_text(encoding="utf-8"))
            version = str(manifest["catalog_version"])
        except (OSError, ValueError, KeyError, TypeError):
            version = "unknown"
        first = next(iter(self._files.values()))[0]
        release = pq.ParquetFile(first).read_row_group(0, columns=["release"]).column(0)[0].as_py()
        self.catalog = Catalog(str(release), version, None, self._scenes())
        self.description = str(self.folder)

    def ground_truth(self, scene_id: str) -> GroundTruth:
        """The scene's ground truth: float64 vertices exactly as prepared from the OBJ."""
        self.catalog.scene(scene_id)
        if scene_id not in self._locations:
            raise UnknownSceneError(f"scene {scene_id!r} is not in {self.folder}")
        path, group, row = self._locations[scene_id]
        with _unreadable_as_source_error(path):
            table = pq.ParquetFile(path).read_row_group(group, columns=GT_COLUMNS)
            gt = ground_truth_from_row(arrow_rows(table.to_struct_array())[row])
        # The shard's sha256 is among the run's inputs (:attr:`inputs`): here, where in it.
        where = f"{path.parent.name}/{path.name}"
        return dataclasses.replace(gt, inputs={where: f"row group {group}, row {row}"})

    @property
    def inputs(self) -> dict[str, str]:
        """What the ground truth is read from: each shard's sha256 (the first config's 'test'
        split), and the Hub revision when the folder is a snapshot of the Hub cache."""
        found = {
            f"{path.parent.name}/{path.name}": file_sha256(path)
            for path in next(iter(self._files.values()))
        }
        if self.folder.resolve().parent.name == "snapshots":
            found["revision"] = self.folder.resolve().name
        return found

    @cached_property
    def _locations(self) -> dict[str, tuple[Path, int, int]]:
        """Scene id -> (shard, row group, row) in the first config's 'test' split."""
        with _unreadable_as_source_error(self.folder):
            return self._find_locations()

    def _find_locations(self) -> dict[str, tuple[Path, int, int]]:
        where = {}
        for path in next(iter(self._files.values())):
            handle = pq.ParquetFile(path)
            for group in range(handle.num_row_groups):
                ids = handle.read_row_group(group, columns=["scene_id"]).column(0).to_pylist()
                where.update({scene_id: (path, group, row) for row, scene_id in enumerate(ids)})
        return where

    def _scenes(self) -> dict[str, SceneInfo]:
        tags: dict[str, tuple[str, ...]] = {}
        configs: dict[str, dict[str, tuple[int, ...]]] = {}
        for config, files in self._files.items():
            views_config = parse_config_name(config).views_config
            table = pa.concat_tables(
                pq.ParquetFile(path).read(columns=["scene_id", "tags", _VIEW_INDEX])
                for path in files
            )
            for row in table.to_pylist():
                scene_id = row["scene_id"]
                tags[scene_id] = tuple(row["tags"])
                indices = tuple(view["view_index"] for view in row["views"])
                configs.setdefault(scene_id, {})[views_config or "all"] = indices
        scenes = {}
        for scene_id, by_config in configs.items():
            everything = by_config.pop("all", ())
            used = [index for indices in by_config.values() for index in indices]
            views = len(everything) or 1 + max(used, default=0)
            scenes[scene_id] = SceneInfo(scene_id, tags[scene_id], views, by_config)
        return scenes


@contextmanager
def _unreadable_as_source_error(where: str | Path) -> Iterator[None]:
    """Turn what pyarrow and the row decoders raise on a shard that is not one of ours (random
    bytes, empty, other columns) into a :class:`SourceError` naming it."""
    try:
        yield
    except (pa.ArrowException, KeyError, IndexError, TypeError, ValueError) as error:
        if isinstance(error, H3DSError):
            raise
        text = " ".join(str(error).split())[:200]
        raise SourceError(
            f"{where}: not a dataset folder written by h3ds-hf prepare ({text})"
        ) from None

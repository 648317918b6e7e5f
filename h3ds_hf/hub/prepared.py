"""Ground truth read back from the Hub dataset's Parquet files: a folder, or the Hub itself.

Someone who has the Hub dataset but not the raw release can still score reconstructions
(``h3ds-hf evaluate --source <folder written by prepare, or its Hub download>``, or
``--source ORG/NAME``, see :mod:`h3ds_hf.hub.remote`), export scenes and check their cameras
(``h3ds-hf export`` / ``check``). Only the columns a job needs are read (the ground truth, or
the views' masks and cameras, photos only for an export), one row group (= one scene) at a
time: over the Hub these are HTTP range requests for just those bytes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import posixpath
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from h3ds_hf.benchmark.names import parse_config_name
from h3ds_hf.errors import H3DSError, MissingFileError, SourceError, UnknownSceneError
from h3ds_hf.hub.prepare import MANIFEST_NAME
from h3ds_hf.hub.rows import arrow_rows, ground_truth_from_row
from h3ds_hf.release.catalog import Catalog, SceneInfo
from h3ds_hf.release.reader import SceneView
from h3ds_hf.scene import GroundTruth

#: Columns a ground truth needs.
GT_COLUMNS = ["scene_id", "vertices", "faces", "landmarks", "regions"]
#: Fields of a view read back for a camera or export (the photo's bytes only when asked).
VIEW_COLUMNS = ["view_index", "mask.bytes", "world_mat", "scale_mat"]
_VIEW_FIELDS = "views.list.element"
_VIEW_INDEX = f"{_VIEW_FIELDS}.view_index"


def _views_config(config: str) -> str | None:
    """The views config id of a config name ('3-views' -> '3'), None for all views."""
    return parse_config_name(config).views_config


def _test_shards(fs: fsspec.AbstractFileSystem, root: str) -> dict[str, list[str]]:
    """Config name -> its 'test' Parquet shards, for every config folder under ``root``."""
    shards = {}
    for entry in sorted(fs.ls(root, detail=True), key=lambda e: e["name"]):
        name = posixpath.basename(entry["name"].rstrip("/"))
        if entry["type"] != "directory":
            continue
        try:
            parse_config_name(name)
        except ValueError:
            continue
        files = sorted(fs.glob(f"{entry['name'].rstrip('/')}/test-*.parquet"))
        if files:
            shards[name] = files
    return shards


@contextmanager
def _unreadable_as_source_error(where: str) -> Iterator[None]:
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


def _shard_name(path: str) -> str:
    """A shard's name in results: its config folder and file name ('3-views/test-....parquet')."""
    return "/".join(path.rstrip("/").split("/")[-2:])


def is_prepared_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by ``h3ds-hf prepare``, or a download of the Hub
    dataset it published (config folders of Parquet shards)."""
    path = Path(path)
    return path.is_dir() and (
        (path / MANIFEST_NAME).is_file()
        or ((path / "README.md").is_file() and bool(_test_shards(LocalFileSystem(), str(path))))
    )


class ParquetRelease:
    """The Hub dataset's Parquet files seen as a release: a catalog and ground truths.

    The catalog lists the scenes of the ``test`` split with their tags, the views configs
    present (their view indices as written) and the view count (from ``all-views`` when
    present, else one more than the largest index used).

    Args:
        fs: the filesystem holding the files (local, or ``HfFileSystem`` for the Hub).
        root: the dataset's folder in ``fs``.
        description: where it is read from, for messages and results.
        version: the catalog version, when known ('unknown' otherwise).
        revision: the dataset's commit, for a Hub source (recorded with results).
    """

    def __init__(
        self,
        fs: fsspec.AbstractFileSystem,
        root: str,
        *,
        description: str,
        version: str = "unknown",
        revision: str | None = None,
    ) -> None:
        self.fs, self.root = fs, root.rstrip("/")
        self.description = description
        self.revision = revision
        self._metadata: dict[str, pq.FileMetaData] = {}
        self._where: dict[str, dict[str, tuple[str, int, int]]] = {}
        self._files = _test_shards(fs, self.root)
        if not self._files:
            raise SourceError(f"{description} holds no config folder with a 'test' split")
        with _unreadable_as_source_error(description):
            first = next(iter(self._files.values()))[0]
            release = self._read(first, 0, ["release"]).column(0)[0].as_py()
            self.catalog = Catalog(str(release), version, None, self._scenes())

    def _parquet(self, path: str) -> pq.ParquetFile:
        # No read-ahead: every read is a range request for exactly the bytes pyarrow wants;
        # each file's footer is read once.
        handle = pq.ParquetFile(
            self.fs.open(path, "rb", cache_type="none"),
            metadata=self._metadata.get(path),
            pre_buffer=True,
        )
        self._metadata.setdefault(path, handle.metadata)
        return handle

    def _read(self, path: str, group: int, columns: list[str]) -> pa.Table:
        with self._parquet(path) as handle:
            return handle.read_row_group(group, columns=columns)

    def ground_truth(self, scene_id: str) -> GroundTruth:
        """The scene's ground truth: float64 vertices exactly as prepared from the OBJ."""
        self.catalog.scene(scene_id)
        if scene_id not in self._locations:
            raise UnknownSceneError(f"scene {scene_id!r} is not in {self.description}")
        path, group, row = self._locations[scene_id]
        with _unreadable_as_source_error(path):
            table = self._read(path, group, GT_COLUMNS)
            gt = ground_truth_from_row(arrow_rows(table.to_struct_array())[row])
        # The shard's sha256 is among the run's inputs (:attr:`inputs`): here, where in it.
        return dataclasses.replace(gt, inputs={_shard_name(path): f"row group {group}, row {row}"})

    @property
    def inputs(self) -> dict[str, str]:
        """What the ground truth is read from: the sha256 of each shard of the first config's
        'test' split (on the Hub, the LFS sha256 it reports: nothing is downloaded), and the
        dataset's revision when known."""
        found = {_shard_name(path): self._sha256(path) for path in next(iter(self._files.values()))}
        if self.revision:
            found["revision"] = self.revision
        return found

    def _sha256(self, path: str) -> str:
        lfs = self.fs.info(path).get("lfs")
        if isinstance(lfs, dict) and lfs.get("sha256"):
            return str(lfs["sha256"])
        digest = hashlib.sha256()
        with self.fs.open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def views(
        self, scene_id: str, indices: Iterable[int], *, images: bool = True
    ) -> Iterator[SceneView]:
        """The views ``indices`` of a scene, from one prepared config that holds them all
        ('all-views' when it was prepared): one row group read, photos only if ``images``.

        Raises:
            MissingFileError: no prepared config of this folder holds all these views.
        """
        indices = list(indices)
        scene = self.catalog.scene(scene_id)
        # All views first: it holds every view of every scene.
        for config in sorted(self._files, key=lambda name: _views_config(name) is not None):
            views_config = _views_config(config)
            held = (
                range(scene.views)
                if views_config is None
                else scene.views_configs.get(views_config, ())
            )
            if set(indices) <= set(held) and scene_id in self._locations_in(config):
                break
        else:
            raise MissingFileError(
                f"{self.description} holds views {sorted(set(indices))} of scene {scene_id} in no "
                "single config: prepare it with the config you ask for, or all-views"
            )
        path, group, row = self._locations_in(config)[scene_id]
        columns = [f"{_VIEW_FIELDS}.{name}" for name in VIEW_COLUMNS]
        if images:
            columns.append(f"{_VIEW_FIELDS}.image.bytes")
        table = self._read(path, group, columns)
        stored = {view["view_index"]: view for view in table.column("views")[row].as_py()}
        for index in indices:
            view = stored[index]
            yield SceneView(
                index=index,
                image=view["image"]["bytes"] if images else None,
                mask=view["mask"]["bytes"],
                world_mat=np.asarray(view["world_mat"], dtype=np.float64),
                scale_mat=np.asarray(view["scale_mat"], dtype=np.float64),
            )

    @cached_property
    def _locations(self) -> dict[str, tuple[str, int, int]]:
        """Scene id -> (shard, row group, row) in the first config's 'test' split."""
        with _unreadable_as_source_error(self.description):
            return self._locations_in(next(iter(self._files)))

    def _locations_in(self, config: str) -> dict[str, tuple[str, int, int]]:
        """Scene id -> (shard, row group, row) in a config's 'test' split (read once)."""
        if config in self._where:
            return self._where[config]
        where = self._where[config] = {}
        for path in self._files[config]:
            with self._parquet(path) as handle:
                for group in range(handle.num_row_groups):
                    ids = handle.read_row_group(group, columns=["scene_id"]).column(0).to_pylist()
                    where.update({sid: (path, group, row) for row, sid in enumerate(ids)})
        return where

    def _scenes(self) -> dict[str, SceneInfo]:
        tags: dict[str, tuple[str, ...]] = {}
        configs: dict[str, dict[str, tuple[int, ...]]] = {}
        for config, files in self._files.items():
            views_config = parse_config_name(config).views_config
            tables = []
            for path in files:
                with self._parquet(path) as handle:
                    tables.append(handle.read(columns=["scene_id", "tags", _VIEW_INDEX]))
            for row in pa.concat_tables(tables).to_pylist():
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


class PreparedRelease(ParquetRelease):
    """A folder written by ``h3ds-hf prepare`` (or downloaded from the Hub) as a release.

    Its catalog version is the one recorded by ``prepare`` ('unknown' in a Hub download, which
    does not carry that record).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        try:
            manifest = json.loads((self.folder / MANIFEST_NAME).read_text(encoding="utf-8"))
            version = str(manifest["catalog_version"])
        except (OSError, ValueError, KeyError, TypeError):
            version = "unknown"
        # A snapshot of the Hub cache (hf download) is named by its revision.
        resolved = self.folder.resolve()
        revision = resolved.name if resolved.parent.name == "snapshots" else None
        super().__init__(
            LocalFileSystem(),
            str(self.folder),
            description=str(self.folder),
            version=version,
            revision=revision,
        )

"""``h3ds-hf prepare``: a Hub-ready dataset folder (Parquet + card + eval.yaml) from a release.

Output layout::

    DIR/README.md                                  dataset card (configs, gating, docs)
    DIR/eval.yaml                                  benchmark tasks (one per region x views)
    DIR/<config>/<split>-00000-of-0000N.parquet    rows, media bytes embedded
    DIR/.h3ds-hf-prepare.json                      manifest (marks the folder as ours)

The rows are the builder's (:mod:`h3ds_hf.hub.rows` is shared with
``loading_script/h3ds.py``), but written here in a single pass over the source: each scene is
read once (for a zip, decrypted once) and its row for every requested config and split is
written right away. One scene per Parquet row group and nothing else held in memory keeps the
peak flat in the number of scenes. With ``jobs > 1``, worker processes read and decode scenes
while the main process writes them in catalog order, so the files are the same for any
``jobs``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from datasets.arrow_writer import ParquetWriter
from tqdm.auto import tqdm

from h3ds_hf.atomic import replace_folder, staging_folder
from h3ds_hf.distribution import __version__
from h3ds_hf.errors import OutputExistsError
from h3ds_hf.hub.arrow_rows import row_table
from h3ds_hf.hub.dataset_card import render_card
from h3ds_hf.hub.eval_yaml import EVALUATION_FRAMEWORK, eval_tasks, render_eval_yaml
from h3ds_hf.hub.features import scene_features
from h3ds_hf.hub.local import source_fingerprint
from h3ds_hf.hub.rows import (
    SceneData,
    check_source,
    read_scene,
    resolve_configs,
    split_scenes,
    view_indices,
)
from h3ds_hf.processes import process_pool
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.release.reader import Release, open_release

logger = logging.getLogger(__name__)

#: File marking a folder written by prepare; holds a digest of the inputs (no paths).
MANIFEST_NAME = ".h3ds-hf-prepare.json"
MANIFEST_FORMAT = "h3ds-hf-prepare/1"
#: A shard is closed once this many bytes were written to it (the Hub's recommended file size).
MAX_SHARD_BYTES = 500 << 20
#: Rows per Parquet row group. A row is a whole scene: the scan (tens of MB for real scans) and
#: up to ~100 photos of ~1 MB for 'all-views'. One per group bounds the writer's memory to one
#: scene and lets streaming readers and the Hub viewer fetch a single scene.
ROWS_PER_ROW_GROUP = 1


@dataclass
class PreparedSplit:
    """What was written for one config and split."""

    files: list[str] = field(default_factory=list)
    num_examples: int = 0
    num_bytes: int = 0


@dataclass(frozen=True)
class PrepareResult:
    """Outcome of :func:`prepare_dataset`.

    Attributes:
        output: the dataset folder.
        configs: config name -> split name -> what was written.
        up_to_date: True when the folder already held this exact preparation (nothing written).
    """

    output: Path
    configs: dict[str, dict[str, PreparedSplit]]
    up_to_date: bool = False


class _ShardedWriter:
    """Parquet shards ``<split>-SSSSS-of-NNNNN.parquet`` of one config and split."""

    def __init__(self, folder: Path, split: str) -> None:
        self.folder = folder
        self.split = split
        self.result = PreparedSplit()
        self._features = scene_features()
        self._writer: ParquetWriter | None = None
        self._paths: list[Path] = []

    def write(self, table: pa.Table) -> None:
        """Append one row (a one-row table of :func:`h3ds_hf.hub.arrow_rows.row_table`)."""
        if self._writer is not None and self._writer._num_bytes >= MAX_SHARD_BYTES:
            self._close_shard()
        if self._writer is None:
            path = self.folder / f"{self.split}-{len(self._paths):05d}.parquet.partial"
            self._paths.append(path)
            self._writer = ParquetWriter(
                features=self._features,
                path=str(path),
                writer_batch_size=ROWS_PER_ROW_GROUP,
            )
        self._writer.write_table(table)

    def _close_shard(self) -> None:
        assert self._writer is not None
        examples, nbytes = self._writer.finalize()
        self._writer.close()
        self._writer = None
        self.result.num_examples += examples
        self.result.num_bytes += nbytes

    def close(self) -> PreparedSplit:
        """Finish the last shard and give every shard its final name."""
        if self._writer is not None:
            self._close_shard()
        total = len(self._paths)
        for index, path in enumerate(self._paths):
            name = f"{self.split}-{index:05d}-of-{total:05d}.parquet"
            path.replace(self.folder / name)
            self.result.files.append(f"{self.folder.name}/{name}")
        return self.result


# -- reading scenes, possibly in worker processes ----------------------------------------------
_worker_release: Release | None = None


def _init_worker(source: str, catalog: Catalog, token: str | None) -> None:
    global _worker_release  # noqa: PLW0603 - one opened release per worker process
    _worker_release = open_release(source, catalog=catalog, token=token, verify_md5=False)


def _read_in_worker(scene_id: str, views: tuple[int, ...]) -> SceneData:
    assert _worker_release is not None
    return read_scene(_worker_release, scene_id, views)


def _scenes(
    release: Release,
    source: str,
    token: str | None,
    needed: dict[str, tuple[int, ...]],
    jobs: int,
) -> Iterator[SceneData]:
    """Read the scenes of ``needed`` (scene id -> views) in order, ``jobs`` at a time."""
    if jobs <= 1:
        for scene_id, views in needed.items():
            yield read_scene(release, scene_id, views)
        return
    # spawn, not fork: the parent holds pyarrow/datasets thread pools that fork can deadlock.
    with process_pool(jobs, _init_worker, (source, release.catalog, token)) as pool:
        pending: deque[Future[SceneData]] = deque()
        items = iter(needed.items())
        for scene_id, views in items:
            pending.append(pool.submit(_read_in_worker, scene_id, views))
            if len(pending) >= jobs:  # at most `jobs` scenes in flight: bounded memory
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


# -- the folder ---------------------------------------------------------------------------------
def _inputs_digest(
    source: str | Path,
    catalog: Catalog,
    configs: Sequence[str],
    *,
    repo_id: str | None,
    framework: str,
) -> str:
    inputs = {
        "format": MANIFEST_FORMAT,
        "package": __version__,
        "source": source_fingerprint(source),
        "catalog": catalog.to_json_dict(),
        "configs": list(configs),
        "repo_id": repo_id,
        "evaluation_framework": framework,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def _read_manifest(output: Path) -> dict | None:
    try:
        manifest = json.loads((output / MANIFEST_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if manifest.get("format") == MANIFEST_FORMAT else None


def _check_output(output: Path) -> dict | None:
    """The manifest of an existing output folder; OutputExistsError if it is not ours."""
    if not output.exists():
        return None
    if not output.is_dir():
        raise OutputExistsError(f"{output} exists and is not a folder")
    manifest = _read_manifest(output)
    if manifest is None and any(output.iterdir()):
        raise OutputExistsError(
            f"{output} exists and was not written by h3ds-hf prepare (no {MANIFEST_NAME}): "
            "choose another --output or remove it"
        )
    return manifest


def prepare_dataset(
    source: str | Path,
    output: str | Path,
    *,
    catalog: Catalog | None = None,
    catalog_path: str | Path | None = None,
    release: str | None = None,
    configs: Sequence[str] | None = None,
    jobs: int = 1,
    token: str | None = None,
    repo_id: str | None = None,
    evaluation_framework: str = EVALUATION_FRAMEWORK,
    progress: bool = True,
) -> PrepareResult:
    """Write the Hub-ready dataset folder of a raw release.

    Args:
        source: release folder or official zip.
        output: folder to create (or refresh, if an earlier preparation wrote it).
        catalog, catalog_path, release: what the source holds (default: from version.txt).
        configs: config names to write (default: all of the release).
        jobs: worker processes reading scenes; the output is the same for any value.
        token: the zip's access token (default ``$H3DS_ACCESS_TOKEN``); never written.
        repo_id: the Hub repository named in the card's examples (default '<org>/h3ds').
        evaluation_framework: eval.yaml's framework (one the Hub knows, once registered).
        progress: show a progress bar.

    Raises:
        OutputExistsError: ``output`` exists and was not written by prepare.
        UnknownViewsConfigError: a requested config is not one of the release (lists them).
        MissingFileError, SourceError: the source lacks files or holds other photos than the
            catalog says; raised before anything is written.
    """
    output = Path(output).expanduser()
    manifest = _check_output(output)
    opened = open_release(
        source, catalog=catalog, catalog_path=catalog_path, release=release, token=token
    )
    chosen = resolve_configs(opened.catalog, configs)
    splits = {name: split_scenes(opened.catalog, views) for name, views in chosen.items()}
    needed: dict[str, set[int]] = {}
    for name, views_config in chosen.items():
        for scene_id in splits[name].get("test", []):
            views = view_indices(opened.catalog, scene_id, views_config)
            needed.setdefault(scene_id, set()).update(views)
    ordered = {sid: tuple(sorted(needed[sid])) for sid in opened.catalog.scenes if sid in needed}
    check_source(opened, ordered)

    digest = _inputs_digest(
        source, opened.catalog, list(chosen), repo_id=repo_id, framework=evaluation_framework
    )
    if manifest is not None and manifest.get("inputs") == digest:
        logger.info("%s is up to date", output)
        configs_written = {
            name: {split: PreparedSplit(**info) for split, info in entry.items()}
            for name, entry in manifest["configs"].items()
        }
        return PrepareResult(output=output, configs=configs_written, up_to_date=True)

    output.parent.mkdir(parents=True, exist_ok=True)
    staging = staging_folder(output)
    try:
        writers = {}
        for name in chosen:
            (staging / name).mkdir()
            writers[name] = {split: _ShardedWriter(staging / name, split) for split in splits[name]}
        members = {
            name: {split: set(scene_ids) for split, scene_ids in entry.items()}
            for name, entry in splits.items()
        }
        features = scene_features()
        scenes = _scenes(opened, str(source), token, ordered, jobs)
        # No tqdm(iterable): its generator would keep the last scene alive during writing.
        bar = tqdm(total=len(ordered), unit="scene", desc="Preparing", disable=not progress)
        for scene in scenes:
            scene_id = scene.ground_truth.scene_id
            tables = {
                name: row_table(scene, view_indices(opened.catalog, scene_id, views), features)
                for name, views in chosen.items()
                if scene_id in members[name].get("test", ())
            }
            # The tables own copies of the media: drop the scene's before Parquet encoding
            # (which transiently takes about twice a row's size) to lower the peak.
            del scene
            for name in list(tables):
                table = tables.pop(name)
                for split, writer in writers[name].items():
                    if scene_id in members[name][split]:
                        writer.write(table)
                del table
            bar.update()
        bar.close()
        written = {
            name: {split: writer.close() for split, writer in entry.items()}
            for name, entry in writers.items()
        }
        (staging / "README.md").write_text(
            render_card(opened.catalog, written, repo_id=repo_id), "utf-8"
        )
        # Tasks are per views config: a folder of 'all-views' alone declares no benchmark.
        if eval_tasks(opened.catalog, list(chosen)):
            eval_yaml = render_eval_yaml(
                opened.catalog, list(chosen), evaluation_framework=evaluation_framework
            )
            (staging / "eval.yaml").write_text(eval_yaml, "utf-8")
        manifest_data = {
            "format": MANIFEST_FORMAT,
            "inputs": digest,
            "release": opened.catalog.name,
            "catalog_version": opened.catalog.version,
            "configs": {
                name: {split: vars(info) for split, info in entry.items()}
                for name, entry in written.items()
            },
        }
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest_data, indent=2), "utf-8")
        replace_folder(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return PrepareResult(output=output, configs=written)

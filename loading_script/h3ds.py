"""The H3DS datasets builder: one row per scene, one config per views config.

datasets 5 no longer runs loading scripts from the Hub, so the published dataset is Parquet
(written by ``h3ds-hf prepare``); this builder is the same reading logic for local use::

    from h3ds_hf.loading_script.h3ds import H3DS

    builder = H3DS(config_name="3-views", source="/data/h3ds_v2", cache_dir="/tmp/cache")
    builder.download_and_prepare()
    test = builder.as_dataset(split="test")

or simply ``h3ds_hf.load_local("/data/h3ds_v2", "3-views")``.

Configs: '{n}-views' per views config of release v2 and 'all-views'; 'v1-{n}-views' and
'v1-all-views' for release v1; :meth:`H3DS.for_catalog` makes a builder class whose configs are
a custom catalog's. Splits: 'test' (every scene) and 'h3d_net' (scenes tagged 'h3d-net').

The access token of an encrypted zip is never part of a config (configs are hashed into cache
folder names and serialized into dataset_info): pass it as ``access_token=`` to the builder or
set ``$H3DS_ACCESS_TOKEN``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import datasets

from h3ds_hf.benchmark.names import DEFAULT_CONFIG
from h3ds_hf.errors import UnknownViewsConfigError
from h3ds_hf.hub.features import dataset_info
from h3ds_hf.hub.rows import (
    check_source,
    dataset_configs,
    read_scene,
    scene_row,
    split_scenes,
    view_indices,
)
from h3ds_hf.release.catalog import Catalog, catalog_from_json, load_catalog
from h3ds_hf.release.reader import Release, open_release

_DESCRIPTION = (
    "H3DS: 3D human heads. Per scene: the ground-truth scan (mm), calibrated photos and masks "
    "of the config's views, landmarks and regions."
)
#: Version of the row layout; bump when the features change (1.1.0: `mesh_preview`).
_VERSION = datasets.Version("1.1.0")


@dataclass
class H3DSConfig(datasets.BuilderConfig):
    """A views config of a release.

    Attributes:
        views_config: views config id ('3'), or None for every view of every scene.
        source: release folder or official zip.
        release: 'v1' / 'v2' to read; None = inferred from the source's version.txt.
        catalog_path: custom catalog file (authors' TOML shape, or the package's JSON).
        catalog_json: a catalog in the package's JSON format, inline (see :meth:`H3DS.for_catalog`).
        source_fingerprint: identity of the source's content, so that a changed source gets a
            new cache folder (see :func:`h3ds_hf.hub.local.source_fingerprint`).
    """

    views_config: str | None = None
    source: str | None = None
    release: str | None = None
    catalog_path: str | None = None
    catalog_json: str | None = None
    source_fingerprint: str | None = None


def _configs(catalog: Catalog) -> list[H3DSConfig]:
    return [
        H3DSConfig(
            name=name,
            version=_VERSION,
            views_config=views,
            description=f"{'every view' if views is None else views + ' view(s)'} per scene, "
            f"release {catalog.name}",
        )
        for name, views in dataset_configs(catalog).items()
    ]


class H3DS(datasets.GeneratorBasedBuilder):
    """Builder of the H3DS dataset from a raw release (folder or encrypted zip)."""

    BUILDER_CONFIG_CLASS = H3DSConfig
    BUILDER_CONFIGS: ClassVar[list[H3DSConfig]] = [
        *_configs(load_catalog("v2")),
        *_configs(load_catalog("v1")),
    ]
    DEFAULT_CONFIG_NAME = DEFAULT_CONFIG
    # One scene per Arrow record batch / Parquet row group: a row holds the scan (tens of MB
    # for real scans) and up to ~100 full-resolution photos, so a bigger batch only multiplies
    # peak memory, and readers that fetch row groups (streaming, the Hub viewer) fetch one scene.
    DEFAULT_WRITER_BATCH_SIZE = 1

    config: H3DSConfig

    def __init__(self, *args: Any, access_token: str | None = None, **kwargs: Any) -> None:
        # Kept on the instance only: never in the config, its hash or the cache.
        self._access_token = access_token
        super().__init__(*args, **kwargs)

    @classmethod
    def for_catalog(cls, catalog: Catalog) -> type[H3DS]:
        """A builder class whose configs are exactly those of ``catalog``; pass
        ``catalog_json=json.dumps(catalog.to_json_dict())`` when instantiating it."""
        configs = _configs(catalog)
        names = [config.name for config in configs]
        default = DEFAULT_CONFIG if DEFAULT_CONFIG in names else names[0]
        return type(
            cls.__name__,
            (cls,),
            {"BUILDER_CONFIGS": configs, "DEFAULT_CONFIG_NAME": default, "__module__": __name__},
        )

    def _info(self) -> datasets.DatasetInfo:
        return dataset_info(_DESCRIPTION)

    def _catalog(self) -> Catalog | None:
        if self.config.catalog_json is not None:
            return catalog_from_json(json.loads(self.config.catalog_json), origin="config")
        if self.config.catalog_path is not None:
            return load_catalog(path=self.config.catalog_path)
        if self.config.release is not None:
            return load_catalog(self.config.release)
        return None

    def _open(self) -> Release:
        if self.config.source is None:
            raise ValueError("the H3DS builder needs source=<release folder or zip>")
        release = open_release(
            self.config.source, catalog=self._catalog(), token=self._access_token
        )
        known = dataset_configs(release.catalog)
        if self.config.name not in known or known[self.config.name] != self.config.views_config:
            raise UnknownViewsConfigError(
                f"config {self.config.name!r} is not a config of release "
                f"{release.catalog.name} (known: {', '.join(known)})"
            )
        return release

    def _split_generators(self, dl_manager: Any) -> list[datasets.SplitGenerator]:
        release = self._open()
        splits = split_scenes(release.catalog, self.config.views_config)
        check_source(release, splits["test"])
        return [
            datasets.SplitGenerator(name=split, gen_kwargs={"scene_ids": scene_ids})
            for split, scene_ids in splits.items()
        ]

    def _generate_examples(self, scene_ids: list[str]) -> Iterator[tuple[str, dict]]:
        release = self._open()
        for scene_id in scene_ids:
            views = view_indices(release.catalog, scene_id, self.config.views_config)
            yield scene_id, scene_row(read_scene(release, scene_id, views), views)

"""``load_local``: the H3DS Hugging Face dataset straight from a raw release, no Hub involved."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import datasets

from h3ds_hf.distribution import import_shipped
from h3ds_hf.errors import H3DSError, UnknownViewsConfigError
from h3ds_hf.hub.rows import dataset_configs
from h3ds_hf.release.catalog import Catalog, load_catalog
from h3ds_hf.release.reader import open_release


def source_fingerprint(source: str | Path) -> str:
    """Hex digest of a source's identity: path, and size and mtime of every file (a folder)
    or of the archive (a zip). Cheap (no content read); a changed source changes it."""
    path = Path(source).expanduser().resolve()
    digest = hashlib.sha256(str(path).encode())
    if path.is_dir():
        entries = []
        for folder, _dirs, files in os.walk(path):
            for name in files:
                stat = (Path(folder) / name).stat()
                entries.append(
                    (os.path.relpath(Path(folder) / name, path), stat.st_size, stat.st_mtime_ns)
                )
        for entry in sorted(entries):
            digest.update(repr(entry).encode())
    elif path.exists():
        stat = path.stat()
        digest.update(repr((stat.st_size, stat.st_mtime_ns)).encode())
    return digest.hexdigest()


def resolve_catalog(
    source: str | Path,
    *,
    catalog: Catalog | None = None,
    catalog_path: str | Path | None = None,
    release: str | None = None,
    token: str | None = None,
) -> Catalog:
    """The catalog a source is read with: the one given, else the release's, else the one
    matching the source's version.txt."""
    if catalog is not None:
        return catalog
    if catalog_path is not None:
        return load_catalog(path=catalog_path)
    if release is not None:
        return load_catalog(release)
    return open_release(source, token=token).catalog


def load_local(
    source: str | Path,
    config: str = "3-views",
    *,
    catalog: Catalog | None = None,
    catalog_path: str | Path | None = None,
    release: str | None = None,
    token: str | None = None,
    cache_dir: str | Path | None = None,
    split: str | None = None,
) -> datasets.DatasetDict | datasets.Dataset:
    """The H3DS dataset of a raw release, built locally with the H3DS builder.

    Args:
        source: release folder or official zip.
        config: '3-views', 'all-views', 'v1-3-views', ... (see :mod:`h3ds_hf.benchmark.names`).
        catalog, catalog_path, release: what the source holds (default: inferred from its
            version.txt).
        token: the zip's access token (default ``$H3DS_ACCESS_TOKEN``); never cached.
        cache_dir: datasets cache folder (default ``$HF_DATASETS_CACHE``).
        split: 'test' or 'h3d_net' for one Dataset; None for the DatasetDict of both.

    Raises:
        UnknownViewsConfigError: ``config`` is not a config of the release (lists the known).
        H3DSError: the source is incomplete or invalid (missing files, wrong image counts...).
    """
    resolved = resolve_catalog(
        source, catalog=catalog, catalog_path=catalog_path, release=release, token=token
    )
    known = dataset_configs(resolved)
    if config not in known:
        raise UnknownViewsConfigError(
            f"unknown config {config!r} for release {resolved.name} (known: {', '.join(known)})"
        )
    # The builder ships as h3ds_hf.loading_script (from the checkout's top in a source tree).
    builder_class = import_shipped("h3ds_hf.loading_script.h3ds").H3DS
    builder = builder_class.for_catalog(resolved)(
        config_name=config,
        cache_dir=None if cache_dir is None else str(cache_dir),
        source=str(Path(source).expanduser().resolve()),
        catalog_json=json.dumps(resolved.to_json_dict(), sort_keys=True),
        source_fingerprint=source_fingerprint(source),
        access_token=token,
    )
    try:
        builder.download_and_prepare()
    except datasets.exceptions.DatasetGenerationError as error:
        # datasets wraps errors raised while generating rows; surface ours unchanged.
        if isinstance(error.__cause__, H3DSError):
            raise error.__cause__ from None
        raise
    return builder.as_dataset(split=split)

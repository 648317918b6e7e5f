"""Scene catalogs: which scenes a release holds, their tags, view counts and views configs.

The two official releases ship with the package as JSON files derived from the authors'
published catalogs (see :mod:`h3ds_hf.release.derive_catalog`). A custom catalog in the
authors' TOML shape (the reference's ``config_path``) is accepted wherever a release is::

    version = 0.4
    file_md5 = "..."
    [scenes.<scene_id>]
    tags = ['h3d-net', 'sira++']
    views = 66
    [scenes.<scene_id>.default_views_configs]
    3 = [0, 18, 65]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from h3ds_hf.errors import CatalogError, UnknownSceneError, UnknownTagError, UnknownViewsConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

#: Releases shipped with the package, newest last.
RELEASES: tuple[str, ...] = ("v1", "v2")
#: The reference's names for the shipped releases (its ``config_id``).
REFERENCE_CONFIG_IDS: Mapping[str, str] = {"config_v1": "v1", "config_v2": "v2"}
CATALOG_FORMAT = "h3ds-hf-catalog/1"
#: Download address of a Google Drive file, followed by its id (the TOML's ``file_id``).
GOOGLE_DRIVE_DOWNLOAD = "https://drive.google.com/uc?export=download&id="
#: Most views (photos) a scene may have: the real scenes have 65-98.
MAX_VIEWS = 10_000


@dataclass(frozen=True)
class SceneInfo:
    """What the catalog says about one scene.

    Attributes:
        scene_id: scene identifier (a folder name of the release).
        tags: paper tags, e.g. ('h3d-net', 'sira++').
        views: number of photos (and masks and cameras) of the scene.
        views_configs: views config id (e.g. '3') -> view indices, in the published order.
    """

    scene_id: str
    tags: tuple[str, ...]
    views: int
    views_configs: Mapping[str, tuple[int, ...]]

    def views_config(self, config_id: str | int) -> tuple[int, ...]:
        """Return the view indices of a views config, e.g. ``views_config("3")``."""
        try:
            return self.views_configs[str(config_id)]
        except KeyError:
            known = ", ".join(self.views_configs) or "none"
            raise UnknownViewsConfigError(
                f"scene {self.scene_id} has no views config {config_id!r} (known: {known})"
            ) from None


@dataclass(frozen=True)
class Catalog:
    """A release description: version string, archive md5 and scenes.

    Attributes:
        name: 'v1', 'v2', or the stem of a custom catalog file.
        version: the string the release's ``version.txt`` holds (e.g. '0.4').
        md5: md5 hex digest of the official archive, or None when unknown.
        scenes: scene id -> :class:`SceneInfo`, in catalog order.
        url: where the official archive is downloaded from (the authors' Google Drive file,
            their TOML's ``file_id``), or None when unknown.
    """

    name: str
    version: str
    md5: str | None
    scenes: Mapping[str, SceneInfo] = field(default_factory=dict)
    url: str | None = None

    def scene(self, scene_id: str) -> SceneInfo:
        """Return one scene's description; :class:`UnknownSceneError` if absent."""
        try:
            return self.scenes[scene_id]
        except KeyError:
            raise UnknownSceneError(
                f"scene {scene_id!r} is not in catalog {self.name!r} "
                f"({len(self.scenes)} scene{'s' if len(self.scenes) != 1 else ''})"
            ) from None

    def tags(self) -> set[str]:
        """Every tag used by at least one scene."""
        return {tag for scene in self.scenes.values() for tag in scene.tags}

    def scene_ids(self, tags: Iterable[str] = ()) -> list[str]:
        """Scene ids carrying all of ``tags`` (all scenes when empty), in catalog order."""
        wanted = {tags} if isinstance(tags, str) else set(tags)
        unknown = wanted - self.tags()
        if unknown:
            raise UnknownTagError(
                f"unknown tag(s) {sorted(unknown)} in catalog {self.name} "
                f"(known: {sorted(self.tags())})"
            )
        return [sid for sid, scene in self.scenes.items() if wanted.issubset(scene.tags)]

    def views_config_ids(self) -> list[str]:
        """Views config ids defined by any scene, in numeric order (e.g. ['1', '3', ...])."""
        ids = {cid for scene in self.scenes.values() for cid in scene.views_configs}
        return sorted(
            ids, key=lambda cid: (not cid.isdigit(), int(cid) if cid.isdigit() else 0, cid)
        )

    def to_json_dict(self) -> dict[str, Any]:
        """The package's own JSON catalog format (see ``h3ds_hf/release/catalogs/*.json``)."""
        return {
            "format": CATALOG_FORMAT,
            "release": self.name,
            "version": self.version,
            "archive_md5": self.md5,
            "archive_url": self.url,
            "scenes": [
                {
                    "id": scene.scene_id,
                    "tags": list(scene.tags),
                    "views": scene.views,
                    "views_configs": {k: list(v) for k, v in scene.views_configs.items()},
                }
                for scene in self.scenes.values()
            ],
        }


def load_catalog(release: str | None = "v2", path: str | Path | None = None) -> Catalog:
    """Load a shipped release ('v1', 'v2', or the reference's 'config_v1'/'config_v2') or,
    when ``path`` is given, a custom catalog file (authors' TOML shape, or this package's JSON).
    """
    if path is not None:
        return _load_file(Path(path))
    name = REFERENCE_CONFIG_IDS.get(release or "v2", release or "v2")
    if name not in RELEASES:
        raise CatalogError(f"unknown release {release!r} (known: {', '.join(RELEASES)})")
    text = resources.files("h3ds_hf.release.catalogs").joinpath(f"{name}.json").read_text("utf-8")
    return catalog_from_json(json.loads(text), origin=f"release {name}")


def catalog_for_version(version: str) -> Catalog | None:
    """Return the shipped release whose version string is ``version``, or None."""
    for name in RELEASES:
        catalog = load_catalog(name)
        if catalog.version == version:
            return catalog
    return None


def _load_file(path: Path) -> Catalog:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CatalogError(f"cannot read catalog {path}: {error.strerror}") from None
    try:
        if path.suffix == ".json":
            return catalog_from_json(json.loads(raw), origin=str(path))
        return catalog_from_toml(
            tomllib.loads(raw.decode("utf-8")), name=path.stem, origin=str(path)
        )
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise CatalogError(f"catalog {path} is not valid: {error}") from None


def catalog_from_toml(data: Mapping[str, Any], *, name: str, origin: str) -> Catalog:
    """Build a catalog from the authors' TOML shape (already parsed)."""
    if "version" not in data or not isinstance(data.get("scenes"), Mapping):
        raise CatalogError(f"catalog {origin} needs 'version' and a [scenes] table")
    scenes = {
        str(sid): _scene(
            str(sid),
            entry.get("tags", []),
            entry.get("views"),
            entry.get("default_views_configs", {}),
            origin,
        )
        for sid, entry in _tables(data["scenes"].items(), origin)
    }
    md5 = data.get("file_md5") or None
    file_id = data.get("file_id")
    url = f"{GOOGLE_DRIVE_DOWNLOAD}{file_id}" if isinstance(file_id, str) and file_id else None
    return Catalog(name=name, version=str(data["version"]), md5=md5, scenes=scenes, url=url)


def catalog_from_json(data: Mapping[str, Any], *, origin: str) -> Catalog:
    """Build a catalog from this package's JSON format."""
    if not isinstance(data, Mapping) or data.get("format") != CATALOG_FORMAT:
        raise CatalogError(f"catalog {origin} is not in format {CATALOG_FORMAT}")
    if not isinstance(data.get("scenes"), list) or not all(
        isinstance(entry, Mapping) and "id" in entry for entry in data["scenes"]
    ):
        raise CatalogError(f"catalog {origin}: 'scenes' must be a list of objects with an 'id'")
    if "release" not in data or "version" not in data:
        raise CatalogError(f"catalog {origin} needs 'release' and 'version'")
    scenes = {
        str(entry["id"]): _scene(
            str(entry["id"]),
            entry.get("tags", []),
            entry.get("views"),
            entry.get("views_configs", {}),
            origin,
        )
        for entry in data["scenes"]
    }
    return Catalog(
        name=str(data["release"]),
        version=str(data["version"]),
        md5=data.get("archive_md5") or None,
        scenes=scenes,
        url=data.get("archive_url") or None,
    )


def _tables(items: Iterable[tuple[Any, Any]], origin: str) -> Iterable[tuple[Any, Mapping]]:
    """The (scene id, entry) pairs of a TOML [scenes] table, refusing entries that are not
    tables themselves."""
    for scene_id, entry in items:
        if not isinstance(entry, Mapping):
            raise CatalogError(f"catalog {origin}, scene {scene_id}: expected a table")
        yield scene_id, entry


def _scene(scene_id: str, tags: Any, views: Any, configs: Any, origin: str) -> SceneInfo:
    where = f"catalog {origin}, scene {scene_id}"
    if not scene_id or "/" in scene_id or "\\" in scene_id or scene_id in {".", ".."}:
        raise CatalogError(f"{where}: invalid scene id")
    if not isinstance(views, int) or isinstance(views, bool) or not 0 < views <= MAX_VIEWS:
        raise CatalogError(
            f"{where}: 'views' must be a positive integer up to {MAX_VIEWS}, got {views!r}"
        )
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise CatalogError(f"{where}: 'tags' must be a list of strings")
    if not isinstance(configs, Mapping):
        raise CatalogError(f"{where}: default_views_configs must be a table")
    views_configs: dict[str, tuple[int, ...]] = {}
    for config_id, indices in configs.items():
        if not re.fullmatch(r"[0-9]{1,4}", str(config_id)) or int(config_id) <= 0:
            raise CatalogError(
                f"{where}: views config ids are numbers of views (e.g. 3), got {config_id!r}"
            )
        if not isinstance(indices, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i < views for i in indices
        ):
            raise CatalogError(
                f"{where}: views config {config_id} must list view indices in [0, {views})"
            )
        views_configs[str(config_id)] = tuple(indices)
    return SceneInfo(scene_id=scene_id, tags=tuple(tags), views=views, views_configs=views_configs)

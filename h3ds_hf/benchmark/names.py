"""Names that tie the dataset, the evaluation results and the Hub cards together.

The Hub dataset's configs are views configs ('3-views', 'v1-3-views', 'all-views'), its splits
are scene sets ('test', 'h3d_net'), and the benchmark's tasks are one per region and views
config ('face_chamfer_3views'). Every module that writes or reads these names uses the functions
below, so that a model card's results always point at existing dataset tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from h3ds_hf.release.catalog import Catalog

#: Config holding every view of every scene.
ALL_VIEWS = "all-views"
#: Default config of the Hub dataset (the paper's headline setting).
DEFAULT_CONFIG = "3-views"
#: Reported regions: 'face' = GT region face_sphere, 'head' = the full head.
REPORTED_REGIONS: tuple[str, ...] = ("face", "head")
#: Split name -> scene tag it selects (None = every scene of the release).
SPLITS: dict[str, str | None] = {"test": None, "h3d_net": "h3d-net"}
#: Official releases whose config names and task ids carry their name ('v1-3-views'); the
#: newest release (v2) and custom catalogs do not.
PREFIXED_RELEASES = frozenset({"v1"})

#: ``--report-scenes`` choices: the worst, median and best scene of each views config, or all.
SCENE_CHOICES: tuple[str, ...] = ("extremes", "all")

_CONFIG_NAME = re.compile(r"^(?:(v\d+)-)?(?:(\d+)-views|(all)-views)$")


@dataclass(frozen=True)
class ConfigName:
    """A parsed dataset config name.

    Attributes:
        release: 'v1' for prefixed names, None for unprefixed ones (v2 or a custom catalog).
        views_config: views config id ('3'), or None for all views.
    """

    release: str | None
    views_config: str | None


def config_name(release: str, views_config: str | None) -> str:
    """Dataset config name of a views config: ('v2', '3') -> '3-views', ('v1', '3') ->
    'v1-3-views', (any, None) -> 'all-views' (prefixed for v1)."""
    base = ALL_VIEWS if views_config is None else f"{views_config}-views"
    return f"{release}-{base}" if release in PREFIXED_RELEASES else base


def parse_config_name(name: str) -> ConfigName:
    """Inverse of :func:`config_name`; ValueError for names of another shape."""
    match = _CONFIG_NAME.match(name)
    if match is None:
        raise ValueError(f"{name!r} is not a config name like '3-views', 'v1-3-views', 'all-views'")
    release, views, _all = match.groups()
    return ConfigName(release=release, views_config=views)


def config_sort_key(name: str) -> tuple[str, float]:
    """Orders config names by release, then numerically by views ('all-views' last):
    1, 3, 4, 6, 8, 16, 32, all, never as text (1, 16, 3, 32, ...)."""
    parsed = parse_config_name(name)
    views = float("inf") if parsed.views_config is None else int(parsed.views_config)
    return (parsed.release or "", views)


def config_names(catalog: Catalog) -> list[str]:
    """Every config of a release: one per views config, then all views."""
    configs = [config_name(catalog.name, views) for views in catalog.views_config_ids()]
    return [*configs, config_name(catalog.name, None)]


def task_id(region: str, release: str, views_config: str) -> str:
    """Benchmark task id: ('face', 'v2', '3') -> 'face_chamfer_3views';
    ('head', 'v1', '3') -> 'head_chamfer_v1_3views'."""
    prefix = f"{release}_" if release in PREFIXED_RELEASES else ""
    return f"{region}_chamfer_{prefix}{views_config}views"

"""``h3ds-hf info SOURCE``: what a release (or the Hub dataset) holds and what it lacks."""

from __future__ import annotations

import argparse
from collections import Counter
from typing import TYPE_CHECKING

from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments

if TYPE_CHECKING:
    from h3ds_hf.benchmark.batch import GroundTruthSource

#: Missing files listed by name before the rest is only counted.
SHOWN_MISSING = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a release (folder, zip or the Hub dataset) and list missing files",
        description="Describe an H3DS source: a raw release (folder, or zip with "
        "$H3DS_ACCESS_TOKEN), a prepared or downloaded Hub folder, or the Hub dataset "
        "(ORG/NAME[@REVISION], hf://datasets/ORG/NAME): release, version, scenes, tags, "
        "views configs, and for a raw release the files that are missing.",
    )
    parser.add_argument(
        "source", metavar="SOURCE", help="release folder or zip, Hub folder, or ORG/NAME"
    )
    add_source_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported when run, and only what the source needs (open_ground_truth imports lazily).
    from h3ds_hf.hub.ground_truth import open_ground_truth
    from h3ds_hf.release.reader import Release

    opened = open_ground_truth(args.source, catalog=catalog_from_arguments(args))
    if not isinstance(opened, Release):
        return _describe_dataset(opened)
    release = opened
    catalog = release.catalog
    tags = Counter(tag for scene in catalog.scenes.values() for tag in scene.tags)
    views = [scene.views for scene in catalog.scenes.values()]
    print(f"source:        {release.source.description}")
    print(f"release:       {catalog.name!r} (catalog version {catalog.version})")
    print(f"version.txt:   {release.version}")
    print(f"scenes:        {len(catalog.scenes)} ({min(views)}-{max(views)} views each)")
    print("tags:          " + ", ".join(f"{tag} ({n})" for tag, n in sorted(tags.items())))
    print(f"views configs: {', '.join(catalog.views_config_ids())}")
    missing = release.missing()
    if release.version != catalog.version:
        print(f"warning: version.txt says {release.version}, the catalog {catalog.version}")
    if not missing:
        print("missing:       nothing, the release is complete")
        return 0
    print(f"missing:       {len(missing)} file(s)")
    for name in missing[:SHOWN_MISSING]:
        print(f"  {name}")
    if len(missing) > SHOWN_MISSING:
        print(f"  ... and {len(missing) - SHOWN_MISSING} more")
    return 1


def _describe_dataset(source: GroundTruthSource) -> int:
    """A prepared folder or the Hub dataset: what its Parquet files say."""
    catalog = source.catalog
    tags = Counter(tag for scene in catalog.scenes.values() for tag in scene.tags)
    views = [scene.views for scene in catalog.scenes.values()]
    print(f"source:        {source.description}")
    revision = getattr(source, "revision", None)
    if revision:
        print(f"revision:      {revision}")
    print(f"release:       {catalog.name} (catalog version {catalog.version})")
    print(f"scenes:        {len(catalog.scenes)} ({min(views)}-{max(views)} views each)")
    print("tags:          " + ", ".join(f"{tag} ({n})" for tag, n in sorted(tags.items())))
    print(f"views configs: {', '.join(catalog.views_config_ids()) or 'none'}")
    return 0

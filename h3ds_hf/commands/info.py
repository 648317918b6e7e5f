"""``h3ds-hf info SOURCE``: what a release folder or zip holds and what it lacks."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from h3ds_hf.commands.common import add_source_arguments, open_release_from_arguments

#: Missing files listed by name before the rest is only counted.
SHOWN_MISSING = 20


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "info",
        help="describe a raw release (folder or zip) and list missing files",
        description="Describe a raw H3DS release (folder, or zip with $H3DS_ACCESS_TOKEN): "
        "release, version, scenes, tags, views configs, and the files that are missing.",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="release folder or zip")
    add_source_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    release = open_release_from_arguments(args.source, args)
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

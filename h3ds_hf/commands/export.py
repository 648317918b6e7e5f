"""``h3ds-hf export SOURCE --views 3 --format colmap|nerfstudio|idr --output DIR``."""

from __future__ import annotations

import argparse
from pathlib import Path

from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments, views_argument
from h3ds_hf.export.names import FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export scenes for COLMAP, nerfstudio or IDR / NeuS",
        description="Write the views of a views config, one folder per scene under DIR: the "
        "photos as published (bytes copied) and the masks under their release names, and the "
        "cameras as the format wants them (colmap: sparse/0/*.txt, PINHOLE; nerfstudio: "
        "transforms.json, OpenGL camera-to-world; idr: cameras.npz and cameras_sphere.npz). "
        "SOURCE is a raw release (folder, or zip with $H3DS_ACCESS_TOKEN) or a prepared or "
        "downloaded Hub dataset folder. The GT scan is written only with --with-gt.",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="release or Hub folder")
    parser.add_argument(
        "--scene",
        action="append",
        metavar="ID",
        help="scene to export (repeatable; default: every scene of the views config)",
    )
    parser.add_argument(
        "--views", type=views_argument, required=True, metavar="3|all", help="views config"
    )
    parser.add_argument("--format", choices=FORMATS, required=True)
    parser.add_argument("--output", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--normalized",
        action="store_true",
        help="cameras (and GT) in the unit sphere of scale_mat_0 (colmap, nerfstudio)",
    )
    parser.add_argument(
        "--with-gt",
        action="store_true",
        help="also write the GT scan (full_head.obj; colmap: its visible vertices as points3D)",
    )
    add_source_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported when run: the exporters and the scene readers are not needed for --help.
    from h3ds_hf.export.scene import ExportOptions, export_scenes
    from h3ds_hf.hub.views import open_scene_views

    options = ExportOptions(args.format, normalized=args.normalized, with_gt=args.with_gt)
    source = open_scene_views(args.source, catalog=catalog_from_arguments(args))
    folders = export_scenes(
        source, args.scene, args.views, args.output, options, progress=not args.no_progress
    )
    for folder in folders:
        print(folder)
    print(f"exported {len(folders)} scene(s) in {args.format} format to {args.output}")
    return 0

"""``h3ds-hf check SOURCE``: the GT scan rendered through every camera, compared with the masks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from h3ds_hf.atomic import atomic_write_text
from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments, views_argument
from h3ds_hf.export.names import MIN_IOU


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check every camera against its mask (IoU of the rendered GT scan)",
        description="Render the GT scan through each view's camera (z-buffer) and compare the "
        "silhouette with the view's mask: IoU and mean outline distance in pixels. Prints one "
        "line per scene and the views below --min-iou; exits 0 unless --strict and some view "
        "is flagged. SOURCE is a raw release (folder, or zip with $H3DS_ACCESS_TOKEN) or a "
        "prepared or downloaded Hub dataset folder (holding the views asked for).",
    )
    parser.add_argument("source", type=Path, metavar="SOURCE", help="release or Hub folder")
    parser.add_argument(
        "--scene", action="append", metavar="ID", help="scene to check (repeatable; default: all)"
    )
    parser.add_argument(
        "--views",
        type=views_argument,
        default=None,
        metavar="all|3|...",
        help="views config to check (default: all views)",
    )
    parser.add_argument(
        "--min-iou",
        type=float,
        default=MIN_IOU,
        metavar="X",
        help=f"flag views whose IoU is below X (default {MIN_IOU})",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="scenes checked in parallel"
    )
    parser.add_argument("--output", type=Path, metavar="report.json", help="write the report")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when some view is flagged"
    )
    add_source_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Imported when run: the renderer and the scene readers are not needed for --help.
    from h3ds_hf.export.check import check_cameras
    from h3ds_hf.hub.views import open_scene_views

    source = open_scene_views(args.source, catalog=catalog_from_arguments(args))
    report = check_cameras(
        source,
        args.scene,
        args.views,
        min_iou=args.min_iou,
        jobs=args.jobs,
        progress=not args.no_progress,
    )
    print(f"release {report.release}, views {report.views_config}: GT silhouette vs mask")
    print(report.table())
    flagged = [
        (scene.scene_id, view) for scene in report.scenes for view in scene.views if view.flagged
    ]
    total = sum(len(scene.views) for scene in report.scenes)
    print(
        f"flagged: {len(flagged)} of {total} view(s) in {len(report.flagged_scenes)} of "
        f"{len(report.scenes)} scene(s) below IoU {report.min_iou}"
    )
    for scene_id, view in flagged:
        outline = "-" if view.outline_px is None else f"{view.outline_px:.2f} px"
        print(f"  {scene_id} view {view.view}: IoU {view.iou:.3f}, outline {outline}")
    if args.output is not None:
        atomic_write_text(args.output, json.dumps(report.to_json_dict(), indent=2) + "\n")
        print(f"report: {args.output}")
    return 1 if args.strict and flagged else 0

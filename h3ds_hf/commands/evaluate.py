"""``h3ds-hf evaluate``: score a folder of reconstructions and print the paper's table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from h3ds_hf.benchmark.names import REPORTED_REGIONS, SCENE_CHOICES
from h3ds_hf.benchmark.report import format_table
from h3ds_hf.commands.common import add_source_arguments, catalog_from_arguments
from h3ds_hf.errors import H3DSError
from h3ds_hf.evaluation.protocols import ALIGNMENTS, PROTOCOLS

#: Missing or failed predictions listed by name before the rest is only counted.
SHOWN = 20


def _comma_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="score reconstructions ({scene_id}_{views}.ply) against a release",
        description="Score a folder of reconstructions named {scene_id}_{views_config}.ply "
        "(or .obj/.glb; optional {scene_id}_{views_config}.landmarks.json) against an H3DS "
        "release, write results JSON + CSV, and print the 'face / head' table (mm).",
    )
    parser.add_argument(
        "--source",
        required=True,
        help="raw release (folder or zip), a folder written by h3ds-hf prepare or downloaded "
        "from the Hub dataset, or the Hub dataset itself: ORG/NAME[@REVISION] or "
        "hf://datasets/ORG/NAME (only the ground-truth columns are read)",
    )
    parser.add_argument(
        "--predictions",
        type=Path,
        nargs="+",
        required=True,
        metavar="DIR",
        help="folder(s) of reconstructions, one per method (or one parent folder of method "
        "folders); several methods print one row each and write RESULTS.{method}.json",
    )
    add_source_arguments(parser)
    parser.add_argument(
        "--views",
        type=_comma_list,
        metavar="3,4,...",
        help="views configs to score (default: those the predictions folder has files for)",
    )
    parser.add_argument("--tags", type=_comma_list, default=[], metavar="h3d-net,...")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="h3ds")
    parser.add_argument(
        "--alignment",
        choices=ALIGNMENTS,
        default="similarity",
        help="surface protocol only: fit scale or not",
    )
    parser.add_argument("--regions", type=_comma_list, default=list(REPORTED_REGIONS))
    parser.add_argument(
        "--jobs",
        type=int,
        help="scenes scored in parallel processes, sharing the cores (default: one per core, "
        "at most 8, when the predictions add up to 100 MB, else 1)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="score the scenes on this Dask cluster (needs the 'dask' extra: "
        "pip install 'h3ds-hf[dask]')",
    )
    parser.add_argument("--heatmaps", type=Path, metavar="DIR", help="write error heatmaps (PLY)")
    parser.add_argument(
        "--report",
        type=Path,
        metavar="DIR",
        help="write an HTML report (index.html, heatmap and curve PNGs) into DIR",
    )
    parser.add_argument(
        "--clip-mm",
        type=float,
        metavar="MM",
        help="report colour clip for every region (default: per region, the run's 95th "
        "percentile GT -> prediction distance, rounded up)",
    )
    parser.add_argument(
        "--report-scenes",
        choices=SCENE_CHOICES,
        default="extremes",
        help="pairs drawn in the report: worst / median / best per views config, or all",
    )
    parser.add_argument("--output", type=Path, required=True, metavar="results.json")
    parser.add_argument("--method", help="row name in the table (default: the folder's name)")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="average over the scenes that were scored even if some are missing or failed",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="refuse files of the predictions folder that match no expected name (a wrong "
        "separator, _3views, _landmarks.json) instead of warning about them",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(handler=run, evaluate_parser=parser)


def run(args: argparse.Namespace) -> int:
    # Imported when run: the kernels (numba) and the readers are not needed for --help.
    from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
    from h3ds_hf.benchmark.compare import compare, write_comparison
    from h3ds_hf.benchmark.html_report import write_report
    from h3ds_hf.benchmark.methods import method_folders
    from h3ds_hf.hub.ground_truth import open_ground_truth

    if args.jobs is not None and args.jobs < 1:
        args.evaluate_parser.error("--jobs must be at least 1")
    if args.clip_mm is not None and not args.clip_mm > 0:
        args.evaluate_parser.error("--clip-mm must be > 0")
    if args.protocol == "h3ds" and args.alignment != "similarity":
        args.evaluate_parser.error(
            f"--alignment {args.alignment} needs --protocol surface (the h3ds protocol always "
            "fits a similarity)"
        )
    methods = method_folders(args.predictions)
    several = len(methods) > 1
    if several and args.method:
        args.evaluate_parser.error("--method names one method; several are named by their folders")
    source = open_ground_truth(args.source, catalog=catalog_from_arguments(args))
    runs, written = [], []
    with _dask_client(args.scheduler) as client:
        for name, folder in methods:
            heatmaps = args.heatmaps / name if several and args.heatmaps else args.heatmaps
            options = EvaluationOptions(
                args.protocol, tuple(args.regions), args.alignment, heatmaps
            )
            run_ = evaluate_folder(
                source,
                folder,
                views_configs=args.views,
                tags=args.tags,
                options=options,
                jobs=args.jobs,
                progress=not args.no_progress,
                method=args.method or name,
                client=client,
                strict=args.strict,
            )
            if args.allow_missing:
                run_ = run_.with_missing_allowed()
            output = args.output
            if several:
                output = output.with_name(f"{output.stem}.{name}{output.suffix or '.json'}")
            written.append(run_.write(output))
            if args.report:
                report = args.report / name if several else args.report
                write_report(
                    run_, source, folder, report, options, clip_mm=args.clip_mm,
                    scenes=args.report_scenes,
                )  # fmt: skip
            runs.append(run_)
    first = runs[0]
    print(
        f"protocol {first.protocol}, release {first.release!r}: mean GT -> prediction distance "
        "(mm), cells face / head"
    )
    print(format_table(runs))
    for run_ in runs:
        prefix = f"{run_.method}: " if several else ""
        _list(f"{prefix}missing", run_.missing)
        _list(f"{prefix}failed", run_.failed)
    if any(r.missing or r.failed for r in runs) and not args.allow_missing:
        print(
            "incomplete views configs are not averaged; pass --allow-missing to average "
            "over the scenes that were scored",
            file=sys.stderr,
        )
    for json_path, csv_path in written:
        print(f"results: {json_path} and {csv_path}")
    if args.heatmaps:
        print(f"heatmaps: {args.heatmaps}")
    if args.report:
        page = args.report / "index.html"
        if several:  # the methods side by side, each one's own page linked below it
            comparison = compare([r.to_dict() for r in runs], [str(p) for p, _ in written])
            page, _ = write_comparison(comparison, args.report, links={
                r.method: f"{r.method}/index.html" for r in runs
            })  # fmt: skip
        print(f"report: {page}")
    return 0 if any(r.status == "ok" for run_ in runs for r in run_.results) else 1


@contextmanager
def _dask_client(address: str | None) -> Iterator[Any]:
    """A ``dask.distributed.Client`` connected to ``address`` (closed at the end), or None."""
    if address is None:
        yield None
        return
    try:
        from distributed import Client
    except ImportError as error:
        raise H3DSError("--scheduler needs Dask: pip install 'h3ds-hf[dask]'") from error
    try:
        client = Client(address, timeout="10s")
    except OSError as error:
        raise H3DSError(f"cannot reach the Dask scheduler at {address}: {error}") from error
    with client:
        yield client


def _list(what: str, rows: list) -> None:
    if not rows:
        return
    print(f"{what}: {len(rows)} prediction(s)", file=sys.stderr)
    for row in rows[:SHOWN]:
        reason = "" if what == "missing" else f": {row.reason}"
        print(f"  {row.scene_id}_{row.views_config}{reason}", file=sys.stderr)
    if len(rows) > SHOWN:
        print(f"  ... and {len(rows) - SHOWN} more", file=sys.stderr)

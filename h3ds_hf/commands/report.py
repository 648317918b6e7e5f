"""``h3ds-hf report``: compare results files with each other and the published baselines."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="compare results files with every published baseline (HTML + Markdown)",
        description="Put the methods of several results files (written by h3ds-hf evaluate, "
        "one release and protocol) side by side with the published baselines: DIR/index.html "
        "with cumulative error curves, and DIR/table.md.",
    )
    parser.add_argument("results", type=Path, nargs="+", metavar="RESULTS.json")
    parser.add_argument("--output", type=Path, required=True, metavar="DIR")
    parser.add_argument(
        "--method",
        action="append",
        default=[],
        metavar="NAME",
        help="row name of each results file, in order (default: the file's method)",
    )
    parser.set_defaults(handler=run, report_parser=parser)


def run(args: argparse.Namespace) -> int:
    # Imported when run: the renderer and matplotlib are not needed for --help.
    from h3ds_hf.benchmark.compare import compare, write_comparison
    from h3ds_hf.benchmark.report import load_results

    if len(args.method) > len(args.results):
        args.report_parser.error("more --method names than results files")
    results = [load_results(path) for path in args.results]
    comparison = compare(results, [str(path) for path in args.results], args.method)
    page, markdown = write_comparison(comparison, args.output)
    print(comparison.markdown())
    print(f"report: {page}")
    print(f"markdown: {markdown}")
    return 0

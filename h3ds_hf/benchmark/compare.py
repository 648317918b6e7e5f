"""``h3ds-hf report``: methods side by side with every published baseline, as HTML and Markdown.

One row per results file (:func:`~h3ds_hf.benchmark.report.load_results`) and one per
published method of the release (:data:`~h3ds_hf.benchmark.published.PUBLISHED_RESULTS`,
marked "published"); a column per views config; cells "face / head", the mean GT -> prediction
distance in mm. The best face and the best head figure of each column are marked (bold). For
a custom catalog (e.g. the synthetic release) every release's published rows are shown for
reference, and the best is marked only among the rows of the run's own release. Methods are
compared on one release and one protocol only: anything else is refused.

Written into the output folder: ``index.html`` (the table and the curves), ``table.md`` (the
same table in Markdown, for a model card or a paper) and ``curves_{views}_{region}.png``:
cumulative error curves of every method that kept distance histograms, one plot per views
config and region (published results have no curve).
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from h3ds_hf.atomic import atomic_write_bytes, atomic_write_text
from h3ds_hf.benchmark.figures import curves_figure
from h3ds_hf.benchmark.histograms import cumulative_curve
from h3ds_hf.benchmark.html_report import CURVE_RANGES_MM
from h3ds_hf.benchmark.names import REPORTED_REGIONS
from h3ds_hf.benchmark.published import PUBLISHED_RESULTS, published_views_configs
from h3ds_hf.errors import H3DSError

#: What a row is, in the table's "source" column.
PUBLISHED = "published"


@dataclass(frozen=True)
class ComparedRow:
    """One table row: ``cells`` maps a views config to (face, head) in mm (None: not
    reported or incomplete); ``source`` is a file name or :data:`PUBLISHED`."""

    method: str
    source: str
    release: str
    cells: dict[str, tuple[float | None, float | None]]

    @property
    def published(self) -> bool:
        return self.source == PUBLISHED


@dataclass(frozen=True)
class Comparison:
    """The rows of every method and published baseline on one release and protocol."""

    release: str
    protocol: str
    views_configs: list[str]
    rows: list[ComparedRow]
    results: list[Mapping[str, Any]]

    def best(self, config: str, region: int) -> float | None:
        """Smallest figure of a column (region 0 = face, 1 = head) among the rows of the
        run's own release."""
        values = [
            row.cells[config][region]
            for row in self.rows
            if row.release == self.release and config in row.cells
        ]
        values = [v for v in values if v is not None]
        return min(values) if values else None

    def markdown(self) -> str:
        """The table in Markdown, best figures in bold."""
        lines = [
            "| method | source | " + " | ".join(f"{c} views" for c in self.views_configs) + " |",
            "|---|---|" + "---|" * len(self.views_configs),
        ]
        for row in self.rows:
            cells = [self._cell(row, c, "**{}**") for c in self.views_configs]
            lines.append(f"| {row.method} | {row.source} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def _cell(self, row: ComparedRow, config: str, bold: str) -> str:
        if config not in row.cells:
            return "—"
        texts = []
        for region, value in enumerate(row.cells[config]):
            if value is None:
                texts.append("—")
                continue
            text = f"{value:.2f}"
            best = row.release == self.release and value == self.best(config, region)
            texts.append(bold.format(text) if best else text)
        return " / ".join(texts)


def compare(
    results: Sequence[Mapping[str, Any]], sources: Sequence[str], names: Sequence[str] = ()
) -> Comparison:
    """Rows of the results files (``sources``: their names) and of the published baselines.

    Args:
        results: loaded results files; names: method names overriding the files' own, in
            order (fewer than the files: the rest keep theirs).

    Raises:
        H3DSError: the files are not of one release and protocol, or no file is given.
    """
    if not results:
        raise H3DSError("no results file to compare")
    first = results[0]
    for data, source in zip(results[1:], sources[1:], strict=True):
        if (data["release"], data["protocol"]) != (first["release"], first["protocol"]):
            raise H3DSError(
                f"cannot compare {source} (release {data['release']}, protocol "
                f"{data['protocol']}) with {sources[0]} (release {first['release']}, protocol "
                f"{first['protocol']}): methods are compared on one release and protocol"
            )
    release = first["release"]
    rows = [
        ComparedRow(
            names[k] if k < len(names) else str(data["method"]),
            Path(source).name,
            release,
            {config: _summary_cell(data, config) for config in data["views_configs"]},
        )
        for k, (data, source) in enumerate(zip(results, sources, strict=True))
    ]
    releases = [release] if release in PUBLISHED_RESULTS else list(PUBLISHED_RESULTS)
    for published_release in releases:
        methods: dict[str, dict[str, tuple[float | None, float | None]]] = {}
        for cell in PUBLISHED_RESULTS[published_release]:
            methods.setdefault(cell.method, {})[cell.views_config] = (cell.face_mm, cell.head_mm)
        label = "{}" if published_release == release else f"{{}} ({published_release})"
        rows += [
            ComparedRow(label.format(method), PUBLISHED, published_release, cells)
            for method, cells in methods.items()
        ]
    configs = {c for data in results for c in data["views_configs"]}
    for published_release in releases:
        configs.update(published_views_configs(published_release))
    return Comparison(release, first["protocol"], sorted(configs, key=int), rows, list(results))


def write_comparison(
    comparison: Comparison, folder: str | Path, links: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """Write ``index.html``, ``table.md`` and the curves into ``folder``; return the page's
    and the Markdown's paths. ``links``: method -> relative link of its own report page."""
    folder = Path(folder)
    markdown = atomic_write_text(folder / "table.md", comparison.markdown() + "\n")
    curves = []
    for config in comparison.views_configs:
        for region in REPORTED_REGIONS:
            plotted = {}
            for row, data in zip(comparison.rows, comparison.results, strict=False):
                records = [
                    r["regions"][region]["histograms"]
                    for r in data["results"]
                    if r["views_config"] == config
                    and r["status"] == "ok"
                    and "histograms" in r["regions"].get(region, {})
                ]
                if records:
                    plotted[row.method] = cumulative_curve(records, CURVE_RANGES_MM[region])
            if plotted:
                title = f"{config} views, {region} ({comparison.protocol} protocol)"
                name = f"curves_{config}_{region}.png"
                atomic_write_bytes(
                    folder / name, curves_figure(plotted, CURVE_RANGES_MM[region], title)
                )
                curves.append(name)
    page = atomic_write_text(folder / "index.html", _page(comparison, curves, links or {}))
    return page, markdown


def _summary_cell(data: Mapping[str, Any], config: str) -> tuple[float | None, float | None]:
    summary = data["summary"].get(config, {})
    face, head = (summary.get(f"{r}_chamfer_mm") for r in REPORTED_REGIONS)
    return face, head


def _page(comparison: Comparison, curves: list[str], links: Mapping[str, str]) -> str:
    e = html.escape
    head = "".join(
        f"<th>{e(h)}</th>"
        for h in ["method", "source", *(f"{c} views" for c in comparison.views_configs)]
    )
    body = []
    for row in comparison.rows:
        cells = "".join(
            f"<td>{comparison._cell(row, c, '<b>{}</b>')}</td>" for c in comparison.views_configs
        )
        kind = ' class="published"' if row.published else ""
        name = e(row.method)
        if row.method in links and not row.published:
            name = f'<a href="{e(links[row.method])}">{name}</a>'
        body.append(f"<tr{kind}><td>{name}</td><td>{e(row.source)}</td>{cells}</tr>")
    note = (
        ""
        if comparison.release in PUBLISHED_RESULTS
        else f"<p>The published rows are on the official releases, not on {e(comparison.release)}:"
        " shown for reference, never marked best.</p>"
    )
    images = "".join(f'<img src="{e(name)}" alt="{e(name)}">' for name in curves)
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>h3ds-hf comparison</title>',
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}"
        "tr.published{color:#555;font-style:italic}img{max-width:48%;margin:0.5em}</style>",
        "</head><body>",
        f"<h1>Release {e(comparison.release)}, {e(comparison.protocol)} protocol</h1>",
        "<p>Cells are <b>face / head</b>: mean GT &rarr; prediction distance over scenes, mm. "
        "Bold: the best of the column. Rows marked <i>published</i> are the authors' numbers "
        "(h3ds protocol).</p>",
        note,
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>",
        "<h2>Cumulative errors</h2>",
        "<p>GT vertices within d mm, pooled over each method's scenes (published results "
        "have no curves).</p>",
        images,
        "</body></html>",
        "",
    ])  # fmt: skip

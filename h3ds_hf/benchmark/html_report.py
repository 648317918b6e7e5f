"""``evaluate --report DIR``: one run as a self-contained HTML page with PNG figures beside it.

``DIR/index.html`` (relative links only, no JavaScript; opens from disk, a Hub repo or a Space)
holds the face / head table per views config and per scene, rendered heatmaps of the drawn
pairs (``DIR/heatmaps/{scene}_{views}.{region}.{gt,pred}.png``: the GT coloured by its
distance to the prediction and the aligned prediction by its distance to the GT, from the
front, left and right, with a colour bar in mm), cumulative error curves per region
(``DIR/curves_{region}.png``: fraction of GT vertices within d mm, pooled over the scenes of
each views config) and the alignment diagnostics of every pair.

The heatmaps show the protocol's own distances (nearest vertex for "h3ds", closest surface
point for "surface"): each drawn pair is scored again with the run's options, keeping the
per-vertex distances. Vertices outside the region's scored points are grey. The clip of a
region is :func:`~h3ds_hf.render.colours.default_clip_mm` of the run's 95th percentile GT ->
prediction distance in that region, unless one is given.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from h3ds_hf.atomic import atomic_write_bytes, atomic_write_text
from h3ds_hf.benchmark.batch import EvaluationOptions, GroundTruthSource
from h3ds_hf.benchmark.figures import curves_figure, heatmap_figure
from h3ds_hf.benchmark.heatmaps import RescoredPair, region_clips, rescored_pairs, vertex_errors
from h3ds_hf.benchmark.histograms import cumulative_curve
from h3ds_hf.benchmark.names import REPORTED_REGIONS, SCENE_CHOICES
from h3ds_hf.benchmark.report import EvaluationRun, ScoredPrediction
from h3ds_hf.errors import H3DSError
from h3ds_hf.render.colours import CLIP_PERCENTILE, error_colours
from h3ds_hf.render.heatmap import VIEWS, ViewFrame, render_view, view_frame
from h3ds_hf.render.raster import coherent_order
from h3ds_hf.scene import GroundTruth

#: Range of the cumulative curves per region (mm): NoW's 0-8 mm for the face; heads err more.
CURVE_RANGES_MM: dict[str, float] = {"face": 8.0, "head": 20.0}


def drawn_pairs(run: EvaluationRun, scenes: str = "extremes") -> list[ScoredPrediction]:
    """The scored pairs the report draws: all, or per views config the scenes of the worst,
    median and best GT -> prediction distance (of the head when scored, else of the face)."""
    if scenes not in SCENE_CHOICES:
        raise H3DSError(f"report scenes must be one of {SCENE_CHOICES}, got {scenes!r}")
    scored = [r for r in run.results if r.status == "ok"]
    if scenes == "all":
        return scored
    key = run.regions[-1] if "head" not in run.regions else "head"
    drawn: list[ScoredPrediction] = []
    for config in run.views_configs:
        rows = sorted(
            (r for r in scored if r.views_config == config),
            key=lambda r: r.regions[key]["gt_to_pred_mm"],
        )
        if rows:
            picks = (rows[-1], rows[(len(rows) - 1) // 2], rows[0])  # worst, median, best
            drawn += [r for k, r in enumerate(picks) if r not in picks[:k]]
    return drawn


def write_report(
    run: EvaluationRun,
    source: GroundTruthSource,
    predictions: str | Path,
    folder: str | Path,
    options: EvaluationOptions,
    *,
    clip_mm: float | None = None,
    scenes: str = "extremes",
    size: int = 512,
) -> Path:
    """Write ``folder/index.html`` and its PNGs for a run; return the page's path.

    Args:
        run: what :func:`~h3ds_hf.benchmark.batch.evaluate_folder` returned.
        source: the ground truth it was scored against; predictions: its folder.
        options: the run's protocol, regions and alignment (the drawn pairs are rescored).
        clip_mm: one clip (mm) for every region instead of the per-region default.
        scenes: "extremes" (worst / median / best per views config) or "all".
        size: width and height of each rendered view (pixels).
    """
    folder = Path(folder)
    clips = region_clips(run, clip_mm)
    pairs = drawn_pairs(run, scenes)
    figures = []
    frames: dict[str, tuple[ViewFrame, np.ndarray]] = {}
    for pair in rescored_pairs(
        pairs, source.ground_truth, Path(predictions), protocol=options.protocol,
        regions=options.regions, alignment=options.alignment,
    ):  # fmt: skip
        if pair.gt.scene_id not in frames:  # one frame and drawing order per scene
            frames = {
                pair.gt.scene_id: (
                    head_frame(pair.gt),
                    coherent_order(pair.gt.vertices, pair.gt.faces),
                )
            }
        figures += _draw_pair(pair, *frames[pair.gt.scene_id], folder, clips, size)
    curves = _write_curves(run, folder)
    clip_note = (
        "given with --clip-mm"
        if clip_mm is not None
        else f"the run's {CLIP_PERCENTILE:g}th percentile GT → prediction distance, rounded up"
    )
    page = _page(run, clips, pairs, scenes, figures, curves, clip_note)
    return atomic_write_text(folder / "index.html", page)


def head_frame(gt: GroundTruth) -> ViewFrame:
    """The views of a scan: front towards its nose tip, up from the lips to the eyes."""
    points = {name: gt.vertices[index] for name, index in gt.landmarks.items()}
    try:
        up = (points["left_eye"] + points["right_eye"]) / 2
        up = up - (points["left_lips"] + points["right_lips"]) / 2
        return view_frame(gt.vertices, points["nose_tip"], up)
    except KeyError:  # no landmarks: the release's axes (face along +z, y up)
        centre = (gt.vertices.min(axis=0) + gt.vertices.max(axis=0)) / 2
        return view_frame(gt.vertices, centre + [0.0, 0.0, 1.0], np.array([0.0, 1.0, 0.0]))


def _draw_pair(
    pair: RescoredPair,
    frame: ViewFrame,
    gt_order: np.ndarray,
    folder: Path,
    clips: dict[str, float],
    size: int,
) -> list[tuple[str, str, str, str]]:
    """Render one pair's heatmaps; (label, region, GT PNG, prediction PNG) relative paths."""
    gt, faces, stem = pair.gt, pair.pred_faces, pair.stem
    pred_order = coherent_order(pair.pred_vertices, faces) if len(faces) else None
    drawn = []
    for region, scores in pair.result.regions.items():
        clip = clips[region]
        gt_png = _heatmap_png(
            gt.vertices, gt.faces, gt_order, vertex_errors(scores, len(gt.vertices), "gt"),
            frame, clip, f"{stem} {region}: GT, distance to the prediction", size,
        )  # fmt: skip
        names = [_save(folder, f"heatmaps/{stem}.{region}.gt.png", gt_png)]
        if pred_order is not None:
            pred_png = _heatmap_png(
                scores.aligned_prediction, faces, pred_order,
                vertex_errors(scores, len(pair.pred_vertices), "pred"), frame, clip,
                f"{stem} {region}: aligned prediction, distance to the GT", size,
            )  # fmt: skip
            names.append(_save(folder, f"heatmaps/{stem}.{region}.pred.png", pred_png))
        else:
            names.append("")  # a point cloud: nothing to shade
        drawn.append((stem, region, *names))
    return drawn


def _heatmap_png(
    vertices: np.ndarray,
    faces: np.ndarray,
    order: np.ndarray,
    distances: np.ndarray,
    frame: ViewFrame,
    clip: float,
    title: str,
    size: int,
) -> bytes:
    colours = error_colours(distances, clip)
    views = {
        view: render_view(vertices, faces, colours, frame, view, size, order=order)
        for view in VIEWS
    }
    return heatmap_figure(views, clip, title)


def _save(folder: Path, name: str, data: bytes) -> str:
    atomic_write_bytes(folder / name, data)
    return name


def _histograms(rows: Sequence[ScoredPrediction], region: str) -> list[dict]:
    return [
        r.regions[region]["histograms"]
        for r in rows
        if r.status == "ok" and "histograms" in r.regions.get(region, {})
    ]


def _write_curves(run: EvaluationRun, folder: Path) -> dict[str, str]:
    """One PNG per region, one curve per views config; region -> relative path."""
    written = {}
    for region in run.regions:
        curves = {}
        for config in run.views_configs:
            records = _histograms([r for r in run.results if r.views_config == config], region)
            if records:
                curves[f"{config} views"] = cumulative_curve(records, CURVE_RANGES_MM[region])
        if curves:
            title = f"{run.method}: {region}, {run.protocol} protocol"
            png = curves_figure(curves, CURVE_RANGES_MM[region], title)
            written[region] = _save(folder, f"curves_{region}.png", png)
    return written


def _page(
    run: EvaluationRun,
    clips: dict[str, float],
    pairs: list[ScoredPrediction],
    scenes: str,
    figures: list[tuple[str, str, str, str]],
    curves: dict[str, str],
    clip_note: str,
) -> str:
    e = html.escape
    regions = [r for r in REPORTED_REGIONS if r in run.regions]
    label = " / ".join(regions)
    scored = sum(r.status == "ok" for r in run.results)
    how = "every scored pair" if scenes == "all" else (
        "the worst, median and best scene of each views config; "
        "<code>--report-scenes all</code> draws every pair"
    )  # fmt: skip
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>h3ds-hf report: {e(run.method)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{e(run.method)}</h1>",
        f"<p>Release <b>{e(run.release)}</b> (catalog {e(run.catalog_version)}), protocol "
        f"<b>{e(run.protocol)}</b>. Cells are <b>{label}</b>: the mean over scenes of each "
        "scene's mean GT &rarr; prediction distance, in mm.</p>",
        f"<h2>Per views config ({label}, mm)</h2>",
        _table(
            ["method", *(f"{c} views" for c in run.views_configs)],
            [[run.method, *(_summary_cell(run, c, regions) for c in run.views_configs)]],
        ),
        f"<h2>Per scene ({label}, mm)</h2>",
        _table(["scene", *(f"{c} views" for c in run.views_configs)], _scene_rows(run, regions)),
        "<h2>Cumulative errors</h2>",
        "<p>Fraction of GT vertices within d mm of the prediction, pooled over the scored "
        "scenes of each views config.</p>",
        *(f'<img src="{e(path)}" alt="cumulative {e(r)} errors">' for r, path in curves.items()),
        "<h2>Heatmaps</h2>",
        f"<p>{len(pairs)} of {scored} scored pairs drawn ({how}). Colour clips: "
        + ", ".join(f"{e(r)} {c:g} mm" for r, c in clips.items())
        + f" ({clip_note}). Grey: vertices outside the scored region.</p>",
    ]
    for stem, region, gt_png, pred_png in figures:
        parts.append(f"<h3>{e(stem)}: {e(region)}</h3>")
        parts += [
            f'<img src="{e(p)}" alt="{e(stem)} {e(region)}">' for p in (gt_png, pred_png) if p
        ]
    parts += ["<h2>Alignment</h2>", _table(
        ["scene", "views", "region", "ICP iterations", "RMS (mm)", "scale", "reflection"],
        _alignment_rows(run),
    ), "</body></html>", ""]  # fmt: skip
    return "\n".join(parts)


def _summary_cell(run: EvaluationRun, config: str, regions: Sequence[str]) -> str:
    summary = run.summary[config]
    values = [summary.means_mm.get(r) for r in regions]
    text = " / ".join("—" if v is None else f"{v:.2f}" for v in values)
    return text if summary.complete else f"{text} ({summary.scenes}/{summary.expected} scenes)"


def _scene_rows(run: EvaluationRun, regions: Sequence[str]) -> list[list[str]]:
    cells: dict[str, dict[str, str]] = {}
    for r in run.results:
        text = r.status
        if r.status == "ok":
            text = " / ".join(f"{r.regions[g]['gt_to_pred_mm']:.2f}" for g in regions)
        cells.setdefault(r.scene_id, {})[r.views_config] = text
    return [[s, *(row.get(c, "") for c in run.views_configs)] for s, row in cells.items()]


def _alignment_rows(run: EvaluationRun) -> list[list[str]]:
    rows = []
    for r in run.results:
        for region, scores in r.regions.items():
            a = scores["alignment"]
            rows.append([
                r.scene_id, r.views_config, region, str(a["iterations"]), f"{a['rms_mm']:.3f}",
                f"{a['scale']:.4f}", "yes" if a["reflection"] else "no",
            ])  # fmt: skip
    return rows


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:1400px}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#f3f3f3}img{max-width:100%;display:block;margin:0.5em 0}"
    "td.best{font-weight:bold}"
)

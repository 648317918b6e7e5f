"""Benchmark: one heatmap view of a scan of the real ones' size, rendered on CPU.

Renders the synthetic scan at subdivisions 7 (163,842 vertices, 327,680 triangles, the size of
an H3DS full_head.obj) from the front, the left and the right at 512x512, coloured by a
per-vertex error with the report's colour scale, and prints ms per view split into its parts:
the drawing order (once per mesh), the z-buffer (projection + numba kernel) and the colour
interpolation and shading; then the report's whole figure (three views and the colour bar,
PNG-encoded). The target: <= 1 s per view. CPU times (``time.process_time``) are given beside
wall times: on a shared machine they are the steadier.

    python bench/bench_render.py [--size 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from h3ds_hf.benchmark.figures import heatmap_figure
from h3ds_hf.benchmark.html_report import head_frame
from h3ds_hf.render.colours import error_colours
from h3ds_hf.render.heatmap import VIEWS, render_view, view_camera
from h3ds_hf.render.raster import coherent_order, project, rasterize
from h3ds_hf.synthetic.release import synthetic_ground_truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gt = synthetic_ground_truth(0, subdivisions=7)
    frame = head_frame(gt)
    errors = np.abs(gt.vertices[:, 0]) / 20.0  # any smooth per-vertex field, mm
    colours = error_colours(errors, 5.0)
    print(f"scan: {len(gt.vertices):,} vertices, {len(gt.faces):,} triangles, {args.size}px")
    render_view(gt.vertices, gt.faces, colours, frame, "front", 64)  # numba's cached kernel

    started = time.perf_counter()
    order = coherent_order(gt.vertices, gt.faces)
    print(f"drawing order (once per mesh): {1000 * (time.perf_counter() - started):.0f} ms")
    faces = gt.faces[order]
    walls, cpus, zbuffers = [], [], []
    for _ in range(args.repeat):
        for view in VIEWS:
            started = time.perf_counter()
            pixels, depth = project(view_camera(frame, view, args.size), gt.vertices)
            rasterize(pixels, depth, faces, args.size, args.size)
            zbuffers.append(time.perf_counter() - started)
            started, cpu = time.perf_counter(), time.process_time()
            render_view(gt.vertices, gt.faces, colours, frame, view, args.size, order=order)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    print(
        f"render: {1000 * statistics.median(walls):.0f} ms per view wall (median of "
        f"{len(walls)}; max {1000 * max(walls):.0f}), {1000 * statistics.median(cpus):.0f} ms "
        f"CPU; of which z-buffer {1000 * statistics.median(zbuffers):.0f} ms"
    )
    views = {v: render_view(gt.vertices, gt.faces, colours, frame, v, args.size, order=order)
             for v in VIEWS}  # fmt: skip
    heatmap_figure(views, 5.0, "benchmark")  # the colour bar: drawn once per clip and size
    started = time.perf_counter()
    png = heatmap_figure(views, 5.0, "benchmark")
    print(f"figure (3 views + colour bar, PNG): {1000 * (time.perf_counter() - started):.0f} ms, "
          f"{len(png) / 1e3:.0f} kB")  # fmt: skip


if __name__ == "__main__":
    main()

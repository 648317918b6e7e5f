"""Benchmark: ``h3ds-hf check`` per view at full image size, and export of one scene.

Writes a synthetic release of S scenes x V views at the real photos' size (1512x2016) with a
scan of the real ones' size (subdivisions 7: 163,842 vertices, 327,680 triangles), then times
``check_cameras`` over every view, split into its parts: reading and decoding the mask PNG,
projecting the scan and z-buffering it, comparing silhouette and mask. Baseline measured in the
same run: decoding the masks alone (the floor of any check that reads them). Also times
``export_scene`` of one scene's 32 views in each format (the JPEG bytes are copied). CPU times
(``time.process_time``) are given beside wall times: on a shared machine they are the steadier.

    python bench/bench_check.py [--scenes 2] [--views 35] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from h3ds_hf.export.check import check_cameras, compare, read_mask
from h3ds_hf.export.scene import FORMATS, ExportOptions, export_scene
from h3ds_hf.hub.views import open_scene_views
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.render.raster import coherent_order, project, rasterize
from h3ds_hf.synthetic.release import write_synthetic_release

PHOTO_SIZE = (1512, 2016)  # width, height of the real photos
#: The real release: 59 scenes of ~70 views (v2).
RELEASE_VIEWS = 59 * 70


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--views", type=int, default=35)
    parser.add_argument("--keep", type=Path, help="write the release here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="h3ds-bench-check-"))
    try:
        started = time.perf_counter()
        folder = write_synthetic_release(
            root / "release",
            scenes=args.scenes,
            views=args.views,
            image_size=PHOTO_SIZE,
            subdivisions=7,
        )
        print(
            f"synthetic release {args.scenes} x {args.views} views {PHOTO_SIZE[0]}x"
            f"{PHOTO_SIZE[1]}: written in {time.perf_counter() - started:.1f} s"
        )
        source = open_scene_views(folder, catalog=load_catalog(path=root / "catalog.toml"))
        scene_ids = source.catalog.scene_ids()
        total = args.scenes * args.views

        # Warm-up (numba's cached kernel, file cache), then the whole check.
        check_cameras(source, scene_ids[:1], "1", progress=False)
        started, cpu = time.perf_counter(), time.process_time()
        report = check_cameras(source, progress=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        per_view = 1000 * seconds / total
        ious = [view.iou for scene in report.scenes for view in scene.views]
        print(
            f"check: {per_view:.1f} ms per view wall, {1000 * cpu / total:.1f} ms CPU "
            f"({total} views, {seconds:.1f} s), min IoU {min(ious):.4f}"
        )
        minutes = cpu / total * RELEASE_VIEWS / 60
        print(f"  -> the real release ({RELEASE_VIEWS} views): ~{minutes:.1f} min of one core")
        started = time.perf_counter()
        check_cameras(source, jobs=2, progress=False)
        parallel = 1000 * (time.perf_counter() - started) / total
        print(f"check --jobs 2: {parallel:.1f} ms per view wall")

        parts: dict[str, list[float]] = {"mask": [], "raster": [], "compare": []}
        for scene_id in scene_ids:
            gt = source.ground_truth(scene_id)
            faces = gt.faces[coherent_order(gt.vertices, gt.faces)]
            for view in source.views(scene_id, range(args.views), images=False):
                t0 = time.process_time()
                mask = read_mask(view.mask, "mask")
                t1 = time.process_time()
                raster = rasterize(*project(view.world_mat, gt.vertices), faces, *PHOTO_SIZE)
                t2 = time.process_time()
                compare(raster.covered, mask)
                t3 = time.process_time()
                for name, value in zip(parts, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                    parts[name].append(1000 * value)
        print(
            "  parts, median CPU ms per view: "
            + ", ".join(f"{name} {statistics.median(values):.1f}" for name, values in parts.items())
        )
        floor = statistics.fmean(parts["mask"])
        print(
            f"baseline, decoding the masks alone: {floor:.1f} ms CPU per view "
            f"(check = {1000 * cpu / total / floor:.1f}x)"
        )

        config = "32" if args.views >= 32 else "1"
        for fmt in FORMATS:
            started = time.perf_counter()
            export_scene(source, scene_ids[0], config, root / "export" / fmt, ExportOptions(fmt))
            print(
                f"export {fmt}, {config} views of one scene: {time.perf_counter() - started:.2f} s"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

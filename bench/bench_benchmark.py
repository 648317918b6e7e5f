"""Benchmark: a whole v2-shaped benchmark scored end to end by ``h3ds-hf evaluate``.

A synthetic release shaped like H3DS v2: 59 scenes, views configs 1/3/4/6/8/16/32, GT heads
of 163,842 vertices (the real scans have ~150-170k; the scenes share one head geometry, under
distinct scene ids), and one reconstruction per scene and views config: 413 PLY files with
landmarks. Predictions have the GT's vertex count: the papers' methods mesh their implicit
surfaces by marching cubes at resolutions giving 100k-300k vertices per head, and the GT's
size is the middle of that range. They are perturbed (a bulge and noise that shrink with more
views), lose a few percent of their triangles, and sit in their own frame (rotation ~4
degrees, scale 0.9-1.1, ~15 mm shift) that the landmarks undo coarsely
(:mod:`h3ds_hf.synthetic.predictions`).

Prints the wall time of each whole ``h3ds-hf evaluate`` process (start-up, reading, scoring,
writing) per ``--jobs`` value, whether their results are identical, then the reference
h3ds 0.4.0's time on a sample of the same pairs (``--sample``, face and head, files loaded as
its users do) extrapolated to all of them, and the ratio.

Run: ``python bench/bench_benchmark.py [--scenes 59] [--jobs 1,2] [--sample 2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions
from h3ds_hf.synthetic.release import synthetic_scene_id, write_synthetic_release

if not hasattr(np, "int"):  # the reference still uses np.int, removed in numpy 1.24
    np.int = int


def write_release(root: Path, scenes: int, subdivisions: int) -> Path:
    """A release of ``scenes`` scenes sharing one synthetic head (hard links; rendering 32 views
    of a 164k-vertex head per scene would take most of the run), with distinct scene ids, so
    that every prediction below is perturbed differently; its catalog is root/catalog.toml."""
    template = write_synthetic_release(
        root / "template", scenes=1, views=32, image_size=(12, 16), subdivisions=subdivisions,
        catalog_path=root / "template.toml",
    )  # fmt: skip
    text = (root / "template.toml").read_text()
    (first,) = load_catalog(path=root / "template.toml").scene_ids()
    header, block = text.split(f"    [scenes.{first}]")
    release = root / "release"
    release.mkdir()
    shutil.copy(template / "version.txt", release / "version.txt")
    blocks = []
    for index in range(scenes):
        scene_id = synthetic_scene_id(0, index)
        shutil.copytree(template / first, release / scene_id, copy_function=os.link)
        blocks.append(f"    [scenes.{scene_id}]" + block.replace(first, scene_id))
    (root / "catalog.toml").write_text(header + "".join(blocks))
    return release


def reference_time(release: Path, catalog: Path, folder: Path, pairs: list[tuple[str, str]]):
    """Seconds h3ds 0.4.0 takes for face + head of each (scene, views config) pair."""
    from h3ds.dataset import H3DS
    from h3ds.mesh import Mesh

    h3ds = H3DS(str(release), config_path=str(catalog))
    times = []
    for scene_id, config in pairs:
        start = time.perf_counter()
        mesh = Mesh().load(str(folder / f"{scene_id}_{config}.ply"))
        marks = json.loads((folder / f"{scene_id}_{config}.landmarks.json").read_text())
        h3ds.evaluate_scene(scene_id, mesh, marks, None)
        h3ds.evaluate_scene(scene_id, mesh, marks, "face_sphere")
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=59)
    parser.add_argument("--subdivisions", type=int, default=7, help="7 -> 163,842 GT vertices")
    parser.add_argument(
        "--jobs",
        type=lambda text: [int(x) for x in text.split(",")],
        default=[1],
        help="h3ds-hf evaluate --jobs values to time, e.g. 1,2",
    )
    parser.add_argument("--sample", type=int, default=2, help="pairs the reference scores")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run")
    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        release_dir = write_release(root, args.scenes, args.subdivisions)
        release = open_release(release_dir, catalog_path=root / "catalog.toml")
        folder = write_synthetic_predictions(release, root / "method")
        configs = release.catalog.views_config_ids()
        count = len(list(folder.glob("*.ply")))
        print(
            f"inputs: {args.scenes} scenes x {len(configs)} views configs ({', '.join(configs)}) "
            f"= {count} predictions, written in {time.perf_counter() - start:.0f} s"
        )
        for jobs in args.jobs:
            command = [
                sys.executable, "-m", "h3ds_hf.cli", "evaluate", "--source", str(release_dir),
                "--catalog", str(root / "catalog.toml"), "--predictions", str(folder),
                "--output", str(root / f"results-{jobs}.json"), "--jobs", str(jobs),
                "--no-progress",
            ]  # fmt: skip
            load = os.getloadavg()[0]
            start = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            ours = time.perf_counter() - start
            print(
                f"h3ds-hf evaluate --jobs {jobs}: {ours:.1f} s for {count} predictions "
                f"({ours / count:.2f} s each; load {load:.1f})"
            )
        results = [json.loads((root / f"results-{jobs}.json").read_text()) for jobs in args.jobs]
        same = all(r["results"] == results[0]["results"] for r in results)
        print(f"results identical for --jobs {', '.join(map(str, args.jobs))}: {same}")
        scene_ids = release.catalog.scene_ids()
        rng = np.random.default_rng(0)
        pairs = [
            (scene_ids[rng.integers(len(scene_ids))], configs[rng.integers(len(configs))])
            for _ in range(args.sample)
        ]
        times = reference_time(release_dir, root / "catalog.toml", folder, pairs)
        extrapolated = float(np.mean(times)) * count
        print(
            f"reference h3ds 0.4.0: {np.mean(times):.1f} s per prediction on {len(times)} sampled "
            f"pairs, extrapolated {extrapolated / 60:.0f} min for {count}: "
            f"ratio {extrapolated / ours:.0f}x"
        )


if __name__ == "__main__":
    main()

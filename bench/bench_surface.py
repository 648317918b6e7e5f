"""Benchmark: the whole ``h3ds-hf evaluate --protocol surface`` process against a process that
only computes the same distances with Open3D's RaycastingScene (Embree), at the big size.

Inputs: bench_evaluate.py's 163,842-vertex GT (a raw release) and ~660k-vertex prediction
(PLY). Ours is the whole command (start-up, reading, landmark-free alignment: nearest-vertex
ICP then closest-surface-point ICP, exact point-to-triangle distances both ways, face and
head, writing the results). The baseline process reads the same two meshes and computes only
four exact distance sets with ``open3d.t.geometry.RaycastingScene.compute_distance``: the GT
vertices to the prediction, the predicted vertices to the GT, the GT face_sphere vertices to
the prediction and the predicted vertices to the GT face_sphere cut (no alignment at all).

Both run as fresh processes, alternately, best of ``--runs``. Open3D is a bench-only
dependency: ``pip install open3d-cpu``.

Run: ``python bench/bench_surface.py [--runs 2]`` (~2 min).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluate import make_prediction

from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.synthetic.release import write_synthetic_release

_OPEN3D = """
import sys
import numpy as np
import open3d as o3d
from h3ds_hf.evaluation import load_prediction
from h3ds_hf.release.reader import open_release

gt = open_release(sys.argv[1], catalog_path=sys.argv[2]).ground_truth(sys.argv[3])
vertices, faces = load_prediction(sys.argv[4])
face = np.asarray(gt.regions["face_sphere"])
inside = np.zeros(len(gt.vertices), bool)
inside[face] = True
face_faces = gt.faces[inside[gt.faces].all(axis=1)]


def scene(v, f):
    s = o3d.t.geometry.RaycastingScene()
    s.add_triangles(o3d.core.Tensor(v.astype(np.float32)), o3d.core.Tensor(f.astype(np.uint32)))
    return s


def distances(s, points):
    return s.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()


pred = scene(vertices, faces)
gt_all = scene(gt.vertices, gt.faces)
gt_face = scene(gt.vertices, face_faces)
sets = [distances(pred, gt.vertices), distances(gt_all, vertices),
        distances(pred, gt.vertices[face]), distances(gt_face, vertices)]
print(sum(len(s) for s in sets))
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run")
    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        root = Path(tmp)
        catalog = root / "catalog.toml"
        release = write_synthetic_release(
            root / "release", scenes=1, views=1, image_size=(24, 32), subdivisions=7,
            catalog_path=catalog,
        )  # fmt: skip
        scene_id = load_catalog(path=catalog).scene_ids()[0]
        config = load_catalog(path=catalog).views_config_ids()[0]
        folder = root / "method"
        folder.mkdir()
        vertices, faces = make_prediction(0, 8, "small")
        ply = folder / f"{scene_id}_{config}.ply"
        trimesh.Trimesh(vertices, faces, process=False).export(ply)
        print(f"GT 163,842 vertices, prediction {len(vertices):,}")
        ours_command = [
            sys.executable, "-m", "h3ds_hf.cli", "evaluate", "--protocol", "surface",
            "--source", str(release), "--catalog", str(catalog), "--predictions", str(folder),
            "--output", str(root / "results.json"), "--no-progress",
        ]  # fmt: skip
        open3d_command = [sys.executable, "-c", _OPEN3D, str(release), str(catalog), scene_id,
                          str(ply)]  # fmt: skip
        ours, theirs = [], []
        for _ in range(args.runs):
            load = os.getloadavg()[0]
            ours.append(timed(ours_command))
            theirs.append(timed(open3d_command))
            print(f"  run: h3ds-hf {ours[-1]:.2f} s, Open3D {theirs[-1]:.2f} s (load {load:.1f})")
        print(
            f"whole h3ds-hf evaluate --protocol surface {min(ours):.2f} s; Open3D distances only "
            f"{min(theirs):.2f} s: ratio {min(theirs) / min(ours):.2f}x (>= 1: no slower)"
        )


if __name__ == "__main__":
    main()

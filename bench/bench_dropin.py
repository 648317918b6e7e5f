"""Benchmark: the drop-in ``H3DS.evaluate_scene`` against h3ds 0.4.0's, as users call it.

Two cases, each implementation measured in the same run:

- ``small``: 6 pairs built from real face scans (menpo3d's james.obj, 6,680 vertices, and
  template.ply, 53,349 vertices, from /work/shared/data/faces or ``--faces DIR``): each scan is
  the GT of a scene (face_sphere = within 95 mm of the nose tip, as H3DS defines it, face =
  within 130 mm, nose = within 30 mm; landmarks from its iBUG-68 points), scored against three
  predictions of its own size (noisy, bulged, rotated by 0.5 / 2 / 4 degrees, scaled, moved;
  one with landmarks), head then face_sphere, with the kernels already loaded. Measured on an
  idle machine, then while a process this script starts keeps one core busy (``--busy N``
  processes).
- ``big``: the 164k-vertex GT and ~660k-vertex prediction of bench_evaluate.py, head then
  face_sphere, ours in a fresh process with its imports and kernel loading included (the first
  call of a process; the kernels already compiled once).

Prints each implementation's time, the ratio, the largest difference of the distances, and
the load average before the run (the machine may be shared: compare ratios, not times).

Run: ``python bench/bench_dropin.py [--case small|big|all]`` (needs h3ds==0.4.0; ~2 min).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import trimesh

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluate import make_prediction

from h3ds_hf import H3DS
from h3ds_hf.release.catalog import load_catalog
from h3ds_hf.synthetic.release import write_synthetic_release

if not hasattr(np, "int"):  # the reference still uses np.int, removed in numpy 1.24
    np.int = int

FACES = Path("/work/shared/data/faces")
#: H3DS landmark -> iBUG-68 points averaged (then snapped to the nearest vertex).
IBUG = {
    "right_eye": range(36, 42),
    "left_eye": range(42, 48),
    "nose_tip": [30],
    "nose_base": [33],
    "right_lips": [48],
    "left_lips": [54],
}
#: Prediction variants: (rotation degrees, scale, shift mm, noise mm, with landmarks).
VARIANTS = [
    (0.5, 1.002, 0.5, 0.1, False),
    (2.0, 1.01, 2.0, 0.2, False),
    (4.0, 0.99, 4.0, 0.3, True),
]


def face_scans(folder: Path) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, vertices (N, 3) mm, faces (F, 3), landmark points (68, 3) mm) of both scans."""
    scans = []
    for name, mesh_file, scale in (("james", "james.obj", 1.0), ("template", "template.ply", 1e-3)):
        mesh = trimesh.load(folder / mesh_file, process=False, force="mesh")
        points = json.loads((folder / mesh_file).with_suffix(".ljson").read_text())
        marks = np.array(points["groups"]["LJSON"]["landmarks"]["points"], dtype=float)
        scans.append(
            (name, np.asarray(mesh.vertices) * scale, np.asarray(mesh.faces), marks * scale)
        )
    return scans


def write_release(root: Path, scans) -> tuple[Path, Path, list[str], dict]:
    """A raw release whose scenes' GT are the scans; returns folder, catalog, scene ids and
    each scene's landmarks."""
    release = write_synthetic_release(
        root / "release",
        scenes=len(scans),
        views=1,
        image_size=(24, 32),
        subdivisions=3,
        catalog_path=root / "catalog.toml",
    )
    scene_ids = load_catalog(path=root / "catalog.toml").scene_ids()
    landmarks = {}
    for scene_id, (_, vertices, faces, marks) in zip(scene_ids, scans, strict=True):
        folder = release / scene_id
        trimesh.Trimesh(vertices, faces, process=False).export(folder / "full_head.obj")
        tree = trimesh.proximity.ProximityQuery(trimesh.Trimesh(vertices, faces, process=False))
        snapped = {
            name: int(tree.vertex(marks[list(points)].mean(axis=0)[None])[1][0])
            for name, points in IBUG.items()
        }
        landmarks[scene_id] = snapped
        (folder / "landmarks.txt").write_text("".join(f"{n} {i}\n" for n, i in snapped.items()))
        distance = np.linalg.norm(vertices - vertices[snapped["nose_tip"]], axis=1)
        for region, radius in (("face", 130.0), ("face_sphere", 95.0), ("nose", 30.0)):
            indices = np.flatnonzero(distance < radius)
            (folder / "regions" / f"{region}.txt").write_text("".join(f"{i}\n" for i in indices))
    return release, root / "catalog.toml", scene_ids, landmarks


def predictions(root: Path, scans, scene_ids, landmarks) -> list[tuple[str, Path, dict | None]]:
    """PLY files of the three variants of every scan: (scene id, path, landmarks or None)."""
    rng = np.random.default_rng(0)
    pairs = []
    for scene_id, (name, vertices, faces, _) in zip(scene_ids, scans, strict=True):
        centre = vertices.mean(axis=0)
        for k, (degrees, scale, shift, noise, with_landmarks) in enumerate(VARIANTS):
            u = (vertices - centre) / np.linalg.norm(vertices - centre, axis=1, keepdims=True)
            bulge = 0.8 * np.sin(3.0 * u[:, 0] + k) * np.cos(2.0 * u[:, 1])
            moved = vertices + u * bulge[:, None] + rng.normal(0.0, noise, vertices.shape)
            matrix = trimesh.transformations.rotation_matrix(
                np.radians(degrees), [0.3, 1.0, 0.1], centre
            )
            matrix[:3, :3] *= scale
            matrix[:3, 3] += np.array([2.0, -1.0, 3.0]) * shift / np.sqrt(14.0)
            path = root / f"{name}_{k}.ply"
            trimesh.Trimesh(trimesh.transform_points(moved, matrix), faces, process=False).export(
                path
            )
            pairs.append((scene_id, path, landmarks[scene_id] if with_landmarks else None))
    return pairs


def score_all(h3ds, meshes, pairs) -> tuple[float, list[np.ndarray]]:
    """Seconds to score every pair (head, then face_sphere) and the distance arrays."""
    out = []
    start = time.perf_counter()
    for (scene_id, _, marks), mesh in zip(pairs, meshes, strict=True):
        for region in (None, "face_sphere"):
            d_gt, d_pred, _, _ = h3ds.evaluate_scene(scene_id, mesh, marks, region)
            out += [np.asarray(d_gt), np.asarray(d_pred)]
    return time.perf_counter() - start, out


@contextmanager
def busy_cores(count: int, seconds: float = 240.0):
    """``count`` processes spinning on a core each, for at most ``seconds``."""
    loop = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]
    time.sleep(0.3)
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def small_case(faces: Path, busy: int) -> None:
    from h3ds.dataset import H3DS as REFERENCE
    from h3ds.mesh import Mesh

    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        root = Path(tmp)
        scans = face_scans(faces)
        release, catalog, scene_ids, landmarks = write_release(root, scans)
        pairs = predictions(root, scans, scene_ids, landmarks)
        meshes = [Mesh().load(str(path)) for _, path, _ in pairs]
        ours = H3DS(release, config_path=catalog)
        reference = REFERENCE(str(release), config_path=str(catalog))
        sizes = ", ".join(f"{name} {len(v):,}" for name, v, _, _ in scans)
        print(f"small / mid pairs: GT {sizes} vertices, {len(pairs)} predictions of the same size")
        start = time.perf_counter()
        ours.evaluate_scene(pairs[0][0], meshes[0], None, None)
        print(f"  warm-up (kernels loaded): {time.perf_counter() - start:.2f} s")
        for label, count in (("idle", 0), (f"{busy} busy process(es)", busy)):
            with busy_cores(count):
                load = os.getloadavg()[0]
                ref_time, ref = score_all(reference, meshes, pairs)
                our_time, mine = score_all(ours, meshes, pairs)
            diff = max(np.abs(a - b).max() for a, b in zip(ref, mine, strict=True))
            print(
                f"  {label:<22} reference {ref_time:6.2f} s, ours {our_time:5.2f} s, "
                f"ratio {ref_time / our_time:5.1f}x, max diff {diff:.1e} mm (load {load:.1f})"
            )


_OURS_BIG = """
import sys, time
start = time.perf_counter()
from h3ds_hf import H3DS
from h3ds_hf.evaluation import load_prediction
import trimesh
h3ds = H3DS(sys.argv[1], config_path=sys.argv[2])
mesh = trimesh.Trimesh(*load_prediction(sys.argv[3]), process=False)
imported = time.perf_counter() - start
head = h3ds.evaluate_scene(sys.argv[4], mesh, None, None)
first = time.perf_counter() - start
face = h3ds.evaluate_scene(sys.argv[4], mesh, None, "face_sphere")
total = time.perf_counter() - start
import numpy as np
np.savez(sys.argv[5], head_gt=head[0], head_pred=head[1], face_gt=face[0], face_pred=face[1])
print(imported, first, total)
"""


def big_case() -> None:
    from h3ds.dataset import H3DS as REFERENCE
    from h3ds.mesh import Mesh

    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        root = Path(tmp)
        release = write_synthetic_release(
            root / "release",
            scenes=1,
            views=1,
            image_size=(24, 32),
            subdivisions=7,
            catalog_path=root / "catalog.toml",
        )
        scene_id = load_catalog(path=root / "catalog.toml").scene_ids()[0]
        vertices, faces = make_prediction(0, 8, "small")
        ply = root / "prediction.ply"
        trimesh.Trimesh(vertices, faces, process=False).export(ply)
        print(f"big pair: GT 163,842 vertices, prediction {len(vertices):,}")
        load = os.getloadavg()[0]
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _OURS_BIG,
                str(release),
                str(root / "catalog.toml"),
                str(ply),
                scene_id,
                str(root / "ours.npz"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        imported, first, ours_time = map(float, done.stdout.split())
        start = time.perf_counter()
        reference = REFERENCE(str(release), config_path=str(root / "catalog.toml"))
        mesh = Mesh().load(str(ply))
        head = reference.evaluate_scene(scene_id, mesh, None, None)
        face = reference.evaluate_scene(scene_id, mesh, None, "face_sphere")
        ref_time = time.perf_counter() - start
        mine = np.load(root / "ours.npz")
        diff = max(
            np.abs(mine[key] - value).max()
            for key, value in (
                ("head_gt", head[0]),
                ("head_pred", head[1]),
                ("face_gt", face[0]),
                ("face_pred", face[1]),
            )
        )
        print(
            f"  reference {ref_time:.2f} s; ours {ours_time:.2f} s in a fresh process (imports "
            f"{imported:.2f} s, first call done at {first:.2f} s): "
            f"ratio {ref_time / ours_time:.1f}x, "
            f"max diff {diff:.1e} mm (load {load:.1f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("small", "big", "all"), default="all")
    parser.add_argument(
        "--faces", type=Path, default=FACES, help="folder of james.obj, template.ply"
    )
    parser.add_argument("--busy", type=int, default=1, help="busy processes in the loaded run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the reference warns on every call without landmarks
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the run")
    if args.case in ("small", "all"):
        small_case(args.faces, args.busy)
    if args.case in ("big", "all"):
        big_case()


if __name__ == "__main__":
    main()

"""Benchmark: protocol "h3ds" against the reference h3ds 0.4.0 evaluate_scene, same inputs.

A synthetic GT head of 163,842 vertices and a prediction of ~660k vertices (the same head
tessellated 4x finer, smoothly deformed by up to ~2 mm, noisy, slightly rotated, scaled and
shifted, plus a few far-away floaters) are written to a temporary folder: the GT as a raw
release, the prediction as a binary PLY. Both implementations then score "face" and "head" as a
user would, loading files included:

- reference: ``Mesh().load(ply)``, then ``H3DS.evaluate_scene`` with region_id None and
  'face_sphere' (each call parses the GT OBJ again, as the reference does);
- ours: ``open_release(...).ground_truth``, ``load_prediction``, ``evaluate_pair``.

Prints both times, the ratio, the largest element-wise difference of the distances, and a
table of our time against mesh size (both protocols). Our compiled kernels (numba) are compiled
or loaded from their on-disk cache by a small warm-up evaluation first, which the script times
and prints apart: a user pays the compilation once per installation, the loading once per
process.

Run: ``python bench/bench_evaluate.py`` (needs h3ds==0.4.0; about two minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh

from h3ds_hf.evaluation import evaluate_pair, load_prediction
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.release import synthetic_ground_truth, write_synthetic_release

if not hasattr(np, "int"):  # the reference still uses np.int, removed in numpy 1.24
    np.int = int


#: Residual misalignment of the prediction: (rotation degrees, scale, translation mm).
MISALIGNMENTS = {
    "none": (0.0, 1.0, 0.0),  # reconstructed in the GT frame, only shape errors
    "small": (0.5, 1.002, 0.5),
    "large": (2.0, 1.01, 3.0),
}


def make_prediction(
    seed: int, subdivisions: int, misalignment: str = "small", floaters: int = 2000
):
    """A plausible reconstruction of scene 0: finer, deformed, noisy, moved, with floaters.

    Returns:
        vertices (M, 3) float64 mm, faces (F, 3) int64.
    """
    head = synthetic_ground_truth(seed, subdivisions=subdivisions)
    rng = np.random.default_rng(seed + 1)
    v = head.vertices
    u = v / np.linalg.norm(v, axis=1, keepdims=True)
    bulge = 1.5 * np.sin(3.0 * u[:, 0] + 1.0) * np.cos(2.0 * u[:, 1])  # low-frequency error
    v = v + u * bulge[:, None] + rng.normal(0.0, 0.05, v.shape)
    degrees, scale, shift = MISALIGNMENTS[misalignment]
    matrix = trimesh.transformations.rotation_matrix(np.radians(degrees), [0.3, 1.0, 0.1])
    matrix[:3, :3] *= scale
    matrix[:3, 3] = np.array([2.0, -1.0, 3.0]) * shift / np.sqrt(14.0)
    v = trimesh.transform_points(v, matrix)
    faces = head.faces
    if floaters:
        # A detached blob 250 mm away: far from every GT vertex, slow for cKDTree.
        blob = trimesh.creation.icosphere(subdivisions=3, radius=15.0)
        count = max(1, floaters // len(blob.vertices))
        parts_v, parts_f = [v], [faces]
        offset = len(v)
        for i in range(count):
            centre = np.array([250.0, 60.0 * i - 30.0, -100.0])
            parts_v.append(blob.vertices + centre)
            parts_f.append(blob.faces + offset)
            offset += len(blob.vertices)
        v, faces = np.vstack(parts_v), np.vstack(parts_f)
    return v, faces


def write_inputs(folder: Path, gt_subdivisions: int, pred_subdivisions: int, misalignment: str):
    """Write the GT release, its catalog and the prediction PLY; return their paths."""
    release = write_synthetic_release(
        folder / "release",
        scenes=1,
        views=1,
        image_size=(24, 32),
        subdivisions=gt_subdivisions,
        catalog_path=folder / "catalog.toml",
    )
    vertices, faces = make_prediction(0, pred_subdivisions, misalignment)
    ply = folder / "prediction.ply"
    trimesh.Trimesh(vertices, faces, process=False).export(ply)
    return release, folder / "catalog.toml", ply


def warm_up() -> float:
    """Score a tiny synthetic pair so the numba kernels are compiled or loaded; return seconds."""
    start = time.perf_counter()
    gt = synthetic_ground_truth(1, subdivisions=3)
    evaluate_pair(gt, (gt.vertices * 1.001, gt.faces))
    return time.perf_counter() - start


def run_reference(release: Path, catalog: Path, ply: Path, scene_id: str):
    from h3ds.dataset import H3DS
    from h3ds.mesh import Mesh

    start = time.perf_counter()
    h3ds = H3DS(str(release), config_path=str(catalog))
    mesh = Mesh().load(str(ply))
    head = h3ds.evaluate_scene(scene_id, mesh, None, None)
    face = h3ds.evaluate_scene(scene_id, mesh, None, "face_sphere")
    return time.perf_counter() - start, {"face": face[:2], "head": head[:2]}


def run_ours(release: Path, catalog: Path, ply: Path, scene_id: str):
    start = time.perf_counter()
    gt = open_release(release, catalog_path=catalog).ground_truth(scene_id)
    result = evaluate_pair(gt, load_prediction(ply), keep_arrays=True)
    elapsed = time.perf_counter() - start
    return elapsed, {n: (r.gt_to_pred, r.pred_to_gt) for n, r in result.regions.items()}


def size_table(sizes: list[tuple[int, int]]) -> list[str]:
    """Our in-memory scoring time (face + head) per mesh size, both protocols."""
    rows = [
        f"{'GT vertices':>12} {'pred vertices':>14} {'h3ds (s)':>9} {'surface (s)':>12}",
    ]
    for gt_sub, pred_sub in sizes:
        gt = synthetic_ground_truth(0, subdivisions=gt_sub)
        pred = make_prediction(0, pred_sub, floaters=0)
        timings = []
        for protocol in ("h3ds", "surface"):
            start = time.perf_counter()
            evaluate_pair(gt, pred, protocol=protocol)
            timings.append(time.perf_counter() - start)
        rows.append(
            f"{len(gt.vertices):>12,} {len(pred[0]):>14,} {timings[0]:>9.2f} {timings[1]:>12.2f}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt-subdivisions", type=int, default=7, help="7 -> 163,842 vertices")
    parser.add_argument("--pred-subdivisions", type=int, default=8, help="8 -> 655,362 vertices")
    parser.add_argument(
        "--misalignment",
        choices=sorted(MISALIGNMENTS),
        default="small",
        help="residual pose error of the prediction (ICP work grows with it)",
    )
    parser.add_argument("--no-table", action="store_true", help="skip the size table")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="h3ds-bench-") as tmp:
        release, catalog, ply = write_inputs(
            Path(tmp), args.gt_subdivisions, args.pred_subdivisions, args.misalignment
        )
        scene_id = synthetic_ground_truth(0, subdivisions=3).scene_id
        gt = open_release(release, catalog_path=catalog).ground_truth(scene_id)
        pred_vertices, _ = load_prediction(ply)
        print(
            f"GT {len(gt.vertices):,} vertices (face_sphere {len(gt.regions['face_sphere']):,}, "
            f"face {len(gt.regions['face']):,}); prediction {len(pred_vertices):,} vertices"
        )
        print(f"warm-up (numba kernels compiled or loaded from cache): {warm_up():.2f} s")
        reference_time, reference = run_reference(release, catalog, ply, scene_id)
        ours_time, ours = run_ours(release, catalog, ply, scene_id)

    for name in ("face", "head"):
        ref_gt, ref_pred = reference[name]
        our_gt, our_pred = ours[name]
        diff = max(np.abs(ref_gt - our_gt).max(), np.abs(ref_pred - our_pred).max())
        print(
            f"{name}: gt->pred {our_gt.mean():.6f} mm (reference {ref_gt.mean():.6f}), "
            f"pred->gt {our_pred.mean():.6f} mm (reference {ref_pred.mean():.6f}), "
            f"max abs diff {diff:.2e} mm"
        )
    ratio = reference_time / ours_time
    print(f"reference {reference_time:.2f} s, ours {ours_time:.2f} s, ratio {ratio:.1f}x")
    if not args.no_table:
        print("\nour time vs mesh size (face + head, meshes in memory):")
        for row in size_table([(5, 6), (6, 7), (7, 8)]):
            print(row)


if __name__ == "__main__":
    main()

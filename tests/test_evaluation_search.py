"""The exact search structures behind the fast h3ds protocol, against brute force and trimesh.

BlockTree (blocked nearest-vertex queries), AnchoredMatcher (ICP matching that proves matches
instead of searching), the spatial order and its blocks, and the compiled Procrustes must give
exactly what a plain search or trimesh gives: any difference would change published numbers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys

import numpy as np
import pytest
import trimesh
from scipy.spatial.distance import cdist

from h3ds_hf.evaluation import PROTOCOLS, evaluate_pair
from h3ds_hf.evaluation.alignment import apply_transform, icp, procrustes, transformed
from h3ds_hf.evaluation.blocktree import BlockTree, build_tree, k_nearest
from h3ds_hf.evaluation.matching import CANDIDATES, AnchoredMatcher
from h3ds_hf.evaluation.neighbors import compact_blocks, spatial_order
from h3ds_hf.evaluation.parallel import (
    PARALLEL_MIN_WORK,
    kernel_threads_setting,
    set_kernel_threads,
)
from h3ds_hf.synthetic.release import synthetic_ground_truth


def _brute_force(points: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(Q,) exact nearest distances, one dense distance matrix."""
    return cdist(queries, points).min(axis=1)


def _surface_points(rng: np.random.Generator, count: int, radius: float = 100.0) -> np.ndarray:
    """Points on a noisy sphere: a head-like surface sample (mm)."""
    directions = rng.normal(size=(count, 3))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return directions * (radius + rng.normal(0.0, 0.5, (count, 1)))


@pytest.mark.parametrize("seed", range(3))
def test_block_tree_matches_brute_force_near_and_far(seed):
    rng = np.random.default_rng(seed)
    points = _surface_points(rng, 3000)
    cap = points[points[:, 2] > 60.0]  # a face-like region: most queries are far from it
    queries = np.vstack([_surface_points(rng, 2000), rng.uniform(-400, 400, (300, 3))])
    for target in (points, cap):
        tree = BlockTree(target)
        distances, indices = tree.query(queries)
        np.testing.assert_allclose(distances, _brute_force(target, queries), rtol=0, atol=1e-12)
        assert np.array_equal(tree.distances(queries), distances)
        np.testing.assert_allclose(
            np.linalg.norm(queries - target[indices], axis=1), distances, rtol=0, atol=1e-12
        )


def test_block_tree_answers_do_not_depend_on_the_query_order():
    rng = np.random.default_rng(7)
    points = _surface_points(rng, 2000)
    queries = _surface_points(rng, 1500)
    tree = BlockTree(points)
    order = spatial_order(queries)
    shuffle = rng.permutation(len(queries))
    assert np.array_equal(tree.query(queries[order])[0], tree.query(queries)[0][order])
    assert np.array_equal(tree.query(queries[shuffle])[0], tree.query(queries)[0][shuffle])


def test_block_tree_degenerate_inputs():
    # One point; many coincident points (a single leaf of any size); no queries.
    single = BlockTree(np.array([[1.0, 2.0, 3.0]]))
    distances, indices = single.query(np.array([[1.0, 2.0, 7.0], [1.0, 2.0, 3.0]]))
    assert distances.tolist() == [4.0, 0.0] and indices.tolist() == [0, 0]
    coincident = BlockTree(np.vstack([np.zeros((500, 3)), [[10.0, 0.0, 0.0]]]))
    distances, indices = coincident.query(np.array([[9.0, 0.0, 0.0], [-1.0, 0.0, 0.0]]))
    assert distances.tolist() == [1.0, 1.0] and indices[0] == 500 and indices[1] < 500
    empty_d, empty_i = single.query(np.empty((0, 3)))
    assert empty_d.shape == (0,) and empty_i.shape == (0,)
    with pytest.raises(ValueError, match="at least one point"):
        BlockTree(np.empty((0, 3)))


def test_block_tree_depth_stays_bounded_on_clustered_points():
    # Points a few ulps apart plus one far away: plain midpoint splits would nest ~50 deep.
    rng = np.random.default_rng(3)
    cluster = 1.0 + rng.integers(0, 4, (4000, 3)) * np.finfo(float).eps
    points = np.vstack([cluster, [[1e6, 1e6, 1e6]]])
    tree = BlockTree(points)
    queries = np.vstack([cluster[:50] + 1e-3, [[1e6, 1e6, 1e6 + 1.0]]])
    np.testing.assert_allclose(tree.query(queries)[0], _brute_force(points, queries), atol=1e-12)


def _chain(count: int) -> np.ndarray:
    """Points at 2^-i along x: every cell split peels off one point, so most leaves hold one
    (more nodes than the builder first allocates)."""
    return np.column_stack([2.0 ** -np.arange(count), np.zeros(count), np.zeros(count)])


@pytest.mark.parametrize(
    ("shape", "leafsize"),
    [("surface", 1), ("surface", 4), ("surface", 32), ("chain", 32), ("outlier", 32)],
)
def test_built_tree_nodes_partition_the_points_into_tight_cells(shape, leafsize):
    rng = np.random.default_rng(leafsize)
    head = np.vstack([_surface_points(rng, 3000), np.zeros((40, 3))])
    # "outlier": one point so far away that the whole head falls in one finest grid cell.
    far = {"surface": 5e3, "outlier": 1e12}.get(shape)
    points = _chain(40) if shape == "chain" else np.vstack([head, [[far, 0.0, 0.0]]])
    perm, stored, low, high, start, end, left, depth = build_tree(points, leafsize)
    far_enough = points[:, 0].max() / 100.0
    if shape == "chain":
        assert len(start) > 2 * (4 * len(points) // leafsize + 1)  # the node arrays grew
    queries = np.vstack([_surface_points(rng, 100), _surface_points(rng, 20) * far_enough])
    np.testing.assert_allclose(
        BlockTree(points).distances(queries), _brute_force(points, queries), rtol=1e-12
    )
    assert np.array_equal(np.sort(perm), np.arange(len(points)))
    assert np.array_equal(stored, points[perm])
    assert (start[0], end[0]) == (0, len(points))
    for node in range(len(start)):
        members = stored[start[node] : end[node]]
        assert len(members) >= 1
        np.testing.assert_array_equal(low[node], members.min(axis=0))
        np.testing.assert_array_equal(high[node], members.max(axis=0))
        child = left[node]
        if child < 0:  # a leaf: small, or points sharing one finest cell
            assert len(members) <= leafsize or (members == members[0]).all()
        else:
            assert child > node and start[child] == start[node] and end[child + 1] == end[node]
            assert end[child] == start[child + 1]
    leaves = left < 0
    # The leaves tile the stored rows.
    assert np.array_equal(np.sort(start[leaves]), np.r_[0, np.sort(end[leaves])[:-1]])
    assert depth <= 63 + 64


def test_k_nearest_refines_any_start_into_the_k_nearest():
    rng = np.random.default_rng(12)
    points = _surface_points(rng, 4000)
    _, stored, low, high, start, end, left, depth = build_tree(points, 16)
    stack, gaps = np.empty(2 * depth + 2, np.int64), np.empty(2 * depth + 2)
    for query in np.vstack([_surface_points(rng, 40), rng.uniform(-300, 300, (10, 3))]):
        exact = np.sort(((stored - query) ** 2).sum(axis=1))[:8]
        for rows in (rng.choice(len(points), 8, replace=False), np.arange(8)):
            found_row = rows.astype(np.int64)
            found_d2 = ((stored[found_row] - query) ** 2).sum(axis=1)
            worst = k_nearest(
                *query, stored, low, high, start, end, left, stack, gaps, found_d2, found_row
            )
            assert len(set(found_row.tolist())) == 8
            np.testing.assert_allclose(np.sort(found_d2), exact, rtol=1e-12)
            assert worst == found_d2.max()


def test_spatial_order_is_a_permutation_and_blocks_cover_it():
    rng = np.random.default_rng(11)
    points = np.vstack([_surface_points(rng, 5000), _surface_points(rng, 50) + 1000.0])
    order = spatial_order(points)
    assert np.array_equal(np.sort(order), np.arange(len(points)))
    bounds = compact_blocks(points[order], 32)
    sizes = np.diff(bounds)
    assert bounds[0] == 0 and bounds[-1] == len(points) and sizes.min() >= 1
    assert sizes.max() <= 32
    # No block straddles the jump to the far cluster.
    far = np.zeros(len(points), dtype=bool)
    far[order] = points[order, 0] > 500.0
    for start, end in itertools.pairwise(bounds):
        assert len(set(far[order[start:end]])) == 1
    assert spatial_order(np.empty((0, 3))).shape == (0,)
    assert np.array_equal(compact_blocks(np.empty((0, 3)), 8), [0])


def _drift(points: np.ndarray, step: int) -> np.ndarray:
    """A slow similarity drift, like ICP's (0.3 degrees, 0.1 mm per step: ~0.5 mm at 100 mm)."""
    matrix = trimesh.transformations.rotation_matrix(np.radians(0.3 * step), [0.2, 1.0, 0.3])
    matrix[:3, :3] *= 1.0 + 1e-3 * step
    matrix[:3, 3] = [0.1 * step, -0.05 * step, 0.02 * step]
    return apply_transform(matrix, points)


@pytest.mark.parametrize("target_size", [5, CANDIDATES, 20_000])
def test_anchored_matcher_equals_a_full_search_at_every_step(target_size):
    rng = np.random.default_rng(target_size)
    target = _surface_points(rng, target_size)
    source = _surface_points(rng, 1500) * 1.01
    matcher = AnchoredMatcher(BlockTree(target), len(source))
    for step in range(12):
        moved = _drift(source, step)
        distances, indices = matcher.nearest(moved)
        expected = _brute_force(target, moved)
        np.testing.assert_allclose(distances, expected, rtol=0, atol=1e-12)
        np.testing.assert_allclose(
            np.linalg.norm(moved - target[indices], axis=1), expected, rtol=0, atol=1e-12
        )
        assert np.array_equal(matcher(moved), target[indices])
    if target_size > CANDIDATES:  # the point of it: most matches were proven, not searched
        assert matcher.searched < 0.5 * 12 * len(source)
    else:  # every target vertex is a candidate: nothing to search, ever
        assert matcher.searched == 0


def test_anchored_matcher_searches_again_after_a_jump():
    rng = np.random.default_rng(5)
    target = _surface_points(rng, 3000)
    source = _surface_points(rng, 500)
    matcher = AnchoredMatcher(BlockTree(target), len(source))
    matcher.nearest(source)
    jumped = source + np.array([0.0, 0.0, 30.0])  # far beyond every anchor's radius
    distances, _ = matcher.nearest(jumped)
    np.testing.assert_allclose(distances, _brute_force(target, jumped), atol=1e-12)
    assert matcher.searched == 2 * len(source)


def test_a_restricted_matcher_keeps_the_searches_of_its_members():
    rng = np.random.default_rng(8)
    target = _surface_points(rng, 5000)
    source = _surface_points(rng, 800)
    shared = AnchoredMatcher(BlockTree(target), len(source))
    shared(source)
    members = np.r_[rng.choice(len(source), 300, replace=False), 7, 7]  # a repeated point too
    matcher = shared.restricted(members)
    distances, _ = matcher.nearest(source[members])
    np.testing.assert_allclose(distances, _brute_force(target, source[members]), atol=1e-12)
    assert matcher.searched == 0  # all proven from the shared search
    moved = _drift(source[members], 3)
    np.testing.assert_allclose(matcher.nearest(moved)[0], _brute_force(target, moved), atol=1e-12)


@pytest.mark.parametrize("reflection", [True, False])
@pytest.mark.parametrize("scale", [True, False])
def test_procrustes_equals_trimesh(reflection, scale):
    rng = np.random.default_rng(int(reflection) * 2 + int(scale))
    a = rng.normal(size=(500, 3)) * [40.0, 30.0, 20.0] + [5.0, -3.0, 80.0]
    matrix = trimesh.transformations.random_rotation_matrix(rng.random(3))
    matrix[:3, :3] *= 1.3
    matrix[:3, 3] = [10.0, -2.0, 4.0]
    b = apply_transform(matrix, a) + rng.normal(0.0, 0.5, a.shape)
    b[:, 0] *= -1.0  # a mirrored target, where reflection=True and False differ
    ours = procrustes(a, b, reflection=reflection, scale=scale)
    theirs = trimesh.registration.procrustes(a, b, reflection=reflection, scale=scale)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=0, atol=1e-10)
    assert ours[2] == pytest.approx(theirs[2], rel=1e-12)


def test_procrustes_does_not_depend_on_the_number_of_threads():
    rng = np.random.default_rng(4)
    # Above PARALLEL_MIN_WORK, so that the default runs on every core.
    a = rng.normal(size=(3 * PARALLEL_MIN_WORK, 3)) * 50.0
    b = a @ trimesh.transformations.random_rotation_matrix(rng.random(3))[:3, :3] + 3.0
    with kernel_thread_count(1):
        single = procrustes(a, b, reflection=True, scale=True)
    parallel = procrustes(a, b, reflection=True, scale=True)
    assert np.array_equal(single[0], parallel[0]) and single[2] == parallel[2]


def test_evaluation_does_not_depend_on_the_number_of_threads():
    # Large enough for every kernel to run in parallel by default, in one region at least.
    gt = synthetic_ground_truth(3, subdivisions=6)
    rng = np.random.default_rng(5)
    pred = (gt.vertices * 1.002 + rng.normal(0.0, 0.3, gt.vertices.shape), gt.faces)
    landmarks = dict(gt.landmarks)
    for protocol in PROTOCOLS:
        with kernel_thread_count(1):
            single = evaluate_pair(gt, pred, landmarks, protocol=protocol, keep_arrays=True)
        parallel = evaluate_pair(gt, pred, landmarks, protocol=protocol, keep_arrays=True)
        for name, region in single.regions.items():
            assert np.array_equal(region.gt_to_pred, parallel.regions[name].gt_to_pred)
            assert np.array_equal(region.pred_to_gt, parallel.regions[name].pred_to_gt)
        assert single.to_dict() == parallel.to_dict()


@contextlib.contextmanager
def kernel_thread_count(threads: int):
    before = kernel_threads_setting()
    set_kernel_threads(threads)
    try:
        yield
    finally:
        set_kernel_threads(before)


def test_icp_with_the_anchored_matcher_equals_trimesh_icp():
    rng = np.random.default_rng(2)
    target = _surface_points(rng, 6000)
    source = _drift(target[rng.choice(len(target), 1500, replace=False)], 4)
    ours = icp(source, AnchoredMatcher(BlockTree(target), len(source)))
    matrix, _, cost = trimesh.registration.icp(source, target)
    np.testing.assert_allclose(ours.matrix, matrix, rtol=0, atol=1e-9)
    assert ours.cost == pytest.approx(cost, rel=1e-9, abs=1e-12)


def test_transformed_equals_the_homogeneous_product():
    rng = np.random.default_rng(9)
    points = rng.normal(size=(1000, 3)) * 100.0
    matrix = trimesh.transformations.random_rotation_matrix(rng.random(3))
    matrix[:3, 3] = [1.0, 2.0, 3.0]
    np.testing.assert_allclose(
        transformed(matrix, points), apply_transform(matrix, points), rtol=0, atol=1e-12
    )


def test_evaluations_from_several_threads_with_the_workqueue_layer(tmp_path):
    # numba's workqueue layer aborts the process on concurrent parallel kernels; the kernel
    # slot (evaluation/parallel.py) must prevent that. The layer is per process and chosen
    # once: run in a fresh one.
    script = tmp_path / "threads.py"
    script.write_text(
        "import threading\n"
        "from h3ds_hf.evaluation import evaluate_pair\n"
        "from h3ds_hf.synthetic.release import synthetic_ground_truth\n"
        "gt = synthetic_ground_truth(1, subdivisions=4)\n"
        "pred = (gt.vertices * 1.001, gt.faces)\n"
        "results = []\n"
        "work = lambda: results.append(evaluate_pair(gt, pred, protocol='h3ds').to_dict())\n"
        "threads = [threading.Thread(target=work) for _ in range(4)]\n"
        "[t.start() for t in threads]\n"
        "[t.join() for t in threads]\n"
        "import numba\n"
        "assert numba.threading_layer() == 'workqueue', numba.threading_layer()\n"
        "assert len(results) == 4 and all(r == results[0] for r in results)\n"
        "print('ok')\n"
    )
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    done = subprocess.run(
        [sys.executable, str(script)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]

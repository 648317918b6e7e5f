"""Scoring predictions against one scene's ground truth, with both protocols.

:class:`SceneEvaluator` holds the search structures of one ground truth (nearest-vertex trees
of the whole head and of each cut region, the exact closest-point index of its surface) and
builds each of them at most once, so scoring several predictions of a scene (one per views
config) pays for them once. Per prediction, one nearest-vertex tree over the (landmark-aligned)
prediction serves every ICP iteration of every region and the GT -> prediction distances; ICP
searches it again only for points whose match may have changed
(:class:`~h3ds_hf.evaluation.matching.AnchoredMatcher`), and prediction -> GT distances are
searched in blocks of neighbouring predicted vertices
(:class:`~h3ds_hf.evaluation.blocktree.BlockTree`).

Protocol "h3ds" reproduces h3ds 0.4.0 ``H3DS.evaluate_scene``:

1. with predicted landmarks, a similarity Procrustes (no reflection) of the predicted landmark
   vertices onto the GT ones, applied to the prediction;
2. ICP of the GT region's vertices ('face_sphere' for "face", 'face' for "head") onto all
   predicted vertices, trimesh.registration.icp defaults (Procrustes with scale and reflection);
   the inverse of the fit is applied to the prediction;
3. nearest-vertex distances GT (cut to the region for "face") -> prediction and back. For the
   "face" region the prediction side (pred -> GT figures and F-scores) keeps, unlike the
   reference, only the predicted vertices whose nearest GT vertex lies in face_sphere, so the
   back of a predicted head does not count against the face; GT -> prediction, the published
   metric, is the reference's exactly (:meth:`SceneEvaluator.reference` returns all of it).

GT -> prediction distances use the identity |g - T⁻¹p| = |Tg - p| / s for the similarity T of
scale s: the moved GT is matched against the prediction's tree (and the ICP's last matches)
instead of building a second tree on the moved prediction. The two differ by float rounding
only (1e-13 mm).

Protocol "surface": one alignment for both regions (landmarks, then ICP of the GT 'face' region,
never reflecting, similarity or rigid: nearest-vertex iterations, then closest-surface-point
iterations from there), then exact point-to-triangle distances both ways. For the
"face" region the prediction side keeps the predicted points whose closest GT triangle lies in
face_sphere, so the back of a predicted head does not count against the face.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from h3ds_hf.errors import EvaluationError, UnknownRegionError, get_logger
from h3ds_hf.evaluation.alignment import (
    IcpFit,
    apply_transform,
    icp,
    landmark_alignment,
    transformed,
)
from h3ds_hf.evaluation.blocktree import BlockTree
from h3ds_hf.evaluation.kernels import prepare_kernels
from h3ds_hf.evaluation.matching import AnchoredMatcher
from h3ds_hf.evaluation.meshes import mesh_arrays, validate_landmarks, validate_mesh
from h3ds_hf.evaluation.plausibility import fit_warnings, scale_warning, unit_warning
from h3ds_hf.evaluation.protocols import ALIGNMENTS, EVALUATION_REGIONS, PROTOCOLS
from h3ds_hf.evaluation.results import (
    AlignmentDiagnostics,
    PairResult,
    RegionResult,
    region_result,
)
from h3ds_hf.evaluation.surface import SurfaceIndex
from h3ds_hf.scene import REGION_NAMES, GroundTruth

logger = get_logger(__name__)

# The surface protocol aligns once, on the hand-annotated face (with ears and neck).
_SURFACE_ICP_REGION = "face"
# Most GT points used by the surface protocol's closest-surface-point ICP refinement.
_SURFACE_ICP_POINTS = 5_000


class SceneEvaluator:
    """Scores any number of predictions against one ground truth, caching its indices.

    Args:
        gt: the scene's ground truth (vertices in mm, landmarks, regions).

    Raises:
        EvaluationError: the ground-truth mesh itself is invalid.
    """

    def __init__(self, gt: GroundTruth) -> None:
        self.gt = gt
        self._vertices, self._faces = validate_mesh(
            gt.vertices, gt.faces, what=f"ground truth of scene {gt.scene_id}"
        )
        self._trees: dict[str | None, BlockTree] = {}
        self._orders: dict[str, np.ndarray] = {}
        self._surface: SurfaceIndex | None = None
        self._cut_face_masks: dict[str, np.ndarray] = {}
        prepare_kernels()

    # ------------------------------------------------------------------ public API

    def evaluate(
        self,
        pred: Any,
        landmarks_pred: Mapping[str, int] | None = None,
        *,
        protocol: str = "h3ds",
        regions: Iterable[str] = ("face", "head"),
        alignment: str = "similarity",
        keep_arrays: bool = False,
        on_error: str = "raise",
    ) -> PairResult:
        """Score one prediction.

        Args:
            pred: trimesh.Trimesh, any object with ``.vertices``/``.faces``, or a
                ``(vertices (M, 3), faces (F, 3))`` pair, in mm.
            landmarks_pred: ``{landmark name: vertex index into pred}`` for the six names, or
                None to skip the landmark pre-alignment.
            protocol: "h3ds" (reference-exact) or "surface".
            regions: any of "face", "head".
            alignment: "similarity" or "rigid"; surface protocol only (h3ds always fits a
                similarity that may reflect, as the reference does).
            keep_arrays: keep per-point distances in the region results.
            on_error: "raise" an :class:`EvaluationError`, or "flag" it: return a result with
                ``failed=True`` and the reason (batch mode).

        Raises:
            EvaluationError: invalid options or inputs, degenerate alignment (``on_error``
                "raise" only, except for invalid options which always raise).
        """
        regions = tuple(regions)
        _check_options(protocol, regions, alignment, on_error)
        label = alignment if protocol == "surface" else "similarity+reflection"
        notes: list[str] = []
        try:
            vertices, faces = mesh_arrays(pred)
            units = unit_warning(vertices, self._vertices)
            notes += [units] if units else []
            if protocol == "h3ds":
                scored = self._h3ds(vertices, landmarks_pred, regions, keep_arrays, notes)
            else:
                scored = self._surface_protocol(
                    vertices, faces, landmarks_pred, regions, alignment, keep_arrays, notes
                )
        except EvaluationError as err:
            if on_error == "raise":
                raise
            logger.warning("scene %s: prediction not scored: %s", self.gt.scene_id, err)
            return PairResult(
                scene_id=self.gt.scene_id,
                protocol=protocol,
                alignment=label,
                landmarks_used=landmarks_pred is not None,
                regions={},
                failed=True,
                reason=str(err),
                warnings=tuple(notes),
            )
        for name, region in scored.items():
            notes += fit_warnings(name, region.alignment)
        # One fit serves both regions of the surface protocol: each of its warnings once.
        notes = list(dict.fromkeys(notes))
        for note in notes:
            logger.warning("scene %s: %s", self.gt.scene_id, note)
        return PairResult(
            scene_id=self.gt.scene_id,
            protocol=protocol,
            alignment=label,
            landmarks_used=landmarks_pred is not None,
            regions=scored,
            warnings=tuple(notes),
        )

    def reference(
        self,
        pred_vertices: np.ndarray,
        pred_faces: np.ndarray,
        landmarks_pred: Mapping[str, int] | None = None,
        region_id: str | None = None,
    ) -> tuple[
        np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]
    ]:
        """h3ds 0.4.0 ``evaluate_scene`` with the same inputs and outputs, as arrays.

        Args:
            pred_vertices: (M, 3) predicted vertices (mm); pred_faces: (F, 3) indices.
            landmarks_pred: optional ``{name: vertex index}``.
            region_id: None (whole head, ICP on region 'face'), or one of 'face',
                'face_sphere', 'nose' (ICP on that region and GT cut to it).

        Returns:
            d_gt_pred: (N,) distances of each (cut) GT vertex to the nearest aligned predicted
                vertex (mm); d_pred_gt: (M,) the other way;
            (gt_vertices (N, 3), gt_faces (K, 3)): the GT cut to the region like the
                reference's ``Mesh.cut`` (the whole GT when region_id is None);
            (aligned_vertices (M, 3), pred_faces (F, 3)): the prediction moved onto the GT.
        """
        if region_id is not None and region_id not in REGION_NAMES:
            raise UnknownRegionError(f"unknown region {region_id!r}; expected {REGION_NAMES}")
        vertices, faces = validate_mesh(pred_vertices, pred_faces)
        vertices = self._landmark_step(vertices, landmarks_pred, scale=True, notes=[])
        prediction = BlockTree(vertices)
        fit, d_gt_pred, d_pred_gt = self._h3ds_region(prediction, region_id or "face", region_id)
        aligned = apply_transform(np.linalg.inv(fit.matrix), vertices)
        return d_gt_pred, d_pred_gt, self.cut(region_id), (aligned, faces)

    def cut(self, region_id: str | None) -> tuple[np.ndarray, np.ndarray]:
        """The GT restricted to a region as the reference's ``Mesh.cut`` does it.

        Returns:
            vertices: (K, 3) in region order; faces: (F, 3) the faces whose three vertices are
            all in the region, renumbered into the cut vertices. The whole GT for None.
        """
        if region_id is None:
            return self._vertices, self._faces
        indices = self._region(region_id)
        mask = self._cut_face_mask(region_id)
        renumber = np.full(len(self._vertices), -1, dtype=np.int64)
        renumber[indices] = np.arange(len(indices))
        return self._vertices[indices], renumber[self._faces[mask]]

    # ------------------------------------------------------------------ protocols

    def _h3ds(
        self,
        vertices: np.ndarray,
        landmarks_pred: Mapping[str, int] | None,
        regions: tuple[str, ...],
        keep_arrays: bool,
        notes: list[str],
    ) -> dict[str, Any]:
        vertices = self._landmark_step(vertices, landmarks_pred, scale=True, notes=notes)

        def score(name: str) -> RegionResult:
            icp_region, cut_region = EVALUATION_REGIONS[name]
            fit, d_gt_pred, d_pred_gt = self._h3ds_region(
                prediction, icp_region, cut_region, matchers[icp_region]
            )
            aligned = apply_transform(np.linalg.inv(fit.matrix), vertices)
            pred_indices = np.arange(len(vertices))
            gt_indices = np.arange(len(self._vertices))
            if cut_region is not None:
                # Prediction -> GT of a cut region on the predicted points nearest it (as the
                # surface protocol does): the reference measures every predicted point, the
                # back of the head included, against the face-only GT (50-66 mm means).
                nearest = self._tree(None).query(aligned)[1]
                pred_indices = np.flatnonzero(self._inside((cut_region,))[nearest])
                if len(pred_indices) == 0:
                    raise EvaluationError("no predicted point is closest to the GT face region")
                d_pred_gt = d_pred_gt[pred_indices]
                gt_indices = self._region(cut_region)
            return region_result(
                name, d_gt_pred, d_pred_gt, _diagnostics(fit), keep_arrays=keep_arrays,
                where=(gt_indices, pred_indices, aligned),
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=1) as pool:
            # The GT's structures (built once per scene) while the prediction is indexed: each
            # build has serial parts (sorting) that the other one's fill in.
            gt_ready = pool.submit(self._prepare_h3ds, regions)
            prediction = BlockTree(vertices)
            gt_ready.result()
        # Every ICP first matches the GT vertices where they lie: one search serves the
        # vertices the ICP regions share ('face_sphere' is mostly inside 'face').
        icp_regions = {EVALUATION_REGIONS[name][0] for name in regions}
        shared = self._spatial_union(icp_regions)
        first = AnchoredMatcher(prediction, len(shared))
        first(self._vertices[shared])
        row = np.empty(len(self._vertices), dtype=np.int64)
        row[shared] = np.arange(len(shared))
        matchers = {region: first.restricted(row[self._spatial(region)]) for region in icp_regions}
        # One region after the other: every kernel already uses all cores, and scoring the
        # two regions in two threads measured ~8% slower.
        return {name: score(name) for name in regions}

    def _prepare_h3ds(self, regions: tuple[str, ...]) -> None:
        """Build the GT trees and orders the h3ds protocol needs for ``regions``."""
        for icp_region, cut_region in (EVALUATION_REGIONS[name] for name in regions):
            self._tree(cut_region)
            self._spatial(icp_region)

    def _surface_protocol(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        landmarks_pred: Mapping[str, int] | None,
        regions: tuple[str, ...],
        alignment: str,
        keep_arrays: bool,
        notes: list[str],
    ) -> dict[str, Any]:
        if len(faces) == 0:
            raise EvaluationError("the surface protocol needs a mesh with faces")
        similarity = alignment == "similarity"
        vertices = self._landmark_step(vertices, landmarks_pred, scale=similarity, notes=notes)
        source = self._points(_SURFACE_ICP_REGION)
        # Coarse: nearest-vertex ICP (cheap, converges from far). Fine: closest surface points,
        # so that the fit itself does not depend on the mesh resolution; on at most
        # _SURFACE_ICP_POINTS evenly strided GT points to bound its cost.
        coarse = icp(
            source,
            AnchoredMatcher(BlockTree(vertices), len(source)),
            reflection=False,
            scale=similarity,
        )
        pred_surface = SurfaceIndex(vertices, faces)
        stride = max(1, -(-len(source) // _SURFACE_ICP_POINTS))
        fine = icp(
            source[::stride],
            pred_surface.closest_points,
            reflection=False,
            scale=similarity,
            initial=coarse.matrix,
        )
        fit = IcpFit(fine.matrix, coarse.iterations + fine.iterations, fine.cost)
        diagnostics = _diagnostics(fit)
        # GT -> prediction on the prediction's own index: |g - T⁻¹(surface)| = |Tg - surface|/s.
        gt_indices = None if "head" in regions else self._region("face_sphere")
        gt_points = self._vertices if gt_indices is None else self._vertices[gt_indices]
        d_gt, _ = pred_surface.query(apply_transform(fit.matrix, gt_points))
        d_gt /= fit.scale
        aligned = apply_transform(np.linalg.inv(fit.matrix), vertices)
        d_pred, triangles = self._surface_index().query(aligned)
        scored = {}
        everything = np.arange(len(self._vertices))
        for name in regions:
            if name == "head":
                d_gt_region = d_gt
                d_pred_region = d_pred
                gt_region, pred_region = everything, np.arange(len(aligned))
            else:
                gt_region = self._region("face_sphere")
                d_gt_region = d_gt if gt_indices is not None else d_gt[gt_region]
                pred_region = np.flatnonzero(self._cut_face_mask("face_sphere")[triangles])
                d_pred_region = d_pred[pred_region]
                if len(d_pred_region) == 0:
                    raise EvaluationError("no predicted point is closest to the GT face region")
            scored[name] = region_result(
                name,
                d_gt_region,
                d_pred_region,
                diagnostics,
                keep_arrays=keep_arrays,
                where=(gt_region, pred_region, aligned),
            )
        return scored

    # ------------------------------------------------------------------ helpers

    def _landmark_step(
        self,
        vertices: np.ndarray,
        landmarks_pred: Mapping[str, int] | None,
        *,
        scale: bool,
        notes: list[str],
    ) -> np.ndarray:
        """Apply the landmark Procrustes (if landmarks are given) to the predicted vertices;
        a warning goes to ``notes`` when its scale is implausible."""
        if landmarks_pred is None:
            return vertices
        # The reference pairs landmarks in the order of the GT's landmarks file.
        names = tuple(self.gt.landmarks)
        if not names:
            raise EvaluationError(f"scene {self.gt.scene_id}: the ground truth has no landmarks")
        checked = validate_landmarks(
            landmarks_pred, names, len(vertices), what="predicted landmarks"
        )
        source = vertices[[checked[name] for name in names]]
        target = self._vertices[[self.gt.landmarks[name] for name in names]]
        matrix = landmark_alignment(source, target, scale=scale)
        scaled = scale_warning(
            "the landmark alignment", float(np.cbrt(abs(np.linalg.det(matrix[:3, :3]))))
        )
        notes += [scaled] if scaled else []
        return apply_transform(matrix, vertices)

    def _h3ds_region(
        self,
        prediction: BlockTree,
        icp_region: str,
        cut_region: str | None,
        matcher: AnchoredMatcher | None = None,
    ) -> tuple[IcpFit, np.ndarray, np.ndarray]:
        """The reference's ICP on ``icp_region`` and its distances for ``cut_region``.

        ``matcher``: over the prediction, for the vertices of :meth:`_spatial` (icp_region);
        a new one when None.

        Returns:
            fit: the GT-to-prediction ICP; d_gt_pred: (K,) distances (mm) of the GT vertices of
            ``cut_region`` (region order; all vertices for None) to the aligned prediction;
            d_pred_gt: (M,) distances of the aligned predicted vertices to them.
        """
        source = self._spatial(icp_region)
        if matcher is None:
            matcher = AnchoredMatcher(prediction, len(source))
        fit = icp(self._vertices[source], matcher)
        # GT -> prediction, on the prediction's own tree: |g - T⁻¹p| = |Tg - p| / s. The ICP's
        # source points reuse the matcher's last searches; the others search the tree.
        distances = np.empty(len(self._vertices))
        distances[source] = matcher.nearest(transformed(fit.matrix, self._vertices[source]))[0]
        if cut_region is None:
            others = self._spatial_outside(icp_region)
            moved = transformed(fit.matrix, self._vertices[others])
            distances[others] = prediction.distances(moved)
        d_gt_pred = distances if cut_region is None else distances[self._region(cut_region)]
        d_gt_pred /= fit.scale
        # The prediction in the tree's leaf order: a spatial order, fastest to search.
        aligned = transformed(np.linalg.inv(fit.matrix), prediction.tree.elements)
        d_pred_gt = prediction.in_input_order(self._tree(cut_region).distances(aligned))
        return fit, d_gt_pred, d_pred_gt

    def _region(self, region_id: str) -> np.ndarray:
        if region_id not in REGION_NAMES:
            raise UnknownRegionError(f"unknown region {region_id!r}; expected {REGION_NAMES}")
        indices = self.gt.regions.get(region_id)
        if indices is None or len(indices) == 0:
            raise EvaluationError(f"scene {self.gt.scene_id}: GT region {region_id!r} is missing")
        indices = np.asarray(indices, dtype=np.int64)
        if indices.min() < 0 or indices.max() >= len(self._vertices):
            raise EvaluationError(
                f"scene {self.gt.scene_id}: GT region {region_id!r} indexes outside the mesh"
            )
        return indices

    def _points(self, region_id: str | None) -> np.ndarray:
        """(K, 3) GT vertices of a region, in region order; all vertices for None."""
        return self._vertices if region_id is None else self._vertices[self._region(region_id)]

    def _tree(self, region_id: str | None) -> BlockTree:
        if region_id not in self._trees:
            self._trees[region_id] = BlockTree(self._points(region_id))
        return self._trees[region_id]

    def _spatial(self, region_id: str | None) -> np.ndarray:
        """Cached GT vertex indices of a region (all for None; a repeated index stays repeated)
        listed in the leaf order of the whole GT's tree, a spatial order."""
        everything = self._tree(None).perm
        if region_id is None:
            return everything
        if region_id not in self._orders:
            counts = np.bincount(self._region(region_id), minlength=len(self._vertices))
            self._orders[region_id] = np.repeat(everything, counts[everything])
        return self._orders[region_id]

    def _spatial_union(self, region_ids: Iterable[str]) -> np.ndarray:
        """GT vertex indices in any of the regions, once each, in spatial order."""
        everything = self._spatial(None)
        return everything[self._inside(region_ids)[everything]]

    def _spatial_outside(self, region_id: str) -> np.ndarray:
        """GT vertex indices outside a region, in spatial order."""
        everything = self._spatial(None)
        return everything[~self._inside((region_id,))[everything]]

    def _inside(self, region_ids: Iterable[str]) -> np.ndarray:
        """(N,) bool: the GT vertices in any of the regions."""
        inside = np.zeros(len(self._vertices), dtype=bool)
        for region_id in region_ids:
            inside[self._region(region_id)] = True
        return inside

    def _cut_face_mask(self, region_id: str) -> np.ndarray:
        """(F,) bool: GT faces whose three vertices are all in the region."""
        if region_id not in self._cut_face_masks:
            inside = self._inside((region_id,))
            self._cut_face_masks[region_id] = inside[self._faces].all(axis=1)
        return self._cut_face_masks[region_id]

    def _surface_index(self) -> SurfaceIndex:
        if self._surface is None:
            if len(self._faces) == 0:
                raise EvaluationError(f"scene {self.gt.scene_id}: the GT mesh has no faces")
            self._surface = SurfaceIndex(self._vertices, self._faces)
        return self._surface


def evaluate_pair(
    gt: GroundTruth,
    pred: Any,
    landmarks_pred: Mapping[str, int] | None = None,
    *,
    protocol: str = "h3ds",
    regions: Iterable[str] = ("face", "head"),
    alignment: str = "similarity",
    keep_arrays: bool = False,
    on_error: str = "raise",
) -> PairResult:
    """Score one prediction against one ground truth; see :meth:`SceneEvaluator.evaluate`.

    To score several predictions of the same scene, build one :class:`SceneEvaluator` and call
    its ``evaluate`` so the GT indices are built once.
    """
    return SceneEvaluator(gt).evaluate(
        pred,
        landmarks_pred,
        protocol=protocol,
        regions=regions,
        alignment=alignment,
        keep_arrays=keep_arrays,
        on_error=on_error,
    )


def evaluate_scene_reference(
    gt: GroundTruth,
    pred_vertices: np.ndarray,
    pred_faces: np.ndarray,
    landmarks_pred: Mapping[str, int] | None = None,
    region_id: str | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """h3ds 0.4.0 ``H3DS.evaluate_scene`` as arrays; see :meth:`SceneEvaluator.reference`."""
    return SceneEvaluator(gt).reference(pred_vertices, pred_faces, landmarks_pred, region_id)


def _diagnostics(fit: IcpFit) -> AlignmentDiagnostics:
    return AlignmentDiagnostics(
        iterations=fit.iterations,
        rms_mm=fit.rms_mm,
        scale=fit.scale,
        reflection=fit.reflection,
        matrix=tuple(tuple(float(x) for x in row) for row in fit.matrix),
    )


def _check_options(protocol: str, regions: tuple[str, ...], alignment: str, on_error: str) -> None:
    if protocol not in PROTOCOLS:
        raise EvaluationError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    if alignment not in ALIGNMENTS:
        raise EvaluationError(f"unknown alignment {alignment!r}; expected one of {ALIGNMENTS}")
    if protocol == "h3ds" and alignment != "similarity":
        raise EvaluationError("the h3ds protocol always fits a similarity; use protocol='surface'")
    if on_error not in ("raise", "flag"):
        raise EvaluationError(f"on_error must be 'raise' or 'flag', got {on_error!r}")
    if not regions:
        raise EvaluationError("no region to score")
    unknown = [name for name in regions if name not in EVALUATION_REGIONS]
    if unknown:
        raise UnknownRegionError(
            f"unknown evaluation region(s) {unknown}; expected any of {tuple(EVALUATION_REGIONS)}"
        )

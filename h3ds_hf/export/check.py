"""``h3ds-hf check``: do the cameras agree with the masks? The GT scan rendered through each
view's camera (a z-buffer of the mesh, so its silhouette is what the camera sees) is compared
with the view's foreground mask.

Per view: the IoU of the silhouette and the mask, and the mean distance between their outlines
in pixels (each outline pixel's distance to the other outline, averaged over both outlines). A
view is flagged when its IoU is below ``min_iou``; a scene when any of its views is. A good
camera gives an IoU near 1 wherever the mask and the scan cover the same part of the head; a
camera off by a couple of degrees shifts the silhouette by several percent of the head's width.
"""

from __future__ import annotations

import io
import logging
import multiprocessing
import statistics
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image
from scipy.spatial import cKDTree
from tqdm.auto import tqdm

from h3ds_hf.errors import ExportError, MalformedFileError, UnknownViewsConfigError
from h3ds_hf.export.names import MIN_IOU
from h3ds_hf.hub.views import SceneViewsSource
from h3ds_hf.render.raster import coherent_order, project, rasterize

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ViewScore:
    """How one view's camera agrees with its mask.

    Attributes:
        view: the view's index in the scene.
        iou: intersection over union of the rendered silhouette and the mask, in [0, 1].
        outline_px: mean distance between the two outlines, pixels; None when either is empty.
        flagged: iou < the check's threshold.
    """

    view: int
    iou: float
    outline_px: float | None
    flagged: bool


@dataclass(frozen=True)
class SceneScore:
    """A scene's views, scored."""

    scene_id: str
    views: list[ViewScore]

    @property
    def flagged_views(self) -> list[int]:
        return [score.view for score in self.views if score.flagged]

    @property
    def min_iou(self) -> float:
        return min(score.iou for score in self.views)

    @property
    def median_iou(self) -> float:
        return statistics.median(score.iou for score in self.views)

    @property
    def mean_outline_px(self) -> float | None:
        values = [score.outline_px for score in self.views if score.outline_px is not None]
        return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class CheckReport:
    """Every checked scene, and what was asked."""

    source: str
    release: str
    views_config: str
    min_iou: float
    scenes: list[SceneScore] = field(default_factory=list)

    @property
    def flagged_scenes(self) -> list[str]:
        return [scene.scene_id for scene in self.scenes if scene.flagged_views]

    def to_json_dict(self) -> dict:
        """The report as written by ``--output``: settings, per scene its summary and views,
        and the flagged scenes."""
        return {
            "source": self.source,
            "release": self.release,
            "views_config": self.views_config,
            "min_iou": self.min_iou,
            "flagged_scenes": self.flagged_scenes,
            "scenes": [
                {
                    "scene_id": scene.scene_id,
                    "min_iou": scene.min_iou,
                    "median_iou": scene.median_iou,
                    "mean_outline_px": scene.mean_outline_px,
                    "flagged_views": scene.flagged_views,
                    "views": [asdict(score) for score in scene.views],
                }
                for scene in self.scenes
            ],
        }

    def table(self) -> str:
        """One line per scene: views, min and median IoU, mean outline distance, flagged views."""
        width = max([len("scene"), *(len(scene.scene_id) for scene in self.scenes)])
        lines = [
            f"{'scene':<{width}}  views  min IoU  median IoU  outline px  flagged views",
        ]
        for scene in self.scenes:
            outline = scene.mean_outline_px
            lines.append(
                f"{scene.scene_id:<{width}}  {len(scene.views):>5}  {scene.min_iou:>7.3f}  "
                f"{scene.median_iou:>10.3f}  {'-' if outline is None else f'{outline:.2f}':>10}  "
                + (", ".join(map(str, scene.flagged_views)) or "-")
            )
        return "\n".join(lines)


def read_mask(data: bytes, name: str) -> np.ndarray:
    """(H, W) bool foreground of a mask image (grey level > 127)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("L")) > 127
    except (OSError, ValueError) as error:
        raise MalformedFileError(f"{name}: not a readable mask image ({error})") from None


def _outline(region: np.ndarray) -> np.ndarray:
    """(K, 2) int64 (row, col) of the pixels of ``region`` with a 4-neighbour outside it."""
    padded = np.pad(region, 1)
    interior = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:] & region
    return np.argwhere(region & ~interior)


def compare(silhouette: np.ndarray, mask: np.ndarray) -> tuple[float, float | None]:
    """IoU and mean outline distance (pixels) of two (H, W) bool images.

    The IoU of two empty images is 1; the outline distance is None when either is empty.
    """
    union = silhouette | mask
    if not union.any():
        return 1.0, None
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    crop = np.s_[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]  # where anything happens
    a, b = silhouette[crop], mask[crop]
    iou = float(np.count_nonzero(a & b) / np.count_nonzero(a | b))
    outline_a, outline_b = _outline(a), _outline(b)
    if not len(outline_a) or not len(outline_b):
        return iou, None
    a_to_b = cKDTree(outline_b).query(outline_a)[0]
    b_to_a = cKDTree(outline_a).query(outline_b)[0]
    return iou, float((a_to_b.sum() + b_to_a.sum()) / (len(a_to_b) + len(b_to_a)))


def check_scene(
    source: SceneViewsSource, scene_id: str, indices: Sequence[int], min_iou: float = MIN_IOU
) -> SceneScore:
    """Score the views ``indices`` of a scene (each once, in increasing order)."""
    gt = source.ground_truth(scene_id)
    faces = gt.faces[coherent_order(gt.vertices, gt.faces)]
    scores = []
    for view in source.views(scene_id, sorted(set(indices)), images=False):
        mask = read_mask(view.mask, f"{scene_id}/mask_{view.index:04d}.png")
        pixels, depth = project(view.world_mat, gt.vertices)
        raster = rasterize(pixels, depth, faces, mask.shape[1], mask.shape[0])
        iou, outline = compare(raster.covered, mask)
        scores.append(ViewScore(view.index, iou, outline, iou < min_iou))
    return SceneScore(scene_id, scores)


def check_cameras(
    source: SceneViewsSource,
    scene_ids: Iterable[str] | None = None,
    views_config: str | None = None,
    *,
    min_iou: float = MIN_IOU,
    jobs: int = 1,
    progress: bool = True,
) -> CheckReport:
    """Check the cameras of scenes (default: all) for a views config (None: all views), in
    ``jobs`` processes (one scene each at a time; the report is the same as a serial run's).

    Raises:
        ExportError: ``min_iou`` is not in [0, 1] or ``jobs`` < 1.
        UnknownSceneError, UnknownViewsConfigError: a scene or views config is unknown.
    """
    if not 0.0 <= min_iou <= 1.0:
        raise ExportError(f"the IoU threshold must be in [0, 1], not {min_iou}")
    if jobs < 1:
        raise ExportError(f"jobs must be at least 1, not {jobs}")
    catalog = source.catalog
    if scene_ids is None:
        scene_ids = [
            scene_id
            for scene_id in catalog.scene_ids()
            if views_config is None or views_config in catalog.scene(scene_id).views_configs
        ]
    scene_ids = list(scene_ids)
    if not scene_ids:
        raise UnknownViewsConfigError(
            f"no scene of {source.description} has views config {views_config!r}"
        )
    chosen = {}
    for scene_id in scene_ids:  # fail on an unknown scene or config before the long work
        scene = catalog.scene(scene_id)
        chosen[scene_id] = (
            range(scene.views) if views_config is None else scene.views_config(views_config)
        )
    report = CheckReport(source.description, catalog.name, views_config or "all", min_iou)
    with tqdm(total=len(chosen), desc="check", unit="scene", disable=not progress) as bar:
        if jobs == 1 or len(chosen) < 2:
            for scene_id, indices in chosen.items():
                report.scenes.append(check_scene(source, scene_id, indices, min_iou))
                bar.update()
        else:  # spawn, as h3ds-hf evaluate does: forking after numba kernels ran is unsafe
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(jobs, len(chosen)), mp_context=context) as pool:
                n = len(chosen)
                for scene in pool.map(
                    check_scene, [source] * n, chosen, chosen.values(), [min_iou] * n
                ):
                    report.scenes.append(scene)
                    bar.update()
    return report

"""Scenes with their views, from whatever a user has: a raw release or a Hub dataset folder.

Exports and the camera check need more of a source than scoring does: each view's photo, mask
and camera besides the ground truth. A raw :class:`~h3ds_hf.release.reader.Release` (folder or
zip) and a :class:`~h3ds_hf.hub.prepared.PreparedRelease` (a prepared or downloaded Hub folder)
both provide them; :func:`open_scene_views` opens either.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol, cast

from h3ds_hf.benchmark.batch import GroundTruthSource
from h3ds_hf.hub.ground_truth import open_ground_truth
from h3ds_hf.release.catalog import Catalog
from h3ds_hf.release.reader import SceneView


class SceneViewsSource(GroundTruthSource, Protocol):
    """A catalog, each scene's ground truth, and its views' files and cameras."""

    def views(
        self, scene_id: str, indices: Iterable[int], *, images: bool = True
    ) -> Iterator[SceneView]: ...


def open_scene_views(
    source: str | Path,
    *,
    catalog: Catalog | None = None,
    token: str | None = None,
) -> SceneViewsSource:
    """Open a raw release (folder or zip; token from ``$H3DS_ACCESS_TOKEN`` by default) or a
    prepared / downloaded Hub folder, as :func:`~h3ds_hf.hub.ground_truth.open_ground_truth`
    does, with its views.

    Raises:
        H3DSError: the source does not exist, is malformed, or does not match its catalog.
    """
    return cast(SceneViewsSource, open_ground_truth(source, catalog=catalog, token=token))

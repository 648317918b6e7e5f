"""h3ds-hf: the H3DS 3D-head dataset and its official evaluation through the Hugging Face stack.

Main entry points:

- :class:`H3DS`, :class:`Mesh`: drop-in replacements for the reference ``h3ds.dataset.H3DS``
  and ``h3ds.mesh.Mesh``;
- :func:`open_release`: validated access to a raw release (folder or encrypted zip);
- :func:`load_catalog`: the scene catalogs of the official releases;
- :func:`load_local`: the Hugging Face dataset of a raw release, built without any Hub;
- :func:`metric_path`: the installed ``h3ds_chamfer`` metric, for ``evaluate.load``;
- the ``h3ds-hf`` command line (``h3ds-hf --help``).

The names are imported on first use, so that ``import h3ds_hf`` and the command line start
fast (no trimesh, numba, pyarrow or datasets until something needs them).
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Any

from h3ds_hf.distribution import __version__, lazy_exports
from h3ds_hf.errors import H3DSError

if TYPE_CHECKING:
    from h3ds_hf.dropin import H3DS, Mesh
    from h3ds_hf.release.catalog import Catalog, SceneInfo, load_catalog
    from h3ds_hf.release.reader import Release, open_release
    from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES, GroundTruth

#: Public name -> the module that defines it.
_EXPORTS = {
    "H3DS": "h3ds_hf.dropin",
    "Mesh": "h3ds_hf.dropin",
    "Catalog": "h3ds_hf.release.catalog",
    "SceneInfo": "h3ds_hf.release.catalog",
    "load_catalog": "h3ds_hf.release.catalog",
    "Release": "h3ds_hf.release.reader",
    "open_release": "h3ds_hf.release.reader",
    "LANDMARK_NAMES": "h3ds_hf.scene",
    "REGION_NAMES": "h3ds_hf.scene",
    "GroundTruth": "h3ds_hf.scene",
}


def load_local(source: str | PathLike[str], config: str = "3-views", **kwargs: Any) -> Any:
    """Build the H3DS Hugging Face dataset of a raw release locally; see
    :func:`h3ds_hf.hub.local.load_local` (imported lazily: it pulls in datasets)."""
    from h3ds_hf.hub.local import load_local as _load_local

    return _load_local(source, config, **kwargs)


def metric_path() -> str:
    """Folder of the installed ``h3ds_chamfer`` metric: ``evaluate.load(metric_path())``."""
    from h3ds_hf.metric import metric_path as _metric_path

    return _metric_path()


__getattr__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    "H3DS",
    "LANDMARK_NAMES",
    "REGION_NAMES",
    "Catalog",
    "GroundTruth",
    "H3DSError",
    "Mesh",
    "Release",
    "SceneInfo",
    "__version__",
    "load_catalog",
    "load_local",
    "metric_path",
    "open_release",
]

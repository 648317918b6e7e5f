"""h3ds-hf: the H3DS 3D-head dataset and its official evaluation through the Hugging Face stack.

Main entry points:

- :class:`H3DS`: drop-in replacement for the reference ``h3ds.dataset.H3DS``;
- :func:`open_release`: validated access to a raw release (folder or encrypted zip);
- :func:`load_catalog`: the scene catalogs of the official releases;
- the ``h3ds-hf`` command line (``h3ds-hf --help``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("h3ds-hf")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

from h3ds_hf.catalog import Catalog, SceneInfo, load_catalog
from h3ds_hf.dataset import H3DS
from h3ds_hf.errors import H3DSError
from h3ds_hf.reader import Release, open_release
from h3ds_hf.scene import LANDMARK_NAMES, REGION_NAMES, GroundTruth

__all__ = [
    "H3DS",
    "LANDMARK_NAMES",
    "REGION_NAMES",
    "Catalog",
    "GroundTruth",
    "H3DSError",
    "Release",
    "SceneInfo",
    "__version__",
    "load_catalog",
    "open_release",
]

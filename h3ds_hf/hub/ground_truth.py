"""One way to open ground truth from whatever a user has: a raw release, a Hub dataset folder,
or the Hub dataset itself.

The commands, the metric and the demo call :func:`open_ground_truth`; it lives in the Hub layer
because it must see the raw release reader and the Parquet readers, and it returns a
:class:`~h3ds_hf.benchmark.batch.GroundTruthSource`, which is all that scoring needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from h3ds_hf.release.reader import open_release

if TYPE_CHECKING:
    from h3ds_hf.benchmark.batch import GroundTruthSource
    from h3ds_hf.release.catalog import Catalog


def open_ground_truth(
    source: str | Path | GroundTruthSource,
    *,
    catalog: Catalog | None = None,
    catalog_path: str | Path | None = None,
    release: str | None = None,
    token: str | None = None,
) -> GroundTruthSource:
    """Open the ground truth of a source, checked against its catalog.

    Args:
        source: a raw release (folder, or the official zip), a folder written by
            ``h3ds-hf prepare`` or downloaded from the Hub dataset, the Hub dataset itself
            (``ORG/NAME[@REVISION]`` or ``hf://datasets/ORG/NAME[@REVISION]``, when no local
            path of that name exists), or an already opened source (returned as is).
        catalog, catalog_path, release: what a raw release must hold (see
            :func:`h3ds_hf.open_release`); a prepared folder describes itself.
        token: the zip's access token (default ``$H3DS_ACCESS_TOKEN``); kept in memory only.
            A Hub source uses the Hub token ($HF_TOKEN or the login cache).

    Raises:
        H3DSError: the source does not exist, is malformed, or does not match its catalog.
    """
    if not isinstance(source, str | Path):
        return source
    path = Path(source)
    if path.is_file() or (path / "version.txt").is_file():  # a raw release: zip or folder
        return open_release(
            source, catalog=catalog, catalog_path=catalog_path, release=release, token=token
        )
    # Imported here: the Parquet and Hub readers (pyarrow, huggingface_hub) cost ~1 s to import
    # and a raw release needs neither.
    from h3ds_hf.hub.prepared import PreparedRelease, is_prepared_folder
    from h3ds_hf.hub.remote import HubRelease, parse_hub_source

    if is_prepared_folder(source):
        return PreparedRelease(source)
    hub = parse_hub_source(source)
    if hub is not None:
        repo_id, revision = hub
        return HubRelease(repo_id, revision=revision)
    return open_release(
        source, catalog=catalog, catalog_path=catalog_path, release=release, token=token
    )

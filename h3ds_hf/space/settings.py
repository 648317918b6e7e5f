"""What the Space reads from its environment, and the ground truth it opens lazily.

``H3DS_DATASET`` (a Space variable) names the ground truth: the Hub dataset ``ORG/NAME``
(``hf://datasets/ORG/NAME``, optionally ``@REVISION``) or a local folder (a prepared dataset or a
raw release). ``HF_TOKEN`` (a Space secret) is the token huggingface_hub uses to read the gated
dataset. Nothing is opened at import or start-up: :meth:`SpaceSettings.source` opens the source
on first use (a Hub source reads the dataset's file list, never a scan) and keeps it; each
scene's ground-truth columns are then read when that scene is scored.
"""

from __future__ import annotations

import functools
import os
import threading
from dataclasses import dataclass, field

from h3ds_hf.benchmark.batch import GroundTruthSource
from h3ds_hf.errors import H3DSError, HubError
from h3ds_hf.hub.ground_truth import open_ground_truth
from h3ds_hf.hub.remote import parse_hub_source
from h3ds_hf.scene import GroundTruth
from h3ds_hf.space.names import DATASET_ENV, TOKEN_ENV
from h3ds_hf.space.uploads import MAX_UPLOAD_BYTES

#: Environment variable bounding an upload's expanded size, in MB.
MAX_UPLOAD_ENV = "H3DS_MAX_UPLOAD_MB"

WHAT_TO_SET = (
    f"set the Space variable `{DATASET_ENV}` to the H3DS dataset (`ORG/NAME` on the Hub, or a "
    f"prepared folder) and the Space secret `{TOKEN_ENV}` to a token that was granted access "
    "to it"
)


class NotConfiguredError(H3DSError):
    """The Space has no dataset to score against."""


@dataclass
class SpaceSettings:
    """The Space's configuration (read once from the environment by :func:`from_environment`).

    Attributes:
        dataset: ``$H3DS_DATASET``, or None when unset.
        max_upload_bytes: bound on an upload's expanded size.
    """

    dataset: str | None
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    _source: GroundTruthSource | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_environment(cls) -> SpaceSettings:
        dataset = os.environ.get(DATASET_ENV, "").strip() or None
        megabytes = os.environ.get(MAX_UPLOAD_ENV, "").strip()
        limit = int(float(megabytes) * (1 << 20)) if megabytes else MAX_UPLOAD_BYTES
        return cls(dataset, limit)

    @property
    def dataset_id(self) -> str | None:
        """The Hub dataset's ``ORG/NAME`` when the ground truth is the Hub dataset, else None."""
        if self.dataset is None:
            return None
        try:
            hub = parse_hub_source(self.dataset)
        except HubError:
            return None
        return None if hub is None else hub[0]

    def source(self) -> GroundTruthSource:
        """The opened ground-truth source (opened once; a failure is retried next time).

        Raises:
            NotConfiguredError: ``H3DS_DATASET`` is unset.
            H3DSError: the source cannot be opened (no access, no such dataset, ...).
        """
        if self.dataset is None:
            raise NotConfiguredError(f"no dataset configured: {WHAT_TO_SET}")
        with self._lock:
            if self._source is None:
                self._source = _CachedScenes(open_ground_truth(self.dataset))
            return self._source


class _CachedScenes:
    """A source that keeps the last scenes' ground truth read (the 3D view re-reads the scene
    just scored)."""

    def __init__(self, source: GroundTruthSource) -> None:
        self.inner = source
        self.catalog = source.catalog
        self.description = source.description
        self._read = functools.lru_cache(maxsize=2)(source.ground_truth)

    def ground_truth(self, scene_id: str) -> GroundTruth:
        return self._read(scene_id)

    @property
    def inputs(self) -> dict[str, str]:
        """The wrapped source's inputs (shards, revision), recorded with the results."""
        return dict(getattr(self.inner, "inputs", {}))

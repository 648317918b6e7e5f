"""Shared fixtures: one deterministic synthetic mini-H3DS per test session.

Nothing here touches the network, ~/.cache or ../shared: caches of datasets, evaluate and
huggingface_hub are pointed at a temporary folder and the Hub clients are put offline.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

_CACHE = Path(tempfile.mkdtemp(prefix="h3ds-hf-tests-cache-"))
os.environ.update(
    {
        "HF_HOME": str(_CACHE / "hf"),
        "HF_DATASETS_CACHE": str(_CACHE / "datasets"),
        "HF_EVALUATE_CACHE": str(_CACHE / "evaluate"),
        "HF_MODULES_CACHE": str(_CACHE / "modules"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
)
os.environ.pop("HF_TOKEN", None)
os.environ.pop("H3DS_ACCESS_TOKEN", None)

# Imported after the environment is set: datasets and huggingface_hub read it at import time.
import datasets  # noqa: E402
import pytest  # noqa: E402

from h3ds_hf.release.catalog import Catalog, load_catalog  # noqa: E402
from h3ds_hf.release.reader import open_release  # noqa: E402
from h3ds_hf.synthetic.release import write_synthetic_release  # noqa: E402

#: Password of the synthetic encrypted archive (a test value, not a real access token).
SYNTHETIC_TOKEN = "synthetic-token-for-tests"


@dataclass(frozen=True)
class SyntheticRelease:
    """A synthetic release on disk: folder, catalog file, and the same packed as ZipCrypto."""

    folder: Path
    catalog_path: Path
    zip_path: Path
    token: str

    @property
    def catalog(self) -> Catalog:
        return load_catalog(path=self.catalog_path)


@pytest.fixture
def private_datasets_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A datasets cache of the test's own, so builds never reuse another test's."""
    cache = tmp_path / "hf" / "datasets"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    return cache


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> SyntheticRelease:
    """3 scenes x 34 views of 96x128 px; the zip holds the release under a top folder."""
    root = tmp_path_factory.mktemp("synthetic")
    folder = write_synthetic_release(
        root / "release",
        zip_path=root / "release.zip",
        password=SYNTHETIC_TOKEN,
        top_folder="h3ds",
    )
    return SyntheticRelease(folder, root / "catalog.toml", root / "release.zip", SYNTHETIC_TOKEN)


@pytest.fixture(scope="module")
def release(synthetic: SyntheticRelease):
    """The synthetic release, opened as scoring reads it (one per test module)."""
    return open_release(synthetic.folder, catalog_path=synthetic.catalog_path)


@pytest.fixture(scope="session")
def prepared_synthetic(synthetic: SyntheticRelease, tmp_path_factory: pytest.TempPathFactory):
    """``prepared_synthetic("3-views", ...)``: the Hub folder ``h3ds-hf prepare`` writes for
    those configs of the synthetic release, made once per session (tests only read it)."""
    from h3ds_hf.hub.prepare import prepare_dataset

    made: dict[tuple[str, ...], Path] = {}

    def prepared(*configs: str) -> Path:
        if configs not in made:
            output = tmp_path_factory.mktemp("prepared") / "h3ds"
            prepare_dataset(
                synthetic.folder,
                output,
                catalog_path=synthetic.catalog_path,
                configs=list(configs),
                progress=False,
            )
            made[configs] = output
        return made[configs]

    return prepared


def _import_the_oracle() -> None:
    """Import the reference h3ds 0.4.0 (if installed) once, before any test, and undo what it
    does to the process: it installs its own logger class for every logger created afterwards
    (coloured messages that no longer propagate), which would change our loggers' records."""
    import importlib
    import logging

    import numpy as np

    np.int = int  # h3ds 0.4.0 still uses the alias numpy 1.24 removed
    try:
        importlib.import_module("h3ds.dataset")
    except ImportError:
        pass
    finally:
        logging.setLoggerClass(logging.Logger)


def pytest_configure(config: pytest.Config) -> None:
    """In CI the reference oracle and the real clients (OpenCV, pycolmap) must be importable,
    so that their tests cannot be skipped silently (they use importorskip for developers
    without them)."""
    _import_the_oracle()
    if not os.environ.get("CI"):
        return
    import importlib

    for module in ("cv2", "h3ds.dataset", "pycolmap"):
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise pytest.UsageError(
                f"CI needs the test-only oracle ({module}): {error}; see the README's set-up"
            ) from error


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave nothing in /tmp: the session's caches go with it."""
    shutil.rmtree(_CACHE, ignore_errors=True)

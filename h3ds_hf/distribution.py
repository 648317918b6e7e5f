"""The installed distribution: its version, and the folders it ships beside the package.

pyproject ships two folders of the repository's top inside the package: the evaluate metric
(``metric/h3ds_chamfer`` as ``h3ds_hf.h3ds_chamfer``) and the datasets builder
(``loading_script`` as ``h3ds_hf.loading_script``). A wheel has them inside ``h3ds_hf/``; an
editable install maps them with its import hook. Python started in a source checkout imports
the checkout's ``h3ds_hf/``, which shadows any installed copy and has neither: they are then
taken from the checkout's top.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    __version__ = version("h3ds-hf")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"

#: Shipped package -> its folder in a source checkout, relative to the checkout's top.
CHECKOUT_FOLDERS = {
    "h3ds_hf.h3ds_chamfer": "metric/h3ds_chamfer",
    "h3ds_hf.loading_script": "loading_script",
}


def shipped_folder(package: str) -> Path | None:
    """Folder of a shipped package (a key of :data:`CHECKOUT_FOLDERS`), or None if absent."""
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    folder = Path(__file__).resolve().parent.parent / CHECKOUT_FOLDERS[package]
    return folder if (folder / "__init__.py").is_file() else None


def import_shipped(module: str) -> ModuleType:
    """Import a module of a shipped package, from a source checkout's top if need be.

    Raises:
        ModuleNotFoundError: the package is neither installed nor in a checkout.
    """
    package = next(name for name in CHECKOUT_FOLDERS if module.startswith(name + "."))
    if importlib.util.find_spec(package) is None:
        folder = shipped_folder(package)
        if folder is None:
            raise ModuleNotFoundError(f"No module named {package!r}", name=package)
        spec = importlib.util.spec_from_file_location(
            package, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        assert spec is not None and spec.loader is not None
        shipped = importlib.util.module_from_spec(spec)
        sys.modules[package] = shipped
        spec.loader.exec_module(shipped)
    return importlib.import_module(module)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A package's module ``__getattr__`` that imports each public name from its module on
    first use (``exports``: name -> defining module), so importing the package stays cheap."""

    def load_export(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return load_export

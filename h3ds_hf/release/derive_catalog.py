"""Derive the package's JSON catalogs from the authors' published TOML catalogs.

Usage (from the repository root, with the authors' h3ds 0.4.0 catalogs at hand)::

    python -m h3ds_hf.release.derive_catalog path/to/config_v2.toml --release v2 \
        --output h3ds_hf/release/catalogs/v2.json

The TOML files are facts about the dataset (scene ids, tags, views, view indices, archive md5);
they are re-expressed in the package's own format and checked on the way.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from h3ds_hf.atomic import atomic_write_text
from h3ds_hf.release.catalog import load_catalog

#: What each official release must contain, as announced with the dataset.
EXPECTED = {
    "v1": {"scenes": 23, "configs": ["3", "4", "8", "16", "32"]},
    "v2": {"scenes": 59, "configs": ["1", "3", "4", "6", "8", "16", "32"]},
}


def derive(toml_path: Path, release: str) -> dict:
    """Read an authors' TOML catalog and return it in the package's JSON format."""
    catalog = replace(load_catalog(path=toml_path), name=release)
    expected = EXPECTED[release]
    if len(catalog.scenes) != expected["scenes"]:
        raise SystemExit(
            f"{toml_path}: {len(catalog.scenes)} scenes, expected {expected['scenes']}"
        )
    for scene in catalog.scenes.values():
        if sorted(scene.views_configs, key=int) != expected["configs"]:
            raise SystemExit(
                f"{toml_path}: scene {scene.scene_id} has configs "
                f"{list(scene.views_configs)}, expected {expected['configs']}"
            )
    return catalog.to_json_dict()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("toml", type=Path, help="the authors' config_v*.toml")
    parser.add_argument("--release", choices=sorted(EXPECTED), required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args(argv)
    atomic_write_text(args.output, dumps(derive(args.toml, args.release)))


def dumps(catalog: dict) -> str:
    """JSON text with one scene per line, so that diffs of a catalog stay readable."""
    header = {key: value for key, value in catalog.items() if key != "scenes"}
    lines = [json.dumps(scene, separators=(", ", ": ")) for scene in catalog["scenes"]]
    head = json.dumps(header, indent=1)[:-2]
    return head + ',\n "scenes": [\n  ' + ",\n  ".join(lines) + "\n ]\n}\n"


if __name__ == "__main__":
    main()

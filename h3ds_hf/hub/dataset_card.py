"""The dataset card (README.md) and benchmark declaration (eval.yaml) of a prepared folder.

The card's YAML header is what the Hub and ``load_dataset`` read: ``configs`` (data files per
config and split, the default flagged), ``dataset_info`` (features and sizes), the licence
(the H3DS terms: non-commercial research only), task categories, tags and the gating form. Its
body is ``loading_script/README.md`` (a :class:`string.Template`) filled with tables built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from string import Template
from typing import Any, Protocol

import datasets
import yaml
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from h3ds_hf.benchmark.names import DEFAULT_CONFIG, REPORTED_REGIONS, parse_config_name, task_id
from h3ds_hf.distribution import __version__
from h3ds_hf.hub.features import FIELD_DOCS, scene_features
from h3ds_hf.release.catalog import Catalog

#: Where access to H3DS is requested and its terms are stated.
TERMS_URL = "https://crisalixsa.github.io/h3d-net/"
#: Repository id used in the card's examples when none is given.
PLACEHOLDER_REPO_ID = "<org>/h3ds"
EVALUATION_FRAMEWORK = "h3ds-hf"

GATED_PROMPT = (
    "H3DS is released by its authors for non-commercial research only. By requesting access "
    "you agree to use the data solely for non-commercial research, not to redistribute it or "
    "any part of it (scans, photos, masks), and to cite H3D-Net (ICCV 2021) and SIRA++ "
    f"(TPAMI 2025) in any publication that uses it. The authors' terms apply: {TERMS_URL}"
)
GATED_FIELDS: dict[str, str] = {
    "Name": "text",
    "Affiliation": "text",
    "Academic email": "text",
    "I agree to use H3DS for non-commercial research only, under the terms above": "checkbox",
}
TAGS = ["3d", "3d-reconstruction", "human-head", "multi-view", "few-shot", "benchmark"]

#: Published results with the official evaluation code: release -> (method, views config,
#: face mm, head mm).
PUBLISHED_RESULTS: dict[str, list[tuple[str, str, float, float]]] = {
    "v1": [("IDR", "3", 2.79, 14.58), ("H3D-Net", "3", 1.33, 10.52)],
    "v2": [("SIRA++", "3", 1.18, 9.70)],
}
_PAPERS = {"v1": "H3D-Net (ICCV 2021)", "v2": "SIRA++ (TPAMI 2025)"}


class _Written(Protocol):
    files: list[str]
    num_examples: int
    num_bytes: int


def _default_config(names: Sequence[str]) -> str:
    return DEFAULT_CONFIG if DEFAULT_CONFIG in names else names[0]


def _config_description(name: str) -> str:
    views = parse_config_name(name).views_config
    return "every photo of the scene" if views is None else f"the {views} photo(s) of the protocol"


def card_data(catalog: Catalog, written: Mapping[str, Mapping[str, _Written]]) -> DatasetCardData:
    """The card's YAML metadata for the configs and splits in ``written``."""
    names = list(written)
    default = _default_config(names)
    data = DatasetCardData(
        pretty_name="H3DS",
        license="other",
        license_name="h3ds-terms",
        license_link=TERMS_URL,
        task_categories=["image-to-3d"],
        tags=TAGS,
        size_categories=["n<1K"],
        extra_gated_prompt=GATED_PROMPT,
        extra_gated_fields=GATED_FIELDS,
        extra_gated_button_content="Request access",
    )
    data["configs"] = [
        {
            "config_name": name,
            "data_files": [
                {"split": split, "path": f"{name}/{split}-*.parquet"} for split in written[name]
            ],
            **({"default": True} if name == default else {}),
        }
        for name in names
    ]
    infos = DatasetInfosDict(
        {
            name: datasets.DatasetInfo(
                features=scene_features(),
                splits=SplitDict(
                    {
                        split: SplitInfo(
                            name=split, num_examples=info.num_examples, num_bytes=info.num_bytes
                        )
                        for split, info in splits.items()
                    }
                ),
            )
            for name, splits in written.items()
        }
    )
    configs = data["configs"]
    infos.to_dataset_card_data(data)
    data["configs"] = configs  # keep the numeric order
    return data


def _results_tables(catalog: Catalog) -> str:
    releases = [catalog.name] if catalog.name in PUBLISHED_RESULTS else list(PUBLISHED_RESULTS)
    blocks = []
    for release in releases:
        lines = [
            f"Release {release} ({_PAPERS[release]}):",
            "",
            "| method | views | face (mm) | head (mm) |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {method} | {views} | {face:.2f} | {head:.2f} |"
            for method, views, face, head in PUBLISHED_RESULTS[release]
        ]
        blocks.append("\n".join(lines))
    if catalog.name not in PUBLISHED_RESULTS:
        blocks.insert(0, f"No published results for catalog {catalog.name}; the official ones:")
    return "\n\n".join(blocks)


def _fields_table() -> str:
    # A literal '|' would end a Markdown table cell.
    rows = []
    for name, doc in FIELD_DOCS.items():
        escaped = doc.replace("|", "\\|")
        rows.append(f"| `{name}` | {escaped} |")
    return "\n".join(rows)


def render_card(
    catalog: Catalog,
    written: Mapping[str, Mapping[str, _Written]],
    *,
    repo_id: str | None = None,
) -> str:
    """The full README.md (YAML header + body) of a prepared folder."""
    names = list(written)
    default = _default_config(names)
    views = [scene.views for scene in catalog.scenes.values()]
    views_config = parse_config_name(default).views_config
    template = Template(
        resources.files("h3ds_hf.loading_script").joinpath("README.md").read_text("utf-8")
    )
    body = template.substitute(
        release=catalog.name,
        catalog_version=catalog.version,
        num_scenes=len(catalog.scenes),
        views_range=f"{min(views)} to {max(views)}" if min(views) != max(views) else views[0],
        package_version=__version__,
        terms_url=TERMS_URL,
        configs_table="\n".join(
            f"| `{name}`{' (default)' if name == default else ''} | {_config_description(name)} |"
            for name in names
        ),
        splits_table="\n".join(
            f"| `{name}` | `{split}` | {info.num_examples} | {len(info.files)} |"
            for name, splits in written.items()
            for split, info in splits.items()
        ),
        fields_table=_fields_table(),
        repo_id=repo_id or PLACEHOLDER_REPO_ID,
        default_config=default,
        example_task=task_id("face", catalog.name, views_config or "3"),
        results_tables=_results_tables(catalog),
    )
    return str(DatasetCard(f"---\n{card_data(catalog, written).to_yaml()}\n---\n\n{body}"))


def eval_tasks(catalog: Catalog, configs: Sequence[str]) -> list[dict[str, Any]]:
    """One benchmark task per reported region and views config (not 'all-views')."""
    tasks = []
    for name in configs:
        views = parse_config_name(name).views_config
        if views is None:
            continue
        for region in REPORTED_REGIONS:
            tasks.append(
                {
                    "id": task_id(region, catalog.name, views),
                    "config": name,
                    "split": "test",
                    "description": f"mean {region} chamfer distance (mm, ground truth to "
                    f"reconstruction) from {views} view(s), official H3DS protocol",
                }
            )
    return tasks


def render_eval_yaml(catalog: Catalog, configs: Sequence[str]) -> str:
    """eval.yaml declaring the dataset as a Hub benchmark."""
    document = {
        "name": "H3DS",
        "description": "Few-view full 3D head reconstruction: chamfer distance in mm between the "
        "reconstruction and a high-resolution scan, for the face and the full head, with the "
        f"official H3DS protocol (release {catalog.name}).",
        "evaluation_framework": EVALUATION_FRAMEWORK,
        "tasks": eval_tasks(catalog, configs),
    }
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)

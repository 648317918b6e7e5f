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
from typing import Protocol

import datasets
from datasets.info import DatasetInfosDict
from datasets.splits import SplitDict, SplitInfo
from huggingface_hub import DatasetCard, DatasetCardData

from h3ds_hf.benchmark.names import DEFAULT_CONFIG, config_sort_key, parse_config_name, task_id
from h3ds_hf.benchmark.published import PAPERS, PUBLISHED_RESULTS, published_views_configs
from h3ds_hf.distribution import __version__
from h3ds_hf.hub.features import FIELD_DOCS, scene_features
from h3ds_hf.hub.names import PLACEHOLDER_REPO_ID
from h3ds_hf.release.catalog import Catalog

#: Where access to H3DS is requested and its terms are stated.
TERMS_URL = "https://crisalixsa.github.io/h3d-net/"

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
#: The papers' arXiv ids as tags: with the links in the card's text, the Hub lists the dataset
#: on the papers' pages.
PAPER_TAGS = [f"arxiv:{arxiv_id}" for _paper, arxiv_id in PAPERS.values()]


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
    names = sorted(written, key=config_sort_key)
    default = _default_config(names)
    data = DatasetCardData(
        pretty_name="H3DS",
        license="other",
        license_name="h3ds-terms",
        license_link=TERMS_URL,
        task_categories=["image-to-3d"],
        tags=TAGS + PAPER_TAGS,
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
    # datasets writes dataset_info sorted as text ('16-views' before '3-views'): keep the
    # numeric order of the configs there too.
    data["configs"] = configs
    position = {name: index for index, name in enumerate(names)}
    if isinstance(data.get("dataset_info"), list):
        data["dataset_info"] = sorted(
            data["dataset_info"], key=lambda i: position[i["config_name"]]
        )
    return data


def _results_tables(catalog: Catalog) -> str:
    """Every published result, one table per release: a row per method, a column per views
    config, cells "face / head" in mm (the papers' layout)."""
    releases = [catalog.name] if catalog.name in PUBLISHED_RESULTS else list(PUBLISHED_RESULTS)
    blocks = []
    for release in releases:
        views = published_views_configs(release)
        paper, arxiv_id = PAPERS[release]
        cells = {(r.method, r.views_config): r for r in PUBLISHED_RESULTS[release]}
        methods = list(dict.fromkeys(r.method for r in PUBLISHED_RESULTS[release]))
        lines = [
            f"Release {release}, introduced with [{paper}](https://arxiv.org/abs/{arxiv_id}); "
            "face / head, mm:",
            "",
            "| method | " + " | ".join(f"{v} views" for v in views) + " |",
            "|---|" + "---|" * len(views),
        ]
        for method in methods:
            row = [
                f"{cells[method, v].face_mm:.2f} / {cells[method, v].head_mm:.2f}"
                if (method, v) in cells
                else "-"
                for v in views
            ]
            lines.append(f"| {method} | " + " | ".join(row) + " |")
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
    names = sorted(written, key=config_sort_key)
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
            for name in names
            for split, info in written[name].items()
        ),
        fields_table=_fields_table(),
        repo_id=repo_id or PLACEHOLDER_REPO_ID,
        default_config=default,
        example_task=task_id("face", catalog.name, views_config or "3"),
        results_tables=_results_tables(catalog),
        h3dnet_arxiv=PAPERS["v1"][1],
        sira_arxiv=PAPERS["v2"][1],
    )
    return str(DatasetCard(f"---\n{card_data(catalog, written).to_yaml()}\n---\n\n{body}"))

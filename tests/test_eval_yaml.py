"""eval.yaml exactly to the Hub's specification, and configs in numeric order everywhere."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml

from h3ds_hf.benchmark.names import config_names, config_sort_key
from h3ds_hf.hub.dataset_card import card_data
from h3ds_hf.hub.eval_yaml import EvalYamlError, render_eval_yaml, validate_eval_yaml
from h3ds_hf.release.catalog import load_catalog

VALID = {
    "name": "H3DS",
    "description": "heads",
    "evaluation_framework": "h3ds-hf",
    "tasks": [{"id": "face_chamfer_3views", "config": "3-views", "split": "test"}],
}


def test_the_rendered_file_validates_and_holds_only_spec_keys():
    document = yaml.safe_load(
        render_eval_yaml(load_catalog("v2"), config_names(load_catalog("v2")))
    )
    validate_eval_yaml(document)
    assert set(document) <= {"name", "description", "evaluation_framework", "tasks"}
    assert all(set(task) == {"id", "config", "split"} for task in document["tasks"])
    ids = [task["id"] for task in document["tasks"]]
    assert ids[:4] == [
        "face_chamfer_1views",
        "head_chamfer_1views",
        "face_chamfer_3views",
        "head_chamfer_3views",
    ]
    assert len(ids) == 14  # 7 views configs x 2 regions; all-views is no task


def test_the_framework_is_an_option():
    text = render_eval_yaml(load_catalog("v2"), ["3-views"], evaluation_framework="inspect-ai")
    assert yaml.safe_load(text)["evaluation_framework"] == "inspect-ai"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"tasks": [{"id": "x", "description": "no such key"}]}, "unknown key 'description'"),
        ({"lower_is_better": True}, "unknown key 'lower_is_better'"),
        ({"tasks": []}, "'tasks' is empty"),
        ({"tasks": [{"config": "3-views"}]}, "missing 'id'"),
        ({"tasks": [{"id": "a"}, {"id": "a"}]}, "appears twice"),
        ({"tasks": ["face"]}, "must be a mapping"),
        ({"evaluation_framework": ""}, "non-empty str"),
        ({"name": 3}, "'name' must be a non-empty str"),
    ],
)
def test_documents_outside_the_spec_are_refused(change, problem):
    with pytest.raises(EvalYamlError, match=problem):
        validate_eval_yaml({**VALID, **change})
    validate_eval_yaml(VALID)


def test_missing_required_keys_are_each_named():
    with pytest.raises(EvalYamlError) as refused:
        validate_eval_yaml({"description": "only this"})
    for key in ("name", "evaluation_framework", "tasks"):
        assert f"missing {key!r}" in str(refused.value)


def test_configs_sort_numerically_in_the_card_metadata():
    catalog = load_catalog("v2")
    as_text = sorted(config_names(catalog))  # '1-views', '16-views', '3-views', ...
    assert as_text != sorted(as_text, key=config_sort_key)
    split = SimpleNamespace(files=["x"], num_examples=1, num_bytes=1)
    data = card_data(catalog, {name: {"test": split} for name in as_text}).to_dict()
    expected = ["1-views", "3-views", "4-views", "6-views", "8-views", "16-views", "32-views"]
    expected.append("all-views")
    assert [entry["config_name"] for entry in data["configs"]] == expected
    assert [entry["config_name"] for entry in data["dataset_info"]] == expected


def test_a_folder_of_all_views_only_declares_no_benchmark(synthetic, tmp_path):
    from h3ds_hf.hub.prepare import prepare_dataset

    output = tmp_path / "all"
    prepare_dataset(
        synthetic.folder,
        output,
        catalog_path=synthetic.catalog_path,
        configs=["all-views"],
        progress=False,
    )
    assert (output / "README.md").is_file() and not (output / "eval.yaml").exists()

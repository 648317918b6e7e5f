"""The main job end to end on the built-in synthetic default (``h3ds-hf demo``).

Generates a synthetic mini-H3DS (never the real data) packed like the official release as a
ZipCrypto archive, reads it in place with a throw-away access token, loads a scene with the
drop-in ``H3DS`` class, writes perturbed reconstructions, scores them with the official
protocol and prints the paper's "face / head" table, then walks the Hugging Face side: a
prepared Hub-ready dataset read with ``load_dataset``, the ``h3ds_chamfer`` metric, a model
card with the results, one scene exported for nerfstudio, and the run's HTML report (heatmaps
and error curves).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import datasets
import evaluate
from datasets import load_dataset

from h3ds_hf.benchmark.batch import EvaluationOptions, evaluate_folder
from h3ds_hf.benchmark.html_report import write_report
from h3ds_hf.benchmark.report import load_results
from h3ds_hf.dropin import H3DS
from h3ds_hf.export.scene import ExportOptions, export_scene
from h3ds_hf.hub.dataset_card import PLACEHOLDER_REPO_ID
from h3ds_hf.hub.eval_yaml import read_local_tasks
from h3ds_hf.hub.model_card import build_card_files, write_card_files
from h3ds_hf.hub.prepare import prepare_dataset
from h3ds_hf.metric import metric_path
from h3ds_hf.release.reader import open_release
from h3ds_hf.synthetic.predictions import write_synthetic_predictions
from h3ds_hf.synthetic.release import write_synthetic_release

#: Views configs the demo reconstructs and scores.
DEMO_VIEWS = ("1", "3", "8", "32")


def run_demo(output: Path, say: Callable[[str], None], *, progress: bool = True) -> Path:
    """Run every step into ``output`` (a new folder), reporting through ``say``.

    Returns:
        The results JSON of the evaluation.

    The metric's numbers equal the table's 3-views cell: both score the same files (the
    metric reads the ``.landmarks.json`` beside each reconstruction) with the same code.
    """
    token = secrets.token_urlsafe(16)  # the synthetic archive's password, not a secret
    say(f"1. Synthetic mini-H3DS (not the real data) -> {output}")
    folder = write_synthetic_release(
        output / "release",
        zip_path=output / "h3ds-synthetic.zip",
        password=token,
        top_folder="h3ds",
    )
    catalog_path = output / "catalog.toml"
    archive = output / "h3ds-synthetic.zip"
    release = open_release(archive, catalog_path=catalog_path, token=token)
    catalog = release.catalog
    say(
        f"   {archive.name}: ZipCrypto, {len(catalog.scenes)} scenes, read in place; "
        f"missing files: {len(release.missing())}"
    )
    say(f"   its access token (synthetic, printed to try the commands): {token}")

    scene_id = catalog.scene_ids()[0]
    dataset = H3DS(folder, config_path=catalog_path)
    mesh, images, masks, cameras = dataset.load_scene(scene_id, "3")
    say(
        f"2. Drop-in H3DS: scene {scene_id}, {len(mesh.vertices)} vertices, "
        f"{len(images)} images {images[0].size}, {len(masks)} masks, {len(cameras)} cameras"
    )

    predictions = write_synthetic_predictions(
        release, output / "predictions" / "synthetic-method", views_configs=DEMO_VIEWS
    )
    say(f"3. Perturbed reconstructions -> {predictions}")
    run = evaluate_folder(release, predictions, views_configs=DEMO_VIEWS, progress=progress)
    results, _ = run.write(output / "results.json")
    say("4. Official protocol (h3ds 0.4.0), mean GT -> prediction distance, face / head (mm):")
    say(run.table())
    say(f"   results: {results}")

    prepared = output / "hub-dataset"
    prepare_dataset(folder, prepared, catalog=catalog, configs=["3-views"], progress=progress)
    if not progress:
        datasets.disable_progress_bars()
    cache = output / "cache"  # keep the user's Hugging Face caches out of the demo
    rows = load_dataset(str(prepared), "3-views", split="test", cache_dir=str(cache))
    first = rows[0]
    say(
        f"5. Hub-ready dataset -> {prepared}; load_dataset(..., '3-views', split='test'): "
        f"{len(rows)} rows, scene {first['scene_id']}: {len(first['vertices'])} vertices, "
        f"views {[view['view_index'] for view in first['views']]}"
    )

    metric = evaluate.load(metric_path(), cache_dir=str(cache))
    for row in rows:
        metric.add(prediction=str(predictions / f"{row['scene_id']}_3.ply"), reference=row)
    scores = metric.compute()
    say(
        "6. evaluate.load(h3ds_hf.metric_path()) on the 3-views rows: "
        f"face {scores['face_chamfer_mm']:.4f} mm, head {scores['head_chamfer_mm']:.4f} mm "
        f"(protocol {scores['protocol']}, {len(scores['per_scene'])} scenes)"
    )

    card = build_card_files(
        load_results(results),
        model_id="demo/synthetic-method",
        dataset_id=PLACEHOLDER_REPO_ID,
        tasks=read_local_tasks(prepared),  # only the tasks the prepared dataset defines
    )
    readme, eval_results = write_card_files(card, output / "model-card")
    say(f"7. Model card: {readme} (model-index) and {eval_results}")

    exported = export_scene(release, scene_id, "3", output / "export", ExportOptions("nerfstudio"))
    say(f"8. nerfstudio export of scene {scene_id} (3 views): {exported / 'transforms.json'}")

    page = write_report(run, release, predictions, output / "report", EvaluationOptions())
    say(f"9. Report (tables, heatmaps, error curves): {page}")
    return results

"""Gradio app of the h3ds_chamfer Space: upload a reconstruction, pick its scene, get the scores.

The ground truth comes from the gated H3DS dataset on the Hub (``H3DS_DATASET``, default
``<org>/h3ds``; the Space's ``HF_TOKEN`` secret must have been granted access) or from a local
prepared folder given in ``H3DS_DATASET``. Only the ground-truth columns are read.

evaluate 0.4.6's ``launch_gradio_widget`` relies on removed gradio APIs, so the interface is
built here with plain gradio Blocks. Importing this module neither imports gradio nor touches
the network: both happen in :func:`build_demo` and on first use.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Any

import datasets
import evaluate

from h3ds_hf.evaluation import load_prediction
from h3ds_hf.metric import metric_path

#: Dataset holding the ground truth: a Hub repository id or a prepared local folder.
DATASET = os.environ.get("H3DS_DATASET", "<org>/h3ds")
#: Config whose rows carry the ground truth (every config holds every scene's scan).
CONFIG = os.environ.get("H3DS_CONFIG", "3-views")
GT_COLUMNS = ["scene_id", "vertices", "faces", "landmarks", "regions"]


@functools.cache
def ground_truth_rows() -> dict[str, dict[str, Any]]:
    """scene id -> dataset row (ground-truth columns only), loaded once."""
    rows = datasets.load_dataset(
        DATASET, CONFIG, split="test", columns=GT_COLUMNS, token=os.environ.get("HF_TOKEN")
    )
    return {row["scene_id"]: row for row in rows}


@functools.cache
def metric() -> evaluate.EvaluationModule:
    return evaluate.load(metric_path(), keep_in_memory=True)


def score(mesh_path: str, scene_id: str, protocol: str, landmarks_json: str = "") -> dict:
    """Scores of one reconstruction file against a scene's ground truth.

    Args:
        mesh_path: the uploaded .ply / .obj / .glb file (mm).
        scene_id: the scene it reconstructs.
        protocol: "h3ds" (published tables) or "surface".
        landmarks_json: optional ``{name: vertex index}`` of the six landmarks, as JSON.

    Returns:
        the metric's result without the per-scene list (a single scene).
    """
    rows = ground_truth_rows()
    if scene_id not in rows:
        raise ValueError(f"unknown scene {scene_id!r}")
    prediction: Any = mesh_path
    if landmarks_json.strip():
        vertices, faces = load_prediction(mesh_path)
        prediction = {
            "vertices": vertices,
            "faces": faces,
            "landmarks": json.loads(landmarks_json),
        }
    result = metric().compute(
        predictions=[prediction], references=[rows[scene_id]], protocol=protocol
    )
    result.pop("per_scene")
    return result


def build_demo() -> Any:
    """The gradio Blocks interface (imports gradio)."""
    import gradio as gr

    def run(mesh: str | None, scene_id: str, protocol: str, landmarks: str) -> dict:
        if mesh is None:
            raise gr.Error("upload a reconstruction (.ply, .obj or .glb, in mm)")
        try:
            return score(mesh, scene_id, protocol, landmarks)
        except ValueError as error:
            raise gr.Error(str(error)) from None

    with gr.Blocks(title="H3DS chamfer") as demo:
        gr.Markdown(
            "# H3DS chamfer\n"
            "Chamfer distance (mm) of a 3D head reconstruction to its H3DS ground-truth scan: "
            "'face' (within 95 mm of the nose tip) and 'head'. See the card for the protocols."
        )
        with gr.Row():
            mesh = gr.File(label="reconstruction", file_types=[".ply", ".obj", ".glb"])
            with gr.Column():
                scene = gr.Dropdown(choices=sorted(ground_truth_rows()), label="scene id")
                protocol = gr.Radio(["h3ds", "surface"], value="h3ds", label="protocol")
                landmarks = gr.Textbox(
                    label='predicted landmarks (optional JSON {"nose_tip": 123, ...})', lines=2
                )
        button = gr.Button("Score")
        output = gr.JSON(label="result")
        button.click(run, inputs=[mesh, scene, protocol, landmarks], outputs=output)
    return demo


if __name__ == "__main__":
    build_demo().launch()

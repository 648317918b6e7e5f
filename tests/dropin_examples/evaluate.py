"""As the authors' examples/evaluate.py: every reconstruction of a method is scored on the
full head and on the face sphere; GT and aligned predictions are saved, the predictions
coloured by their error and cut to the 95 mm sphere, and the metrics written as JSON."""

import argparse
import json
import os

import numpy as np
from h3ds.dataset import H3DS
from h3ds.log import logger
from h3ds.mesh import Mesh
from h3ds.utils import error_to_color


def main(h3ds_path, h3ds_token, config_path, recs_dir, output_dir, views_configs):
    h3ds = H3DS(path=h3ds_path, config_path=config_path)
    h3ds.download(token=h3ds_token)

    metrics_head, metrics_face = {}, {}
    eval_dir = os.path.join(output_dir, "evaluation")
    for scene_id in h3ds.scenes(tags={"h3d-net"}):
        metrics_head[scene_id], metrics_face[scene_id] = {}, {}
        for views_config_id in h3ds.default_views_configs(scene_id):
            if views_config_id not in views_configs:
                continue
            mesh_gt, images, masks, cameras = h3ds.load_scene(scene_id, views_config_id)
            mesh_pred = Mesh().load(os.path.join(recs_dir, f"{scene_id}_{views_config_id}.ply"))
            with open(os.path.join(recs_dir, f"{scene_id}_{views_config_id}.landmarks.json")) as f:
                landmarks_pred = json.load(f) if views_config_id == views_configs[0] else None

            chamfer_gt_pred, chamfer_pred_gt, mesh_gt, mesh_pred_aligned = h3ds.evaluate_scene(
                scene_id, mesh_pred, landmarks_pred
            )
            metrics_head[scene_id][views_config_id] = float(np.mean(chamfer_gt_pred))
            logger.info(f" > Chamfer distance full head (mm): {np.mean(chamfer_gt_pred)}")
            mesh_gt.save(
                os.path.join(eval_dir, "full_head", f"{scene_id}_{views_config_id}_gt.obj")
            )
            mesh_pred_aligned.vertices_color = error_to_color(chamfer_pred_gt, clipping_error=5)
            mesh_pred_aligned.save(
                os.path.join(eval_dir, "full_head", f"{scene_id}_{views_config_id}_pred.obj")
            )

            chamfer_gt_pred, chamfer_pred_gt, mesh_gt_region, mesh_pred_aligned = (
                h3ds.evaluate_scene(scene_id, mesh_pred, landmarks_pred, region_id="face_sphere")
            )
            metrics_face[scene_id][views_config_id] = float(np.mean(chamfer_gt_pred))
            mesh_gt_region.save(
                os.path.join(eval_dir, "face_sphere", f"{scene_id}_{views_config_id}_gt.obj")
            )
            mesh_pred_aligned.vertices_color = error_to_color(chamfer_pred_gt, clipping_error=5)
            landmarks_true = h3ds.load_landmarks(scene_id)
            mask_sphere = np.where(
                np.linalg.norm(
                    mesh_pred_aligned.vertices - mesh_gt.vertices[landmarks_true["nose_tip"]],
                    axis=-1,
                )
                < 95
            )
            mesh_pred_aligned = mesh_pred_aligned.cut(mask_sphere)
            mesh_pred_aligned.save(
                os.path.join(eval_dir, "face_sphere", f"{scene_id}_{views_config_id}_pred.obj")
            )

    with open(os.path.join(output_dir, "metrics.json"), "w") as f:
        json.dump({"head": metrics_head, "face": metrics_face}, f)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--h3ds-path", required=True)
    parser.add_argument("--h3ds-token", required=True)
    parser.add_argument("--config-path", required=True)
    parser.add_argument("--recs-dir", required=True)
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--views-configs", default="3,8")
    args = parser.parse_args()
    main(
        args.h3ds_path,
        args.h3ds_token,
        args.config_path,
        args.recs_dir,
        args.output_dir,
        args.views_configs.split(","),
    )

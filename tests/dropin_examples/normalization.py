"""As the authors' examples/normalization.py: a scene in mm and normalized, and the matrix
between them; both meshes are also saved, so that the two runs can be compared."""

import argparse
import os
import random

import numpy as np
from h3ds.dataset import H3DS
from h3ds.log import logger


def main(h3ds_path, h3ds_token, config_path, output_dir):
    h3ds = H3DS(path=h3ds_path, config_path=config_path)
    h3ds.download(token=h3ds_token)
    random.seed(0)
    scene_id = random.choice(h3ds.scenes())

    mesh_mm, images, masks, cameras_mm = h3ds.load_scene(scene_id)
    mesh_unit, images, masks, cameras_unit = h3ds.load_scene(scene_id, normalized=True)
    transform = h3ds.load_normalization_matrix(scene_id)

    vertices_mm_hom = np.hstack([mesh_mm.vertices, np.ones((mesh_mm.vertices.shape[0], 1))])
    vertices_mm_to_unit = (transform @ vertices_mm_hom.T).T[:, :3]
    assert np.allclose(vertices_mm_to_unit, mesh_unit.vertices)
    logger.info("Transformed meshes are equivalent")

    mesh_mm.save(os.path.join(output_dir, f"{scene_id}_mm.obj"))
    mesh_unit.save(os.path.join(output_dir, f"{scene_id}_unit.obj"))
    np.save(os.path.join(output_dir, f"{scene_id}_normalization.npy"), transform)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--h3ds-path", required=True)
    parser.add_argument("--h3ds-token", required=True)
    parser.add_argument("--config-path", required=True)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args()
    main(args.h3ds_path, args.h3ds_token, args.config_path, args.output_dir)

"""As the authors' examples/project_scene.py: the GT vertices projected into each photo of a
views config with its cameras (saved as PNG, losslessly, so the runs can be compared)."""

import argparse
import os
import random

import numpy as np
from h3ds.dataset import H3DS
from PIL import Image


def project_scene(mesh, img, cam, color=(255, 0, 0)):
    K, P = cam
    P_inv = np.linalg.inv(P)
    p3d_h = np.hstack((mesh.vertices, np.ones((mesh.vertices.shape[0], 1))))
    p2d_h = (K @ P_inv[:3, :] @ p3d_h.T).T
    p2d = p2d_h[:, :-1] / p2d_h[:, -1:]
    img_proj = np.array(img)
    p2d = np.clip(p2d, 0, img.width - 1).astype(np.uint32)
    img_proj[p2d[:, 1], p2d[:, 0]] = color
    return Image.fromarray(img_proj.astype(np.uint8))


def main(h3ds_path, h3ds_token, config_path, output_dir):
    h3ds = H3DS(path=h3ds_path, config_path=config_path)
    h3ds.download(token=h3ds_token)
    random.seed(1)
    scene_id = random.choice(h3ds.scenes())
    mesh, images, masks, cameras = h3ds.load_scene(scene_id, "8")
    os.makedirs(output_dir, exist_ok=True)
    for idx, (img, cam) in enumerate(zip(images, cameras)):
        project_scene(mesh, img, cam).save(os.path.join(output_dir, f"{idx}.png"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--h3ds-path", required=True)
    parser.add_argument("--h3ds-token", required=True)
    parser.add_argument("--config-path", required=True)
    parser.add_argument("--output-dir", required=True)
    args = parser.parse_args()
    main(args.h3ds_path, args.h3ds_token, args.config_path, args.output_dir)

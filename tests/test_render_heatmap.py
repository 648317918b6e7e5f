"""The heatmap renderer: orientation of the views, colour interpolation, shading."""

from __future__ import annotations

import numpy as np

from h3ds_hf.benchmark.html_report import head_frame
from h3ds_hf.render.heatmap import BACKGROUND, render_view, view_camera
from h3ds_hf.render.raster import project, rasterize
from h3ds_hf.synthetic.release import synthetic_ground_truth


def test_views_face_the_camera_and_keep_vertex_colours():
    gt = synthetic_ground_truth(0, subdivisions=4)
    frame = head_frame(gt)  # the synthetic face looks along +z, y up, subject's left at +x
    assert np.allclose(frame.up, [0, 1, 0], atol=0.15) and frame.front[2] > 0.9
    left_half = gt.vertices[:, 0] > 0
    colours = np.where(left_half[:, None], [255, 0, 0], [0, 0, 255]).astype(np.uint8)
    front = render_view(gt.vertices, gt.faces, colours, frame, "front", 96).astype(int)
    covered = np.any(front != BACKGROUND, axis=2)
    assert 0.2 < covered.mean() < 0.9
    # Facing the subject, their left is on the picture's right.
    right, left = front[:, 60:][covered[:, 60:]], front[:, :36][covered[:, :36]]
    assert (right[:, 0] > right[:, 2]).all() and (left[:, 2] > left[:, 0]).all()
    assert right[:, 1].max() == 0  # interpolated between red vertices only: never green
    assert len(np.unique(right[:, 0])) > 10  # shaded by the surface's facing
    # From the subject's left, the left half fills the picture.
    side = render_view(gt.vertices, gt.faces, colours, frame, "left", 96).astype(int)
    seen = side[np.any(side != BACKGROUND, axis=2)]
    assert (seen[:, 0] > seen[:, 2]).mean() > 0.95


def test_silhouette_is_the_zbuffers():
    gt = synthetic_ground_truth(0, subdivisions=3)
    frame = head_frame(gt)
    colours = np.full((len(gt.vertices), 3), 200, dtype=np.uint8)
    image = render_view(gt.vertices, gt.faces, colours, frame, "right", 64)
    pixels, depth = project(view_camera(frame, "right", 64), gt.vertices)
    covered = rasterize(pixels, depth, gt.faces, 64, 64).covered
    assert np.array_equal(np.any(image != BACKGROUND, axis=2), covered)

"""The one colour scale of error heatmaps (report PNGs, PLY / GLB files, the Space).

Distances run from green (0 mm) through yellow (clip / 2) to red (at and above the clip);
vertices outside the scored region (NaN distance) are grey. The clip is chosen per region:
by default the 95th percentile of the run's distances, rounded up to a 1 / 2 / 2.5 / 5 x 10^k
step (so face maps, ~1 mm, and head maps, ~10 mm, are both readable and their colour bars get
round ticks).
"""

from __future__ import annotations

import math

import numpy as np

#: Colour of vertices outside the scored region (RGB).
GREY = (170, 170, 170)
#: Percentile of the run's distances that sets the default clip.
CLIP_PERCENTILE = 95.0
_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)


def error_colours(distances_mm: np.ndarray, clip_mm: float) -> np.ndarray:
    """Per-vertex colours of distances.

    Args:
        distances_mm: (N,) distances (mm); NaN where the vertex is outside the scored region.
        clip_mm: distance drawn full red (> 0).

    Returns:
        (N, 3) uint8 RGB: green at 0, yellow at clip / 2, red at and above the clip, grey for NaN.
    """
    if not clip_mm > 0:
        raise ValueError(f"clip must be > 0 mm, got {clip_mm}")
    distances = np.asarray(distances_mm, dtype=np.float64)
    outside = np.isnan(distances)
    t = np.clip(np.where(outside, 0.0, distances) / clip_mm, 0.0, 1.0)
    red = np.clip(2.0 * t, 0.0, 1.0)
    green = np.clip(2.0 * (1.0 - t), 0.0, 1.0)
    rgb = np.round(np.stack([red, green, np.zeros_like(t)], axis=1) * 255).astype(np.uint8)
    rgb[outside] = GREY
    return rgb


def default_clip_mm(percentile_mm: float) -> float:
    """The default clip from the run's :data:`CLIP_PERCENTILE`-th percentile distance (mm),
    rounded up to the next 1 / 2 / 2.5 / 5 x 10^k step (0.4 -> 0.5, 1.3 -> 2, 11 -> 20)."""
    if not percentile_mm > 0:
        return 1.0
    scale = 10.0 ** math.floor(math.log10(percentile_mm))
    step = next(s for s in _STEPS if s * scale >= percentile_mm * (1 - 1e-12))
    return step * scale

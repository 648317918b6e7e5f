"""``error_to_color``: the reference's ``h3ds.utils.error_to_color`` heatmap colours."""

from __future__ import annotations

import numpy as np


def error_to_color(errors: np.ndarray, clipping_error: float | None = None) -> np.ndarray:
    """Per-vertex errors -> (N, 3) float64 RGB in [0, 1], as h3ds 0.4.0 colours them.

    The hue runs from green (error 0, or the smallest error when ``clipping_error`` is None)
    to red (``clipping_error`` and above, or the largest error), at full saturation and value:
    HSV (h = (1 - t) / 3, 1, 1) with t the normalized error.

    Args:
        errors: (N,) errors (mm).
        clipping_error: the error that gets the full red; None normalizes by the range.
    """
    errors = np.asarray(errors, dtype=np.float64)
    if clipping_error is not None:
        t = np.clip(errors / float(clipping_error), 0.0, 1.0)
    else:
        t = (errors - errors.min()) / (errors.max() - errors.min())
    sector = 6.0 * (1.0 - t) / 3.0  # the hue in sixths of the colour wheel, in [0, 2]
    red = np.clip(np.abs(sector - 3.0) - 1.0, 0.0, 1.0)
    green = np.clip(2.0 - np.abs(sector - 2.0), 0.0, 1.0)
    blue = np.clip(2.0 - np.abs(sector - 4.0), 0.0, 1.0)
    return np.stack([red, green, blue], axis=-1)

"""Warnings for scores that are computable but probably wrong: a user's mistake that still
produces a plausible-looking number (a mesh in metres, a fit that rescaled or mirrored it).

A warning never changes a score; it is reported beside it (``warnings`` in the results, a
marker in the table) so the number is not published without a second look.
"""

from __future__ import annotations

import numpy as np

from h3ds_hf.evaluation.results import AlignmentDiagnostics

#: Prediction / GT bounding-box diagonal outside this range: probably another unit. A head is
#: ~250 mm across; a face-only reconstruction is about half of it, metres give ~0.001.
EXTENT_RATIO_RANGE: tuple[float, float] = (0.2, 5.0)
#: A fitted similarity scale (landmarks or ICP) outside this range: implausible.
SCALE_RANGE: tuple[float, float] = (0.5, 2.0)
#: ICP RMS of the last matches (in GT millimetres) above which the fit is implausible.
MAX_ICP_RMS_MM = 20.0
#: Ratios of a prediction's extent to the GT's that name a likely unit mistake.
_UNIT_RATIOS = {"metres": 1e-3, "centimetres": 1e-1, "inches": 1 / 25.4, "micrometres": 1e3}


def extent(points: np.ndarray) -> float:
    """Diagonal of the axis-aligned bounding box of (N, 3) points (their unit)."""
    if len(points) == 0:
        return 0.0
    return float(np.linalg.norm(np.ptp(points, axis=0)))


def unit_warning(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> str | None:
    """A warning when the prediction's size is not that of a head in millimetres.

    Args:
        pred_vertices: (M, 3) the prediction as given (before any alignment).
        gt_vertices: (N, 3) the ground truth (mm).
    """
    pred, gt = extent(pred_vertices), extent(gt_vertices)
    if gt == 0:
        return None
    ratio = pred / gt
    low, high = EXTENT_RATIO_RANGE
    if low <= ratio <= high:
        return None
    guess = min(_UNIT_RATIOS, key=lambda unit: abs(np.log(max(ratio, 1e-12) / _UNIT_RATIOS[unit])))
    return (
        f"units: the prediction spans {pred:.4g} (bounding-box diagonal), the ground truth "
        f"{gt:.4g} mm (ratio {ratio:.3g}); H3DS is in millimetres: is the prediction in {guess}?"
    )


def scale_warning(what: str, scale: float) -> str | None:
    """A warning when a fitted similarity's isotropic ``scale`` is far from 1."""
    low, high = SCALE_RANGE
    if low <= scale <= high:
        return None
    return f"{what} rescaled the prediction by {scale:.4g} (outside {low:g}-{high:g})"


def fit_warnings(region: str, fit: AlignmentDiagnostics) -> list[str]:
    """Warnings on one region's ICP fit (GT -> prediction): scale, RMS, reflection."""
    found = []
    if fit.scale > 0:  # GT -> prediction scale: the prediction was rescaled by its inverse
        warning = scale_warning(f"{region}: the ICP", 1.0 / fit.scale)
        if warning:
            found.append(warning)
        rms = fit.rms_mm / fit.scale  # in GT millimetres
        if rms > MAX_ICP_RMS_MM:
            found.append(
                f"{region}: the ICP's RMS is {rms:.3g} mm (above {MAX_ICP_RMS_MM:g} mm): "
                "probably misaligned"
            )
    if fit.reflection:
        found.append(f"{region}: the ICP chose a reflection (the prediction is mirrored)")
    return found

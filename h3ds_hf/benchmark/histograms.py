"""Per-pair histograms of per-vertex distances, kept in the results JSON.

A scored pair keeps, for each region and direction (GT -> prediction, prediction -> GT), the
counts of its distances in fixed bins of :data:`BIN_MM` from 0 to :data:`CAP_MM`, plus how many
lie at or above the cap. From results files alone this gives the cumulative error curves
(fraction of points within d mm, exact at every multiple of the bin) and percentiles to the bin.
The counts are stored as zlib-compressed little-endian uint32, base64 text: a head's ~10^4
bins take a few hundred bytes. Results files written before histograms existed have none: no
curve is drawn for them.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from h3ds_hf.errors import H3DSError

#: Bin width (mm): the resolution of curves and percentiles drawn from results files.
BIN_MM = 0.01
#: Distances at or above this (mm) are only counted (``above_cap``).
CAP_MM = 100.0
#: The two directions kept, named as the results' mean distances.
DIRECTIONS = ("gt_to_pred", "pred_to_gt")

_BINS = round(CAP_MM / BIN_MM)


def distance_histogram(distances_mm: np.ndarray) -> dict[str, Any]:
    """(N,) distances (mm) -> the JSON record ``{"counts": base64, "above_cap": int}``."""
    distances = np.asarray(distances_mm, dtype=np.float64)
    index = np.floor(distances / BIN_MM).astype(np.int64)
    below = index < _BINS
    counts = np.bincount(index[below], minlength=_BINS).astype("<u4")
    packed = base64.b64encode(zlib.compress(counts.tobytes(), 9)).decode("ascii")
    return {"counts": packed, "above_cap": int(np.count_nonzero(~below))}


def region_histograms(gt_to_pred: np.ndarray, pred_to_gt: np.ndarray) -> dict[str, Any]:
    """The ``histograms`` record of one region: both directions, with the bin layout."""
    return {
        "bin_mm": BIN_MM,
        "cap_mm": CAP_MM,
        "gt_to_pred": distance_histogram(gt_to_pred),
        "pred_to_gt": distance_histogram(pred_to_gt),
    }


def histogram_counts(record: Mapping[str, Any], direction: str = "gt_to_pred") -> np.ndarray:
    """Decode one direction of a ``histograms`` record: (BINS + 1,) int64 counts, the last
    one the count at or above the cap.

    Raises:
        H3DSError: the record is not one this version wrote (untrusted results files).
    """
    try:
        if record["bin_mm"] != BIN_MM or record["cap_mm"] != CAP_MM:
            raise ValueError(f"bins {record['bin_mm']} mm up to {record['cap_mm']} mm")
        entry = record[direction]
        raw = zlib.decompress(base64.b64decode(entry["counts"], validate=True), bufsize=_BINS * 4)
        counts = np.frombuffer(raw, dtype="<u4").astype(np.int64)
        if len(counts) != _BINS:
            raise ValueError(f"{len(counts)} bins, expected {_BINS}")
        above = int(entry["above_cap"])
    except (KeyError, TypeError, ValueError, zlib.error) as error:
        raise H3DSError(f"invalid distance histogram: {error}") from None
    return np.append(counts, above)


def cumulative_curve(
    records: Iterable[Mapping[str, Any]], max_mm: float, direction: str = "gt_to_pred"
) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of points within d mm, pooled over several pairs' ``histograms`` records.

    Returns:
        d: (K,) thresholds from 0 to ``max_mm`` (mm) in steps of :data:`BIN_MM`; fraction:
        (K,) in [0, 1], the share of points whose distance is below d.
    """
    total = sum(histogram_counts(record, direction) for record in records)
    steps = min(round(max_mm / BIN_MM), _BINS)
    d = np.arange(steps + 1) * BIN_MM
    below = np.concatenate([[0], np.cumsum(total[:steps])])
    return d, below / max(int(total.sum()), 1)


def percentile_mm(
    records: Iterable[Mapping[str, Any]], q: float, direction: str = "gt_to_pred"
) -> float:
    """The ``q``-th percentile (0-100) of the pooled distances, to the bin's upper edge (mm);
    :data:`CAP_MM` when it lies at or above the cap."""
    total = sum(histogram_counts(record, direction) for record in records)
    n = int(total.sum())
    if n == 0:
        raise H3DSError("no distance to take a percentile of")
    rank = int(np.searchsorted(np.cumsum(total), q / 100 * n))
    return min(rank + 1, _BINS) * BIN_MM

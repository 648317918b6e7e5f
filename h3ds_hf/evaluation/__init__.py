"""Scoring reconstructions against H3DS ground truth.

Two protocols: "h3ds" reproduces h3ds 0.4.0 ``evaluate_scene`` (the published numbers), fast;
"surface" aligns without reflection and measures point-to-surface distances, free of the
mesh-resolution bias of vertex-to-vertex distances.

The names below are imported on first use: the compiled kernels (numba) and the mesh readers
(trimesh) load only when something is scored or read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from h3ds_hf.distribution import lazy_exports

if TYPE_CHECKING:
    from h3ds_hf.evaluation.evaluator import (
        SceneEvaluator,
        evaluate_pair,
        evaluate_scene_reference,
    )
    from h3ds_hf.evaluation.predictions import (
        LANDMARKS_SUFFIX,
        PREDICTION_SUFFIXES,
        load_prediction,
        read_landmarks,
    )
    from h3ds_hf.evaluation.protocols import ALIGNMENTS, EVALUATION_REGIONS, PROTOCOLS
    from h3ds_hf.evaluation.results import (
        FSCORE_THRESHOLDS_MM,
        AlignmentDiagnostics,
        FScore,
        PairResult,
        RegionResult,
    )

#: Public name -> the module that defines it.
_EXPORTS = {
    "ALIGNMENTS": "h3ds_hf.evaluation.protocols",
    "EVALUATION_REGIONS": "h3ds_hf.evaluation.protocols",
    "PROTOCOLS": "h3ds_hf.evaluation.protocols",
    "SceneEvaluator": "h3ds_hf.evaluation.evaluator",
    "evaluate_pair": "h3ds_hf.evaluation.evaluator",
    "evaluate_scene_reference": "h3ds_hf.evaluation.evaluator",
    "LANDMARKS_SUFFIX": "h3ds_hf.evaluation.predictions",
    "PREDICTION_SUFFIXES": "h3ds_hf.evaluation.predictions",
    "load_prediction": "h3ds_hf.evaluation.predictions",
    "read_landmarks": "h3ds_hf.evaluation.predictions",
    "FSCORE_THRESHOLDS_MM": "h3ds_hf.evaluation.results",
    "AlignmentDiagnostics": "h3ds_hf.evaluation.results",
    "FScore": "h3ds_hf.evaluation.results",
    "PairResult": "h3ds_hf.evaluation.results",
    "RegionResult": "h3ds_hf.evaluation.results",
}

__all__ = [
    "ALIGNMENTS",
    "EVALUATION_REGIONS",
    "FSCORE_THRESHOLDS_MM",
    "LANDMARKS_SUFFIX",
    "PREDICTION_SUFFIXES",
    "PROTOCOLS",
    "AlignmentDiagnostics",
    "FScore",
    "PairResult",
    "RegionResult",
    "SceneEvaluator",
    "evaluate_pair",
    "evaluate_scene_reference",
    "load_prediction",
    "read_landmarks",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)

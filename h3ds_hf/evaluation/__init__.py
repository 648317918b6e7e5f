"""Scoring reconstructions against H3DS ground truth.

Two protocols: "h3ds" reproduces h3ds 0.4.0 ``evaluate_scene`` (the published numbers), fast;
"surface" aligns without reflection and measures point-to-surface distances, free of the
mesh-resolution bias of vertex-to-vertex distances.
"""

from h3ds_hf.evaluation.evaluator import (
    ALIGNMENTS,
    EVALUATION_REGIONS,
    PROTOCOLS,
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
from h3ds_hf.evaluation.results import (
    FSCORE_THRESHOLDS_MM,
    AlignmentDiagnostics,
    FScore,
    PairResult,
    RegionResult,
)

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

"""A folder of reconstructions scored against a release: the paper's tables and their files.

- :mod:`~h3ds_hf.benchmark.names`: config names, splits and task ids shared by the dataset, the
  results and the Hub cards;
- :mod:`~h3ds_hf.benchmark.batch`: :func:`evaluate_folder`, scoring a benchmark scene by scene;
- :mod:`~h3ds_hf.benchmark.report`: results of a run, their JSON / CSV and the face / head table;
- :mod:`~h3ds_hf.benchmark.heatmaps`: per-vertex error colours written as PLY.

It imports the base modules, :mod:`h3ds_hf.release` and :mod:`h3ds_hf.evaluation`; the ground
truth is handed in already opened (:class:`GroundTruthSource`). The names below are imported
on first use, so that :mod:`~h3ds_hf.benchmark.names` stays cheap for the Hub layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from h3ds_hf.distribution import lazy_exports

if TYPE_CHECKING:
    from h3ds_hf.benchmark.batch import (
        EvaluationOptions,
        GroundTruthSource,
        Prediction,
        evaluate_folder,
        find_predictions,
    )
    from h3ds_hf.benchmark.report import EvaluationRun, load_results

#: Public name -> the module that defines it.
_EXPORTS = {
    "EvaluationOptions": "h3ds_hf.benchmark.batch",
    "GroundTruthSource": "h3ds_hf.benchmark.batch",
    "Prediction": "h3ds_hf.benchmark.batch",
    "evaluate_folder": "h3ds_hf.benchmark.batch",
    "find_predictions": "h3ds_hf.benchmark.batch",
    "EvaluationRun": "h3ds_hf.benchmark.report",
    "load_results": "h3ds_hf.benchmark.report",
}

__all__ = [
    "EvaluationOptions",
    "EvaluationRun",
    "GroundTruthSource",
    "Prediction",
    "evaluate_folder",
    "find_predictions",
    "load_results",
]


__getattr__ = lazy_exports(__name__, _EXPORTS)

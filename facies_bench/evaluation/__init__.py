"""The standard evaluator: every metric of the paper from one predictions file.

Public API: :func:`evaluate_predictions` (and the store-free :func:`evaluate_frame`) returning an
:class:`EvaluationReport`; the per-fold confidence calibrators (:func:`fit_calibrators`,
:class:`Calibrator`, :func:`save_calibrators`, :func:`load_calibrators`); the paired comparison of two
models (:func:`compare_predictions`, :func:`compare_frames`); the metric table
(:data:`METRICS`, :class:`Metric`, :func:`get_metric`) that every list of metrics derives from.
"""

from importlib import import_module
from typing import Any

# Imported on first use, so that reading the metric table (the CLI, the spec) does not pay for
# pandas, scikit-learn and matplotlib.
_LAZY = {
    "Calibrator": "calibration", "fit_calibrator": "calibration", "fit_calibrators": "calibration",
    "load_calibrators": "calibration", "save_calibrators": "calibration",
    "compare_frames": "paired", "compare_predictions": "paired", "PairedComparison": "paired",
    "evaluate_frame": "evaluate", "evaluate_predictions": "evaluate",
    "EvaluationReport": "report", "load_report": "report",
    "METRICS": "metric_table", "Metric": "metric_table", "SUMMARY_VERSION": "metric_table", "get_metric": "metric_table",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"facies_bench.evaluation.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'facies_bench.evaluation' has no attribute {name!r}")

"""The standard evaluator: every metric of the paper from one predictions file.

Public API: :func:`evaluate_predictions` (and the store-free :func:`evaluate_frame`) returning an
:class:`EvaluationReport`; the per-fold confidence calibrators (:func:`fit_calibrators`,
:class:`Calibrator`, :func:`save_calibrators`, :func:`load_calibrators`).
"""

from facies_bench.evaluation.calibration import Calibrator, fit_calibrator, fit_calibrators, load_calibrators, save_calibrators
from facies_bench.evaluation.evaluate import evaluate_frame, evaluate_predictions
from facies_bench.evaluation.report import EvaluationReport, load_report

__all__ = [
    "Calibrator", "EvaluationReport", "evaluate_frame", "evaluate_predictions", "fit_calibrator", "fit_calibrators",
    "load_calibrators", "load_report", "save_calibrators",
]

"""The standard evaluator: every metric of the paper from one predictions file.

:func:`evaluate_predictions` reads a predictions file, joins it to a store's label variant and
returns an :class:`~facies_bench.evaluation.report.EvaluationReport`.  :func:`evaluate_frame` is the
same without a store: it takes the metadata frame (``store.metadata(variant)`` or any frame with
``sample_id, label, fold, glacier, region, sensor``), which the benchmark uses.
"""

from __future__ import annotations

import datetime as _dt
import logging
import os
from importlib import metadata as _metadata
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.errors import PredictionsError
from facies_bench.evaluation.bootstrap import bootstrap_glaciers
from facies_bench.evaluation.calibration import Calibrator, fit_fold_calibrators
from facies_bench.evaluation.grouping import Grouping, grouped_scores, make_grouping, size_f1_correlation
from facies_bench.evaluation.metric_table import confusion_metrics, interval_metrics, per_class_metrics
from facies_bench.evaluation.metrics import (
    ECE_BINS,
    ConfusionScores,
    confusion_counts,
    expected_calibration_error,
    reliability_curve,
    row_normalise,
    scores_from_confusion,
)
from facies_bench.evaluation.report import REPORT_FORMAT, EvaluationReport
from facies_bench.predictions import (
    SUM_TOLERANCE,
    JoinedPredictions,
    join_predictions,
    join_validation,
    predictions_sha256,
    read_predictions,
)

log = logging.getLogger(__name__)

PredictionsInput: TypeAlias = str | os.PathLike | pd.DataFrame


def _num(value: Any) -> float | None:
    """A JSON number, or None for NaN/None."""
    if value is None:
        return None
    value = float(value)
    return None if not np.isfinite(value) else value


def _matrix(values: np.ndarray) -> list[list[float | None]]:
    return [[_num(v) for v in row] for row in values]


def _block(scores: ConfusionScores, cm: np.ndarray, i: int) -> dict[str, Any]:
    """Report block of group ``i``.

    The table's confusion metrics, per-class entries (null when absent) and the confusion matrix.
    """
    counts = cm[i]
    per_class = {}
    for c, key in enumerate(schema.CLASS_KEYS):
        entry = {m.per_class: _num(getattr(scores, m.per_class)[i][c]) for m in per_class_metrics() if m.per_class}
        per_class[key] = {**entry, "support": int(scores.support[i][c]), "predicted": int(scores.predicted[i][c])}
    return {
        "n": int(scores.n[i]), "n_classes_present": int(scores.n_present[i]),
        **{m.key: _num(m.from_counts(counts)) for m in confusion_metrics()},
        "per_class": per_class,
        "confusion": {"counts": counts.astype(int).tolist(), "row_normalised": _matrix(row_normalise(counts))},
    }


def _interval_block(estimate: Any, interval: tuple[float, float]) -> dict[str, float | None]:
    return {"estimate": _num(estimate), "low": _num(interval[0]), "high": _num(interval[1])}


def _curve(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    curve = reliability_curve(confidence, correct, n_bins=ECE_BINS)
    return {"ece": _num(curve.ece), "edges": curve.edges.round(6).tolist(), "count": curve.count.astype(int).tolist(),
            "mean_confidence": [_num(v) for v in curve.mean_confidence], "accuracy": [_num(v) for v in curve.accuracy]}


def _calibration(test: JoinedPredictions, validation: JoinedPredictions | None,
                 validation_source: str) -> tuple[dict[str, Any], dict[int, Calibrator]]:
    conf, correct = test.confidence, test.correct
    folds = test.fold
    n_folds = schema.N_FOLDS
    ece_fold = expected_calibration_error(conf, correct, groups=folds, n_groups=n_folds)
    ece_class = expected_calibration_error(conf, correct, groups=test.pred, n_groups=schema.N_CLASSES)
    n_pred = np.bincount(test.pred, minlength=schema.N_CLASSES)
    present_folds = sorted(set(folds.tolist()))
    section: dict[str, Any] = {
        "calibrated": False, "n_bins": ECE_BINS, "confidence": "max-softmax",
        "ece_100": _num(expected_calibration_error(conf, correct)), "ece_100_calibrated": None,
        "per_fold": {str(k): {"ece_100": _num(ece_fold[k]), "ece_100_calibrated": None} for k in present_folds},
        "per_class": {key: {"n_predicted": int(n_pred[c]), "ece_100": _num(ece_class[c]), "ece_100_calibrated": None}
                      for c, key in enumerate(schema.CLASS_KEYS)},
        "validation": None, "calibrators": None,
        "reliability": {"before": _curve(conf, correct), "after": None},
        "note": "Calibration was not run: no validation predictions were given (pass --validation-predictions).",
    }
    if validation is None:
        return section, {}
    v_model = validation.model_fold
    if v_model is None:
        raise PredictionsError(f"{validation_source}: validation predictions need a 'model_fold' column.")
    calibrators = fit_fold_calibrators(validation.confidence, validation.correct, v_model)
    lacking = [k for k in present_folds if k not in calibrators]
    if lacking:
        msg = (f"{validation_source}: no validation predictions for the model(s) of test fold(s) "
               f"{', '.join(map(str, lacking))} (model_fold present: {', '.join(map(str, sorted(calibrators)))}); "
               "calibration needs every scored test fold's model.")
        raise PredictionsError(msg)
    calibrated = np.empty_like(conf)
    for k in present_folds:
        rows = folds == k
        calibrated[rows] = calibrators[k].predict(conf[rows])
    cal_fold = expected_calibration_error(calibrated, correct, groups=folds, n_groups=n_folds)
    cal_class = expected_calibration_error(calibrated, correct, groups=test.pred, n_groups=schema.N_CLASSES)
    v_conf, v_correct = validation.confidence, validation.correct
    v_cal = np.empty_like(v_conf)
    for k in calibrators:
        rows = v_model == k
        v_cal[rows] = calibrators[k].predict(v_conf[rows])
    v_before = expected_calibration_error(v_conf, v_correct, groups=v_model, n_groups=n_folds)
    v_after = expected_calibration_error(v_cal, v_correct, groups=v_model, n_groups=n_folds)
    section.update({
        "calibrated": True,
        "ece_100_calibrated": _num(expected_calibration_error(calibrated, correct)),
        "method": "per-fold KernelRidge(kernel='laplacian', gamma=1) on the validation reliability curve with anchors (0,0), (1,1); output clipped to [0, 1]",
        "note": None,
        "validation": {
            "ece_100": _num(expected_calibration_error(v_conf, v_correct)),
            "ece_100_calibrated": _num(expected_calibration_error(v_cal, v_correct)),
            "per_model_fold": {str(k): {"validation_fold": schema.validation_fold(k), "n": int((v_model == k).sum()),
                                        "ece_100": _num(v_before[k]), "ece_100_calibrated": _num(v_after[k])}
                               for k in sorted(calibrators)},
        },
        "calibrators": {str(k): c.to_dict() for k, c in sorted(calibrators.items())},
    })
    for k in present_folds:
        section["per_fold"][str(k)]["ece_100_calibrated"] = _num(cal_fold[k])
    for c, key in enumerate(schema.CLASS_KEYS):
        section["per_class"][key]["ece_100_calibrated"] = _num(cal_class[c])
    section["reliability"]["after"] = _curve(calibrated, correct)
    return section, calibrators


def _source_name(predictions: PredictionsInput) -> str:
    return "<DataFrame>" if isinstance(predictions, pd.DataFrame) else str(predictions)


def _file_info(predictions: PredictionsInput, frame: pd.DataFrame) -> dict[str, Any]:
    """Provenance of a predictions input: path (None for a frame), content hash and row count."""
    return {"path": None if isinstance(predictions, pd.DataFrame) else os.fspath(predictions),
            "sha256": predictions_sha256(predictions), "n_rows": int(len(frame))}


def _glacier_wise(sub: pd.DataFrame, test: JoinedPredictions, grouping: Grouping, g_cm: np.ndarray,
                  g_scores: ConfusionScores) -> dict[str, Any]:
    """The ``glacier_wise`` section: mean and std of the glacier macro F1 and one block per glacier."""
    _, first_row = np.unique(grouping.codes, return_index=True)  # codes run 0..G-1
    glacier_region = sub["region"].to_numpy()[first_row]
    glacier_fold = test.fold[first_row]
    per_glacier = {name: {"region": str(glacier_region[i]), "fold": int(glacier_fold[i]), "n": int(g_scores.n[i]),
                          "n_classes_present": int(g_scores.n_present[i]),
                          **{m.key: _num(m.from_counts(g_cm[i])) for m in confusion_metrics()}}
                   for i, name in enumerate(grouping.names)}
    glacier_f1 = g_scores.macro_f1[np.isfinite(g_scores.macro_f1)]
    return {"n_glaciers": int(glacier_f1.size), "mean_f1": _num(glacier_f1.mean()) if glacier_f1.size else None,
            "std_f1": _num(glacier_f1.std(ddof=0)) if glacier_f1.size else None, "std_ddof": 0,
            "per_glacier": per_glacier}


def evaluate_frame(predictions: PredictionsInput, metadata: pd.DataFrame, *,
                   validation_predictions: PredictionsInput | None = None, n_bootstrap: int = 1000, seed: int = 0,
                   store_info: dict[str, Any] | None = None, variant: str = "raw") -> EvaluationReport:
    """Score predictions against a metadata frame (the store-free entry point).

    Args:
        predictions: test predictions (path or DataFrame; see :mod:`facies_bench.predictions`).
        metadata: one row per sample with ``sample_id``, ``label`` (``schema.PRUNED`` = not scored),
            ``fold``, ``glacier``, ``region``, ``sensor``.
        validation_predictions: the fold models' validation predictions (with ``model_fold``);
            when given, per-fold calibrators are fitted and ECE after calibration is reported.
        n_bootstrap: glacier resamples for the 95 % intervals (0 skips the bootstrap).
        seed: seed of the bootstrap.
        store_info: store identity recorded in the provenance (``store.describe()``).
        variant: name of the label variant the ``label`` column holds.

    Returns:
        The :class:`EvaluationReport`.

    Raises:
        PredictionsError: for any malformed or inconsistent input.
    """
    frame = read_predictions(predictions, kind="test")
    test = join_predictions(frame, metadata, source=_source_name(predictions))
    validation, v_source, validation_info = None, None, None
    if validation_predictions is not None:
        v_source = _source_name(validation_predictions)
        v_frame = read_predictions(validation_predictions, kind="validation")
        validation = join_validation(v_frame, metadata, source=v_source)
        validation_info = _file_info(validation_predictions, v_frame)

    label, pred = test.label, test.pred
    cm = confusion_counts(label, pred)[None]
    sub = metadata.iloc[test.rows]
    groupings = {col: make_grouping(col, sub[col].to_numpy()) for col in ("region", "sensor", "glacier")}
    groupings["fold"] = make_grouping("fold", test.fold)
    grouped = {col: grouped_scores(label, pred, g) for col, g in groupings.items()}

    def by(col: str) -> dict[str, Any]:
        g_cm, g_scores = grouped[col]
        return {name: _block(g_scores, g_cm, i) for i, name in enumerate(groupings[col].names)}

    boot = bootstrap_glaciers(grouped["glacier"][0], n_resamples=n_bootstrap, seed=seed)
    calibration, calibrators = _calibration(test, validation, v_source or "")
    store_info = dict(store_info or {})
    store_info.pop("path", None)
    data = {
        "format": REPORT_FORMAT, "schema_version": EvaluationReport.SCHEMA_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "package_version": _package_version(),
        "provenance": {"store": store_info, "variant": variant, "predictions": _file_info(predictions, frame),
                       "validation_predictions": validation_info, "n_bootstrap": int(n_bootstrap), "seed": int(seed),
                       "sum_tolerance": SUM_TOLERANCE},
        "classes": list(schema.CLASS_KEYS), "class_names": list(schema.CLASS_NAMES),
        "averaging": "macro averages over the classes present (support > 0) in each group; absent classes are null",
        "coverage": test.coverage,
        "overall": _block(scores_from_confusion(cm), cm, 0),
        "by_region": by("region"), "by_sensor": by("sensor"), "by_fold": by("fold"),
        "glacier_wise": _glacier_wise(sub, test, groupings["glacier"], *grouped["glacier"]),
        "bootstrap": {"unit": "glacier", "n_resamples": boot.n_resamples, "seed": int(seed), "confidence": boot.confidence,
                      **{m.key: _interval_block(m.from_counts(cm[0]), boot.interval(m.key)) for m in interval_metrics()}},
        "spearman_n_f1": {col: size_f1_correlation(grouped[col][1].support, grouped[col][1].f1) for col in ("region", "sensor")},
        "calibration": calibration,
    }
    return EvaluationReport(data, calibrators=calibrators)


def evaluate_predictions(predictions: PredictionsInput, store: Any, *, variant: str = "raw",
                         validation_predictions: PredictionsInput | None = None, n_bootstrap: int = 1000,
                         seed: int = 0) -> EvaluationReport:
    """Score a predictions file against a store's label variant.

    Args:
        predictions: test predictions (Parquet, ``.npz``, ``.csv`` path or DataFrame).
        store: an open :class:`~facies_bench.data.store.FaciesStore`.
        variant: ``raw`` scores every sample; a cleaned variant scores its unpruned samples only.
        validation_predictions: the fold models' validation predictions, for calibration.
        n_bootstrap: glacier resamples for the 95 % confidence intervals.
        seed: seed of the bootstrap.

    Returns:
        The :class:`EvaluationReport` (``.to_dict()``, ``.write(outdir)``).

    Raises:
        UnknownNameError: for an unknown variant.
        PredictionsError: for malformed predictions or ids that do not match the store.
    """
    name = store.resolve_variant(variant)
    metadata = store.metadata(name)
    log.info("scoring %s against %s (%s)", predictions, store.path, name)
    return evaluate_frame(predictions, metadata, validation_predictions=validation_predictions, n_bootstrap=n_bootstrap,
                          seed=seed, store_info=store.describe(), variant=name)


def _package_version() -> str | None:
    try:
        return _metadata.version("facies-bench")
    except _metadata.PackageNotFoundError:
        return None

"""Classification metrics computed from confusion matrices, vectorised over groups.

Every metric of a report is derived from one integer confusion matrix per group (overall, region,
sensor, fold, glacier, bootstrap resample), so each prediction is counted exactly once.  The
definitions follow scikit-learn's ``precision_recall_fscore_support``, ``jaccard_score`` and
``accuracy_score`` with ``zero_division=0``, with one convention from the paper: a class that
has no true samples in a group is *absent* there, its per-class entries are undefined (NaN here,
``null`` in JSON, an empty cell in tables) and macro averages run over the present classes only
(the paper's Tables 5 and 6 average the Pyrenees and Landsat 9 rows over their one class).

Arrays of confusion matrices have shape ``(..., K, K)`` with rows = true class and columns =
predicted class, K = ``schema.N_CLASSES`` in schema order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np

from facies_bench import schema

#: Bins of the expected calibration error (ECE_100 in the paper).
ECE_BINS = 100


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, *, groups: np.ndarray | None = None,
                     n_groups: int | None = None, n_classes: int = schema.N_CLASSES) -> np.ndarray:
    """Confusion matrices by one ``bincount`` (same as ``sklearn.metrics.confusion_matrix``).

    Args:
        y_true: (N,) true class codes in ``0..n_classes-1``.
        y_pred: (N,) predicted class codes.
        groups: optional (N,) group codes in ``0..n_groups-1``.
        n_groups: number of groups (default ``groups.max() + 1``).
        n_classes: K.

    Returns:
        (K, K) int64 counts, or (G, K, K) with ``groups``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    kk = n_classes * n_classes
    flat = y_true * n_classes + y_pred
    if groups is None:
        return np.bincount(flat, minlength=kk).reshape(n_classes, n_classes)
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if n_groups is None else int(n_groups)
    return np.bincount(groups * kk + flat, minlength=n_groups * kk).reshape(n_groups, n_classes, n_classes)


@dataclass(frozen=True)
class ConfusionScores:
    """Per-class and averaged scores of one or many confusion matrices (leading axes ``...``).

    Per-class arrays have shape (..., K) and are NaN where the class is absent (support 0).
    Averages have shape (...) and are NaN for an empty group.
    """

    support: np.ndarray  #: (..., K) true samples per class
    predicted: np.ndarray  #: (..., K) predicted samples per class
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    iou: np.ndarray
    accuracy: np.ndarray
    macro_precision: np.ndarray
    macro_recall: np.ndarray
    macro_f1: np.ndarray
    mean_iou: np.ndarray
    n: np.ndarray  #: (...) samples in the group
    n_present: np.ndarray  #: (...) classes present in the group


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape), dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def scores_from_confusion(cm: np.ndarray) -> ConfusionScores:
    """Precision, recall, F1, IoU, accuracy and their macro averages from confusion matrices.

    Args:
        cm: (..., K, K) counts (rows true, columns predicted).

    Returns:
        A :class:`ConfusionScores`; per-class values of absent classes are NaN and macro averages
        are means over the present classes (``sklearn`` with ``labels=<present classes>``).
    """
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    support = cm.sum(axis=-1)
    predicted = cm.sum(axis=-2)
    n = support.sum(axis=-1)
    present = support > 0
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support)
    f1 = _safe_divide(2 * tp, support + predicted)
    iou = _safe_divide(tp, support + predicted - tp)
    n_present = present.sum(axis=-1)

    def masked(values: np.ndarray) -> np.ndarray:
        return np.where(present, values, np.nan)

    def macro(values: np.ndarray) -> np.ndarray:
        total = np.where(present, values, 0.0).sum(axis=-1)
        return np.divide(total, n_present, out=np.full(total.shape, np.nan), where=n_present > 0)

    accuracy = np.divide(tp.sum(axis=-1), n, out=np.full(n.shape, np.nan), where=n > 0)
    return ConfusionScores(
        support=support.astype(np.int64), predicted=predicted.astype(np.int64), precision=masked(precision),
        recall=masked(recall), f1=masked(f1), iou=masked(iou), accuracy=accuracy,
        macro_precision=macro(precision), macro_recall=macro(recall), macro_f1=macro(f1), mean_iou=macro(iou),
        n=n.astype(np.int64), n_present=n_present.astype(np.int64),
    )


def mean_iou_score(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int = schema.N_CLASSES) -> float:
    """Mean Jaccard index (IoU) over the classes present in ``y_true``: the evaluator's ``mean_iou``.

    A class that has no true sample is absent and left out, even when it is predicted (its false
    positives still lower the IoU of the true classes they were taken from).  Same as
    ``sklearn.metrics.jaccard_score(y_true, y_pred, labels=<classes in y_true>, average="macro")``.

    Args:
        y_true: (N,) true class codes.
        y_pred: (N,) predicted class codes.
        n_classes: K.

    Returns:
        The mean IoU; NaN when ``y_true`` is empty.
    """
    return float(scores_from_confusion(confusion_counts(y_true, y_pred, n_classes=n_classes)).mean_iou)


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Confusion matrix divided by its row sums (recall per true class); NaN rows for absent classes."""
    cm = np.asarray(cm, dtype=np.float64)
    rows = cm.sum(axis=-1, keepdims=True)
    return np.divide(cm, rows, out=np.full(cm.shape, np.nan), where=rows > 0)


def confidence_bins(confidence: np.ndarray, *, n_bins: int = ECE_BINS) -> np.ndarray:
    """Bin index of each confidence: equal-width bins ``[i/n, (i+1)/n)``, with 1.0 in the last bin."""
    confidence = np.asarray(confidence, dtype=np.float64)
    return np.clip((confidence * n_bins).astype(np.int64), 0, n_bins - 1)


@dataclass(frozen=True)
class ReliabilityCurve:
    """Reliability-diagram data over equal-width confidence bins (NaN in empty bins)."""

    edges: np.ndarray  #: (B + 1,)
    count: np.ndarray  #: (B,) samples per bin
    mean_confidence: np.ndarray  #: (B,)
    accuracy: np.ndarray  #: (B,) observed accuracy per bin
    ece: float  #: expected calibration error, NaN when empty


def reliability_curve(confidence: np.ndarray, correct: np.ndarray, *, n_bins: int = ECE_BINS) -> ReliabilityCurve:
    """Reliability curve and expected calibration error of confidences against correctness.

    ``ECE = sum_b (n_b / N) * |accuracy_b - mean_confidence_b|`` over equal-width bins of the
    confidence on [0, 1] (see :func:`confidence_bins`).

    Args:
        confidence: (N,) confidence of the predicted class (max-softmax or calibrated), in [0, 1].
        correct: (N,) bool, whether the predicted class equals the label.
        n_bins: number of bins (100 gives the paper's ECE_100).
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=np.float64)
    bins = confidence_bins(confidence, n_bins=n_bins)
    count = np.bincount(bins, minlength=n_bins)
    conf_sum = np.bincount(bins, weights=confidence, minlength=n_bins)
    acc_sum = np.bincount(bins, weights=correct, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(count > 0, conf_sum / count, np.nan)
        accuracy = np.where(count > 0, acc_sum / count, np.nan)
    total = count.sum()
    ece = float(np.abs(acc_sum - conf_sum).sum() / total) if total else float("nan")
    return ReliabilityCurve(edges=np.linspace(0.0, 1.0, n_bins + 1), count=count, mean_confidence=mean_conf,
                            accuracy=accuracy, ece=ece)


@overload
def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, *, groups: None = None,
                               n_groups: int | None = None, n_bins: int = ECE_BINS) -> float: ...
@overload
def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, *, groups: np.ndarray,
                               n_groups: int | None = None, n_bins: int = ECE_BINS) -> np.ndarray: ...
def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, *, groups: np.ndarray | None = None,
                               n_groups: int | None = None, n_bins: int = ECE_BINS) -> np.ndarray | float:
    """ECE over equal-width bins; with ``groups``, one ECE per group (NaN for empty groups).

    Args:
        confidence: (N,) confidences in [0, 1].
        correct: (N,) bool.
        groups: optional (N,) group codes ``0..n_groups-1`` (fold, predicted class...).
        n_groups: number of groups.
        n_bins: bins (100 = ECE_100).
    """
    if groups is None:
        return reliability_curve(confidence, correct, n_bins=n_bins).ece
    confidence = np.asarray(confidence, dtype=np.float64)
    groups = np.asarray(groups, dtype=np.int64)
    n_groups = int(groups.max()) + 1 if n_groups is None else int(n_groups)
    flat = groups * n_bins + confidence_bins(confidence, n_bins=n_bins)
    size = n_groups * n_bins
    gap = (np.bincount(flat, weights=np.asarray(correct, dtype=np.float64), minlength=size)
           - np.bincount(flat, weights=confidence, minlength=size)).reshape(n_groups, n_bins)
    n = np.bincount(groups, minlength=n_groups)
    return np.divide(np.abs(gap).sum(axis=1), n, out=np.full(n_groups, np.nan), where=n > 0)

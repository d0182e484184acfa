"""The metric table: every metric the benchmark reports, defined once.

Each :class:`Metric` row says what a metric is (key, title, description, direction), whether the
per-seed summary of ``result.json`` holds it and since which summary version, how it is shown,
and how it is computed: from confusion matrices (then every group of a report gets it, the
per-class block holds its per-class values, and the glacier bootstrap can give it an interval)
or read from another section of the evaluator's report.

Everything that lists metrics iterates over :data:`METRICS`: the evaluator's report blocks,
bootstrap and summary, ``facies-bench spec``, the ``score`` and ``evaluate`` tables, the
leaderboard's columns and the checks of a submitted ``result.json``.  Adding a metric is one row
here; a row that adds summary keys also raises :data:`SUMMARY_VERSION` and gives itself that
version as ``since``, so that runs written before it still validate against their own keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from facies_bench.errors import InvalidValueError, UnknownNameError
from facies_bench.evaluation.metrics import scores_from_confusion

#: Version of the per-seed summary layout; ``result.json`` records it as ``metrics.summary_version``
#: (runs without it are version 1).
SUMMARY_VERSION = 1
#: The metric that ranks models (on the unpruned test labels).
MAIN_METRIC = "macro_f1"
#: Shown for a missing value (metric undefined, not run, or absent from an older run).
MISSING = "–"
#: Display kinds: ``fraction`` is a scalar in [0, 1] shown as a percentage; ``per_class`` maps
#: class keys to fractions.
KINDS = ("fraction", "per_class")


def format_percent(value: Any, *, digits: int = 1, missing: str = MISSING) -> str:
    """A fraction as a percentage with ``digits`` decimals; ``missing`` for None or NaN."""
    if value is None or isinstance(value, bool):
        return missing
    value = float(value)
    return missing if not math.isfinite(value) else f"{100 * value:.{digits}f}"


def _from_scores(field: str) -> Callable[[np.ndarray], np.ndarray]:
    def compute(cm: np.ndarray) -> np.ndarray:
        return getattr(scores_from_confusion(cm), field)

    compute.__name__ = f"{field}_from_confusion"
    return compute


@dataclass(frozen=True)
class Metric:
    """One row of the metric table.

    Attributes:
        key: name in report blocks, summaries and ``result.json`` (``macro_f1``).
        title: short display name (``Macro-F1``).
        description: one sentence for ``facies-bench spec`` and column help.
        higher_is_better: direction of improvement.
        in_summary: the per-seed summary (``EvaluationReport.summary()``) holds it.
        kind: ``fraction`` or ``per_class`` (see :data:`KINDS`).
        headline: shown in the compact tables (``evaluate``'s summary, leaderboard columns).
        interval: the report's glacier bootstrap gives it a 95 % interval, summary key ``<key>_ci``.
        companion: key of a metric shown in the same cell (``mean ± std``, ``before → after``).
        joiner: text between the value and its companion's.
        since: summary version that added its keys.
        from_confusion: ``(..., K, K)`` confusion counts -> ``(...)`` values (NaN where undefined);
            such a metric is computed for every group of a report (overall, region, sensor, fold).
        per_class: the per-class score it averages (``f1``); the report's per-class blocks hold it.
        per_class_title: display name of that per-class score.
        from_report: for other metrics, ``report.json`` dict -> value.
    """

    key: str
    title: str
    description: str
    higher_is_better: bool
    in_summary: bool = True
    kind: str = "fraction"
    headline: bool = False
    interval: bool = False
    companion: str | None = None
    joiner: str = " ± "
    since: int = 1
    from_confusion: Callable[[np.ndarray], np.ndarray] | None = None
    per_class: str | None = None
    per_class_title: str | None = None
    from_report: Callable[[Mapping[str, Any]], Any] | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Metric {self.key!r}: kind {self.kind!r} is not one of {', '.join(KINDS)}.")
        if (self.from_confusion is None) == (self.from_report is None):
            raise ValueError(f"Metric {self.key!r} needs exactly one of from_confusion and from_report.")
        if self.interval and self.from_confusion is None:
            raise ValueError(f"Metric {self.key!r}: only confusion-matrix metrics can have a bootstrap interval.")

    @property
    def interval_key(self) -> str:
        """Key of the metric's 95 % bootstrap interval (``<key>_ci``)."""
        return f"{self.key}_ci"

    @property
    def summary_keys(self) -> tuple[str, ...]:
        """The keys this metric adds to a summary (none when not ``in_summary``)."""
        if not self.in_summary:
            return ()
        return (self.key, self.interval_key) if self.interval else (self.key,)

    def value(self, report: Mapping[str, Any]) -> Any:
        """The overall value of this metric in a ``report.json`` dict."""
        if self.from_report is not None:
            return self.from_report(report)
        return report["overall"][self.key]

    def from_counts(self, cm: np.ndarray) -> np.ndarray:
        """The metric of (..., K, K) confusion counts; only for rows with ``from_confusion``.

        Raises:
            TypeError: the metric is read from a report, not computed from a confusion matrix.
        """
        if self.from_confusion is None:
            raise TypeError(f"Metric {self.key!r} is read from a report (from_report), not from confusion counts.")
        return self.from_confusion(cm)

    def interval_value(self, report: Mapping[str, Any]) -> list[float | None]:
        """``[low, high]`` of the glacier bootstrap in a ``report.json`` dict."""
        block = report["bootstrap"][self.key]
        return [block["low"], block["high"]]

    def format(self, value: Any, *, digits: int = 1, missing: str = MISSING) -> str:
        """A value of this metric for display (percentages; per-class values joined by class)."""
        if self.kind == "per_class":
            if not isinstance(value, Mapping):
                return missing
            return ", ".join(f"{k} {format_percent(v, digits=digits, missing=missing)}" for k, v in value.items())
        return format_percent(value, digits=digits, missing=missing)


def _glacier_wise(field: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda report: report["glacier_wise"][field]


def _calibration(field: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda report: report["calibration"][field]


def _per_class_f1(report: Mapping[str, Any]) -> dict[str, Any]:
    return {key: block["f1"] for key, block in report["overall"]["per_class"].items()}


#: The table, in display order.
METRICS: tuple[Metric, ...] = (
    Metric("accuracy", "Accuracy", "Overall accuracy: the fraction of samples whose predicted class is the label.",
           higher_is_better=True, headline=True, interval=True, from_confusion=_from_scores("accuracy")),
    Metric("macro_precision", "Macro precision", "Precision averaged over the classes present in the test data.",
           higher_is_better=True, from_confusion=_from_scores("macro_precision"), per_class="precision",
           per_class_title="Precision"),
    Metric("macro_recall", "Macro recall", "Recall averaged over the classes present in the test data.",
           higher_is_better=True, from_confusion=_from_scores("macro_recall"), per_class="recall", per_class_title="Recall"),
    Metric("macro_f1", "Macro-F1",
           "F1 averaged over the classes present in the test data; the main ranking metric, on the unpruned (raw) labels.",
           higher_is_better=True, headline=True, interval=True, from_confusion=_from_scores("macro_f1"), per_class="f1",
           per_class_title="F1"),
    Metric("mean_iou", "Mean IoU", "Jaccard index (IoU) averaged over the classes present in the test data.",
           higher_is_better=True, headline=True, from_confusion=_from_scores("mean_iou"), per_class="iou",
           per_class_title="IoU"),
    Metric("glacier_f1_mean", "Glacier F1", "Macro-F1 of each glacier, mean across glaciers.", higher_is_better=True,
           headline=True, companion="glacier_f1_std", from_report=_glacier_wise("mean_f1")),
    Metric("glacier_f1_std", "Glacier F1 std", "Macro-F1 of each glacier, standard deviation across glaciers (ddof 0).",
           higher_is_better=False, from_report=_glacier_wise("std_f1")),
    Metric("ece_100", "ECE_100", "Expected calibration error of the max-softmax confidence, 100 equal-width bins.",
           higher_is_better=False, headline=True, companion="ece_100_calibrated", joiner=" → ",
           from_report=_calibration("ece_100")),
    Metric("ece_100_calibrated", "ECE_100 calibrated",
           "ECE_100 after per-fold Laplacian kernel ridge calibration fitted on the validation folds (null when not run).",
           higher_is_better=False, from_report=_calibration("ece_100_calibrated")),
    Metric("per_class_f1", "F1 per class", "F1 of each class (null where the class is absent).", higher_is_better=True,
           kind="per_class", from_report=_per_class_f1),
)

_BY_KEY = {m.key: m for m in METRICS}


def get_metric(key: str) -> Metric:
    """The row of ``key``.

    Raises:
        UnknownNameError: naming the registered keys.
    """
    try:
        return _BY_KEY[key]
    except KeyError:
        raise UnknownNameError(f"Unknown metric {key!r}. Known: {', '.join(_BY_KEY)}. See `facies-bench spec`.") from None


def confusion_metrics() -> tuple[Metric, ...]:
    """The metrics computed from confusion matrices, for every group of a report."""
    return tuple(m for m in METRICS if m.from_confusion is not None)


def per_class_metrics() -> tuple[Metric, ...]:
    """The averaged metrics whose per-class scores the report's per-class blocks hold."""
    return tuple(m for m in METRICS if m.per_class is not None)


def interval_metrics() -> tuple[Metric, ...]:
    """The metrics the glacier bootstrap gives an interval."""
    return tuple(m for m in METRICS if m.interval)


def headline_metrics() -> tuple[Metric, ...]:
    """The metrics shown in the headline of reports and tables, in table order."""
    return tuple(m for m in METRICS if m.headline)


def summary_keys(version: int = SUMMARY_VERSION) -> tuple[str, ...]:
    """The keys of a per-seed summary of ``version``.

    Raises:
        InvalidValueError: for a version this facies-bench does not know (older than 1 or newer
            than :data:`SUMMARY_VERSION`).
    """
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= SUMMARY_VERSION:
        msg = (f"Summary version {version!r} is unknown to this facies-bench, which knows versions 1 to {SUMMARY_VERSION}; "
               "upgrade facies-bench to read newer results.")
        raise InvalidValueError(msg)
    return tuple(k for m in METRICS if m.since <= version for k in m.summary_keys)


def summarise(report: Mapping[str, Any], *, version: int | None = None) -> dict[str, Any]:
    """The per-seed summary of a ``report.json`` dict: every summary key of ``version``.

    Args:
        report: the evaluator's report (``EvaluationReport.to_dict()``).
        version: summary version (default :data:`SUMMARY_VERSION`); an older version reads a
            report written before later metrics existed.

    Returns:
        Fractions in [0, 1], intervals as ``[low, high]``, None where undefined.
    """
    version = SUMMARY_VERSION if version is None else version
    summary_keys(version)  # an unknown version is an error
    out: dict[str, Any] = {}
    for m in METRICS:
        if m.in_summary and m.since <= version:
            out[m.key] = m.value(report)
            if m.interval:
                out[m.interval_key] = m.interval_value(report)
    return out


def describe_metrics() -> dict[str, dict[str, Any]]:
    """The table as plain data (``facies-bench spec``)."""
    return {m.key: {"title": m.title, "description": m.description, "higher_is_better": m.higher_is_better,
                    "in_summary": m.in_summary, "kind": m.kind, "interval": m.interval_key if m.interval else None,
                    "per_class": m.per_class, "since": m.since} for m in METRICS}

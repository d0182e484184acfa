"""Paired comparison of two models' predictions on the same samples: is A better than B?

Two leaderboard intervals that overlap do not say that two models are level: both are scored on
the same glaciers, so most of each interval's width is shared.  The paired glacier bootstrap
resamples glaciers once per resample and scores both models on that one resample, so the
interval of the difference keeps only what differs between them (Efron & Tibshirani 1993, ch. 16).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from facies_bench.errors import PredictionsError
from facies_bench.evaluation.bootstrap import BootstrapResult, bootstrap_glaciers
from facies_bench.evaluation.grouping import grouped_scores, make_grouping
from facies_bench.evaluation.metric_table import get_metric, interval_metrics
from facies_bench.predictions import JoinedPredictions, join_predictions, read_predictions


@dataclass(frozen=True)
class MetricDifference:
    """A − B for one metric: on all samples, and over the paired glacier resamples."""

    key: str
    a: float
    b: float
    difference: float
    low: float  #: percentile interval of the resampled differences
    high: float
    share_a_ahead: float  #: fraction of the resamples where A scores higher (where both are defined)


@dataclass(frozen=True)
class PairedComparison:
    """The paired comparison of predictions A and B (see :func:`compare_frames`)."""

    source_a: str
    source_b: str
    n_samples: int
    n_glaciers: int
    n_resamples: int
    seed: int
    confidence: float
    metrics: dict[str, MetricDifference]
    by_fold: dict[str, tuple[float, float]]  #: fold -> (macro-F1 of A, of B)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"a": self.source_a, "b": self.source_b, "n_samples": self.n_samples, "n_glaciers": self.n_glaciers,
                "bootstrap": {"unit": "glacier", "paired": True, "n_resamples": self.n_resamples, "seed": self.seed,
                              "confidence": self.confidence},
                "metrics": {k: vars(m) for k, m in self.metrics.items()},
                "macro_f1_by_fold": {k: {"a": a, "b": b} for k, (a, b) in self.by_fold.items()}}


def _same_samples(a: JoinedPredictions, b: JoinedPredictions, source_a: str, source_b: str) -> np.ndarray:
    """Positions in ``b`` of ``a``'s scored rows; refuses predictions that cover other samples."""
    if a.rows.size != b.rows.size or not np.array_equal(np.sort(a.rows), np.sort(b.rows)):
        only_a, only_b = np.setdiff1d(a.rows, b.rows).size, np.setdiff1d(b.rows, a.rows).size
        raise PredictionsError(f"{source_a} and {source_b} do not score the same samples ({only_a} only in the first, "
                               f"{only_b} only in the second): compare runs of the same store, variant and folds.")
    order = np.argsort(b.rows)
    return order[np.searchsorted(b.rows[order], a.rows)]


def compare_frames(predictions_a: Any, predictions_b: Any, metadata: pd.DataFrame, *, n_resamples: int = 1000,
                   seed: int = 0, confidence: float = 0.95, source_a: str | None = None,
                   source_b: str | None = None) -> PairedComparison:
    """Compare two models' test predictions on one label variant with the paired glacier bootstrap.

    Args:
        predictions_a: model A's test predictions (path or DataFrame, as for the evaluator).
        predictions_b: model B's, on the same samples.
        metadata: ``store.metadata(variant)`` (``sample_id``, ``label``, ``fold``, ``glacier``).
        n_resamples: glacier resamples, each drawn once and scored for both models.
        seed: seed of the resampling.
        confidence: coverage of the percentile intervals.
        source_a: A's name in messages and the result (default: the path).
        source_b: B's name (default: the path).

    Returns:
        A :class:`PairedComparison` with A − B for each metric that has a bootstrap interval.

    Raises:
        PredictionsError: malformed predictions, or A and B score different samples.
    """
    source_a = source_a or (str(predictions_a) if not isinstance(predictions_a, pd.DataFrame) else "<predictions A>")
    source_b = source_b or (str(predictions_b) if not isinstance(predictions_b, pd.DataFrame) else "<predictions B>")
    a = join_predictions(read_predictions(predictions_a, kind="test"), metadata, source=source_a)
    b = join_predictions(read_predictions(predictions_b, kind="test"), metadata, source=source_b)
    pred_b = b.pred[_same_samples(a, b, source_a, source_b)]
    glaciers = make_grouping("glacier", metadata["glacier"].to_numpy()[a.rows])
    cm_a, cm_b = grouped_scores(a.label, a.pred, glaciers)[0], grouped_scores(a.label, pred_b, glaciers)[0]
    # the same seed and glacier count draw the same glaciers for both models: the resamples are paired
    boot_a = bootstrap_glaciers(cm_a, n_resamples=n_resamples, seed=seed, confidence=confidence)
    boot_b = bootstrap_glaciers(cm_b, n_resamples=n_resamples, seed=seed, confidence=confidence)
    differences = BootstrapResult(n_resamples=boot_a.n_resamples, seed=seed, confidence=confidence,
                                  values={key: boot_a.values[key] - boot_b.values[key] for key in boot_a.values})
    metrics = {}
    for metric in interval_metrics():
        diff = differences.values[metric.key]
        diff = diff[np.isfinite(diff)]
        value_a, value_b = float(metric.from_counts(cm_a.sum(axis=0))), float(metric.from_counts(cm_b.sum(axis=0)))
        metrics[metric.key] = MetricDifference(metric.key, value_a, value_b, value_a - value_b,
                                               *differences.interval(metric.key),
                                               float((diff > 0).mean()) if diff.size else float("nan"))
    folds = make_grouping("fold", a.fold)
    macro_f1 = get_metric("macro_f1")
    fold_a = macro_f1.from_counts(grouped_scores(a.label, a.pred, folds)[0])
    fold_b = macro_f1.from_counts(grouped_scores(a.label, pred_b, folds)[0])
    return PairedComparison(source_a=source_a, source_b=source_b, n_samples=int(a.rows.size), n_glaciers=glaciers.n_groups,
                            n_resamples=boot_a.n_resamples, seed=seed, confidence=confidence, metrics=metrics,
                            by_fold={name: (float(fold_a[i]), float(fold_b[i])) for i, name in enumerate(folds.names)})


def compare_predictions(predictions_a: Any, predictions_b: Any, store: Any, *, variant: str = "raw",
                        n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> PairedComparison:
    """:func:`compare_frames` against an open store's label variant (``raw``: every sample)."""
    return compare_frames(predictions_a, predictions_b, store.metadata(store.resolve_variant(variant)),
                          n_resamples=n_resamples, seed=seed, confidence=confidence)

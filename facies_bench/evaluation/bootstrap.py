"""Bootstrap confidence intervals that resample whole glaciers.

Samples of one glacier are strongly correlated (same scenes, same annotator), so the resampling
unit is the glacier: each resample draws as many glaciers as there are, with replacement, and sums
their confusion matrices.  Working on the (G, K, K) per-glacier confusion matrices makes 1,000
resamples a few small matrix products instead of 1,000 passes over the predictions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from facies_bench.evaluation.metric_table import interval_metrics

#: A statistic of confusion matrices: (..., K, K) counts -> (...) values.
Statistic = Callable[[np.ndarray], np.ndarray]


def _table_statistics() -> dict[str, Statistic]:
    return {m.key: m.from_counts for m in interval_metrics()}


@dataclass(frozen=True)
class BootstrapResult:
    """Resampled statistics with percentile intervals.

    One per interval metric of the table (macro-F1, accuracy, ...).
    """

    n_resamples: int
    seed: int
    confidence: float
    values: dict[str, np.ndarray] = field(default_factory=dict)  #: key -> (B,) value of each resample

    def interval(self, key: str) -> tuple[float, float]:
        """Percentile interval of statistic ``key`` over the resamples where it is defined (NaN, NaN if none)."""
        tail = 100 * (1 - self.confidence) / 2
        values = self.values.get(key, np.empty(0))
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return float("nan"), float("nan")
        low, high = np.percentile(finite, [tail, 100 - tail])
        return float(low), float(high)


def bootstrap_glaciers(glacier_confusion: np.ndarray, *, n_resamples: int = 1000, seed: int = 0,
                       confidence: float = 0.95, statistics: Mapping[str, Statistic] | None = None) -> BootstrapResult:
    """Resample glaciers with replacement and score each resample.

    Args:
        glacier_confusion: (G, K, K) confusion counts per glacier.
        n_resamples: number of resamples B.
        seed: seed of the ``numpy.random.default_rng`` that draws the glaciers.
        confidence: coverage of the percentile interval.
        statistics: name -> statistic of (B, K, K) confusion matrices; default: every metric of
            the metric table with ``interval=True``.

    Returns:
        A :class:`BootstrapResult`; macro averages run over the classes present in each resample.
    """
    statistics = _table_statistics() if statistics is None else dict(statistics)
    glacier_confusion = np.asarray(glacier_confusion)
    n_glaciers, k, _ = glacier_confusion.shape
    if n_resamples < 1 or n_glaciers == 0:
        return BootstrapResult(n_resamples=0, seed=seed, confidence=confidence, values={key: np.empty(0) for key in statistics})
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_glaciers, size=(n_resamples, n_glaciers))
    offsets = (np.arange(n_resamples)[:, None] * n_glaciers + draws).ravel()
    weights = np.bincount(offsets, minlength=n_resamples * n_glaciers).reshape(n_resamples, n_glaciers)
    resampled = (weights.astype(np.float64) @ glacier_confusion.reshape(n_glaciers, k * k).astype(np.float64)).reshape(n_resamples, k, k)
    return BootstrapResult(n_resamples=n_resamples, seed=seed, confidence=confidence,
                           values={key: np.asarray(stat(resampled), dtype=np.float64) for key, stat in statistics.items()})

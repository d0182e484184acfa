"""The authors' published models, one name away: ``published:fs4/fold0``, ``published:fs4``.

Weights and calibration models are fetched on first use from the authors' repository at a pinned
commit, verified against their SHA-256 sums and cached (:mod:`facies_bench.published.files`);
they are GPL-2.0 and never shipped with facies-bench.  Their inputs are normalised with
:func:`~facies_bench.published.norm_stats.published_norm_stats`, an estimate of the authors'
unpublished global min-max derived from the weights themselves.
"""

from __future__ import annotations

from facies_bench.published.files import (
    CALIBRATION,
    COMMIT,
    ENSEMBLES,
    REPOSITORY,
    WEIGHTS,
    fetch_published_file,
    published_names,
    resolve_published,
)
from facies_bench.published.loading import (
    is_published_name,
    load_published_calibrators,
    load_published_model,
    load_published_models,
)
from facies_bench.published.norm_stats import NormStatsEstimate, derive_norm_stats, published_norm_stats

__all__ = [
    "CALIBRATION", "COMMIT", "ENSEMBLES", "NormStatsEstimate", "REPOSITORY", "WEIGHTS", "derive_norm_stats",
    "fetch_published_file", "is_published_name", "load_published_calibrators", "load_published_model",
    "load_published_models", "published_names", "published_norm_stats", "resolve_published",
]

"""Ranking a board: macro-F1 on the unpruned test data, with ties within the bootstrap interval.

The main metric is the seed-mean macro-F1 scored against the raw (unpruned) labels, the paper's
fair comparison (its Table 4).  Its interval is the mean over seeds of each seed's 95 % bootstrap
interval (glaciers resampled).  Entries are sorted by the main metric; an entry whose interval
overlaps the interval of the entry directly above it shares that entry's rank, and both are
marked with ``=`` (``"2="``).  Otherwise the rank is the entry's position (competition ranking).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from facies_bench.evaluation.metric_table import MAIN_METRIC, get_metric

#: Scoring that ranks a board (with the metric table's main metric).
MAIN_SCORING = "unpruned"


@dataclass(frozen=True)
class RankedEntry:
    """An entry with its place on the board."""

    rank: int
    tied: bool  #: the interval overlaps the neighbour above or below
    score: float | None
    interval: tuple[float, float] | None
    entry: Any

    @property
    def rank_label(self) -> str:
        """Rank as shown, with ``=`` for a tie."""
        return f"{self.rank}=" if self.tied else str(self.rank)


def main_score(entry: Any) -> tuple[float | None, tuple[float, float] | None]:
    """The main metric of an entry and its interval (from the recomputed metrics)."""
    block = (entry.metrics or {}).get(MAIN_SCORING) or {}
    mean = block.get("mean") or {}
    score = mean.get(MAIN_METRIC)
    ci = mean.get(get_metric(MAIN_METRIC).interval_key)
    interval = None
    if ci and len(ci) == 2 and None not in ci:
        interval = (float(ci[0]), float(ci[1]))
    return (None if score is None else float(score)), interval


def intervals_overlap(a: tuple[float, float] | None, b: tuple[float, float] | None) -> bool:
    """Whether two confidence intervals overlap (False when either is missing)."""
    if a is None or b is None:
        return False
    return a[0] <= b[1] and b[0] <= a[1]


def rank_entries(entries: Sequence[Any]) -> list[RankedEntry]:
    """Sort entries best first and give each its rank and tie mark.

    Entries without a main score go last, unranked ties never marked.  Equal scores keep a stable
    order by model name and entry id.
    """
    scored = []
    for entry in entries:
        score, interval = main_score(entry)
        scored.append((score, interval, entry))
    scored.sort(key=lambda t: (t[0] is None, -(t[0] or 0.0), t[2].model_name, t[2].entry_id))
    ranks: list[int] = []
    tied = [False] * len(scored)
    for i, (score, interval, _) in enumerate(scored):
        if i > 0 and score is not None and scored[i - 1][0] is not None and (
                intervals_overlap(interval, scored[i - 1][1]) or score == scored[i - 1][0]):
            ranks.append(ranks[-1])
            tied[i] = tied[i - 1] = True
        else:
            ranks.append(i + 1)
    return [RankedEntry(rank=r, tied=t, score=s, interval=iv, entry=e)
            for r, t, (s, iv, e) in zip(ranks, tied, scored, strict=True)]

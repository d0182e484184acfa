"""Rows of the ranked table and of the per-entry breakdowns, shared by the Markdown and HTML pages.

Every cell carries its display text and a sort key, so the two renderers show the same numbers
and the HTML table sorts on values rather than on text.  Metrics are fractions in the data and
percentages (one decimal) on the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facies_bench import schema
from facies_bench.evaluation.metric_table import (
    MAIN_METRIC,
    Metric,
    format_percent,
    get_metric,
    headline_metrics,
    per_class_metrics,
)
from facies_bench.leaderboard.scoring import RankedEntry


@dataclass(frozen=True)
class Column:
    """A column of the ranked table.

    Attributes:
        key: cell key (``data-key`` of the HTML header).
        title: header text.
        help: one-line definition (column legend, header tooltip).
        numeric: right-aligned, sorted on numbers.
        ascending_first: the first click sorts ascending (lower is better, or a text column).
        main: the column that ranks the board.
    """

    key: str
    title: str
    help: str
    numeric: bool = True
    ascending_first: bool = False
    main: bool = False


def _main_columns() -> tuple[Column, ...]:
    m = get_metric(MAIN_METRIC)
    interval = ", [95 % glacier-bootstrap interval]" if m.interval else ""
    return (
        Column(MAIN_COLUMNS[0], f"{m.title} unpruned", f"{m.title} (%) against all raw labels: mean over seeds{interval}.",
               ascending_first=not m.higher_is_better, main=True),
        Column(MAIN_COLUMNS[1], f"{m.title} cleaned", f"{m.title} (%) against the cleaned variant's unpruned samples{interval}.",
               ascending_first=not m.higher_is_better),
    )


def _metric_columns() -> tuple[Column, ...]:
    """One column per headline metric of the metric table (the main metric has its two columns)."""
    columns = []
    for m in headline_metrics():
        if m.key == MAIN_METRIC:
            continue
        title, help_text = m.title, m.description
        if m.companion:
            companion = get_metric(m.companion)
            title = f"{m.title}{m.joiner.rstrip()} {companion.title.removeprefix(m.title).strip()}".strip()
            help_text = f"{m.description} Beside it ({m.joiner.strip()}): {companion.description}"
        columns.append(Column(m.key, title, f"{help_text} Percent, unpruned, mean over seeds.",
                              ascending_first=not m.higher_is_better))
    return tuple(columns)


#: Keys of the two main-metric columns (unpruned, cleaned), whose cells carry the interval.
MAIN_COLUMNS = ("main_unpruned", "main_cleaned")
#: The ranked table's columns, in order.
COLUMNS: tuple[Column, ...] = (
    Column("rank", "Rank", f"{get_metric(MAIN_METRIC).title} (unpruned) rank; '=' marks 95 % intervals that overlap the neighbour's.",
           ascending_first=True),
    Column("model", "Model", "Registered model name.", numeric=False, ascending_first=True),
    Column("params", "Params", "Trainable parameters."),
    Column("features", "Features", "The paper's feature set (1-4).", ascending_first=True),
    *_main_columns(),
    *_metric_columns(),
    Column("seeds", "Seeds", "Training replicates behind the row."),
    Column("date", "Date", "When the run was made.", numeric=False, ascending_first=True),
)


@dataclass(frozen=True)
class Cell:
    """A table cell: the text shown and the value it sorts by."""
    text: str
    sort: float | str | None


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; an en dash when missing."""
    return format_percent(value, digits=digits)


def format_interval(ci: Sequence[float | None] | None) -> str:
    """A 95 % interval as ``[a %, b %]``, or an empty string when missing."""
    if not ci or None in ci:
        return ""
    return f"[{pct(ci[0])}, {pct(ci[1])}]"


def format_count(n: int | None) -> str:
    """A count with a k/M/G suffix, or a dash when missing."""
    if n is None:
        return "–"
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.1f} {suffix}"
    return str(int(n))


def _summary(entry: Any, scoring: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    block = (entry.metrics or {}).get(scoring)
    if not block:
        return None, None
    return block.get("mean"), block.get("std")


def _score_cell(entry: Any, scoring: str) -> Cell:
    m = get_metric(MAIN_METRIC)
    mean, std = _summary(entry, scoring)
    if not mean or mean.get(m.key) is None:
        return Cell("–", None)
    text = pct(mean[m.key])
    if len(entry.seeds) > 1 and std and std.get(m.key) is not None:
        text += f" ± {pct(std[m.key])}"
    interval = format_interval(mean.get(m.interval_key)) if m.interval else ""
    return Cell(f"{text} {interval}".strip(), float(mean[m.key]))


def _metric_cell(metric: Metric, mean: dict[str, Any]) -> Cell:
    """A headline metric's seed mean, with its companion's after the joiner when there is one."""
    value = mean.get(metric.key)
    text = metric.format(value)
    if metric.companion and mean.get(metric.companion) is not None:
        text = f"{text}{metric.joiner}{get_metric(metric.companion).format(mean[metric.companion])}"
    return Cell(text, value)


def feature_label(entry: Any) -> str:
    """``FS<n>`` for a standard feature set, else the number of custom features."""
    return f"FS{entry.feature_set}" if entry.feature_set else f"custom ({len(entry.info.get('features', []))})"


def entry_row(ranked: RankedEntry) -> dict[str, Cell]:
    """The cells of one ranked entry, keyed by column key."""
    entry = ranked.entry
    mean, _ = _summary(entry, "unpruned")
    mean = mean or {}
    return {
        "rank": Cell(ranked.rank_label, ranked.rank),
        "model": Cell(entry.model_name, entry.model_name.lower()),
        "params": Cell(format_count(entry.n_parameters), entry.n_parameters),
        "features": Cell(feature_label(entry), entry.feature_set or 99),
        MAIN_COLUMNS[0]: _score_cell(entry, "unpruned"),
        MAIN_COLUMNS[1]: _score_cell(entry, "cleaned"),
        **{m.key: _metric_cell(m, mean) for m in headline_metrics() if m.key != MAIN_METRIC},
        "seeds": Cell(str(len(entry.seeds)), len(entry.seeds)),
        "date": Cell(entry.date, entry.date),
    }


def board_rows(ranked: Sequence[RankedEntry]) -> list[dict[str, Cell]]:
    """The board's table rows, one per ranked entry."""
    return [entry_row(r) for r in ranked]


# --------------------------------------------------------------------------------------------
# Breakdowns (from the evaluator reports of every seed, averaged over seeds)
# --------------------------------------------------------------------------------------------


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    return float(np.mean(numbers)) if numbers and len(numbers) == len(values) else None


def class_breakdown(entry: Any, scoring: str = "unpruned") -> list[dict[str, Any]]:
    """Per class: precision, recall, F1, IoU (seed means) and support."""
    reports = entry.reports.get(scoring, [])
    rows = []
    for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS, strict=True):
        cells = [((r.get("overall") or {}).get("per_class") or {}).get(key) or {} for r in reports]
        row: dict[str, Any] = {"class": name}
        for m in per_class_metrics():
            if m.per_class is None:
                continue
            row[m.per_class] = _mean([c.get(m.per_class) for c in cells]) if cells else None
        row["support"] = cells[0].get("support") if cells else None
        rows.append(row)
    return rows


def _group_n(cell: dict[str, Any]) -> int | None:
    for key in ("n", "n_samples", "support"):
        value = cell.get(key)
        if isinstance(value, (int, float)):
            return int(value)
    per_class = cell.get("per_class") or {}
    supports = [c["support"] for c in per_class.values() if isinstance(c, dict) and c.get("support") is not None]
    return int(sum(supports)) if supports else None


def group_breakdown(entry: Any, group: str, scoring: str = "unpruned") -> list[dict[str, Any]]:
    """Rows per region (``group="by_region"``) or sensor (``"by_sensor"``).

    Each row: n, accuracy, macro-F1 and per-class F1, seed means; absent classes stay None (an
    empty cell, never a 0).
    """
    reports = entry.reports.get(scoring, [])
    if not reports:
        return []
    names = list((reports[0].get(group) or {}).keys())
    main = get_metric(MAIN_METRIC)
    rows = []
    for name in names:
        cells = [(r.get(group) or {}).get(name) or {} for r in reports]
        row: dict[str, Any] = {"name": name, "n": _group_n(cells[0])}
        for m in headline_metrics():
            if m.from_confusion is not None:
                row[m.key] = _mean([c.get(m.key) for c in cells])
        row["per_class_f1"] = {name: _mean([((c.get("per_class") or {}).get(key) or {}).get(main.per_class) for c in cells])
                               for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS, strict=True)}
        rows.append(row)
    return rows

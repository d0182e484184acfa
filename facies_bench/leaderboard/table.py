"""Rows of the ranked table and of the per-entry breakdowns, shared by the Markdown and HTML pages.

Every cell carries its display text and a sort key, so the two renderers show the same numbers
and the HTML table sorts on values rather than on text.  Metrics are fractions in the data and
percentages (one decimal) on the pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from facies_bench import schema
from facies_bench.leaderboard.scoring import RankedEntry


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    help: str
    numeric: bool = True


#: The ranked table's columns, in order.
COLUMNS: tuple[Column, ...] = (
    Column("rank", "Rank", "Macro-F1 (unpruned) rank; '=' marks 95 % intervals that overlap the neighbour's."),
    Column("model", "Model", "Registered model name.", numeric=False),
    Column("params", "Params", "Trainable parameters."),
    Column("features", "Features", "The paper's feature set (1-4)."),
    Column("f1_unpruned", "Macro-F1 unpruned", "Macro-F1 (%) against all raw labels: mean over seeds, [95 % glacier-bootstrap interval]."),
    Column("f1_cleaned", "Macro-F1 cleaned", "Macro-F1 (%) against the cleaned variant's unpruned samples, [95 % interval]."),
    Column("accuracy", "Accuracy", "Overall accuracy (%), unpruned."),
    Column("glacier_f1", "Glacier F1", "Glacier-wise macro-F1 (%): mean ± std across glaciers, unpruned."),
    Column("ece", "ECE → calibrated", "ECE_100 (%) of the max-softmax confidence before → after per-fold calibration, unpruned."),
    Column("seeds", "Seeds", "Training replicates behind the row."),
    Column("date", "Date", "When the run was made.", numeric=False),
)


@dataclass(frozen=True)
class Cell:
    text: str
    sort: float | str | None


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage with ``digits`` decimals; an en dash when missing."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{100 * value:.{digits}f}"


def format_interval(ci: Sequence[float | None] | None) -> str:
    if not ci or None in ci:
        return ""
    return f"[{pct(ci[0])}, {pct(ci[1])}]"


def format_count(n: int | None) -> str:
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
    mean, std = _summary(entry, scoring)
    if not mean or mean.get("macro_f1") is None:
        return Cell("–", None)
    text = pct(mean["macro_f1"])
    if len(entry.seeds) > 1 and std and std.get("macro_f1") is not None:
        text += f" ± {pct(std['macro_f1'])}"
    interval = format_interval(mean.get("macro_f1_ci"))
    return Cell(f"{text} {interval}".strip(), float(mean["macro_f1"]))


def feature_label(entry: Any) -> str:
    return f"FS{entry.feature_set}" if entry.feature_set else f"custom ({len(entry.info.get('features', []))})"


def entry_row(ranked: RankedEntry) -> dict[str, Cell]:
    """The cells of one ranked entry, keyed by column key."""
    entry = ranked.entry
    mean, _ = _summary(entry, "unpruned")
    mean = mean or {}
    glacier = "–"
    if mean.get("glacier_f1_mean") is not None:
        glacier = f"{pct(mean['glacier_f1_mean'])} ± {pct(mean.get('glacier_f1_std'))}"
    ece_before, ece_after = mean.get("ece_100"), mean.get("ece_100_calibrated")
    ece = f"{pct(ece_before)} → {pct(ece_after)}" if ece_after is not None else pct(ece_before)
    return {
        "rank": Cell(ranked.rank_label, ranked.rank),
        "model": Cell(entry.model_name, entry.model_name.lower()),
        "params": Cell(format_count(entry.n_parameters), entry.n_parameters),
        "features": Cell(feature_label(entry), entry.feature_set or 99),
        "f1_unpruned": _score_cell(entry, "unpruned"),
        "f1_cleaned": _score_cell(entry, "cleaned"),
        "accuracy": Cell(pct(mean.get("accuracy")), mean.get("accuracy")),
        "glacier_f1": Cell(glacier, mean.get("glacier_f1_mean")),
        "ece": Cell(ece, ece_before),
        "seeds": Cell(str(len(entry.seeds)), len(entry.seeds)),
        "date": Cell(entry.date, entry.date),
    }


def board_rows(ranked: Sequence[RankedEntry]) -> list[dict[str, Cell]]:
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
    for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS):
        cells = [((r.get("overall") or {}).get("per_class") or {}).get(key) or {} for r in reports]
        row = {"class": name}
        for key in ("precision", "recall", "f1", "iou"):
            row[key] = _mean([c.get(key) for c in cells]) if cells else None
        row["support"] = cells[0].get("support") if cells else None
        rows.append(row)
    return rows


def _group_n(cell: dict[str, Any]) -> int | None:
    for key in ("n", "n_samples", "support"):
        value = cell.get(key)
        if isinstance(value, (int, float)):
            return int(value)
    per_class = cell.get("per_class") or {}
    supports = [c.get("support") for c in per_class.values() if isinstance(c, dict) and c.get("support") is not None]
    return int(sum(supports)) if supports else None


def group_breakdown(entry: Any, group: str, scoring: str = "unpruned") -> list[dict[str, Any]]:
    """Per region (``group="by_region"``) or sensor (``"by_sensor"``): n, accuracy, macro-F1 and
    per-class F1, seed means; absent classes stay None (an empty cell, never a 0)."""
    reports = entry.reports.get(scoring, [])
    if not reports:
        return []
    names = list((reports[0].get(group) or {}).keys())
    rows = []
    for name in names:
        cells = [(r.get(group) or {}).get(name) or {} for r in reports]
        row: dict[str, Any] = {"name": name, "n": _group_n(cells[0])}
        row["accuracy"] = _mean([c.get("accuracy") for c in cells])
        row["macro_f1"] = _mean([c.get("macro_f1") for c in cells])
        row["per_class_f1"] = {name: _mean([((c.get("per_class") or {}).get(key) or {}).get("f1") for c in cells])
                               for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS)}
        rows.append(row)
    return rows

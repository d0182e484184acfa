"""Small rendering helpers shared by CLI modules (rich tables, progress bars)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from rich.console import Console, Group
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from facies_bench import schema
from facies_bench.evaluation.metric_table import Metric, format_percent

console = Console()
err_console = Console(stderr=True)


def pct(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage (the metric table's formatter; a dash when missing)."""
    return format_percent(value, digits=digits)


def metric_rows(summary: Mapping[str, Any], metrics: Sequence[Metric]) -> list[list[str]]:
    """``[title, value]`` rows of summary metrics.

    Fractions are shown as percentages with their 95 % interval when the summary holds one;
    per-class metrics take one row per class.
    """
    rows = []
    for m in metrics:
        value = summary.get(m.key)
        if m.kind == "per_class":
            rows += [[f"{m.title}: {name}", pct((value or {}).get(key))] for name, key in zip(schema.CLASS_NAMES, schema.CLASS_KEYS, strict=True)]
            continue
        text = m.format(value)
        interval = summary.get(m.interval_key) if m.interval else None
        if interval and None not in interval:
            text += f"  [{pct(interval[0])}, {pct(interval[1])}]"
        rows.append([m.title, text])
    return rows


def table(title: str, columns: list[str], rows: list[list[str]]) -> Table | Group:
    # A wide caption would wrap to the table's width: keep long titles on their own line.
    t = Table(title=title if len(title) <= 60 else None, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    if len(title) <= 60:
        return t
    from rich.text import Text

    return Group(Text(title, style="italic"), t)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress display on stderr (so stdout stays parseable)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=err_console, transient=False) as p:
        yield p


def resolve_store_with_progress(store=None, *, quick: bool = False):
    """``facies_bench.resolve_store`` with a progress bar if the embedded dataset must be built.

    The bar is created on the first progress event, so opening an existing store prints nothing.
    """
    from facies_bench.default_dataset import resolve_store

    state: dict = {}

    def progress(done: int, total: int, desc: str) -> None:
        if "bar" not in state:
            state["bar"] = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TimeElapsedColumn(), console=err_console, transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("building the embedded dataset", total=total)
        state["bar"].update(state["task"], completed=done, total=total, description=desc[:60])

    try:
        return resolve_store(store, quick=quick, progress=progress)
    finally:
        if "bar" in state:
            state["bar"].stop()

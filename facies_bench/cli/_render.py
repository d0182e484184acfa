"""Small rendering helpers shared by CLI modules (rich tables, progress bars)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


def pct(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}"


def table(title: str, columns: list[str], rows: list[list[str]]) -> Table:
    # A wide caption would wrap to the table's width: keep long titles on their own line.
    t = Table(title=title if len(title) <= 60 else None, title_justify="left")
    for i, c in enumerate(columns):
        t.add_column(c, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*[str(v) for v in r])
    if len(title) <= 60:
        return t
    from rich.console import Group
    from rich.text import Text

    return Group(Text(title, style="italic"), t)


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress display on stderr (so stdout stays parseable)."""
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[status]}"), console=err_console, transient=False) as p:
        yield p


def resolve_store_with_progress(store=None, *, quick: bool = False):
    """``facies_bench.data.cache.resolve_store`` with a progress bar if the embedded dataset must be built.

    The bar is created on the first progress event, so opening an existing store prints nothing.
    """
    from facies_bench.data.cache import resolve_store

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

"""Scene selection for the SMB analysis: a window around the end of the ablation season.

Only scenes acquired within ``window_days`` of a centre day (default 20 August, paper Section 3)
of their own year are used, and of those at most one per glacier and year: the one closest to
the centre (ties: the earlier date, then the scene id).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from facies_bench.errors import MassBalanceError

#: The paper's window: +-20 days around 20 August.
DEFAULT_CENTER = "08-20"
DEFAULT_WINDOW_DAYS = 20


def parse_center(center: str) -> tuple[int, int]:
    """``'MM-DD'`` -> (month, day); raises MassBalanceError for anything else."""
    try:
        month, day = (int(p) for p in str(center).strip().split("-"))
        dt.date(2001, month, day)
    except (ValueError, TypeError):
        msg = f"Invalid window centre {center!r}: expected a month-day 'MM-DD' such as '08-20' (29 February is not allowed)."
        raise MassBalanceError(msg) from None
    return month, day


def days_from_center(date: dt.date | str, center: str = DEFAULT_CENTER) -> int:
    """Signed days from the centre day of the date's own year (positive = after the centre)."""
    if isinstance(date, str):
        date = dt.date.fromisoformat(date[:10])
    month, day = parse_center(center)
    return (date - dt.date(date.year, month, day)).days


@dataclass(frozen=True)
class WindowExclusion:
    """A scene not used, with the reason."""

    scene_id: str
    glacier: str
    year: int
    reason: str


def select_window_scenes(scenes: pd.DataFrame, *, window_days: int = DEFAULT_WINDOW_DAYS,
                         center: str = DEFAULT_CENTER) -> tuple[pd.DataFrame, list[WindowExclusion]]:
    """One scene per glacier-year within the window.

    Args:
        scenes: one row per scene with columns ``scene_id``, ``glacier``, ``date`` (ISO) and any others.
        window_days: half-width of the window in days (>= 0).
        center: centre day ``'MM-DD'``.

    Returns:
        The selected rows (columns of ``scenes`` plus ``year`` and ``offset_days``), sorted by
        glacier and year, and the excluded scenes with their reasons.
    """
    if int(window_days) < 0:
        raise MassBalanceError(f"window_days is {window_days}; it must be 0 or more days.")
    parse_center(center)
    missing = [c for c in ("scene_id", "glacier", "date") if c not in scenes.columns]
    if missing:
        raise MassBalanceError(f"The scene table lacks column(s) {', '.join(missing)}; it needs scene_id, glacier, date.")
    frame = scenes.copy()
    frame["year"] = [int(str(d)[:4]) for d in frame["date"]]
    frame["offset_days"] = [days_from_center(str(d), center) for d in frame["date"]]
    frame["_abs"] = frame["offset_days"].abs()
    excluded: list[WindowExclusion] = []
    inside = frame["_abs"] <= int(window_days)
    for row in frame.loc[~inside].itertuples():
        excluded.append(WindowExclusion(row.scene_id, row.glacier, int(row.year),
                                        f"acquired {row.date} ({row.offset_days:+d} days from {center}), "
                                        f"outside the +-{window_days}-day window"))
    frame = frame.loc[inside].sort_values(["glacier", "year", "_abs", "date", "scene_id"], kind="stable")
    first = ~frame.duplicated(["glacier", "year"], keep="first")
    chosen = frame.loc[first].set_index(["glacier", "year"])["scene_id"]
    for row in frame.loc[~first].itertuples():
        excluded.append(WindowExclusion(row.scene_id, row.glacier, int(row.year),
                                        f"another scene of the same glacier-year is closer to {center}: "
                                        f"{chosen[(row.glacier, row.year)]}"))
    selected = frame.loc[first].drop(columns="_abs").sort_values(["glacier", "year"]).reset_index(drop=True)
    return selected, excluded

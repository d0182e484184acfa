"""Glacier-wide annual surface mass balance in the WGMS Fluctuations of Glaciers layout.

The WGMS Fluctuations of Glaciers (FoG) database ships its mass-balance table as a CSV with one
row per glacier, year and elevation band::

    POLITICAL_UNIT, NAME, WGMS_ID, YEAR, LOWER_BOUND, UPPER_BOUND, AREA_SURVEY_YEAR, AREA_CHANGE,
    WINTER_BALANCE, WINTER_BALANCE_UNC, SUMMER_BALANCE, SUMMER_BALANCE_UNC, ANNUAL_BALANCE,
    ANNUAL_BALANCE_UNC, REMARKS

Balances are in mm w.e.; the glacier-wide row of a year has ``LOWER_BOUND = UPPER_BOUND = 9999``.
:func:`read_wgms_table` keeps those rows and converts to m w.e.  Glaciers of the facies schema
are matched to WGMS records through a small mapping CSV with columns ``glacier`` (schema name)
and ``wgms_id`` (optional; when blank the WGMS ``NAME`` is compared with the glacier name,
ignoring case, spaces and punctuation).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.errors import DatasetNotFoundError, MassBalanceError, UnknownNameError

#: Columns of the WGMS FoG mass-balance table, in the published order.
WGMS_COLUMNS: tuple[str, ...] = (
    "POLITICAL_UNIT", "NAME", "WGMS_ID", "YEAR", "LOWER_BOUND", "UPPER_BOUND", "AREA_SURVEY_YEAR", "AREA_CHANGE",
    "WINTER_BALANCE", "WINTER_BALANCE_UNC", "SUMMER_BALANCE", "SUMMER_BALANCE_UNC", "ANNUAL_BALANCE",
    "ANNUAL_BALANCE_UNC", "REMARKS",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("NAME", "WGMS_ID", "YEAR", "LOWER_BOUND", "UPPER_BOUND", "ANNUAL_BALANCE")
#: LOWER_BOUND / UPPER_BOUND code of a glacier-wide row.
GLACIER_WIDE = 9999
MM_PER_M = 1000.0


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _read_csv(path: str | os.PathLike, what: str) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"No {what} at {str(path)!r}: the file does not exist.")
    for encoding in ("utf-8", "latin-1"):  # FoG releases have been published in both
        try:
            return pd.read_csv(path, encoding=encoding, skipinitialspace=True)
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise MassBalanceError(f"{what} {str(path)!r} is not a readable CSV: {exc}") from exc
    raise MassBalanceError(f"{what} {str(path)!r} is neither UTF-8 nor Latin-1 text.")


def read_wgms_table(path_or_frame: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Glacier-wide annual balances of a WGMS FoG mass-balance table, in m w.e.

    Args:
        path_or_frame: CSV path or a DataFrame with the WGMS columns (upper case; lower case accepted).

    Returns:
        DataFrame[wgms_id (int), name, political_unit, year (int), annual_balance, winter_balance,
        summer_balance] with balances in m w.e.; rows without an annual balance are dropped.

    Raises:
        MassBalanceError: missing columns, non-numeric values, or two glacier-wide rows for one
            glacier-year.
    """
    source = "the WGMS table" if isinstance(path_or_frame, pd.DataFrame) else f"WGMS table {str(path_or_frame)!r}"
    raw = path_or_frame.copy() if isinstance(path_or_frame, pd.DataFrame) else _read_csv(path_or_frame, "WGMS mass-balance table")
    raw.columns = [str(c).strip().upper() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        msg = (f"{source} lacks column(s) {', '.join(missing)}; a WGMS Fluctuations of Glaciers mass-balance table "
               f"has {', '.join(WGMS_COLUMNS)}.")
        raise MassBalanceError(msg)
    numeric = {}
    for col in ("WGMS_ID", "YEAR", "LOWER_BOUND", "UPPER_BOUND", "ANNUAL_BALANCE", "WINTER_BALANCE", "SUMMER_BALANCE"):
        if col not in raw.columns:
            numeric[col] = pd.Series(np.nan, index=raw.index)
            continue
        values = pd.to_numeric(raw[col], errors="coerce")
        bad = values.isna() & raw[col].notna() & (raw[col].astype(str).str.strip() != "")
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            msg = f"{source}: column {col} has a non-numeric value {raw[col].iloc[first]!r} (data row {first + 1})."
            raise MassBalanceError(msg)
        numeric[col] = values
    wide = (numeric["LOWER_BOUND"] == GLACIER_WIDE) & (numeric["UPPER_BOUND"] == GLACIER_WIDE)
    keep = wide & numeric["ANNUAL_BALANCE"].notna() & numeric["WGMS_ID"].notna() & numeric["YEAR"].notna()
    out = pd.DataFrame({
        "wgms_id": numeric["WGMS_ID"][keep].astype(np.int64),
        "name": raw.loc[keep, "NAME"].astype(str).str.strip(),
        "political_unit": raw.loc[keep, "POLITICAL_UNIT"].astype(str).str.strip() if "POLITICAL_UNIT" in raw else "",
        "year": numeric["YEAR"][keep].astype(np.int64),
        "annual_balance": numeric["ANNUAL_BALANCE"][keep] / MM_PER_M,
        "winter_balance": numeric["WINTER_BALANCE"][keep] / MM_PER_M,
        "summer_balance": numeric["SUMMER_BALANCE"][keep] / MM_PER_M,
    }).reset_index(drop=True)
    dup = out.duplicated(["wgms_id", "year"], keep=False)
    if dup.any():
        pairs = sorted({(int(r.wgms_id), int(r.year)) for r in out.loc[dup].itertuples()})[:5]
        msg = (f"{source} has more than one glacier-wide row (LOWER_BOUND = UPPER_BOUND = {GLACIER_WIDE}) for "
               f"WGMS_ID/YEAR {', '.join(f'{i}/{y}' for i, y in pairs)}; keep one row per glacier and year.")
        raise MassBalanceError(msg)
    return out


def read_glacier_mapping(path_or_frame: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """The glacier -> WGMS id mapping: DataFrame[glacier (schema spelling), wgms_id (Int64, may be NA)]."""
    source = "the glacier mapping" if isinstance(path_or_frame, pd.DataFrame) else f"glacier mapping {str(path_or_frame)!r}"
    raw = path_or_frame.copy() if isinstance(path_or_frame, pd.DataFrame) else _read_csv(path_or_frame, "glacier mapping")
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    if "glacier" not in raw.columns:
        raise MassBalanceError(f"{source} lacks a 'glacier' column; expected columns glacier,wgms_id.")
    names = []
    for value in raw["glacier"]:
        try:
            names.append(schema.GLACIER_NAMES[schema.glacier_index(str(value).strip())])
        except UnknownNameError:
            raise UnknownNameError(f"{source}: unknown glacier {value!r}. Valid: {', '.join(schema.GLACIER_NAMES)}.") from None
    ids = pd.to_numeric(raw["wgms_id"], errors="coerce") if "wgms_id" in raw.columns else pd.Series(np.nan, index=raw.index)
    out = pd.DataFrame({"glacier": names, "wgms_id": ids.astype("Int64")})
    dup = out["glacier"].duplicated(keep=False)
    if dup.any():
        raise MassBalanceError(f"{source} lists glacier(s) {', '.join(sorted(set(out.loc[dup, 'glacier'])))} more than once.")
    return out


@dataclass
class MatchedRecords:
    """WGMS records matched to schema glaciers."""

    records: pd.DataFrame  #: [glacier, year, smb (m w.e.), wgms_id, wgms_name]
    unmatched_glaciers: list[str] = field(default_factory=list)  #: mapped glaciers with no glacier-wide record


def match_records(records: pd.DataFrame, mapping: pd.DataFrame) -> MatchedRecords:
    """Attach schema glacier names to glacier-wide records (by WGMS id, else by name).

    Args:
        records: output of :func:`read_wgms_table`.
        mapping: output of :func:`read_glacier_mapping`.
    """
    parts, unmatched = [], []
    by_name = records.assign(_key=records["name"].map(_norm))
    for row in mapping.itertuples():
        if pd.notna(row.wgms_id):
            hit = records.loc[records["wgms_id"] == int(row.wgms_id)]
        else:
            hit = by_name.loc[by_name["_key"] == _norm(row.glacier)]
            if hit["wgms_id"].nunique() > 1:
                msg = (f"Glacier {row.glacier!r} matches several WGMS glaciers by name ({sorted(hit['wgms_id'].unique())}); "
                       "give its wgms_id in the mapping file.")
                raise MassBalanceError(msg)
        if hit.empty:
            unmatched.append(row.glacier)
            continue
        parts.append(pd.DataFrame({"glacier": row.glacier, "year": hit["year"].to_numpy(),
                                   "smb": hit["annual_balance"].to_numpy(), "wgms_id": hit["wgms_id"].to_numpy(),
                                   "wgms_name": hit["name"].to_numpy()}))
    columns = ["glacier", "year", "smb", "wgms_id", "wgms_name"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame = frame[columns].sort_values(["glacier", "year"]).reset_index(drop=True)
    return MatchedRecords(records=frame, unmatched_glaciers=unmatched)


def _write_csv_atomic(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_wgms_table(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write rows in the WGMS FoG mass-balance layout (balances in mm w.e.); atomic.

    ``frame`` needs at least ``REQUIRED_COLUMNS``; absent optional columns are written empty.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise MassBalanceError(f"Cannot write a WGMS table without column(s) {', '.join(missing)}.")
    out = frame.reindex(columns=list(WGMS_COLUMNS))
    return _write_csv_atomic(out, path)


def write_glacier_mapping(mapping: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a ``glacier,wgms_id`` mapping CSV; atomic."""
    return _write_csv_atomic(mapping[["glacier", "wgms_id"]], path)

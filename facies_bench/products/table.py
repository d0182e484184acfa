"""Per-product facies tables and per-glacier time series.

A product mapped by :func:`facies_bench.mapping.products.map_product` gets one table, one row per
glacier, written as ``facies_table.csv`` and ``facies_table.json`` in the product's output
folder.  Columns (:data:`TABLE_COLUMNS`): product and glacier identity, the glacier's area and
hypsometry, the area of each facies (``area_<class>_m2``, ``schema.CLASS_KEYS``), and the SMB
predictors of :mod:`facies_bench.smb.features` (snow ratio, snowline altitude = 5th percentile of
snow-pixel elevations, normalised snowline, glacier-wide broadband albedo).

:func:`read_product_tables` reads every table below a folder (what ``facies-bench smb --tables``
takes); :func:`build_time_series` orders them by glacier and date, and
:func:`write_time_series` writes ``timeseries.csv`` plus one plot per glacier with several
dates (snow ratio, snowline and albedo through time).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.atomic import atomic_path
from facies_bench.errors import MassBalanceError

TABLE_FORMAT = "facies-bench-product-table"
TABLE_VERSION = 1
TABLE_CSV = "facies_table.csv"
TABLE_JSON = "facies_table.json"
TIMESERIES_CSV = "timeseries.csv"
AREA_COLUMNS = tuple(f"area_{k}_m2" for k in schema.CLASS_KEYS)
TABLE_COLUMNS = (
    "product_id", "sensor", "date", "acquired", "glacier_id", "glacier_name", "status", "area_m2",
    "elevation_mean_m", "elevation_min_m", "elevation_max_m", "glacier_px", "mapped_px", "nodata_px", *AREA_COLUMNS,
    "snow_px", "snow_area_m2", "snow_ratio", "snowline_m", "snowline_norm", "albedo", "unobserved_fraction",
    "sun_azimuth", "sun_elevation", "pixel_area_m2", "facies", "confidence", "quicklook", "issues",
)
PLOTTED = (("snow_ratio", "Snow ratio"), ("snowline_m", "Snowline (m)"), ("albedo", "Albedo"))


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    return value


def _atomic(path: Path, write: Callable[[Path], object]) -> Path:
    with atomic_path(path, suffix=path.suffix) as tmp:
        write(tmp)
    return path


def table_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows as a DataFrame with :data:`TABLE_COLUMNS` in order."""
    return pd.DataFrame([dict(r) for r in rows], columns=list(TABLE_COLUMNS))


def write_product_table(rows: Iterable[Mapping[str, Any]], folder: str | os.PathLike, *,
                        product: Mapping[str, Any], settings: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write ``facies_table.csv`` and ``facies_table.json`` into ``folder`` (each atomically)."""
    folder = Path(folder)
    frame = table_frame(rows)
    payload = {"format": TABLE_FORMAT, "version": TABLE_VERSION, "product": _clean(dict(product)),
               "settings": _clean(dict(settings or {})), "columns": list(TABLE_COLUMNS),
               "rows": [_clean(r) for r in frame.to_dict(orient="records")]}
    csv = _atomic(folder / TABLE_CSV, lambda p: frame.to_csv(p, index=False))
    js = _atomic(folder / TABLE_JSON, lambda p: p.write_text(json.dumps(payload, indent=1, allow_nan=False)))
    return {"table_csv": csv, "table_json": js}


def read_product_table(path: str | os.PathLike) -> pd.DataFrame:
    """One product table (the JSON or CSV file).

    Raises:
        MassBalanceError: the file is not a product table.
    """
    path = Path(path)
    try:
        if path.suffix.lower() == ".json":
            payload = json.loads(path.read_text())
            if payload.get("format") != TABLE_FORMAT:
                raise MassBalanceError(f"{str(path)!r} is not a facies product table (format {payload.get('format')!r}, expected {TABLE_FORMAT!r}).")
            frame = table_frame(payload["rows"])
        else:
            frame = pd.read_csv(path)
    except (OSError, ValueError, KeyError) as exc:
        raise MassBalanceError(f"Product table {str(path)!r} cannot be read: {exc}.") from exc
    missing = [c for c in ("product_id", "glacier_id", "date", "snow_ratio", "snowline_m", "albedo") if c not in frame.columns]
    if missing:
        raise MassBalanceError(f"{str(path)!r} lacks column(s) {', '.join(missing)}; it is not a facies product table.")
    frame["table"] = str(path)
    return frame


def find_product_tables(folder: str | os.PathLike) -> list[Path]:
    """Every product table below ``folder`` (the JSON one where both exist)."""
    folder = Path(folder)
    found: dict[Path, Path] = {}
    for p in sorted(folder.rglob(TABLE_JSON)) + sorted(folder.rglob(TABLE_CSV)):
        if not any(part.startswith(".") for part in p.relative_to(folder).parts):
            found.setdefault(p.parent, p)
    return list(found.values())


def read_product_tables(folder: str | os.PathLike) -> pd.DataFrame:
    """All product tables below ``folder``, one row per product and glacier.

    Raises:
        MassBalanceError: the folder does not exist or holds no table.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise MassBalanceError(f"No folder of product tables at {str(folder)!r}.")
    paths = find_product_tables(folder)
    if not paths:
        raise MassBalanceError(f"Folder {str(folder)!r} holds no {TABLE_JSON} / {TABLE_CSV}; map products into it with "
                               "`facies-bench map --product ... -o DIR`.")
    frame = pd.concat([read_product_table(p) for p in paths], ignore_index=True)
    dup = frame.duplicated(["product_id", "glacier_id"], keep=False)
    if dup.any():
        pairs = frame.loc[dup, ["product_id", "glacier_id", "table"]].drop_duplicates().head(4).to_dict(orient="records")
        raise MassBalanceError(f"Folder {str(folder)!r} holds the same product and glacier in several tables: {pairs}.")
    return frame


def build_time_series(tables: pd.DataFrame) -> pd.DataFrame:
    """Mapped rows ordered by glacier and acquisition time, with the number of dates per glacier."""
    frame = tables.loc[tables["status"].fillna("mapped") == "mapped"].copy()
    frame = frame.sort_values(["glacier_id", "acquired", "product_id"], kind="stable").reset_index(drop=True)
    frame["n_dates"] = frame.groupby("glacier_id")["date"].transform("nunique")
    keep = ["glacier_id", "glacier_name", "date", "acquired", "product_id", "sensor", "snow_ratio", "snowline_m",
            "snowline_norm", "albedo", "unobserved_fraction", "area_m2", "n_dates"]
    return frame[[c for c in keep if c in frame.columns]]


def plot_time_series(series: pd.DataFrame, path: str | os.PathLike, *, title: str) -> Path:
    """Three stacked panels (snow ratio, snowline, albedo) against date, written atomically as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dates = pd.to_datetime(series["acquired"], utc=True, format="ISO8601")
    fig = Figure(figsize=(7.0, 6.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PLOTTED), 1, sharex=True)
    for ax, (column, label) in zip(axes, PLOTTED, strict=True):
        values = pd.to_numeric(series[column], errors="coerce")
        for sensor, part in series.assign(_v=values, _d=dates).groupby("sensor"):
            ax.plot(part["_d"], part["_v"], marker="o", linestyle="-", label=sensor)
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, frameon=False)
    axes[0].set_title(title, fontsize=10)
    fig.autofmt_xdate()
    fig.tight_layout()
    return _atomic(Path(path), lambda p: fig.savefig(p, dpi=120, format="png"))


def write_time_series(folder: str | os.PathLike) -> dict[str, Path]:
    """Rebuild ``timeseries.csv`` and the per-glacier plots from every product table in ``folder``.

    Returns:
        ``{"timeseries": csv path, "plot:<glacier id>": png path, ...}`` (plots only for glaciers
        with two or more dates); empty when the folder has no table.
    """
    folder = Path(folder)
    if not find_product_tables(folder):
        return {}
    series = build_time_series(read_product_tables(folder))
    out = {"timeseries": _atomic(folder / TIMESERIES_CSV, lambda p: series.to_csv(p, index=False))}
    for gid, part in series.groupby("glacier_id"):
        if part["date"].nunique() < 2:
            continue
        from facies_bench.products.outlines import GlacierOutline

        slug = GlacierOutline(str(gid), "", {}).slug
        name = part["glacier_name"].dropna().astype(str)
        title = f"{name.iloc[0]} ({gid})" if len(name) and name.iloc[0] else str(gid)
        out[f"plot:{gid}"] = plot_time_series(part, folder / f"timeseries_{slug}.png", title=title)
    return out

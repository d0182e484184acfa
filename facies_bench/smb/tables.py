"""Product tables as an SMB source: ``facies-bench smb --tables DIR``.

``facies-bench map --product`` writes one table per product (``facies_table.json`` / ``.csv``, see
:mod:`facies_bench.products.table`) with, per glacier, the glacier's area and hypsometry, the
snow area, the snowline altitude (5th percentile of snow-pixel elevations) and the glacier-wide
albedo.  :class:`ProductTablesSource` turns every mapped row below a folder into a scene of the
SMB analysis, so :func:`facies_bench.smb.run_smb` needs no raster: the hypsometry of a glacier
is taken from its earliest product (as for the other sources) and the snow ratio and normalised
snowline are recomputed with it.

Glacier names: a row whose ``glacier_name`` or ``glacier_id`` names a glacier of
``schema.GLACIERS`` is reported under the schema name (so the WGMS glacier mapping matches it);
any other glacier keeps its name (or id) and is matched only if the mapping knows it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from facies_bench import schema
from facies_bench.errors import MassBalanceError, UnknownNameError
from facies_bench.smb import features as feat
from facies_bench.smb.sources import SceneRecord


def _schema_name(name: object, glacier_id: object) -> str:
    for candidate in (name, glacier_id):
        if isinstance(candidate, str) and candidate.strip():
            try:
                return schema.GLACIER_NAMES[schema.glacier_index(candidate.strip())]
            except UnknownNameError:
                continue
    return str(name).strip() if isinstance(name, str) and name.strip() else str(glacier_id)


class ProductTablesSource:
    """Every mapped glacier row of the product tables below a folder, as SMB scenes.

    Args:
        folder: the output folder of ``facies-bench map --product`` (searched recursively).

    Raises:
        MassBalanceError: no table, or unreadable tables.
    """

    def __init__(self, folder: str | os.PathLike):
        from facies_bench.products.table import read_product_tables

        self.folder = Path(folder)
        tables = read_product_tables(self.folder)
        self.skipped: list[dict] = []
        for row in tables.loc[tables["status"].fillna("mapped") != "mapped"].itertuples():
            self.skipped.append({"glacier": row.glacier_id, "year": int(str(row.date)[:4]), "scene_id": row.product_id,
                                 "stage": "maps", "reason": f"not mapped: {row.status}"})
        self.rows = tables.loc[tables["status"].fillna("mapped") == "mapped"].reset_index(drop=True)
        self.rows["glacier"] = [_schema_name(n, g) for n, g in zip(self.rows["glacier_name"], self.rows["glacier_id"], strict=True)]
        self.rows["scene_id"] = [f"{p}:{g}" for p, g in zip(self.rows["product_id"], self.rows["glacier_id"], strict=True)]
        self._by_id = {sid: row for sid, row in zip(self.rows["scene_id"], self.rows.to_dict(orient="records"), strict=True)}
        self.description = {"kind": "product_tables", "tables": str(self.folder),
                            "n_tables": int(tables["table"].nunique()), "n_rows": int(len(self.rows))}

    def scenes(self) -> list[SceneRecord]:
        """The scenes this source offers."""
        out = []
        for r in self._by_id.values():
            side = math.sqrt(float(r.get("pixel_area_m2") or 100.0))
            out.append(SceneRecord(r["scene_id"], r["glacier"], str(r["sensor"]), str(r["date"])[:10],
                                   (side, 0.0, 0.0, 0.0, -side, 0.0), str(r["table"])))
        return out

    def hypsometry(self, scene: SceneRecord) -> feat.Hypsometry:
        """The glacier's area and elevation statistics as the table recorded them."""
        r = self._by_id[scene.scene_id]
        values = [r.get(k) for k in ("area_m2", "elevation_mean_m", "elevation_min_m", "elevation_max_m")]
        if any(v is None or pd.isna(v) for v in values):
            raise MassBalanceError(f"Product table {r['table']!r}: glacier {r['glacier_id']!r} has no area / elevation statistics.")
        return feat.Hypsometry(glacier=scene.glacier, scene_id=scene.scene_id, date=scene.date, area_m2=float(values[0]),
                               mean_m=float(values[1]), min_m=float(values[2]), max_m=float(values[3]))

    def scene_features(self, scene: SceneRecord, *, hypsometry: feat.Hypsometry, snow_classes: Sequence[str],
                       snowline_percentile: float) -> feat.SceneFeatures:
        """The predictors of one row, normalised with the glacier's fixed (earliest) hypsometry.

        Raises:
            MassBalanceError: other snow classes or snowline percentile than the tables were made with.
        """
        r = self._by_id[scene.scene_id]
        if list(snow_classes) != ["snow"] or float(snowline_percentile) != feat.SNOWLINE_PERCENTILE:
            msg = (f"Product tables in {str(self.folder)!r} hold snow = class 'snow' and the snowline at the "
                   f"{feat.SNOWLINE_PERCENTILE:g}th percentile; map the products again to use other settings.")
            raise MassBalanceError(msg)
        snowline = float(r["snowline_m"]) if pd.notna(r["snowline_m"]) else float("nan")
        issues = [s for s in str(r.get("issues") or "").split("; ") if s and s != "nan"]
        norm = float("nan") if math.isnan(snowline) else feat.normalise_snowline(snowline, hypsometry)
        return feat.SceneFeatures(snow_ratio=float(r["snow_area_m2"]) / hypsometry.area_m2, snowline_m=snowline,
                                  snowline_norm=norm, albedo=float(r["albedo"]) if pd.notna(r["albedo"]) else float("nan"),
                                  glacier_px=int(r["glacier_px"]), snow_px=int(r["snow_px"]),
                                  unobserved_fraction=float(r["unobserved_fraction"]), issues=issues)

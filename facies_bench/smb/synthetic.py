"""The simulator's mass-balance component: WGMS-layout SMB records for a synthetic store.

For every glacier and every year with a scene, the scene closest to the window centre (20
August) is read and its TRUE facies give the accumulation-area ratio (AAR = snow-covered share of
the glacier area fixed from the glacier's earliest scene) and the normalised transient snowline
(5th percentile of the snow elevations; the glacier top when there is no snow).  The annual
glacier-wide balance is then drawn as::

    SMB = c_i + b_i (AAR - AAR0) - s (snowline_norm - SLN0) + e,     e ~ N(0, sigma)

with a glacier offset ``c_i ~ N(0, 0.25)`` m w.e. (climate/topography bias), a glacier
sensitivity ``b_i = 2.5 (1 + 0.2 N(0, 1))`` m w.e. per unit AAR, the balanced-budget AAR
``AAR0 = 0.55`` (typical of mid-latitude glaciers), ``s = 0.8``, ``SLN0 = 0`` and a year noise
``sigma = 0.35`` m w.e. (measurement and unexplained climate scatter), clipped to -3.5 ... +1.5
m w.e.  Winter balances are drawn around 1.3 m w.e. and summer = annual - winter.  Each record
gets a glacier-wide row (bounds 9999) and two elevation-band rows (so readers must filter).

Written beside the store as ``<store>.wgms/``: ``mass_balance.csv`` (WGMS FoG layout, mm w.e.),
``glacier_mapping.csv`` (glacier,wgms_id) and ``provenance.json``.  WGMS ids are synthetic
(``SYNTHETIC_ID_BASE`` + schema glacier index), not real WGMS identifiers.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import StoreFormatError
from facies_bench.smb import features as feat
from facies_bench.smb.wgms import GLACIER_WIDE, write_glacier_mapping, write_wgms_table
from facies_bench.smb.window import DEFAULT_CENTER, days_from_center

SYNTHETIC_ID_BASE = 90000
AAR0 = 0.55
SENSITIVITY = 2.5
SNOWLINE_SLOPE = 0.8
OFFSET_SD = 0.25
NOISE_SD = 0.35
SMB_RANGE = (-3.5, 1.5)
TABLE_NAME = "mass_balance.csv"
MAPPING_NAME = "glacier_mapping.csv"


def wgms_dir(store: FaciesStore | str | os.PathLike) -> Path:
    """``<store>.wgms``: where the synthetic records of a store live."""
    path = store.path if isinstance(store, FaciesStore) else str(store)
    return Path(str(path).rstrip("/") + ".wgms")


def true_smb_predictors(store: FaciesStore, *, center: str = DEFAULT_CENTER) -> pd.DataFrame:
    """AAR and normalised snowline of the true facies, one row per glacier-year (scene closest to ``center``)."""
    rows = []
    infos = [store.scene_info(s) for s in store.scene_ids]
    frame = pd.DataFrame({"scene_id": [i.scene_id for i in infos], "glacier": [i.glacier for i in infos],
                          "date": [str(i.date)[:10] for i in infos]})
    frame["year"] = frame["date"].str[:4].astype(int)
    frame["abs_offset"] = [abs(days_from_center(d, center)) for d in frame["date"]]
    snow = feat.class_codes(("snow",))
    for glacier, part in frame.groupby("glacier", sort=True):
        first = store.scene(part.sort_values(["date", "scene_id"]).iloc[0]["scene_id"])
        if first.dem is None or first.true_facies is None:
            msg = f"Scene {first.info.scene_id!r} of store {store.path!r} lacks a DEM or true facies; synthetic SMB needs both."
            raise StoreFormatError(msg)
        hyps = feat.compute_hypsometry(first.dem, first.outline, pixel_area_m2=feat.pixel_area(first.info.transform), glacier=glacier)
        for year, ypart in part.groupby("year", sort=True):
            sid = ypart.sort_values(["abs_offset", "date", "scene_id"]).iloc[0]["scene_id"]
            scene = store.scene(sid)
            if scene.true_facies is None or scene.dem is None:
                raise StoreFormatError(f"Scene {sid!r} of store {store.path!r} lacks a DEM or true facies; synthetic SMB needs both.")
            area = feat.pixel_area(scene.info.transform)
            aar = feat.snow_cover_ratio(scene.true_facies, scene.outline, area_m2=hyps.area_m2, pixel_area_m2=area, snow_classes=snow)
            line = feat.transient_snowline(scene.true_facies, scene.dem, scene.outline, snow_classes=snow)
            sln = feat.normalise_snowline(hyps.max_m if np.isnan(line) else line, hyps)
            rows.append({"glacier": glacier, "year": int(year), "scene_id": sid, "aar": aar, "snowline_norm": sln})
    return pd.DataFrame(rows, columns=["glacier", "year", "scene_id", "aar", "snowline_norm"])


def draw_synthetic_smb(predictors: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Annual, winter and summer balances (m w.e.) for the rows of :func:`true_smb_predictors`."""
    rng = np.random.default_rng(seed)
    glaciers = sorted(predictors["glacier"].unique())
    offset = {g: rng.normal(0.0, OFFSET_SD) for g in glaciers}
    sensitivity = {g: SENSITIVITY * (1.0 + 0.2 * rng.standard_normal()) for g in glaciers}
    out = predictors.copy()
    noise = rng.normal(0.0, NOISE_SD, size=len(out))
    annual = np.array([offset[g] + sensitivity[g] * (a - AAR0) - SNOWLINE_SLOPE * s
                       for g, a, s in zip(out["glacier"], out["aar"], out["snowline_norm"])]) + noise
    out["annual"] = np.clip(annual, *SMB_RANGE)
    out["winter"] = np.clip(rng.normal(1.3, 0.3, size=len(out)), 0.2, None)
    out["summer"] = out["annual"] - out["winter"]
    return out


def _wgms_rows(drawn: pd.DataFrame, store: FaciesStore, rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for r in drawn.itertuples():
        g = schema.glacier(r.glacier)
        base = {"POLITICAL_UNIT": g.country, "NAME": g.name.upper(), "WGMS_ID": SYNTHETIC_ID_BASE + g.index, "YEAR": r.year,
                "AREA_SURVEY_YEAR": r.year, "REMARKS": "synthetic (facies-bench simulator)"}
        mid = round((g.min_elev_m + g.max_elev_m) / 2 / 100) * 100
        rows.append({**base, "LOWER_BOUND": GLACIER_WIDE, "UPPER_BOUND": GLACIER_WIDE, "WINTER_BALANCE": round(r.winter * 1000),
                     "SUMMER_BALANCE": round(r.summer * 1000), "ANNUAL_BALANCE": round(r.annual * 1000),
                     "ANNUAL_BALANCE_UNC": round(1000 * NOISE_SD)})
        gradient = abs(rng.normal(1.0, 0.2))  # m w.e. difference between the two bands
        for lower, upper, sign in ((int(g.min_elev_m), mid, -1), (mid, int(g.max_elev_m), 1)):
            rows.append({**base, "LOWER_BOUND": lower, "UPPER_BOUND": upper,
                         "ANNUAL_BALANCE": round((r.annual + sign * gradient / 2) * 1000)})
    return pd.DataFrame(rows)


def write_synthetic_wgms(store: FaciesStore | str | os.PathLike, *, seed: int = 0, outdir: str | os.PathLike | None = None,
                         center: str = DEFAULT_CENTER) -> dict[str, Path]:
    """Draw SMB records for a synthetic store and write them in the WGMS layout beside it.

    Args:
        store: a synthetic store (object or path) whose scenes carry DEM and true facies.
        seed: random seed; the same store and seed give the same table.
        outdir: folder to write to (default ``<store>.wgms``).
        center: window centre used to pick each glacier-year's scene.

    Returns:
        ``{"table": ..., "mapping": ..., "provenance": ...}`` paths.
    """
    store = store if isinstance(store, FaciesStore) else open_store(store)
    if not store.is_synthetic:
        msg = f"Store {store.path!r} is not synthetic; synthetic SMB records are only drawn for simulated stores."
        raise StoreFormatError(msg)
    outdir = Path(outdir) if outdir is not None else wgms_dir(store)
    predictors = true_smb_predictors(store, center=center)
    drawn = draw_synthetic_smb(predictors, seed=seed)
    rng = np.random.default_rng([seed, 1])
    table = write_wgms_table(_wgms_rows(drawn, store, rng), outdir / TABLE_NAME)
    mapping = pd.DataFrame({"glacier": sorted(drawn["glacier"].unique())})
    mapping["wgms_id"] = [SYNTHETIC_ID_BASE + schema.glacier_index(g) for g in mapping["glacier"]]
    mapping_path = write_glacier_mapping(mapping, outdir / MAPPING_NAME)
    provenance = {"generator": "facies_bench.smb.synthetic.write_synthetic_wgms", "seed": int(seed),
                  "store": {k: v for k, v in store.describe().items() if k != "path"}, "center": center,
                  "model": {"aar0": AAR0, "sensitivity": SENSITIVITY, "snowline_slope": SNOWLINE_SLOPE,
                            "offset_sd": OFFSET_SD, "noise_sd": NOISE_SD, "range": list(SMB_RANGE)},
                  "records": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()}
                              for r in drawn.to_dict(orient="records")]}
    prov_path = outdir / "provenance.json"
    tmp = prov_path.with_name(f".provenance.json.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    os.replace(tmp, prov_path)
    return {"table": table, "mapping": mapping_path, "provenance": prov_path}

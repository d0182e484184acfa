"""The simulator's mass-balance records: WGMS-layout SMB tables for a synthetic store.

The balances are made by a process, not from the facies predictors: every scene of a store
built by ``facies-bench data synth`` (generator 3 and later) carries, in
``SceneInfo.extra["mass_balance"]``, its glacier-year's degree-day mass balance
(:mod:`facies_bench.synth.massbalance`): summer temperature and winter accumulation drive the
balance profile, which gives the glacier-wide annual, winter and summer balances, the
equilibrium line, and the transient snowline that the simulator drew the scene's snow cover
from.  The paper's Eq. 2 and Eq. 3, fitted on facies maps of those scenes, therefore have to
find the relation; it is not built in.

:func:`write_synthetic_wgms` turns the records into "measured" WGMS rows by adding a
glaciological measurement error (``MEASUREMENT_SD`` = 0.2 m w.e. on the annual balance and
``WINTER_MEASUREMENT_SD`` = 0.1 m w.e. on the winter balance, the order of the random errors
of glaciological series, Zemp et al. 2013, The Cryosphere 7, 1227-1245); summer = annual -
winter.  Each record gets a glacier-wide row (bounds 9999) and two elevation-band rows (the
process's mean balances below and above the band split), so readers must filter.

Written beside the store as ``<store>.wgms/``: ``mass_balance.csv`` (WGMS FoG layout, mm w.e.),
``glacier_mapping.csv`` (glacier,wgms_id) and ``provenance.json`` (process and measured values).
WGMS ids are synthetic (``SYNTHETIC_ID_BASE`` + schema glacier index), not real WGMS identifiers.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import MassBalanceError, StoreFormatError
from facies_bench.smb import features as feat
from facies_bench.smb.wgms import GLACIER_WIDE, write_glacier_mapping, write_wgms_table
from facies_bench.smb.window import DEFAULT_CENTER, days_from_center

SYNTHETIC_ID_BASE = 90000
#: Random error of a measured annual / winter balance, m w.e. (order of Zemp et al. 2013).
MEASUREMENT_SD = 0.2
WINTER_MEASUREMENT_SD = 0.1
_PROCESS_COLUMNS = ("annual", "winter", "summer", "ela", "aar", "band_split_m", "annual_lower", "annual_upper",
                    "d_temp", "d_temp_late", "precip_factor")
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


def process_smb_records(store: FaciesStore) -> pd.DataFrame:
    """The process-made balances of a synthetic store, one row per glacier-year.

    Columns: glacier, year, scene_ids (the glacier-year's scenes, ';'-joined), annual, winter,
    summer (m w.e.), ela_m, aar, band_split_m, annual_lower, annual_upper, d_temp, d_temp_late,
    precip_factor.

    Raises:
        StoreFormatError: a scene lacks the record (a store not made by the simulator's
            generator 3 or later, e.g. ``make_tiny_store``).
    """
    rows: dict[tuple[str, int], dict] = {}
    for sid in store.scene_ids:
        info = store.scene_info(sid)
        record = (info.extra or {}).get("mass_balance")
        if record is None:
            msg = (f"Scene {sid!r} of store {store.path!r} carries no process-made mass balance "
                   "(SceneInfo.extra['mass_balance']); synthetic SMB records come from the simulator's degree-day model. "
                   "Build the store with `facies-bench data synth` (generator 3 or later), or pass --wgms/--mapping.")
            raise StoreFormatError(msg)
        key = (info.glacier, int(record["year"]))
        if key in rows:
            rows[key]["scene_ids"] += f";{sid}"
            continue
        rows[key] = {"glacier": info.glacier, "year": int(record["year"]), "scene_ids": sid,
                     **{k: (np.nan if record.get(k) is None else float(record[k])) for k in _PROCESS_COLUMNS}}
    frame = pd.DataFrame(list(rows.values()), columns=["glacier", "year", "scene_ids", *_PROCESS_COLUMNS])
    return frame.sort_values(["glacier", "year"]).reset_index(drop=True)


def measure_smb(records: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Add glaciological measurement error: columns annual/winter/summer become the measured values.

    The process values are kept as ``annual_process``, ``winter_process``, ``summer_process``.
    """
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 7]))
    out = records.copy()
    for col in ("annual", "winter", "summer"):
        out[f"{col}_process"] = out[col]
    out["annual"] = out["annual_process"] + rng.normal(0.0, MEASUREMENT_SD, size=len(out))
    out["winter"] = out["winter_process"] + rng.normal(0.0, WINTER_MEASUREMENT_SD, size=len(out))
    out["summer"] = out["annual"] - out["winter"]
    shift = out["annual"] - out["annual_process"]
    out["annual_lower"] = out["annual_lower"] + shift
    out["annual_upper"] = out["annual_upper"] + shift
    return out


def _wgms_rows(measured: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for r in measured.itertuples():
        g = schema.glacier(r.glacier)
        base = {"POLITICAL_UNIT": g.country, "NAME": g.name.upper(), "WGMS_ID": SYNTHETIC_ID_BASE + g.index, "YEAR": r.year,
                "AREA_SURVEY_YEAR": r.year, "REMARKS": "synthetic (facies-bench degree-day simulator)"}
        rows.append({**base, "LOWER_BOUND": GLACIER_WIDE, "UPPER_BOUND": GLACIER_WIDE, "WINTER_BALANCE": round(r.winter * 1000),
                     "SUMMER_BALANCE": round(r.summer * 1000), "ANNUAL_BALANCE": round(r.annual * 1000),
                     "ANNUAL_BALANCE_UNC": round(1000 * MEASUREMENT_SD)})
        split = int(r.band_split_m)
        for lower, upper, value in ((int(g.min_elev_m), split, r.annual_lower), (split, int(g.max_elev_m), r.annual_upper)):
            if np.isfinite(value):
                rows.append({**base, "LOWER_BOUND": lower, "UPPER_BOUND": upper, "ANNUAL_BALANCE": round(value * 1000)})
    return pd.DataFrame(rows)


def write_synthetic_wgms(store: FaciesStore | str | os.PathLike, *, seed: int = 0, outdir: str | os.PathLike | None = None,
                         center: str = DEFAULT_CENTER) -> dict[str, Path]:
    """Write a synthetic store's process-made SMB records, with measurement error, in the WGMS layout.

    Args:
        store: a store built by the simulator (object or path); see :func:`process_smb_records`.
        seed: seed of the measurement error; the same store and seed give the same table.
        outdir: folder to write to (default ``<store>.wgms``).
        center: window centre, recorded in the provenance (every glacier-year with a scene gets a record).

    Returns:
        ``{"table": ..., "mapping": ..., "provenance": ...}`` paths.
    """
    store = store if isinstance(store, FaciesStore) else open_store(store)
    if not store.is_synthetic:
        msg = f"Store {store.path!r} is not synthetic; synthetic SMB records are only written for simulated stores."
        raise StoreFormatError(msg)
    outdir = Path(outdir) if outdir is not None else wgms_dir(store)
    measured = measure_smb(process_smb_records(store), seed=seed)
    table = write_wgms_table(_wgms_rows(measured), outdir / TABLE_NAME)
    mapping = pd.DataFrame({"glacier": sorted(measured["glacier"].unique())})
    mapping["wgms_id"] = [SYNTHETIC_ID_BASE + schema.glacier_index(g) for g in mapping["glacier"]]
    mapping_path = write_glacier_mapping(mapping, outdir / MAPPING_NAME)
    provenance = {"generator": "facies_bench.smb.synthetic.write_synthetic_wgms", "seed": int(seed),
                  "store": {k: v for k, v in store.describe().items() if k != "path"}, "center": center,
                  "model": {"process": "degree-day mass balance, facies_bench.synth.massbalance",
                            "measurement_sd": MEASUREMENT_SD, "winter_measurement_sd": WINTER_MEASUREMENT_SD},
                  "records": [{k: (None if isinstance(v, float) and np.isnan(v) else
                                   float(v) if isinstance(v, (float, np.floating)) else
                                   int(v) if isinstance(v, np.integer) else v) for k, v in r.items()}
                              for r in measured.to_dict(orient="records")]}
    prov_path = outdir / "provenance.json"
    tmp = prov_path.with_name(f".provenance.json.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(provenance, indent=2, default=str) + "\n")
    os.replace(tmp, prov_path)
    return {"table": table, "mapping": mapping_path, "provenance": prov_path}


@dataclass(frozen=True)
class WgmsRecordFiles:
    """The WGMS table and glacier mapping of an SMB analysis (:func:`locate_wgms_records`)."""

    table: Path
    mapping: Path
    drawn: bool = False  #: True when the synthetic records were drawn by this call


def locate_wgms_records(store: FaciesStore | None, *, wgms_table: str | os.PathLike | None = None,
                        mapping: str | os.PathLike | None = None, seed: int = 0) -> WgmsRecordFiles:
    """The records of an SMB analysis: the given table, else the store's ``<store>.wgms`` records.

    A synthetic store without records gets them drawn on first use (:func:`write_synthetic_wgms`
    with ``seed``); the mapping defaults to ``glacier_mapping.csv`` beside the table.

    Raises:
        MassBalanceError: no table given and no store to take the records from.
        StoreFormatError: a synthetic store whose scenes carry no process-made mass balance.
    """
    drawn = False
    if wgms_table is None:
        if store is None:
            raise MassBalanceError("No WGMS table: pass --wgms TABLE --mapping CSV (or --store of a synthetic store).")
        folder = wgms_dir(store)
        if not (folder / TABLE_NAME).is_file() and store.is_synthetic:
            write_synthetic_wgms(store, seed=seed)
            drawn = True
        wgms_table = folder / TABLE_NAME
    if mapping is None:
        mapping = Path(wgms_table).parent / MAPPING_NAME
    return WgmsRecordFiles(table=Path(wgms_table), mapping=Path(mapping), drawn=drawn)

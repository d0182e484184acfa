"""From facies maps and WGMS records to the paper's SMB regressions in one call: :func:`run_smb`."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import FaciesBenchError, MassBalanceError
from facies_bench.smb import features as feat
from facies_bench.smb import regression, wgms
from facies_bench.smb.report import SMBReport
from facies_bench.smb.sources import MapsSource, ProgressCallback, SceneRecord, StoreSource, load_models
from facies_bench.smb.tables import ProductTablesSource
from facies_bench.smb.window import DEFAULT_CENTER, DEFAULT_WINDOW_DAYS, days_from_center, select_window_scenes

log = logging.getLogger(__name__)


def store_folds(store: FaciesStore) -> dict[str, int]:
    """Glacier -> fold, from the store's per-sample fold column."""
    glaciers = np.asarray(store.attrs["glacier_names"], dtype=object)[store.column("glacier")]
    folds = store.column("fold").astype(int)
    frame = pd.DataFrame({"glacier": glaciers, "fold": folds}).drop_duplicates()
    clash = frame["glacier"].duplicated(keep=False)
    if clash.any():
        names = ", ".join(sorted(set(frame.loc[clash, "glacier"])))
        raise MassBalanceError(f"Store {store.path!r} puts glacier(s) {names} in more than one fold; glacier folds must be disjoint.")
    return dict(zip(frame["glacier"], frame["fold"], strict=True))


def _is_store(path: str | os.PathLike) -> bool:
    return "://" in str(path) or (Path(path) / "zarr.json").is_file()


def _item(stage: str, reason: str, *, glacier=None, year=None, scene_id=None) -> dict:
    return {"glacier": glacier, "year": None if year is None else int(year), "scene_id": scene_id, "stage": stage, "reason": reason}


def run_smb(source: FaciesStore | str | os.PathLike, wgms_table: str | os.PathLike | pd.DataFrame,
            mapping: str | os.PathLike | pd.DataFrame, *, model_paths: Sequence[str | os.PathLike] | Mapping[int, str | os.PathLike] | None = None,
            models: Sequence[Any] | Mapping[int, Any] | None = None, use_true_facies: bool = False, store: FaciesStore | str | None = None,
            dem: str | os.PathLike | None = None, outlines: str | os.PathLike | None = None,
            optical: str | os.PathLike | None = None, folds: Mapping[str, int] | None = None,
            window_days: int = DEFAULT_WINDOW_DAYS, center: str = DEFAULT_CENTER, alpha: float = regression.DEFAULT_ALPHA,
            min_records: int = regression.MIN_RECORDS, snow_classes: Sequence[str] = ("snow",),
            snowline_percentile: float = feat.SNOWLINE_PERCENTILE, make_estimator=None,
            progress: ProgressCallback | None = None) -> SMBReport:
    """Facies maps + WGMS records -> features -> Eq. 2 (glacier-fold CV) and Eq. 3 (leave-one-year-out).

    Args:
        source: a facies store (object or path), whose scenes are mapped on the fly with
            ``model_paths`` / ``models`` or taken from their true facies; or a folder of facies
            GeoTIFFs written by ``facies-bench map``.
        wgms_table: WGMS FoG mass-balance table (path or DataFrame; balances in mm w.e.).
        mapping: glacier -> WGMS id mapping (path or DataFrame, columns glacier,wgms_id).
        model_paths: checkpoints for ``facies_bench.models.load_model`` (store source), ensembled;
            or a dict ``{test fold: path}`` so each glacier is mapped by its own fold's model.
        models: already loaded models (instead of ``model_paths``): a list, or ``{fold: model(s)}``.
        use_true_facies: use the synthetic true facies instead of models (store source).
        store: with a maps folder, a store supplying scene metadata, DEM, outline, optical bands
            and the glacier folds where the other options do not.
        dem: DEM raster for a maps folder (see :mod:`facies_bench.smb.sources`).
        outlines: glacier outlines for a maps folder (see :mod:`facies_bench.smb.sources`).
        optical: optical rasters for a maps folder (see :mod:`facies_bench.smb.sources`).
        folds: glacier -> fold for Eq. 2; default: the store's folds, else leave-one-glacier-out.
        window_days: half-width of the acquisition window, in days.
        center: centre of the acquisition window ('MM-DD').
        alpha: ridge penalty (standardised predictors).
        min_records: fewest records for a glacier-specific model.
        snow_classes: classes counted as snow (default: snow only, as in the paper).
        snowline_percentile: percentile of snow elevations taken as the snowline (paper: 5).
        make_estimator: factory of the regressor (tests spy on the fits with it).
        progress: called with (done, total) after each scene is processed.

    Returns:
        An :class:`SMBReport`; everything left out is listed per glacier and year with a reason.
    """
    schema_snow = [schema.CLASS_NAMES[schema.class_index(c)] for c in snow_classes]
    store_obj = open_store(store) if isinstance(store, (str, os.PathLike)) else store
    src: ProductTablesSource | StoreSource | MapsSource
    if isinstance(source, ProductTablesSource):  # tables of `map --product`: predictors precomputed
        src = source
    elif isinstance(source, FaciesStore) or _is_store(source):
        store_obj = source if isinstance(source, FaciesStore) else open_store(source)
        if models is None and model_paths and not use_true_facies:
            models = load_models(model_paths)
        if folds is None:
            folds = store_folds(store_obj)
        src = StoreSource(store_obj, models=models, folds=folds, use_true_facies=use_true_facies)
    else:
        src = MapsSource(source, store=store_obj, dem=dem, outlines=outlines, optical=optical)
    if folds is None and store_obj is not None:
        folds = store_folds(store_obj)

    left_out: list[dict] = []
    # ---- records ---------------------------------------------------------------------------
    table = wgms.read_wgms_table(wgms_table)
    glacier_map = wgms.read_glacier_mapping(mapping)
    matched = wgms.match_records(table, glacier_map)
    for glacier in matched.unmatched_glaciers:
        left_out.append(_item("records", "no glacier-wide annual balance in the WGMS table for this glacier", glacier=glacier))
    records = matched.records
    # ---- scenes, hypsometry, window --------------------------------------------------------
    scenes = src.scenes()
    left_out.extend(getattr(src, "skipped", []))
    by_id = {s.scene_id: s for s in scenes}
    scene_frame = pd.DataFrame([{"scene_id": s.scene_id, "glacier": s.glacier, "sensor": s.sensor, "date": s.date} for s in scenes],
                               columns=["scene_id", "glacier", "sensor", "date"])
    hypsometry: dict[str, feat.Hypsometry] = {}
    bad_glaciers: dict[str, str] = {}
    for glacier, part in scene_frame.groupby("glacier", sort=True):
        first = by_id[part.sort_values(["date", "scene_id"]).iloc[0]["scene_id"]]
        try:
            if isinstance(src, ProductTablesSource):
                hypsometry[glacier] = src.hypsometry(first)
                continue
            dem_arr, outline_arr = src.geometry(first)
            hypsometry[glacier] = feat.compute_hypsometry(dem_arr, outline_arr, pixel_area_m2=feat.pixel_area(first.transform),
                                                          glacier=glacier, scene_id=first.scene_id, date=first.date)
        except FaciesBenchError as exc:
            bad_glaciers[glacier] = f"hypsometry from earliest scene {first.scene_id} failed: {exc}"
    selected, excluded = select_window_scenes(scene_frame, window_days=window_days, center=center)
    record_keys = set(zip(records["glacier"], records["year"].astype(int), strict=True))
    for ex in excluded:
        if (ex.glacier, ex.year) in record_keys:  # only exclusions that cost a record are worth listing
            left_out.append(_item("window", ex.reason, glacier=ex.glacier, year=ex.year, scene_id=ex.scene_id))
    # ---- features of the glacier-years with a record ---------------------------------------
    rows = []
    todo = [r for r in selected.itertuples() if (r.glacier, int(r.year)) in record_keys]
    for r in selected.itertuples():
        if (r.glacier, int(r.year)) not in record_keys:
            left_out.append(_item("records", "no WGMS record for this glacier-year (glacier not in the mapping, or no glacier-wide row)",
                                  glacier=r.glacier, year=r.year, scene_id=r.scene_id))
    for i, r in enumerate(todo):
        scene: SceneRecord = by_id[r.scene_id]
        if r.glacier in bad_glaciers:
            left_out.append(_item("features", bad_glaciers[r.glacier], glacier=r.glacier, year=r.year, scene_id=r.scene_id))
            continue
        try:
            if isinstance(src, ProductTablesSource):
                values = src.scene_features(scene, hypsometry=hypsometry[r.glacier], snow_classes=schema_snow,
                                            snowline_percentile=snowline_percentile)
            else:
                inputs = src.inputs(scene)
                values = feat.compute_scene_features(inputs.classes, inputs.dem, inputs.outline, hypsometry=hypsometry[r.glacier],
                                                     pixel_area_m2=feat.pixel_area(scene.transform), optical=inputs.optical,
                                                     sensor=scene.sensor, snow_classes=schema_snow,
                                                     snowline_percentile=snowline_percentile, scene_id=scene.scene_id)
        except FaciesBenchError as exc:
            left_out.append(_item("features", str(exc), glacier=r.glacier, year=r.year, scene_id=r.scene_id))
            continue
        finally:
            if progress is not None:
                progress(i + 1, len(todo))
        for issue in values.issues:
            left_out.append(_item("features", issue, glacier=r.glacier, year=r.year, scene_id=r.scene_id))
        rows.append({"glacier": r.glacier, "year": int(r.year), "scene_id": r.scene_id, "sensor": r.sensor, "date": r.date,
                     "offset_days": int(r.offset_days), "fold": (folds or {}).get(r.glacier),
                     **{k: v for k, v in values.to_dict().items() if k != "issues"}})
    feature_cols = ["glacier", "year", "scene_id", "sensor", "date", "offset_days", "fold", "snow_ratio", "snowline_m",
                    "snowline_norm", "albedo", "glacier_px", "snow_px", "unobserved_fraction"]
    features = pd.DataFrame(rows, columns=feature_cols)
    features = features.merge(records[["glacier", "year", "smb", "wgms_id"]], on=["glacier", "year"], how="left")
    # ---- records without a usable scene ----------------------------------------------------
    scene_glaciers = set(scene_frame["glacier"])
    selected_keys = set(zip(selected["glacier"], selected["year"].astype(int), strict=True))
    for rec in records.itertuples():
        key = (rec.glacier, int(rec.year))
        if rec.glacier not in scene_glaciers:
            left_out.append(_item("records", "glacier has no scenes in the source", glacier=rec.glacier, year=rec.year))
        elif key not in selected_keys:
            same_year = scene_frame.loc[(scene_frame["glacier"] == rec.glacier) & (scene_frame["date"].str[:4] == str(rec.year))]
            if same_year.empty:
                reason = f"no scene of {rec.year} for this glacier"
            else:
                offsets = [days_from_center(d, center) for d in same_year["date"]]
                nearest = int(np.argmin(np.abs(offsets)))
                reason = (f"no scene within +-{window_days} days of {center} (nearest: {same_year['scene_id'].iloc[nearest]}, "
                          f"{offsets[nearest]:+d} days)")
            left_out.append(_item("window", reason, glacier=rec.glacier, year=rec.year))
    # ---- regressions -----------------------------------------------------------------------
    global_result = regression.cross_validate_global(features, folds=folds, alpha=alpha, make_estimator=make_estimator)
    specific_result = regression.cross_validate_glacier_specific(features, min_records=min_records, alpha=alpha,
                                                                 make_estimator=make_estimator)
    for stage, result in (("global", global_result), ("glacier_specific", specific_result)):
        for item in result.left_out:
            left_out.append(_item(stage, item["reason"], glacier=item["glacier"], year=item["year"]))
    settings = {"window_days": int(window_days), "center": center, "alpha": float(alpha), "min_records": int(min_records),
                "snow_classes": list(schema_snow), "snowline_percentile": float(snowline_percentile),
                "folds": "store" if store_obj is not None and folds is not None else ("given" if folds else "leave-one-glacier-out"),
                "model_paths": ({str(k): str(v) for k, v in model_paths.items()} if isinstance(model_paths, Mapping)
                                else [str(p) for p in (model_paths or [])]), "use_true_facies": bool(use_true_facies),
                "n_records_matched": int(len(records)), "n_scenes": int(len(scene_frame)), "n_window_scenes": int(len(selected))}
    sensors = sorted(set(scene_frame["sensor"]))
    albedo_sources = {}
    for s in sensors:
        try:
            albedo_sources[s] = feat.albedo_coefficients(s).source
        except FaciesBenchError as exc:
            albedo_sources[s] = str(exc)
    return SMBReport(settings=settings, source=src.description, features=features, global_model=global_result,
                     specific_model=specific_result, hypsometry={g: h.to_dict() for g, h in hypsometry.items()},
                     albedo_coefficients=albedo_sources, left_out=left_out)

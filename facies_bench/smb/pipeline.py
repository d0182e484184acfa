"""From facies maps and WGMS records to the paper's SMB regressions: :func:`run_smb_config`.

An :class:`~facies_bench.smb.config.SMBConfig` names the input mode and holds the settings; the
run is a chain of stages, each a function of this module:

1. source: :func:`open_smb_source` opens the facies source of the mode (a
   :class:`~facies_bench.smb.sources.FaciesSource`) and finds the glacier folds of Eq. 2;
2. records: :func:`read_records` matches the WGMS glacier-wide balances to schema glaciers;
3. scenes: :func:`select_scenes` lists the source's scenes, takes each glacier's hypsometry from
   its earliest scene and picks each glacier-year's scene in the acquisition window;
4. features: :func:`iter_scene_features` yields the predictors of every window scene whose
   glacier-year has a record; :func:`collect_features` joins them to the records, and
   :func:`unused_records` names the records left without a scene;
5. regressions: :func:`fit_regressions` evaluates Eq. 2 with glacier folds and Eq. 3
   leave-one-year-out;
6. report: :func:`build_report`.

Every stage returns what it left out (per glacier and year, with the stage and a reason); the
report lists the items in stage order.  :func:`run_smb` is the same run with the input given as
an object or path and the settings as keywords.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench.atomic import is_url
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import FaciesBenchError, MassBalanceError
from facies_bench.smb import features as feat
from facies_bench.smb import regression, wgms
from facies_bench.smb.config import SMB_INPUTS, STORE_INPUTS, SMBConfig, freeze_model_paths, optional_str
from facies_bench.smb.regression import ModelResult
from facies_bench.smb.report import SMBReport
from facies_bench.smb.sources import FaciesSource, MapsSource, ProgressCallback, SceneRecord, StoreSource, load_models
from facies_bench.smb.synthetic import WgmsRecordFiles, locate_wgms_records
from facies_bench.smb.tables import ProductTablesSource
from facies_bench.smb.window import DEFAULT_CENTER, DEFAULT_WINDOW_DAYS, days_from_center, select_window_scenes

log = logging.getLogger(__name__)

#: Columns of the feature table before the records are joined (smb, wgms_id follow).
FEATURE_COLUMNS = ("glacier", "year", "scene_id", "sensor", "date", "offset_days", "fold", "snow_ratio", "snowline_m",
                   "snowline_norm", "albedo", "glacier_px", "snow_px", "unobserved_fraction")


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
    return is_url(path) or (Path(path) / "zarr.json").is_file()


def _item(stage: str, reason: str, *, glacier=None, year=None, scene_id=None) -> dict:
    return {"glacier": glacier, "year": None if year is None else int(year), "scene_id": scene_id, "stage": stage, "reason": reason}


# ---- 1. source -------------------------------------------------------------------------------
@dataclass
class SourceStage:
    """The facies source of a run, its store (if any) and the glacier folds of Eq. 2."""

    source: FaciesSource
    store: FaciesStore | None
    folds: dict[str, int] | None  #: glacier -> fold; None: leave-one-glacier-out
    folds_origin: str  #: "store", "given" or "leave-one-glacier-out" (the report's settings["folds"])


def open_smb_store(config: SMBConfig, store: FaciesStore | None = None) -> FaciesStore | None:
    """The store of a run: ``store`` if given, else ``config.store`` opened, else (store modes) the embedded dataset."""
    if store is not None:
        return store
    if config.store is not None:
        return open_store(config.store)
    if config.input in STORE_INPUTS:
        from facies_bench.default_dataset import resolve_store

        return resolve_store(None)
    return None


def _folds(config: SMBConfig, store: FaciesStore | None) -> tuple[dict[str, int] | None, str]:
    folds = config.folds_dict()
    if folds is None and store is not None:
        folds = store_folds(store)
    origin = "store" if store is not None and folds is not None else ("given" if folds else "leave-one-glacier-out")
    return folds, origin


def open_smb_source(config: SMBConfig, *, store: FaciesStore | None = None, models: Sequence | Mapping[int, Any] | None = None,
                    source: FaciesSource | None = None) -> SourceStage:
    """Stage 1: the facies source of ``config.input``, its store and the glacier folds.

    Args:
        config: the run's settings.
        store: an open store (default: :func:`open_smb_store`).
        models: loaded models instead of ``config.model_paths`` (``models`` mode only): a list
            (ensembled) or ``{test fold: model(s)}``.
        source: an already opened source of the mode (for instance a ``ProductTablesSource``).

    Raises:
        MassBalanceError: models given for another mode than ``models``.
    """
    if models is not None and config.input != "models":
        raise MassBalanceError(f"Loaded models map a store's scenes; the input mode {config.input!r} takes none.")
    store_obj = open_smb_store(config, store)
    if source is None and config.input in STORE_INPUTS:
        true_facies = config.input == "true_facies"
        if models is None and config.model_paths:
            models = load_models(config.model_spec())
        if store_obj is None:  # pragma: no cover - open_smb_store falls back to the embedded dataset
            raise MassBalanceError(f"The input mode {config.input!r} needs a store.")
        folds, origin = _folds(config, store_obj)
        return SourceStage(StoreSource(store_obj, models=models, folds=folds, use_true_facies=true_facies), store_obj, folds, origin)
    if source is None and config.input == "maps":
        source = MapsSource(str(config.folder), store=store_obj, dem=config.dem, outlines=config.outlines, optical=config.optical)
    elif source is None:
        source = ProductTablesSource(str(config.folder))
    return SourceStage(source, store_obj, *_folds(config, store_obj))


# ---- 2. records ------------------------------------------------------------------------------
def read_records(wgms_table: str | os.PathLike | pd.DataFrame, mapping: str | os.PathLike | pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """Stage 2: WGMS glacier-wide annual balances matched to schema glaciers.

    Returns:
        DataFrame[glacier, year, smb (m w.e.), wgms_id, wgms_name] and the left-out items (glaciers
        of the mapping without any glacier-wide balance).
    """
    table = wgms.read_wgms_table(wgms_table)
    glacier_map = wgms.read_glacier_mapping(mapping)
    matched = wgms.match_records(table, glacier_map)
    left_out = [_item("records", "no glacier-wide annual balance in the WGMS table for this glacier", glacier=glacier)
                for glacier in matched.unmatched_glaciers]
    return matched.records, left_out


def _record_keys(records: pd.DataFrame) -> set[tuple[str, int]]:
    return set(zip(records["glacier"], records["year"].astype(int), strict=True))


# ---- 3. scenes -------------------------------------------------------------------------------
@dataclass
class SceneSelection:
    """Stage 3's result: the source's scenes, the glaciers' hypsometry and the window scenes."""

    by_id: dict[str, SceneRecord]
    frame: pd.DataFrame  #: every scene: scene_id, glacier, sensor, date
    selected: pd.DataFrame  #: one window scene per glacier-year (``select_window_scenes``: + year, offset_days)
    hypsometry: dict[str, feat.Hypsometry]  #: glacier -> hypsometry of its earliest scene
    failed: dict[str, str]  #: glacier -> why its hypsometry could not be computed
    left_out: list[dict]


def glacier_hypsometry(source: FaciesSource, frame: pd.DataFrame,
                       by_id: Mapping[str, SceneRecord]) -> tuple[dict[str, feat.Hypsometry], dict[str, str]]:
    """Each glacier's hypsometry from its earliest scene; glaciers where that fails, with the reason."""
    hypsometry: dict[str, feat.Hypsometry] = {}
    failed: dict[str, str] = {}
    for glacier, part in frame.groupby("glacier", sort=True):
        first = by_id[part.sort_values(["date", "scene_id"]).iloc[0]["scene_id"]]
        try:
            hypsometry[glacier] = source.hypsometry(first)
        except FaciesBenchError as exc:
            failed[glacier] = f"hypsometry from earliest scene {first.scene_id} failed: {exc}"
    return hypsometry, failed


def select_scenes(source: FaciesSource, records: pd.DataFrame, *, config: SMBConfig) -> SceneSelection:
    """Stage 3: list the source's scenes, the glaciers' hypsometry, and one window scene per glacier-year.

    Left out: files that are not usable scenes, window exclusions that cost a record, and window
    scenes of glacier-years without a record.
    """
    scenes = source.scenes()
    left_out = list(getattr(source, "skipped", []))
    by_id = {s.scene_id: s for s in scenes}
    frame = pd.DataFrame([{"scene_id": s.scene_id, "glacier": s.glacier, "sensor": s.sensor, "date": s.date} for s in scenes],
                         columns=["scene_id", "glacier", "sensor", "date"])
    hypsometry, failed = glacier_hypsometry(source, frame, by_id)
    selected, excluded = select_window_scenes(frame, window_days=config.window_days, center=config.center)
    record_keys = _record_keys(records)
    for ex in excluded:
        if (ex.glacier, ex.year) in record_keys:  # only exclusions that cost a record are worth listing
            left_out.append(_item("window", ex.reason, glacier=ex.glacier, year=ex.year, scene_id=ex.scene_id))
    for r in selected.itertuples():
        if (r.glacier, int(r.year)) not in record_keys:
            left_out.append(_item("records", "no WGMS record for this glacier-year (glacier not in the mapping, or no glacier-wide row)",
                                  glacier=r.glacier, year=r.year, scene_id=r.scene_id))
    return SceneSelection(by_id=by_id, frame=frame, selected=selected, hypsometry=hypsometry, failed=failed, left_out=left_out)


# ---- 4. features -----------------------------------------------------------------------------
@dataclass
class GlacierYearFeatures:
    """What the source made of one glacier-year's window scene."""

    glacier: str
    year: int
    scene_id: str
    row: dict | None  #: the feature-table row (FEATURE_COLUMNS); None when the scene was left out
    left_out: list[dict]  #: why it was left out, or the issues of its features


def iter_scene_features(source: FaciesSource, selection: SceneSelection, records: pd.DataFrame, *, config: SMBConfig,
                        folds: Mapping[str, int] | None = None,
                        progress: ProgressCallback | None = None) -> Iterator[GlacierYearFeatures]:
    """Stage 4: the SMB predictors of each window scene whose glacier-year has a record, in glacier-year order.

    ``progress(done, total)`` is called after each scene whose features were attempted (not for
    glaciers without a hypsometry).
    """
    record_keys = _record_keys(records)
    todo = [r for r in selection.selected.itertuples() if (r.glacier, int(r.year)) in record_keys]
    for i, r in enumerate(todo):
        where = {"glacier": r.glacier, "year": r.year, "scene_id": r.scene_id}
        if r.glacier in selection.failed:
            yield GlacierYearFeatures(r.glacier, int(r.year), r.scene_id, None, [_item("features", selection.failed[r.glacier], **where)])
            continue
        values: feat.SceneFeatures | None = None
        error = ""
        try:
            values = source.scene_features(selection.by_id[r.scene_id], hypsometry=selection.hypsometry[r.glacier],
                                           snow_classes=config.snow_classes, snowline_percentile=config.snowline_percentile)
        except FaciesBenchError as exc:
            error = str(exc)
        finally:
            if progress is not None:
                progress(i + 1, len(todo))
        if values is None:
            yield GlacierYearFeatures(r.glacier, int(r.year), r.scene_id, None, [_item("features", error, **where)])
            continue
        row = {"glacier": r.glacier, "year": int(r.year), "scene_id": r.scene_id, "sensor": r.sensor, "date": r.date,
               "offset_days": int(r.offset_days), "fold": (folds or {}).get(r.glacier),
               **{k: v for k, v in values.to_dict().items() if k != "issues"}}
        yield GlacierYearFeatures(r.glacier, int(r.year), r.scene_id, row, [_item("features", issue, **where) for issue in values.issues])


def collect_features(outcomes: Iterable[GlacierYearFeatures], records: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    """The feature table (FEATURE_COLUMNS + smb, wgms_id of the record) and the items left out on the way."""
    rows, left_out = [], []
    for outcome in outcomes:
        left_out.extend(outcome.left_out)
        if outcome.row is not None:
            rows.append(outcome.row)
    features = pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))
    features = features.merge(records[["glacier", "year", "smb", "wgms_id"]], on=["glacier", "year"], how="left")
    return features, left_out


def unused_records(records: pd.DataFrame, selection: SceneSelection, *, config: SMBConfig) -> list[dict]:
    """Records without a usable scene: the glacier has no scene, or none in the window of that year."""
    left_out = []
    scene_frame = selection.frame
    scene_glaciers = set(scene_frame["glacier"])
    selected_keys = set(zip(selection.selected["glacier"], selection.selected["year"].astype(int), strict=True))
    for rec in records.itertuples():
        key = (rec.glacier, int(rec.year))
        if rec.glacier not in scene_glaciers:
            left_out.append(_item("records", "glacier has no scenes in the source", glacier=rec.glacier, year=rec.year))
        elif key not in selected_keys:
            same_year = scene_frame.loc[(scene_frame["glacier"] == rec.glacier) & (scene_frame["date"].str[:4] == str(rec.year))]
            if same_year.empty:
                reason = f"no scene of {rec.year} for this glacier"
            else:
                offsets = [days_from_center(d, config.center) for d in same_year["date"]]
                nearest = int(np.argmin(np.abs(offsets)))
                reason = (f"no scene within +-{config.window_days} days of {config.center} (nearest: "
                          f"{same_year['scene_id'].iloc[nearest]}, {offsets[nearest]:+d} days)")
            left_out.append(_item("window", reason, glacier=rec.glacier, year=rec.year))
    return left_out


# ---- 5. regressions --------------------------------------------------------------------------
def fit_regressions(features: pd.DataFrame, *, config: SMBConfig, folds: Mapping[str, int] | None = None,
                    make_estimator: Callable[[], Any] | None = None) -> tuple[ModelResult, ModelResult, list[dict]]:
    """Stage 5: Eq. 2 with glacier folds and Eq. 3 leave-one-year-out; the glacier-years each had to leave out."""
    global_result = regression.cross_validate_global(features, folds=folds, alpha=config.alpha, make_estimator=make_estimator)
    specific_result = regression.cross_validate_glacier_specific(features, min_records=config.min_records, alpha=config.alpha,
                                                                 make_estimator=make_estimator)
    left_out = [_item(stage, item["reason"], glacier=item["glacier"], year=item["year"])
                for stage, result in (("global", global_result), ("glacier_specific", specific_result))
                for item in result.left_out]
    return global_result, specific_result, left_out


# ---- 6. report -------------------------------------------------------------------------------
def _albedo_sources(sensors: Iterable[str]) -> dict[str, str]:
    out = {}
    for s in sensors:
        try:
            out[s] = feat.albedo_coefficients(s).source
        except FaciesBenchError as exc:
            out[s] = str(exc)
    return out


def build_report(config: SMBConfig, stage: SourceStage, *, records: pd.DataFrame, selection: SceneSelection,
                 features: pd.DataFrame, results: tuple[ModelResult, ModelResult], left_out: list[dict]) -> SMBReport:
    """Stage 6: settings, source, features, both models' results and every left-out item as an :class:`SMBReport`."""
    spec = config.model_spec()
    settings = {"window_days": int(config.window_days), "center": config.center, "alpha": float(config.alpha),
                "min_records": int(config.min_records), "snow_classes": list(config.snow_classes),
                "snowline_percentile": float(config.snowline_percentile), "folds": stage.folds_origin,
                "model_paths": {str(k): v for k, v in spec.items()} if isinstance(spec, dict) else spec,
                "use_true_facies": config.input == "true_facies", "n_records_matched": int(len(records)),
                "n_scenes": int(len(selection.frame)), "n_window_scenes": int(len(selection.selected))}
    global_result, specific_result = results
    return SMBReport(settings=settings, source=stage.source.description, features=features, global_model=global_result,
                     specific_model=specific_result, hypsometry={g: h.to_dict() for g, h in selection.hypsometry.items()},
                     albedo_coefficients=_albedo_sources(sorted(set(selection.frame["sensor"]))), left_out=left_out)


# ---- the run ---------------------------------------------------------------------------------
def analyse_smb(config: SMBConfig, stage: SourceStage, *, wgms_table: str | os.PathLike | pd.DataFrame,
                mapping: str | os.PathLike | pd.DataFrame, make_estimator: Callable[[], Any] | None = None,
                progress: ProgressCallback | None = None) -> SMBReport:
    """Stages 2 to 6 on an opened source: records, scenes, features, regressions, report."""
    records, left_out = read_records(wgms_table, mapping)
    selection = select_scenes(stage.source, records, config=config)
    left_out += selection.left_out
    outcomes = iter_scene_features(stage.source, selection, records, config=config, folds=stage.folds, progress=progress)
    features, feature_items = collect_features(outcomes, records)
    left_out += feature_items
    left_out += unused_records(records, selection, config=config)
    global_result, specific_result, fit_items = fit_regressions(features, config=config, folds=stage.folds,
                                                                make_estimator=make_estimator)
    left_out += fit_items
    return build_report(config, stage, records=records, selection=selection, features=features,
                        results=(global_result, specific_result), left_out=left_out)


def run_smb_config(config: SMBConfig, *, store: FaciesStore | None = None, models: Sequence | Mapping[int, Any] | None = None,
                   records: WgmsRecordFiles | None = None, make_estimator: Callable[[], Any] | None = None,
                   progress: ProgressCallback | None = None) -> SMBReport:
    """Facies maps + WGMS records -> features -> Eq. 2 (glacier-fold CV) and Eq. 3 (leave-one-year-out).

    Args:
        config: input mode and settings (``SMBConfig.from_options`` builds it from the CLI's flags).
        store: an open store (default: ``config.store``, else for a store mode the embedded dataset).
        models: loaded models instead of ``config.model_paths`` (``models`` mode).
        records: the WGMS table and glacier mapping (default: :func:`locate_wgms_records` with the
            config's paths and the store, drawing synthetic records on first use).
        make_estimator: factory of the regressor (tests spy on the fits with it).
        progress: called with (done, total) after each scene is processed.

    Returns:
        An :class:`SMBReport`; everything left out is listed per glacier and year with a reason.
    """
    store_obj = open_smb_store(config, store)
    if records is None:
        records = locate_wgms_records(store_obj, wgms_table=config.wgms_table, mapping=config.mapping, seed=config.records_seed)
    stage = open_smb_source(config, store=store_obj, models=models)
    return analyse_smb(config, stage, wgms_table=records.table, mapping=records.mapping, make_estimator=make_estimator,
                       progress=progress)


def run_smb(source: FaciesStore | ProductTablesSource | str | os.PathLike, wgms_table: str | os.PathLike | pd.DataFrame,
            mapping: str | os.PathLike | pd.DataFrame, *, model_paths: Sequence[str | os.PathLike] | Mapping[int, str | os.PathLike] | None = None,
            models: Sequence[Any] | Mapping[int, Any] | None = None, use_true_facies: bool = False, store: FaciesStore | str | None = None,
            dem: str | os.PathLike | None = None, outlines: str | os.PathLike | None = None,
            optical: str | os.PathLike | None = None, folds: Mapping[str, int] | None = None,
            window_days: int = DEFAULT_WINDOW_DAYS, center: str = DEFAULT_CENTER, alpha: float = regression.DEFAULT_ALPHA,
            min_records: int = regression.MIN_RECORDS, snow_classes: Sequence[str] = ("snow",),
            snowline_percentile: float = feat.SNOWLINE_PERCENTILE, make_estimator: Callable[[], Any] | None = None,
            progress: ProgressCallback | None = None) -> SMBReport:
    """:func:`run_smb_config` with the input mode read from ``source`` and the settings as keywords.

    Args:
        source: a facies store (object or path), whose scenes are mapped on the fly with
            ``model_paths`` / ``models`` or taken from their true facies; a folder of facies
            GeoTIFFs written by ``facies-bench map``; or a ``ProductTablesSource``.
        wgms_table: WGMS FoG mass-balance table (path or DataFrame; balances in mm w.e.).
        mapping: glacier -> WGMS id mapping (path or DataFrame, columns glacier,wgms_id).
        model_paths: checkpoints for ``facies_bench.models.load_model`` (store source), ensembled;
            or a dict ``{test fold: path}`` so each glacier is mapped by its own fold's model.
        models: already loaded models (instead of ``model_paths``): a list, or ``{fold: model(s)}``.
        use_true_facies: use the synthetic true facies instead of models (store source).
        store: with a maps folder or product tables, a store supplying scene metadata, DEM,
            outline, optical bands and the glacier folds where the other options do not.
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

    Raises:
        MassBalanceError: options of two input modes (for instance ``use_true_facies`` with
            ``model_paths``, a DEM with a store, ``store=`` beside a store source).
    """
    tables = source if isinstance(source, ProductTablesSource) else None
    if not isinstance(source, ProductTablesSource) and (isinstance(source, FaciesStore) or _is_store(source)):
        if store is not None:
            raise MassBalanceError("store= completes a maps folder or product tables; the source is itself a store.")
        mode, folder = ("true_facies" if use_true_facies else "models"), None
        store = source if isinstance(source, FaciesStore) else open_store(source)
    else:
        mode, folder = ("tables", str(source.folder)) if isinstance(source, ProductTablesSource) else ("maps", str(source))
        if use_true_facies:
            raise MassBalanceError(f"use_true_facies takes a store's scenes; the source is {SMB_INPUTS[mode]}.")
    store_obj = open_store(store) if isinstance(store, (str, os.PathLike)) else store
    config = SMBConfig(input=mode, folder=folder, model_paths=freeze_model_paths(model_paths), dem=optional_str(dem),
                       outlines=optional_str(outlines), optical=optional_str(optical),
                       folds=None if folds is None else tuple(folds.items()), window_days=window_days, center=center,
                       alpha=alpha, min_records=min_records, snow_classes=tuple(snow_classes),
                       snowline_percentile=snowline_percentile)
    stage = open_smb_source(config, store=store_obj, models=models, source=tables)
    return analyse_smb(config, stage, wgms_table=wgms_table, mapping=mapping, make_estimator=make_estimator, progress=progress)

"""File-to-file mapping, as ``facies-bench map`` runs it: rasters in, GeoTIFFs and a PNG out.

:func:`map_rasters` reads the optical scene (its grid is the output grid), rasterises the
outlines, reads or derives the features the models use, maps the scene with
:func:`~facies_bench.mapping.predict_scene.map_scene` and writes the outputs.
:func:`map_store_scene_to_files` does the same for a scene of a store.  Calibrators come from
:func:`load_calibration`.

Memory: :func:`map_rasters` copies the input rasters block by block into float32 files in a
temporary directory and derives the missing features there (block by block), so only the
outputs (uint8 classes, float32 confidence), the glacier-id raster (int32), the mask and one
tile's working set are in memory: about 1 GB of per-scene arrays plus ~1 GB of tile working set
for a 10,000 x 10,000 scene (see ``benchmarks/test_mapping.py``).  The temporary files take
``4 B x (6 + derived features + DEM) x pixels`` of disk (``workdir`` chooses where).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling

from facies_bench import schema
from facies_bench.errors import FaciesBenchError
from facies_bench.mapping.features import build_feature_bands, required_features
from facies_bench.mapping.io import (
    Stack,
    find_sun_angles,
    rasterise_outlines,
    read_aligned,
    read_optical,
    write_confidence_map,
    write_facies_map,
)
from facies_bench.mapping.predict_scene import SceneMap, map_scene, score_scene_map
from facies_bench.mapping.quicklook import quicklook_step, write_quicklook
from facies_bench.raster import RasterGrid

log = logging.getLogger(__name__)

#: Auxiliary feature rasters a user may supply, and how each is resampled with ``resample``.
AUX_RESAMPLING = {"slope": Resampling.bilinear, "shadow_mask": Resampling.nearest,
                  "hillshade": Resampling.bilinear, "proximity": Resampling.bilinear}


@dataclass
class MapResult:
    """What a mapping run produced."""

    scene_map: SceneMap
    grid: RasterGrid
    outputs: dict[str, Path] = field(default_factory=dict)  #: "facies", "confidence", "quicklook"
    scores: dict[str, Any] | None = None  #: against a true facies map (synthetic store scenes)
    derived: tuple[str, ...] = ()  #: features derived rather than read


def _model_fold(model: Any) -> int | None:
    meta = getattr(model, "meta", {}) or {}
    for key in ("test_fold", "fold"):
        if key in meta and meta[key] is not None:
            return int(meta[key])
    return None


def load_mapping_models(names: Sequence[str | os.PathLike], *, norm_stats: Any = None) -> tuple[list[Any], list[Any] | None]:
    """The models to ensemble and, for the published fs4 models, their published calibrators.

    Args:
        names: checkpoint paths and ``published:NAME`` names (``published:fs4`` expands to its
            six fold models).
        norm_stats: normalisation of the published models (``"published"`` when None; see
            :func:`~facies_bench.published.load_published_model`).  Checkpoints carry their own.

    Returns:
        (models, calibrators): calibrators only when every model is a published fs4 final model.
    """
    from facies_bench.models import load_model
    from facies_bench.published import is_published_name, load_published_calibrators, load_published_models

    models: list[Any] = []
    for name in names:
        if is_published_name(str(name)):
            models.extend(load_published_models(str(name), norm_stats=norm_stats or "published"))
        else:
            if norm_stats is not None:
                raise FaciesBenchError(f"--norm-stats applies to published models only; {str(name)!r} carries its own normalisation.")
            models.append(load_model(name))
    published = all(m.meta.get("published") for m in models)
    return models, load_published_calibrators(models) if published else None


def load_calibration(path: str | os.PathLike, models: Sequence[Any], *, fold: int | None = None) -> list[Any]:
    """Calibrators for a set of models, from a calibrator file.

    Args:
        path: a JSON file written by
            :func:`~facies_bench.evaluation.calibration.save_calibrators` (one calibrator per test
            fold), or a pickled one-feature Laplacian ``KernelRidge`` (the published
            ``calibration/fold{k}.pickle``).
        models: the models being ensembled; each model's ``meta["test_fold"]`` picks its fold's
            calibrator.
        fold: use this fold's calibrator for every model.

    Returns:
        The calibrators to average (one per model, or the single one in the file).

    Raises:
        FaciesBenchError: the file holds several folds and a model's fold is unknown or missing.
    """
    from facies_bench.evaluation.calibration import load_calibrators

    path = Path(path)
    if not path.exists():
        raise FaciesBenchError(f"Calibration file {str(path)!r} does not exist.")
    if path.suffix.lower() in (".pickle", ".pkl"):
        from facies_bench.published.calibration import calibrator_from_pickle

        cals = {fold if fold is not None else -1: calibrator_from_pickle(path)}  # a restricted unpickler
    else:
        cals = load_calibrators(path)
    if len(cals) == 1:
        return list(cals.values())
    if fold is not None:
        if fold not in cals:
            raise FaciesBenchError(f"Calibration file {str(path)!r} has folds {sorted(cals)}; fold {fold} is not among them.")
        return [cals[fold]]
    chosen = []
    for m in models:
        k = _model_fold(m)
        if k is None or k not in cals:
            msg = (f"Calibration file {str(path)!r} has one calibrator per fold ({sorted(cals)}) and model "
                   f"{m.model_name or 'given'} {'has no test_fold in its metadata' if k is None else f'is of fold {k}'}; "
                   "pass --calibration-fold K to choose one.")
            raise FaciesBenchError(msg)
        chosen.append(cals[k])
    return chosen


def write_outputs(scene_map: SceneMap, grid: RasterGrid, output: str | os.PathLike, *,
                  confidence: str | os.PathLike | None = None, quicklook: str | os.PathLike | None = None,
                  optical: Stack | None = None, outline: np.ndarray | None = None, title: str | None = None,
                  tags: Mapping[str, Any] | None = None) -> dict[str, Path]:
    """Write the facies GeoTIFF and, when asked, the confidence GeoTIFF and the quicklook PNG."""
    tags = {"MODES": ",".join(scene_map.modes), "CALIBRATED": str(scene_map.calibrated), **(tags or {})}
    outputs = {"facies": write_facies_map(output, scene_map.classes, grid, tags=tags)}
    if confidence is not None:
        outputs["confidence"] = write_confidence_map(confidence, scene_map.confidence, grid, tags=tags)
    if quicklook is not None:
        if optical is None:
            raise ValueError("The quicklook needs the optical bands.")
        step = quicklook_step(scene_map.classes.shape)  # decimate before reading bands from disk
        sub = (slice(None, None, step), slice(None, None, step))
        outputs["quicklook"] = write_quicklook(quicklook, optical[(slice(None), *sub)], scene_map.classes[sub],
                                               scene_map.confidence[sub], outline=None if outline is None else outline[sub],
                                               title=title, calibrated=scene_map.calibrated)
    return outputs


def map_rasters(models: Sequence[Any], scene: str | os.PathLike, outlines: str | os.PathLike, output: str | os.PathLike, *,
                dem: str | os.PathLike | None = None, supplied: Mapping[str, str | os.PathLike | None] | None = None,
                sun_azimuth: float | None = None, sun_elevation: float | None = None, calibrator: Any = None,
                resample: bool = False, reflectance_scale: float = 1.0, confidence: str | os.PathLike | None = None,
                quicklook: str | os.PathLike | None = None, workdir: str | os.PathLike | None = None,
                **map_kwargs: Any) -> MapResult:
    """Map an optical scene given as rasters and write the outputs.

    Args:
        models: :class:`~facies_bench.models.FaciesModel` instances (ensembled).
        scene: 6-band optical GeoTIFF (TOA reflectance); its grid is the output grid.
        outlines: glacier outlines (GeoJSON, GeoPackage, shapefile or any OGR vector format).
        output: facies GeoTIFF to write.
        dem: DEM raster (metres), needed when a model uses DEM features that are not supplied.
        supplied: ``{feature name: raster path}`` for slope, shadow_mask, hillshade, proximity (None: not given).
        sun_azimuth: degrees; default from the scene's metadata tags.
        sun_elevation: degrees; default from the scene's metadata tags.
        calibrator: calibrator(s) for the confidence (see :func:`load_calibration`).
        resample: reproject auxiliary rasters onto the scene grid instead of failing.
        reflectance_scale: factor turning the optical values into reflectance.
        confidence: confidence GeoTIFF to write.
        quicklook: quicklook PNG to write.
        workdir: directory for the temporary band files (default: the system's temporary
            directory); they are removed afterwards.
        **map_kwargs: passed to :func:`~facies_bench.mapping.predict_scene.map_scene` (mode,
            tile, smoothing, min_island_px, ...).

    Raises:
        RasterError: for every inconsistent input (see :mod:`facies_bench.mapping.io`).
    """
    scene = str(scene)
    with tempfile.TemporaryDirectory(prefix="facies-bench-map-", dir=workdir) as tmp:
        optical = read_optical(scene, scale=reflectance_scale, workdir=tmp)
        grid = optical.grid
        ids = rasterise_outlines(outlines, grid, scene_path=scene)
        needed = required_features(models)
        tag_az, tag_el = find_sun_angles(optical.tags)
        sun_azimuth = tag_az if sun_azimuth is None else sun_azimuth
        sun_elevation = tag_el if sun_elevation is None else sun_elevation
        aux = {}
        for name, path in (supplied or {}).items():
            if path is None:
                continue
            key = schema.FEATURE_NAMES[schema.feature_index(name)]
            if key not in needed:
                log.info("Ignoring %s %s: the model does not use it", key, path)
                continue
            aux[key] = read_aligned(path, grid, what=key, resample=resample, reference_path=scene,
                                    resampling=AUX_RESAMPLING.get(key, Resampling.bilinear), workdir=tmp)
        dem_array = None
        dem_needed = any(f in needed and f not in aux for f in ("elevation", "slope", "shadow_mask", "hillshade"))
        if dem is not None and dem_needed:
            dem_array = read_aligned(dem, grid, what="DEM", resample=resample, reference_path=scene, workdir=tmp)
        bands = build_feature_bands(optical.array, ids, needed=needed, pixel_size=grid.pixel_size, dem=dem_array,
                                    supplied=aux, sun_azimuth=sun_azimuth, sun_elevation=sun_elevation,
                                    scene_path=scene, workdir=tmp)
        scene_map = map_scene(models, bands, ids, calibrator=calibrator, **map_kwargs)
        outputs = write_outputs(scene_map, grid, output, confidence=confidence, quicklook=quicklook,
                                optical=optical.array, outline=ids > 0 if quicklook is not None else None,
                                title=Path(scene).stem, tags={"SOURCE_SCENE": Path(scene).name})
    derived = tuple(f for f in needed if f not in schema.OPTICAL_FEATURES and f not in aux)
    return MapResult(scene_map=scene_map, grid=grid, outputs=outputs, derived=derived)


def map_store_scene_to_files(models: Sequence[Any], store: Any, scene_id: str, output: str | os.PathLike, *,
                             calibrator: Any = None, confidence: str | os.PathLike | None = None,
                             quicklook: str | os.PathLike | None = None, **map_kwargs: Any) -> MapResult:
    """Map a store scene, score it against the true map (synthetic stores) and write the outputs."""
    data = store.scene(scene_id)
    grid = RasterGrid.from_scene_info(data.info)
    scene_map = map_scene(models, data.features, data.outline, feature_names=store.feature_names,
                          calibrator=calibrator, **map_kwargs)
    scores = None
    if data.true_facies is not None:
        scores = score_scene_map(scene_map.classes, data.true_facies, data.outline)
    optical = data.features[[store.feature_names.index(b) for b in schema.OPTICAL_FEATURES]]
    outputs = write_outputs(scene_map, grid, output, confidence=confidence, quicklook=quicklook, optical=optical,
                            outline=data.outline, title=scene_id, tags={"SOURCE_SCENE": scene_id, "STORE": store.name})
    return MapResult(scene_map=scene_map, grid=grid, outputs=outputs, scores=scores)

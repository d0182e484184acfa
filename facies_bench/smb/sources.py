"""Where the facies maps of the SMB analysis come from: a store's scenes or a folder of GeoTIFFs.

A source (:class:`FaciesSource`) lists its scenes (id, glacier, sensor, date, transform) and,
per scene, gives the glacier's hypsometry and the scene's SMB predictors (snow ratio, snowline,
albedo: :class:`~facies_bench.smb.features.SceneFeatures`).  The two raster sources below do so
from the glacier geometry (DEM and outline) and the full inputs (facies classes, DEM, outline,
optical bands or None); :class:`facies_bench.smb.tables.ProductTablesSource` reads them from
product tables.  The raster sources:

* :class:`StoreSource`: the scenes of a facies store, mapped on the fly with fold models through
  the mapper's ``map_scene``, or taken from the synthetic ``true_facies``.
* :class:`MapsSource`: facies GeoTIFFs written by ``facies-bench map`` (single band uint8, 255 =
  nodata).  Scene metadata come from the GeoTIFF tags ``scene_id``, ``glacier``, ``sensor``,
  ``date`` (any case), else from a store scene with the file's id (the file stem without a
  ``_facies`` suffix).  DEM, outline and optical bands come from ``dem`` / ``outlines`` /
  ``optical`` (a GeoTIFF used for every map, or a folder holding ``<scene_id>.tif`` or
  ``<glacier slug>.tif``; outlines may also be a vector file, rasterised onto each map's grid),
  else from the store scene; without any outline the glacier is the
  map's non-nodata area.  Every raster must be on the map's grid (shape and transform).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore
from facies_bench.errors import RasterError, StoreFormatError, UnknownNameError
from facies_bench.smb import features as feat
from facies_bench.smb.features import NODATA

log = logging.getLogger(__name__)

#: Outline files rasterised onto each map's grid (through the mapper's ``rasterise_outlines``).
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp")


@dataclass
class SceneRecord:
    """Metadata of one scene of a source."""

    scene_id: str
    glacier: str
    sensor: str
    date: str
    transform: tuple[float, ...]
    path: str = ""  #: map file (maps source only)


@dataclass
class SceneInputs:
    """The rasters of one scene the SMB analysis reads: classes, DEM, outline and optional optical bands."""
    classes: np.ndarray  #: (H, W) class codes, NODATA = 255
    dem: np.ndarray
    outline: np.ndarray
    optical: np.ndarray | None  #: (6, H, W) or None


class FaciesSource(Protocol):
    """What the SMB analysis asks of a source of facies (store scenes, GeoTIFF maps, product tables)."""

    description: dict  #: recorded as the report's ``source``
    skipped: list[dict]  #: inputs that are not usable scenes, as left-out items (filled by ``scenes()``)

    def scenes(self) -> list[SceneRecord]:
        """The scenes this source offers."""
        ...

    def hypsometry(self, scene: SceneRecord) -> feat.Hypsometry:
        """The glacier's area and elevation statistics from ``scene`` (its earliest)."""
        ...

    def scene_features(self, scene: SceneRecord, *, hypsometry: feat.Hypsometry, snow_classes: Sequence[str],
                       snowline_percentile: float) -> feat.SceneFeatures:
        """The SMB predictors of one scene, normalised with the glacier's fixed hypsometry."""
        ...


class _RasterFeatures:
    """Hypsometry and predictors from a raster source's ``geometry`` and ``inputs``."""

    def geometry(self, scene: SceneRecord) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - overridden
        raise NotImplementedError

    def inputs(self, scene: SceneRecord) -> SceneInputs:  # pragma: no cover - overridden
        raise NotImplementedError

    def hypsometry(self, scene: SceneRecord) -> feat.Hypsometry:
        """The glacier's area and elevation statistics from the DEM and outline of ``scene``."""
        dem, outline = self.geometry(scene)
        return feat.compute_hypsometry(dem, outline, pixel_area_m2=feat.pixel_area(scene.transform), glacier=scene.glacier,
                                       scene_id=scene.scene_id, date=scene.date)

    def scene_features(self, scene: SceneRecord, *, hypsometry: feat.Hypsometry, snow_classes: Sequence[str],
                       snowline_percentile: float) -> feat.SceneFeatures:
        """The SMB predictors of one scene from its facies, DEM, outline and optical bands."""
        inputs = self.inputs(scene)
        return feat.compute_scene_features(inputs.classes, inputs.dem, inputs.outline, hypsometry=hypsometry,
                                           pixel_area_m2=feat.pixel_area(scene.transform), optical=inputs.optical,
                                           sensor=scene.sensor, snow_classes=snow_classes,
                                           snowline_percentile=snowline_percentile, scene_id=scene.scene_id)


class StoreSource(_RasterFeatures):
    """Scenes of a facies store; facies from ``true_facies`` or from models via ``map_scene``.

    Args:
        store: an open store.
        models: loaded models passed to the mapper's ``map_scene`` (ensembled), or a dict
            ``{test fold: model or list of models}``: each glacier is then mapped by the model(s)
            of its own test fold, which never saw it (the paper's protocol).  None with
            ``use_true_facies``.
        folds: glacier -> fold, needed with a dict of fold models.
        use_true_facies: use the synthetic scenes' true facies (the bound of a perfect classifier).
    """

    def __init__(self, store: FaciesStore, *, models: Sequence | Mapping[int, Any] | None = None,
                 folds: Mapping[str, int] | None = None, use_true_facies: bool = False):
        if not use_true_facies and not models:
            raise UnknownNameError("No facies source: pass model checkpoint(s) (--model) or use_true_facies=True (--true-facies).")
        self.store = store
        self.fold_models = {int(k): (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in models.items()} \
            if isinstance(models, Mapping) else None
        self.models = [] if self.fold_models is not None else list(models or [])
        self.folds = dict(folds or {})
        self.use_true_facies = use_true_facies
        self.skipped: list[dict] = []  #: a store's scenes are all usable
        self.description = {"kind": "store", "store": {k: v for k, v in store.describe().items()},
                            "facies": "true_facies" if use_true_facies else "mapped on the fly"}

    def scenes(self) -> list[SceneRecord]:
        """The scenes this source offers."""
        out = []
        for sid in self.store.scene_ids:
            info = self.store.scene_info(sid)
            out.append(SceneRecord(sid, info.glacier, info.sensor, str(info.date)[:10], tuple(info.transform)))
        return out

    def _array(self, scene_id: str, name: str) -> np.ndarray | None:
        return self.store.scene_array(scene_id, name)  # checksummed read; a damaged chunk is named

    def geometry(self, scene: SceneRecord) -> tuple[np.ndarray, np.ndarray]:
        """DEM (m, float64) and glacier outline (bool) of a scene."""
        dem, outline = self._array(scene.scene_id, "dem"), self._array(scene.scene_id, "outline")
        if dem is None or outline is None:
            raise StoreFormatError(f"Scene {scene.scene_id!r} of store {self.store.path!r} has no {'DEM' if dem is None else 'outline'}; the SMB analysis needs both.")
        return np.asarray(dem, np.float64), np.asarray(outline, bool)

    def inputs(self, scene: SceneRecord) -> SceneInputs:
        """Everything the SMB features of a scene need."""
        data = self.store.scene(scene.scene_id)
        if data.dem is None:
            raise StoreFormatError(f"Scene {scene.scene_id!r} of store {self.store.path!r} has no DEM; the SMB analysis needs one.")
        if self.use_true_facies:
            if data.true_facies is None:
                msg = f"Scene {scene.scene_id!r} of store {self.store.path!r} has no true facies (only synthetic stores do); map it with --model instead."
                raise StoreFormatError(msg)
            classes = np.where(data.outline, data.true_facies.astype(np.int64), NODATA).astype(np.uint8)
        else:
            from facies_bench.mapping import map_scene

            models = self.models
            if self.fold_models is not None:
                fold = self.folds.get(scene.glacier)
                if fold is None or fold not in self.fold_models:
                    msg = (f"No model for glacier {scene.glacier!r} (test fold {fold}); fold models were given for folds "
                           f"{sorted(self.fold_models)}.")
                    raise UnknownNameError(msg)
                models = self.fold_models[fold]
            classes = np.asarray(map_scene(models, data.features, data.outline, feature_names=self.store.feature_names).classes)
        optical = data.features[: len(schema.OPTICAL_FEATURES)]
        return SceneInputs(classes=classes, dem=np.asarray(data.dem, np.float64), outline=data.outline, optical=optical)


def _read_raster(path: str | os.PathLike):
    import rasterio

    with rasterio.open(path) as src:
        return src.read(), tuple(src.transform)[:6], (src.crs.to_string() if src.crs else None), {k.lower(): v for k, v in src.tags().items()}


def _same_grid(shape_a, transform_a, shape_b, transform_b) -> bool:
    return tuple(shape_a) == tuple(shape_b) and np.allclose(transform_a, transform_b, rtol=0, atol=1e-6 * max(1.0, abs(transform_a[0])))


class MapsSource(_RasterFeatures):
    """Facies GeoTIFFs from ``facies-bench map`` (see the module docstring for the look-ups)."""

    def __init__(self, maps_dir: str | os.PathLike, *, store: FaciesStore | None = None, dem: str | os.PathLike | None = None,
                 outlines: str | os.PathLike | None = None, optical: str | os.PathLike | None = None):
        self.maps_dir = Path(maps_dir)
        if not self.maps_dir.is_dir():
            from facies_bench.errors import DatasetNotFoundError

            raise DatasetNotFoundError(f"No facies map folder at {str(self.maps_dir)!r}; pass the output folder of `facies-bench map`.")
        self.store = store
        self.dem, self.outlines, self.optical = dem, outlines, optical
        self.skipped: list[dict] = []  #: files that are not usable maps, with reasons
        self.description = {"kind": "maps", "maps": str(self.maps_dir), "dem": str(dem) if dem else None,
                            "outlines": str(outlines) if outlines else None, "optical": str(optical) if optical else None,
                            "store": {k: v for k, v in store.describe().items()} if store else None}

    def scenes(self) -> list[SceneRecord]:
        """The scenes this source offers."""
        out = []
        files = sorted(p for p in self.maps_dir.iterdir() if p.suffix.lower() in (".tif", ".tiff"))
        for path in files:
            if "confidence" in path.stem.lower() or "quicklook" in path.stem.lower():
                continue
            try:
                out.append(self._describe(path))
            except (RasterError, UnknownNameError) as exc:
                scene_id = path.stem.removesuffix("_facies").removesuffix(".facies")
                self.skipped.append({"glacier": None, "year": None, "scene_id": scene_id, "stage": "maps", "reason": str(exc)})
        return out

    def _describe(self, path: Path) -> SceneRecord:
        import rasterio

        with rasterio.open(path) as src:
            tags = {k.lower(): v for k, v in src.tags().items()}
            if src.count != 1 or src.dtypes[0] != "uint8":
                raise RasterError(f"{str(path)!r} has {src.count} band(s) of {src.dtypes[0]}; a facies map has one uint8 band.")
            transform = tuple(src.transform)[:6]
        scene_id = tags.get("scene_id") or path.stem.removesuffix("_facies").removesuffix(".facies")
        meta = {k: tags.get(k) for k in ("glacier", "sensor", "date")}
        if not all(meta.values()):
            if self.store is None or scene_id not in self.store.scene_ids:
                msg = (f"{str(path)!r} carries no glacier/sensor/date tags and scene id {scene_id!r} is not in a given store; "
                       "tag the map (as `facies-bench map` does) or pass --store.")
                raise UnknownNameError(msg)
            info = self.store.scene_info(scene_id)
            meta = {"glacier": meta["glacier"] or info.glacier, "sensor": meta["sensor"] or info.sensor,
                    "date": meta["date"] or info.date}
        glacier = schema.GLACIER_NAMES[schema.glacier_index(str(meta["glacier"]))]
        return SceneRecord(scene_id, glacier, str(meta["sensor"]), str(meta["date"])[:10], transform, str(path))

    def _locate(self, option, scene: SceneRecord) -> Path | None:
        if option is None:
            return None
        option = Path(option)
        if option.is_file():
            return option
        for stem in (scene.scene_id, schema.slug(scene.glacier)):
            for ext in (".tif", ".tiff"):
                if (option / f"{stem}{ext}").is_file():
                    return option / f"{stem}{ext}"
        return None

    def _aux(self, option, scene: SceneRecord, what: str, shape, transform) -> np.ndarray | None:
        if what == "outlines" and option is not None and Path(option).suffix.lower() in VECTOR_SUFFIXES:
            import rasterio

            from facies_bench.mapping.io import RasterGrid, rasterise_outlines

            with rasterio.open(scene.path) as src:
                grid = RasterGrid.from_dataset(src)
            return (rasterise_outlines(option, grid, scene_path=scene.path) > 0)[None]
        path = self._locate(option, scene)
        if path is None:
            if option is not None and not Path(option).is_dir() and not Path(option).is_file():
                raise RasterError(f"--{what} {str(option)!r} is neither a GeoTIFF nor a folder.")
            return None
        data, tr, _, _ = _read_raster(path)
        if not _same_grid(data.shape[1:], tr, shape, transform):
            msg = (f"{what} {str(path)!r} is on grid {data.shape[1:]} {tr}, the facies map of scene {scene.scene_id!r} on "
                   f"{tuple(shape)} {transform}; resample it to the map's grid.")
            raise RasterError(msg)
        return data

    def _store_scene(self, scene: SceneRecord):
        if self.store is not None and scene.scene_id in self.store.scene_ids:
            return self.store.scene(scene.scene_id)
        return None

    def _load(self, scene: SceneRecord, *, with_optical: bool) -> SceneInputs:
        data, transform, _, _ = _read_raster(scene.path)
        classes = data[0]
        shape = classes.shape
        stored = None
        dem = self._aux(self.dem, scene, "dem", shape, transform)
        if dem is None:
            stored = self._store_scene(scene)
            if stored is None or stored.dem is None:
                raise RasterError(f"No DEM for scene {scene.scene_id!r}: pass --dem (a GeoTIFF or a folder of <scene_id>.tif / <glacier>.tif) or --store.")
            dem = stored.dem[None]
        outline = self._aux(self.outlines, scene, "outlines", shape, transform)
        if outline is None:
            stored = stored or self._store_scene(scene)
            outline = (stored.outline if stored is not None else classes != NODATA)[None]
        optical = None
        if with_optical:
            optical = self._aux(self.optical, scene, "optical", shape, transform)
            if optical is None:
                stored = stored or self._store_scene(scene)
                optical = stored.features if stored is not None else None
            if optical is not None:
                if optical.shape[0] < len(schema.OPTICAL_FEATURES):
                    raise RasterError(f"Optical raster of scene {scene.scene_id!r} has {optical.shape[0]} bands; need the six {', '.join(schema.OPTICAL_FEATURES)} first.")
                optical = optical[: len(schema.OPTICAL_FEATURES)].astype(np.float64)
        for name, arr in (("DEM", dem), ("outline", outline)):
            if arr.shape[1:] != shape:
                raise RasterError(f"{name} of scene {scene.scene_id!r} has shape {arr.shape[1:]}, its facies map {shape}; they must share one grid.")
        return SceneInputs(classes=classes, dem=dem[0].astype(np.float64), outline=outline[0].astype(bool), optical=optical)

    def geometry(self, scene: SceneRecord) -> tuple[np.ndarray, np.ndarray]:
        """DEM (m, float64) and glacier outline (bool) of a scene."""
        inputs = self._load(scene, with_optical=False)
        return inputs.dem, inputs.outline

    def inputs(self, scene: SceneRecord) -> SceneInputs:
        """Everything the SMB features of a scene need."""
        return self._load(scene, with_optical=True)


def load_models(paths: Sequence[str | os.PathLike] | Mapping[int, str | os.PathLike]) -> list | dict:
    """Load model checkpoints with ``facies_bench.models.load_model`` (a list, or ``{fold: path}``)."""
    from facies_bench.models import load_model

    if isinstance(paths, Mapping):
        return {int(k): load_model(p) for k, p in paths.items()}
    return [load_model(p) for p in paths]


ProgressCallback = Callable[[int, int], None]

"""The facies dataset store: one Zarr v3 group per dataset, the only copy of the patches.

Layout (all categorical columns are integer codes; their names live in the attributes because
variable-length strings fall outside the Zarr v3 spec)::

    <store>/
      zarr.json                       attrs: see ``REQUIRED_ATTRS``
      patches                         (N, 11, 33, 33) float32, raw (unnormalised) features
      samples/{sample_id,fold,glacier,region,sensor,scene,date,row,col,x,y}
      labels/raw                      int8 class codes
      labels/true                     int8, synthetic stores only (noise-free class)
      labels/<variant>                int8, cleaned variants; PRUNED (-1) marks pruned samples
      scenes/<scene_id>/{features,outline,dem,true_facies}   per-scene rasters

Rows are sorted by fold, then glacier, then scene, so every fold is a contiguous row range.
Writing goes through :class:`StoreBuilder`, which builds into a temporary sibling and renames it
into place only when complete: an interrupted build never leaves a store that opens as valid.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import zarr
from zarr.core.sync import sync as _zarr_sync

from facies_bench import schema
from facies_bench.atomic import replace_dir
from facies_bench.errors import DatasetNotFoundError, FaciesBenchError, StoreFormatError, UnknownNameError

log = logging.getLogger(__name__)

FORMAT_NAME = "facies-bench-store"
#: Attributes every valid store carries.
REQUIRED_ATTRS = (
    "format", "schema_version", "dataset_name", "dataset_version", "content_hash", "class_names",
    "feature_names", "feature_min", "feature_max", "glacier_names", "region_names", "sensor_names",
    "scene_ids", "n_samples", "is_synthetic", "provenance", "label_variants", "complete",
)
SAMPLE_COLUMNS = ("sample_id", "fold", "glacier", "region", "sensor", "scene", "date", "row", "col", "x", "y")
_SAMPLE_DTYPES = {
    "sample_id": "int64", "fold": "int8", "glacier": "int16", "region": "int8", "sensor": "int8",
    "scene": "int32", "date": "int32", "row": "int32", "col": "int32", "x": "float64", "y": "float64",
}
#: Patches per chunk; chosen by ``benchmarks/test_store_throughput.py`` for sequential and
#: shuffled reads of 512-patch batches.
PATCH_CHUNK = 64
_EPOCH = _dt.date(1970, 1, 1)
#: Above this many runs of consecutive rows, ``read_patches`` uses one orthogonal selection.
_MAX_SLICE_RUNS = 64


def date_to_days(date: _dt.date | str) -> int:
    if isinstance(date, str):
        date = _dt.date.fromisoformat(date[:10])
    return (date - _EPOCH).days


def days_to_date(days: int) -> _dt.date:
    return _EPOCH + _dt.timedelta(days=int(days))


def _is_url(path: str | os.PathLike) -> bool:
    return "://" in str(path)


def _compressors():
    return [zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")]


@dataclass
class SceneInfo:
    """Metadata of one scene (one optical acquisition over one glacier)."""

    scene_id: str
    glacier: str
    sensor: str
    date: str  #: ISO date
    crs: str  #: e.g. "EPSG:32632" or a WKT string
    transform: tuple[float, float, float, float, float, float]  #: affine (a, b, c, d, e, f)
    shape: tuple[int, int]
    sun_azimuth: float | None = None
    sun_elevation: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> "SceneInfo":
        known = {k: attrs[k] for k in cls.__dataclass_fields__ if k in attrs}
        known["transform"] = tuple(known["transform"])
        known["shape"] = tuple(known["shape"])
        return cls(**known)


@dataclass
class Scene:
    """Rasters of one scene, read from a store."""

    info: SceneInfo
    features: np.ndarray  #: (11, H, W) float32, raw features
    outline: np.ndarray  #: (H, W) bool glacier mask
    dem: np.ndarray | None  #: (H, W) float32 metres
    true_facies: np.ndarray | None  #: (H, W) int8, synthetic stores only


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def _read_rows(arr: zarr.Array, rows: np.ndarray) -> np.ndarray:
    """Rows (sorted, unique) of a patch array.

    Runs of consecutive rows (whole chunks, fold ranges) are read as slices, all at once on
    zarr's event loop so that their chunks are fetched and decoded concurrently (three times
    faster than one slice after another for a chunk-shuffled batch); scattered rows go through one
    orthogonal selection that decodes each chunk once.
    """
    runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1)
    if len(runs) > _MAX_SLICE_RUNS:
        return arr.get_orthogonal_selection((rows,))
    if len(runs) == 1:
        return arr[int(rows[0]):int(rows[-1]) + 1]

    async def read_all() -> list:
        return await asyncio.gather(*(arr.async_array.getitem(slice(int(r[0]), int(r[-1]) + 1)) for r in runs))

    return np.concatenate(_zarr_sync(read_all()))


class FaciesStore:
    """A facies dataset store opened for reading (and, with ``mode="r+"``, adding label variants).

    Args:
        path: local path or any fsspec URL (``s3://bucket/store.zarr``...).
        mode: ``"r"`` (default) or ``"r+"`` to add label variants.
        storage_options: passed to fsspec for URLs.
    """

    def __init__(self, path: str | os.PathLike, *, mode: str = "r", storage_options: dict | None = None):
        self.path = str(path)
        self.mode = mode
        if not _is_url(path) and not Path(path).exists():
            msg = f"No facies store at {self.path!r}: the path does not exist. Build one with `facies-bench data synth -o {self.path}` or pass an existing store."
            raise DatasetNotFoundError(msg)
        try:
            kwargs = {"storage_options": storage_options} if _is_url(path) else {}
            self.group = zarr.open_group(self.path, mode=mode, **kwargs)
        except FileNotFoundError as exc:
            if _is_url(path):
                raise DatasetNotFoundError(f"No facies store at {self.path!r}: {exc}") from exc
            msg = f"{self.path!r} is not a facies store: it holds no Zarr v3 group (zarr.json missing)."
            raise StoreFormatError(msg) from exc
        except Exception as exc:  # zarr raises several types for non-zarr directories
            msg = f"{self.path!r} is not a facies store (no readable Zarr v3 group: {exc})."
            raise StoreFormatError(msg) from exc
        self.attrs: dict[str, Any] = dict(self.group.attrs)
        self._validate()
        self._scene_index = {s: i for i, s in enumerate(self.attrs["scene_ids"])}

    # ---- validation ----------------------------------------------------------------------
    def _validate(self) -> None:
        if self.attrs.get("format") != FORMAT_NAME:
            msg = f"{self.path!r} is not a facies store: attribute 'format' is {self.attrs.get('format')!r}, expected {FORMAT_NAME!r}."
            raise StoreFormatError(msg)
        if not self.attrs.get("complete", False):
            msg = f"{self.path!r} is an incomplete facies store (its build was interrupted); delete it and build it again."
            raise StoreFormatError(msg)
        version = self.attrs.get("schema_version")
        if version != schema.SCHEMA_VERSION:
            msg = f"{self.path!r} has store schema version {version!r}; this facies-bench reads version {schema.SCHEMA_VERSION}. Convert or rebuild the store with this version."
            raise StoreFormatError(msg)
        missing = [a for a in REQUIRED_ATTRS if a not in self.attrs]
        arrays = ["patches", "labels/raw"] + [f"samples/{c}" for c in SAMPLE_COLUMNS]
        for name in arrays:
            try:
                self.group[name]
            except KeyError:
                missing.append(name)
        if missing:
            msg = f"{self.path!r} is not a complete facies store: missing {', '.join(missing)}."
            raise StoreFormatError(msg)

    # ---- attributes ----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.attrs["dataset_name"]

    @property
    def version(self) -> str:
        return self.attrs["dataset_version"]

    @property
    def content_hash(self) -> str:
        return self.attrs["content_hash"]

    @property
    def is_synthetic(self) -> bool:
        return bool(self.attrs["is_synthetic"])

    @property
    def n_samples(self) -> int:
        return int(self.attrs["n_samples"])

    def __len__(self) -> int:
        return self.n_samples

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(self.attrs["feature_names"])

    @property
    def feature_min(self) -> np.ndarray:
        return np.asarray(self.attrs["feature_min"], dtype=np.float32)

    @property
    def feature_max(self) -> np.ndarray:
        return np.asarray(self.attrs["feature_max"], dtype=np.float32)

    @property
    def scene_ids(self) -> tuple[str, ...]:
        return tuple(self.attrs["scene_ids"])

    def describe(self) -> dict[str, Any]:
        """Identity of the store, as recorded in reports and results."""
        return {"name": self.name, "version": self.version, "content_hash": self.content_hash,
                "is_synthetic": self.is_synthetic, "n_samples": self.n_samples, "path": self.path}

    # ---- label variants ------------------------------------------------------------------
    @property
    def variants(self) -> tuple[str, ...]:
        """Available label variants: ``raw`` and every cleaned variant (``cleaned`` aliases the default)."""
        return ("raw", *self.attrs["label_variants"].keys())

    @property
    def default_cleaned(self) -> str | None:
        return self.attrs.get("default_cleaned")

    def resolve_variant(self, variant: str) -> str:
        if variant == "cleaned":
            if not self.default_cleaned:
                msg = f"Store {self.path!r} has no default 'cleaned' variant. Available: {', '.join(self.variants)}. Run `facies-bench clean` first or name a variant."
                raise UnknownNameError(msg)
            return self.default_cleaned
        if variant not in self.variants:
            msg = f"Unknown label variant {variant!r} in store {self.path!r}. Available: {', '.join(self.variants)}" + (", cleaned" if self.default_cleaned else "") + "."
            raise UnknownNameError(msg)
        return variant

    def variant_info(self, variant: str) -> dict[str, Any]:
        name = self.resolve_variant(variant)
        return {"name": "raw"} if name == "raw" else {"name": name, **self.attrs["label_variants"][name]}

    def variant_fingerprint(self, variant: str) -> str:
        """A name that changes whenever the variant's labels change (``raw`` or ``name@hash``).

        Work units and results record it, so a variant rewritten under the same name is never
        mistaken for the old one.
        """
        name = self.resolve_variant(variant)
        if name == "raw":
            return "raw"
        return f"{name}@{self.attrs['label_variants'][name].get('labels_hash', 'unhashed')}"

    def labels(self, variant: str = "raw") -> np.ndarray:
        """(N,) int8 class codes of a label variant; ``schema.PRUNED`` marks pruned samples."""
        return np.asarray(self.group[f"labels/{self.resolve_variant(variant)}"][:], dtype=np.int8)

    def true_labels(self) -> np.ndarray | None:
        """Noise-free class codes (synthetic stores only), else None."""
        try:
            return np.asarray(self.group["labels/true"][:], dtype=np.int8)
        except KeyError:
            return None

    # ---- samples -------------------------------------------------------------------------
    def column(self, name: str) -> np.ndarray:
        if name not in SAMPLE_COLUMNS:
            msg = f"Unknown sample column {name!r}. Valid: {', '.join(SAMPLE_COLUMNS)}."
            raise UnknownNameError(msg)
        return self.group[f"samples/{name}"][:]

    def metadata(self, variant: str = "raw"):
        """Per-sample metadata as a pandas DataFrame (one row per sample, store order).

        Columns: sample_id, label (class code, -1 if pruned), label_true (synthetic only), fold,
        glacier, region, sensor, scene_id (names as strings), date (ISO), row, col, x, y.
        """
        import pandas as pd

        cols = {c: self.column(c) for c in SAMPLE_COLUMNS}
        frame = pd.DataFrame({"sample_id": cols["sample_id"], "label": self.labels(variant)})
        true = self.true_labels()
        if true is not None:
            frame["label_true"] = true
        frame["fold"] = cols["fold"].astype(np.int64)
        for col, names in (("glacier", "glacier_names"), ("region", "region_names"), ("sensor", "sensor_names")):
            frame[col] = np.asarray(self.attrs[names], dtype=object)[cols[col]]
        frame["scene_id"] = np.asarray(self.attrs["scene_ids"], dtype=object)[cols["scene"]]
        frame["date"] = (np.datetime64("1970-01-01") + cols["date"].astype("timedelta64[D]")).astype(str)
        for c in ("row", "col", "x", "y"):
            frame[c] = cols[c]
        return frame

    def fold_rows(self, fold: int) -> slice:
        """The contiguous row range of a fold."""
        ranges = self.attrs.get("fold_ranges")
        if ranges is None or str(fold) not in ranges:
            msg = f"Fold {fold} not present in store {self.path!r}. Present: {sorted(int(k) for k in (ranges or {}))}."
            raise UnknownNameError(msg)
        start, stop = ranges[str(fold)]
        return slice(start, stop)

    # ---- patches -------------------------------------------------------------------------
    @property
    def patches(self) -> zarr.Array:
        return self.group["patches"]

    def feature_indices(self, features=None) -> list[int]:
        names = schema.resolve_features(features)
        missing = [f for f in names if f not in self.feature_names]
        if missing:
            msg = f"Store {self.path!r} lacks feature(s) {', '.join(missing)}; it has {', '.join(self.feature_names)}."
            raise UnknownNameError(msg)
        return [self.feature_names.index(f) for f in names]

    def read_patches(self, rows: slice | np.ndarray | Iterable[int], features=None) -> np.ndarray:
        """Patches of the given rows as (n, C, 33, 33) float32 (raw values).

        A slice reads contiguous chunks; an index array reads each needed chunk once and
        returns the rows in the order given.
        """
        fidx = self.feature_indices(features)
        arr = self.patches
        if isinstance(rows, slice):
            out = arr[rows]
        else:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size == 0:
                return np.empty((0, len(fidx), schema.PATCH_SIZE, schema.PATCH_SIZE), np.float32)
            if rows.size > 1 and bool(np.all(np.diff(rows) > 0)):  # sorted and unique: no reordering copies
                out = _read_rows(arr, rows)
            else:
                order = np.argsort(rows, kind="stable")
                uniq, inverse = np.unique(rows[order], return_inverse=True)
                picked = _read_rows(arr, uniq)[inverse]
                out = np.empty_like(picked)
                out[order] = picked
        if len(fidx) != out.shape[1]:
            out = out[:, fidx]
        return np.ascontiguousarray(out, dtype=np.float32)

    # ---- scenes --------------------------------------------------------------------------
    def scene_info(self, scene_id: str) -> SceneInfo:
        if scene_id not in self._scene_index:
            msg = f"Unknown scene {scene_id!r} in store {self.path!r}. Scenes: {', '.join(self.scene_ids[:10])}{' ...' if len(self.scene_ids) > 10 else ''}."
            raise UnknownNameError(msg)
        try:
            group = self.group[f"scenes/{scene_id}"]
        except KeyError:
            msg = f"Scene {scene_id!r} of store {self.path!r} has no rasters (a converted release holds patches only)."
            raise DatasetNotFoundError(msg) from None
        return SceneInfo.from_attrs(dict(group.attrs))

    def scene(self, scene_id: str) -> Scene:
        info = self.scene_info(scene_id)
        g = self.group[f"scenes/{scene_id}"]
        def opt(name):
            try:
                return g[name][:]
            except KeyError:
                return None
        return Scene(info=info, features=g["features"][:].astype(np.float32), outline=g["outline"][:].astype(bool),
                     dem=opt("dem"), true_facies=opt("true_facies"))

    # ---- writing label variants ----------------------------------------------------------
    def write_label_variant(self, name: str, labels: np.ndarray, provenance: dict[str, Any], *,
                            overwrite: bool = False, make_default: bool = False) -> None:
        """Add a cleaned label variant (``schema.PRUNED`` marks pruned samples).

        The raw labels and other variants are never touched.  The variant becomes visible only
        when its array is completely written (the attribute listing is the commit point).
        """
        if self.mode == "r":
            msg = f"Store {self.path!r} is opened read-only; open it with mode='r+' to add a label variant."
            raise FaciesBenchError(msg)
        if not _is_url(self.path) and not os.access(self.path, os.W_OK):
            msg = f"Store {self.path!r} is not writable (read-only file system or permissions); the store was left unchanged."
            raise FaciesBenchError(msg)
        reserved = {"raw", "true", "cleaned"}
        if name in reserved or not name.replace("_", "").replace("-", "").isalnum():
            msg = f"Invalid label variant name {name!r}: use letters, digits, '-' or '_', and not one of {sorted(reserved)}."
            raise UnknownNameError(msg)
        existing = dict(self.attrs["label_variants"])
        if name in existing and not overwrite:
            msg = f"Label variant {name!r} already exists in {self.path!r}; pass overwrite=True (--overwrite) to replace it."
            raise FaciesBenchError(msg)
        labels = np.asarray(labels, dtype=np.int8)
        if labels.shape != (self.n_samples,):
            msg = f"Label variant {name!r} has shape {labels.shape}; the store has {self.n_samples} samples."
            raise ValueError(msg)
        if ((labels < schema.PRUNED) | (labels >= schema.N_CLASSES)).any():
            raise ValueError(f"Label variant {name!r} has codes outside -1..{schema.N_CLASSES - 1}.")
        # Hide the variant while its array is rewritten, then publish it.
        if name in existing:
            existing.pop(name)
            self._set_attrs(label_variants=existing)
        tmp = f"labels/.tmp-{name}-{uuid.uuid4().hex[:8]}"
        arr = self.group.create_array(tmp, shape=labels.shape, dtype="int8", chunks=(max(1, min(len(labels), 1 << 20)),), overwrite=True)
        arr[:] = labels
        if f"labels/{name}" in self.group:
            del self.group[f"labels/{name}"]
        self._move(tmp, f"labels/{name}", labels)
        existing[name] = {**provenance, "labels_hash": "blake2b:" + hashlib.blake2b(labels.tobytes(), digest_size=16).hexdigest()}
        updates: dict[str, Any] = {"label_variants": existing}
        if make_default or not self.attrs.get("default_cleaned"):
            updates["default_cleaned"] = name
        self._set_attrs(**updates)

    def set_default_cleaned(self, name: str) -> None:
        name = self.resolve_variant(name)
        if name == "raw":
            raise UnknownNameError("The raw labels cannot be the default cleaned variant.")
        self._set_attrs(default_cleaned=name)

    def _move(self, src: str, dst: str, data: np.ndarray) -> None:
        if not _is_url(self.path):
            os.replace(Path(self.path) / src, Path(self.path) / dst)
            return
        arr = self.group.create_array(dst, shape=data.shape, dtype=data.dtype, chunks=self.group[src].chunks, overwrite=True)
        arr[:] = data
        del self.group[src]

    def _set_attrs(self, **updates: Any) -> None:
        self.group.attrs.update(updates)
        self.attrs.update(updates)


def open_store(path: str | os.PathLike, *, mode: str = "r", storage_options: dict | None = None) -> FaciesStore:
    """Open a facies store; see :class:`FaciesStore`."""
    return FaciesStore(path, mode=mode, storage_options=storage_options)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


class StoreBuilder:
    """Builds a store in a temporary sibling directory and renames it into place on ``finish``.

    Usage::

        builder = StoreBuilder(path, n_samples=N, dataset_name="glacier-facies-synthetic", ...)
        builder.add_scene(info, features, outline, dem=dem, true_facies=truth)   # any number
        builder.write_patches(0, patches_block)                                   # in row order
        builder.set_samples(columns)            # dict of SAMPLE_COLUMNS (glacier etc. as names or codes)
        builder.set_labels(raw, true=true)
        store = builder.finish()

    Rows must already be sorted by fold, glacier and scene.  Patches must be written in order
    (the content hash is computed as they stream in).
    """

    def __init__(self, path: str | os.PathLike, *, n_samples: int, dataset_name: str, dataset_version: str,
                 is_synthetic: bool, provenance: dict[str, Any], overwrite: bool = False,
                 sensor_names: tuple[str, ...] = schema.SENSOR_NAMES + (schema.UNKNOWN_SENSOR,)):
        if _is_url(path):
            raise FaciesBenchError(f"Stores are built on local disk; copy {path!r} to object storage afterwards.")
        self.final_path = Path(path)
        if self.final_path.exists() and not overwrite:
            msg = f"{str(self.final_path)!r} already exists; pass overwrite=True (--overwrite) to replace it."
            raise FaciesBenchError(msg)
        self.final_path.parent.mkdir(parents=True, exist_ok=True)
        self.tmp_path = self.final_path.with_name(f".{self.final_path.name}.tmp-{uuid.uuid4().hex[:8]}")
        self.group = zarr.open_group(str(self.tmp_path), mode="w", zarr_format=3)
        self.n_samples = int(n_samples)
        self.sensor_names = tuple(sensor_names)
        self.base_attrs = {
            "format": FORMAT_NAME, "schema_version": schema.SCHEMA_VERSION, "dataset_name": dataset_name,
            "dataset_version": dataset_version, "is_synthetic": bool(is_synthetic), "provenance": provenance,
            "class_names": list(schema.CLASS_NAMES), "feature_names": list(schema.FEATURE_NAMES),
            "glacier_names": list(schema.GLACIER_NAMES), "region_names": list(schema.REGIONS),
            "sensor_names": list(self.sensor_names), "n_samples": self.n_samples, "label_variants": {},
            "complete": False,
        }
        self.group.attrs.update(self.base_attrs)
        self.patches = self.group.create_array(
            "patches", shape=(self.n_samples, schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE),
            chunks=(PATCH_CHUNK, schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE), dtype="float32",
            compressors=_compressors(), fill_value=np.nan)
        self._hash = hashlib.blake2b(digest_size=16)
        self._written = 0
        self._fmin = np.full(schema.N_FEATURES, np.inf)
        self._fmax = np.full(schema.N_FEATURES, -np.inf)
        self.scene_ids: list[str] = []
        self._samples_set = False
        self._labels_set = False

    def add_scene(self, info: SceneInfo, features: np.ndarray, outline: np.ndarray, *,
                  dem: np.ndarray | None = None, true_facies: np.ndarray | None = None) -> int:
        """Store one scene's rasters; returns its scene code."""
        if info.scene_id in self.scene_ids:
            raise ValueError(f"Duplicate scene id {info.scene_id!r}.")
        if features.shape[0] != schema.N_FEATURES or features.shape[1:] != tuple(outline.shape):
            raise ValueError(f"Scene {info.scene_id!r}: features {features.shape} and outline {outline.shape} disagree.")
        g = self.group.create_group(f"scenes/{info.scene_id}")
        attrs = asdict(info)
        attrs["shape"] = list(outline.shape)
        g.attrs.update(attrs)
        h, w = outline.shape
        tile = (min(h, 512), min(w, 512))
        g.create_array("features", data=features.astype(np.float32), chunks=(schema.N_FEATURES, *tile), compressors=_compressors())
        g.create_array("outline", data=outline.astype(np.uint8), chunks=tile, compressors=_compressors())
        if dem is not None:
            g.create_array("dem", data=dem.astype(np.float32), chunks=tile, compressors=_compressors())
        if true_facies is not None:
            g.create_array("true_facies", data=true_facies.astype(np.int8), chunks=tile, compressors=_compressors())
        self.scene_ids.append(info.scene_id)
        return len(self.scene_ids) - 1

    def declare_scene(self, scene_id: str) -> int:
        """Register a scene that has samples but no rasters (a converted release has patches only)."""
        if scene_id in self.scene_ids:
            raise ValueError(f"Duplicate scene id {scene_id!r}.")
        self.scene_ids.append(scene_id)
        return len(self.scene_ids) - 1

    def update_provenance(self, **entries: Any) -> None:
        """Add entries to the store's provenance attribute (e.g. facts learnt while converting)."""
        self.base_attrs["provenance"] = {**self.base_attrs["provenance"], **entries}
        self.group.attrs["provenance"] = self.base_attrs["provenance"]

    def write_patches(self, start: int, patches: np.ndarray) -> None:
        """Write rows ``start:start+len(patches)``; rows must be written in order."""
        if start != self._written:
            raise ValueError(f"Patches must be written in row order: expected start {self._written}, got {start}.")
        patches = np.ascontiguousarray(patches, dtype=np.float32)
        if patches.shape[1:] != (schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE):
            raise ValueError(f"Patches have shape {patches.shape}; expected (n, {schema.N_FEATURES}, 33, 33).")
        stop = start + len(patches)
        if stop > self.n_samples:
            raise ValueError(f"Writing rows {start}:{stop} exceeds the store's {self.n_samples} samples.")
        self.patches[start:stop] = patches
        self._hash.update(patches.tobytes())
        finite = np.where(np.isfinite(patches), patches, np.nan)
        with np.errstate(all="ignore"):
            self._fmin = np.fmin(self._fmin, np.nanmin(finite, axis=(0, 2, 3)))
            self._fmax = np.fmax(self._fmax, np.nanmax(finite, axis=(0, 2, 3)))
        self._written = stop

    def _encode(self, name: str, values, names: tuple[str, ...]) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype.kind in "iu":
            return values
        lookup = {n: i for i, n in enumerate(names)}
        try:
            return np.array([lookup[v] for v in values])
        except KeyError as exc:
            raise UnknownNameError(f"Unknown {name} {exc.args[0]!r}. Valid: {', '.join(names)}.") from None

    def set_samples(self, columns: dict[str, Any]) -> None:
        """Per-sample columns (see ``SAMPLE_COLUMNS``).  glacier/region/sensor/scene may be names;
        date may be ISO strings or day numbers."""
        missing = [c for c in SAMPLE_COLUMNS if c not in columns]
        if missing:
            raise ValueError(f"Sample columns missing: {', '.join(missing)}.")
        cols = {k: np.asarray(v) for k, v in columns.items()}
        cols["glacier"] = self._encode("glacier", cols["glacier"], schema.GLACIER_NAMES)
        cols["region"] = self._encode("region", cols["region"], schema.REGIONS)
        cols["sensor"] = self._encode("sensor", cols["sensor"], self.sensor_names)
        cols["scene"] = self._encode("scene", cols["scene"], tuple(self.scene_ids))
        dates = np.asarray(cols["date"])
        if dates.dtype.kind not in "iu":
            dates = np.array([date_to_days(str(d)) for d in dates])
        cols["date"] = dates
        for c in SAMPLE_COLUMNS:
            values = np.asarray(cols[c]).astype(_SAMPLE_DTYPES[c])
            if values.shape != (self.n_samples,):
                raise ValueError(f"Sample column {c!r} has shape {values.shape}; expected ({self.n_samples},).")
            self.group.create_array(f"samples/{c}", data=values, chunks=(max(1, min(self.n_samples, 1 << 20)),))
        folds = cols["fold"].astype(np.int64)
        if np.any(np.diff(folds) < 0):
            raise ValueError("Rows must be sorted by fold (then glacier, scene); fold column is not sorted.")
        if len(np.unique(cols["sample_id"])) != self.n_samples:
            raise ValueError("sample_id values must be unique.")
        ranges = {}
        for k in np.unique(folds):
            idx = np.flatnonzero(folds == k)
            ranges[str(int(k))] = [int(idx[0]), int(idx[-1]) + 1]
        self.group.attrs["fold_ranges"] = ranges
        self._hash.update(b"".join(np.asarray(cols[c]).astype(_SAMPLE_DTYPES[c]).tobytes() for c in SAMPLE_COLUMNS))
        self._samples_set = True

    def set_labels(self, raw: np.ndarray, *, true: np.ndarray | None = None) -> None:
        for name, labels in (("raw", raw), ("true", true)):
            if labels is None:
                continue
            labels = np.asarray(labels, dtype=np.int8)
            if labels.shape != (self.n_samples,) or labels.min() < 0 or labels.max() >= schema.N_CLASSES:
                raise ValueError(f"{name} labels must be {self.n_samples} codes in 0..{schema.N_CLASSES - 1}.")
            self.group.create_array(f"labels/{name}", data=labels, chunks=(max(1, min(self.n_samples, 1 << 20)),))
            self._hash.update(labels.tobytes())
        self._labels_set = True

    def finish(self) -> FaciesStore:
        """Validate, write the final attributes and move the store into place."""
        problems = []
        if self._written != self.n_samples:
            problems.append(f"{self._written} of {self.n_samples} patches written")
        if not self._samples_set:
            problems.append("sample columns not set")
        if not self._labels_set:
            problems.append("labels not set")
        if problems:
            self.abort()
            raise FaciesBenchError("Store build incomplete: " + "; ".join(problems) + ".")
        fmin = np.where(np.isfinite(self._fmin), self._fmin, 0.0)
        fmax = np.where(np.isfinite(self._fmax), self._fmax, 1.0)
        self.group.attrs.update({
            "content_hash": "blake2b:" + self._hash.hexdigest(), "feature_min": fmin.tolist(),
            "feature_max": fmax.tolist(), "scene_ids": self.scene_ids, "complete": True,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        })
        replace_dir(self.tmp_path, self.final_path)
        return FaciesStore(self.final_path)

    def abort(self) -> None:
        shutil.rmtree(self.tmp_path, ignore_errors=True)

    def __enter__(self) -> "StoreBuilder":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


def store_summary(store: FaciesStore) -> dict[str, Any]:
    """Counts per class, region, sensor, fold and glacier, scenes and date range (``data info``)."""
    meta = store.metadata("raw")
    classes = dict(zip(schema.CLASS_NAMES, np.bincount(meta["label"].to_numpy(), minlength=schema.N_CLASSES).tolist()))
    def counts(col):
        vc = meta[col].value_counts()
        return {str(k): int(v) for k, v in vc.sort_index().items()}
    by_fold_glaciers = {str(int(k)): sorted(meta.loc[meta["fold"] == k, "glacier"].unique().tolist()) for k in sorted(meta["fold"].unique())}
    return {
        "store": store.describe(),
        "n_samples": int(len(meta)),
        "n_scenes": int(meta["scene_id"].nunique()),
        "n_glaciers": int(meta["glacier"].nunique()),
        "date_range": [str(meta["date"].min()), str(meta["date"].max())],
        "classes": classes,
        "class_share_pct": {k: round(100 * v / max(1, len(meta)), 2) for k, v in classes.items()},
        "regions": counts("region"),
        "sensors": counts("sensor"),
        "folds": counts("fold"),
        "fold_glaciers": by_fold_glaciers,
        "glaciers": counts("glacier"),
        "variants": {v: (store.variant_info(v) if v != "raw" else {"name": "raw"}) for v in store.variants},
        "default_cleaned": store.default_cleaned,
    }


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False, default=str)

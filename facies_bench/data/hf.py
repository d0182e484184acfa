"""The dataset as a Hugging Face ``datasets.DatasetDict``, read lazily from the Zarr store.

``load_dataset("glacier-facies")`` builds an in-memory Arrow table of the small per-sample columns
only.  The ``patch`` column holds each sample's row number in the store, typed with the
:class:`FaciesPatch` feature, whose ``decode_example`` reads the patch from the store when a row is
accessed.  Because decoding is how ``datasets`` itself handles images and audio, every access path
applies it: ``ds[i]``, slicing, iteration, ``.shuffle()``/``.select()`` (index mappings),
``.with_format("numpy")``/``"torch"``/``"pandas"`` and ``set_transform`` (which receives decoded
patches).  Only ``.with_format("arrow")`` and ``ds.data`` show the raw row numbers.  The store stays
the single copy of the patches: nothing is written to disk to open the dataset.

Decoding is batched: the splits' ``Features`` (a :class:`datasets.Features` subclass made by
:func:`dataset_features`) decode a batch's ``patch`` column with one store read through TensorStore,
so ``with_format("torch")`` through a torch ``DataLoader(ds, batch_size=...)`` (which asks
``datasets`` for whole batches of row indices) reads each batch in one call, in any row order; a
single row (``ds[i]``) reads one patch, or a read-ahead block when rows come in order.  The
batched features survive ``shuffle``, ``select``, ``filter``, ``train_test_split``,
``remove_columns``, ``with_format`` and pickling (DataLoader workers); operations that rebuild the
``Features`` from scratch (``map``, ``rename_column``, ``flatten_indices`` ...) keep patches
decodable, one row at a time.  :func:`patch_batches` yields batches straight from the store
(no per-row dicts).  Each process (each DataLoader worker, forked or spawned) opens its own store
and TensorStore handle.

Known limits: ``Dataset.filter``/``map`` decode the patches of every row unless restricted with
``input_columns=[...]``; a dataset saved with ``save_to_disk`` keeps row references, not patches,
and needs the store at the same path (use :func:`facies_bench.data.export_hf.export_hf` for a
self-contained copy).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store

log = logging.getLogger(__name__)

DATASET_NAME = "glacier-facies"
PAPER_DOI = "10.31223/X5QN1V"
DATASET_DOI = "10.5281/zenodo.18469893"
ZENODO_RECORD = "18469893"
HOMEPAGE = f"https://doi.org/{DATASET_DOI}"
#: Licence identifier used in dataset cards: the release's licence is the one on its Zenodo record.
LICENSE = "other"
CITATION = """\
@article{maslov2026glacierfacies,
  title   = {Automating glacier facies classification: pan-European dataset and deep learning baseline},
  author  = {Maslov, Konstantin A. and Schellenberger, Thomas and Pandit, Prashant and Persello, Claudio and Stein, Alfred},
  journal = {EarthArXiv preprint},
  year    = {2026},
  doi     = {10.31223/X5QN1V}
}
@dataset{maslov2026glacierfaciesdata,
  title     = {Pan-European glacier facies dataset},
  author    = {Maslov, Konstantin A. and Schellenberger, Thomas and Pandit, Prashant and Persello, Claudio and Stein, Alfred},
  publisher = {Zenodo},
  year      = {2026},
  doi       = {10.5281/zenodo.18469893}
}"""
#: Columns of every row, in order.
COLUMNS = ("patch", "label", "sample_id", "glacier", "region", "sensor", "scene_id", "date", "fold")
FEATURE_TYPE_NAME = "FaciesPatch"
#: Rows read at once when rows are accessed in order.
_READ_AHEAD = 256


@dataclass
class FaciesPatch:
    """``datasets`` feature type: a reference to one patch of a facies store.

    The Arrow storage is the sample's row number (int64); decoding returns the (C, 33, 33)
    float32 patch with the features named in ``features``, read from ``store``.

    Args:
        store: path or fsspec URL of the store.
        content_hash: the store's content hash; decoding refuses a store whose hash differs.
        features: feature names, in order (C = len(features)).
        decode: decode to arrays (True) or keep row numbers (False).
    """

    store: str = ""
    content_hash: str = ""
    features: list[str] = field(default_factory=lambda: list(schema.FEATURE_NAMES))
    decode: bool = True
    id: str | None = field(default=None, repr=False)
    dtype: ClassVar[str] = "float32"
    _type: str = field(default=FEATURE_TYPE_NAME, init=False, repr=False)

    def __call__(self):
        """The Arrow type the feature is stored as (int64)."""
        import pyarrow as pa

        return pa.int64()

    def encode_example(self, value: Any) -> int:
        """The value as stored (an int)."""
        return int(value)

    def decode_example(self, value: int, token_per_repo_id: dict | None = None) -> np.ndarray:
        """The (C, 33, 33) float32 patch of store row ``value``."""
        return _reader_for(self).read_row(int(value))

    def decode_batch(self, values: Sequence[int | None] | np.ndarray) -> np.ndarray | list[np.ndarray | None]:
        """The patches of many store rows, read in one store call.

        Args:
            values: row numbers, as ``datasets`` extracts a column: a numpy array (numpy, torch
                and other array formats) or a list (python format).

        Returns:
            (n, C, 33, 33) float32 for an array, else a list of (C, 33, 33) arrays.
        """
        if not isinstance(values, np.ndarray) and any(v is None for v in values):
            return [None if v is None else self.decode_example(int(v)) for v in values]
        rows = np.asarray(values, dtype=np.int64).reshape(-1)
        patches = _reader_for(self).read_rows(rows)
        return patches if isinstance(values, np.ndarray) else list(patches)


#: Whether :class:`FaciesPatch` is registered with ``datasets`` in this process.
_REGISTERED = False
#: The ``datasets.Features`` subclass with batched patch decoding (made on first use: lazy import).
_FEATURES_CLASS: type | None = None


def _register_feature() -> None:
    """Register :class:`FaciesPatch` with ``datasets`` (``register_feature``, once per process).

    ``datasets`` rebuilds a split's features from the Arrow schema's metadata by type name, so
    the name must be known wherever a split is opened or unpickled.
    """
    global _REGISTERED
    if _REGISTERED:
        return
    from datasets.features.features import register_feature

    with warnings.catch_warnings():  # register_feature is marked experimental
        warnings.simplefilter("ignore")
        register_feature(FaciesPatch, FEATURE_TYPE_NAME)
    _REGISTERED = True


def _features_class() -> type:
    """``FaciesFeatures``: ``datasets.Features`` that decode a batch's patches in one store read.

    ``datasets`` decodes a custom feature one value at a time; its formatters (python, numpy,
    torch, ...) hand a whole batch to ``Features.decode_batch`` / ``decode_column``, which this
    class overrides for :class:`FaciesPatch` columns.  It survives ``shuffle``, ``select``,
    ``with_format``, pickling (DataLoader workers) and deep copies.
    """
    global _FEATURES_CLASS
    if _FEATURES_CLASS is not None:
        return _FEATURES_CLASS
    import datasets

    _register_feature()

    class FaciesFeatures(datasets.Features):
        """``datasets.Features`` whose :class:`FaciesPatch` columns decode a batch in one read."""

        def decode_batch(self, batch: dict, token_per_repo_id: dict | None = None) -> dict:
            patches = {name: self[name].decode_batch(column) for name, column in batch.items()
                       if isinstance(self.get(name), FaciesPatch) and self[name].decode}
            rest = {k: v for k, v in batch.items() if k not in patches}
            decoded = super().decode_batch(rest, token_per_repo_id=token_per_repo_id) if rest else {}
            return {name: patches[name] if name in patches else decoded[name] for name in batch}

        def decode_column(self, column: Any, column_name: str, token_per_repo_id: dict | None = None) -> Any:
            feature = self.get(column_name)
            if isinstance(feature, FaciesPatch) and feature.decode:
                return feature.decode_batch(column)
            return super().decode_column(column, column_name, token_per_repo_id=token_per_repo_id)

        def reorder_fields_as(self, other: datasets.Features) -> datasets.Features:
            return _make_features(dict(super().reorder_fields_as(other)))

        def copy(self) -> datasets.Features:
            return _make_features(copy.deepcopy(dict(self)))

        def __reduce__(self) -> tuple:
            return _make_features, (dict(self),)

    FaciesFeatures.__module__ = __name__
    _FEATURES_CLASS = FaciesFeatures
    return FaciesFeatures


def _make_features(columns: dict) -> Any:
    """A ``FaciesFeatures`` of ``columns`` (also how one is unpickled)."""
    return _features_class()(columns)


# --------------------------------------------------------------------------------------------
# Per-process patch readers
# --------------------------------------------------------------------------------------------

#: fsspec options per store URL, remembered for decoding in this process (never serialised).
_STORAGE_OPTIONS: dict[str, dict] = {}
#: (pid, store, hash, features) -> reader.  Keyed by pid so a forked worker opens its own store.
_READERS: dict[tuple, _ChunkReader] = {}
_READERS_LOCK = threading.Lock()


class _ChunkReader:
    """Reads single rows: one patch per read for scattered access, a read-ahead block when sequential.

    The store's inner chunks hold one patch each (read through TensorStore), so a shuffled row
    costs one patch decode; a row that follows the previous one starts a ``_READ_AHEAD``-row block
    read, so sequential iteration reads each shard file in a few large reads.
    """

    def __init__(self, store: FaciesStore, features: list[str]):
        self.store = store
        self.features = list(features)
        self._fidx = np.asarray(store.feature_indices(self.features))
        self._all_features = self._fidx.tolist() == list(range(len(store.feature_names)))
        self._block: np.ndarray | None = None
        self._block_start = -1
        self._last = -2
        self._lock = threading.Lock()

    def read_row(self, row: int) -> np.ndarray:
        if not 0 <= row < self.store.n_samples:
            msg = f"Patch row {row} is outside store {self.store.path!r} (0-{self.store.n_samples - 1})."
            raise IndexError(msg)
        with self._lock:
            block, start = self._block, self._block_start
            if block is not None and start <= row < start + len(block):
                out = block[row - start].copy()
            elif row == self._last + 1:
                stop = min(row + _READ_AHEAD, self.store.n_samples)
                block = self.store.read_patches(slice(row, stop), features=self.features)
                self._block, self._block_start = block, row
                out = block[0].copy()
            else:
                out = self._read_one(row)
            self._last = row
        return out

    def _read_one(self, row: int) -> np.ndarray:
        """One patch straight from TensorStore (the per-row decode path of a shuffled split)."""
        handle = self.store._tensorstore("patches")
        if handle is None:
            return self.store.read_patches(np.array([row]), features=self.features)[0]
        try:
            out = handle[row].read().result()
        except (ValueError, RuntimeError, OSError):  # let the store name the damaged chunk
            return self.store.read_patches(np.array([row]), features=self.features)[0]
        return out if self._all_features else out[self._fidx]

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """(n, C, 33, 33) patches of many rows in one store read (the batched path)."""
        return self.store.read_patches(np.asarray(rows, dtype=np.int64), features=self.features)


def _reader_for(feature: FaciesPatch) -> _ChunkReader:
    key = (os.getpid(), feature.store, feature.content_hash, tuple(feature.features))
    reader = _READERS.get(key)
    if reader is None:
        with _READERS_LOCK:
            reader = _READERS.get(key)
            if reader is None:
                store = open_store(feature.store, storage_options=_STORAGE_OPTIONS.get(feature.store))
                if feature.content_hash and store.content_hash != feature.content_hash:
                    msg = (f"Store {feature.store!r} changed since this dataset was loaded: content hash is "
                           f"{store.content_hash}, the dataset expects {feature.content_hash}. Load the dataset again.")
                    from facies_bench.errors import StoreFormatError

                    raise StoreFormatError(msg)
                reader = _ChunkReader(store, feature.features)
                _READERS[key] = reader
    return reader


def patch_batches(dataset, *, batch_size: int = 512, drop_last: bool = False, as_torch: bool = True):
    """Batches of a loaded split, each batch's patches read from the store in one call.

    A torch ``DataLoader`` over ``split.with_format("torch")`` also reads each batch in one store
    call; this skips its per-row dicts and collation (somewhat faster, main process only).
    Row order, ``.shuffle()``, ``.select()`` and filters of the split are respected.

    Args:
        dataset: a split returned by :func:`load_dataset` (``datasets.Dataset``).
        batch_size: rows per batch.
        drop_last: drop a last incomplete batch.
        as_torch: ``patch`` (B, C, 33, 33), ``label``, ``sample_id`` and ``fold`` as torch tensors
            (else numpy arrays); string columns are lists.

    Yields:
        dicts with the columns of :data:`COLUMNS`.
    """
    feature = dataset.features["patch"]
    if not isinstance(feature, FaciesPatch):
        msg = f"patch_batches needs a split from facies_bench.data.hf.load_dataset; its 'patch' column is {type(feature).__name__}."
        raise TypeError(msg)
    reader = _reader_for(feature)
    numeric = ("label", "sample_id", "fold")
    for table in dataset.with_format("arrow").iter(batch_size=batch_size, drop_last_batch=drop_last):
        batch: dict[str, Any] = {"patch": reader.read_rows(table.column("patch").to_numpy())}
        for name in table.column_names:
            if name in numeric:
                batch[name] = table.column(name).to_numpy().astype(np.int64)
            elif name != "patch":
                batch[name] = table.column(name).to_pylist()
        if as_torch:
            import torch

            for name in ("patch", *numeric):
                if name in batch:
                    batch[name] = torch.from_numpy(batch[name])
        yield batch


# --------------------------------------------------------------------------------------------
# Building the DatasetDict
# --------------------------------------------------------------------------------------------


def row_features(patch):
    """The ``datasets.Features`` of a row, with the given ``patch`` feature type.

    Shared by the lazy loader and the Parquet export so both describe rows identically.
    """
    import datasets

    return datasets.Features({
        "patch": patch,
        "label": datasets.ClassLabel(names=list(schema.CLASS_NAMES)),
        "sample_id": datasets.Value("int64"),
        "glacier": datasets.Value("string"),
        "region": datasets.Value("string"),
        "sensor": datasets.Value("string"),
        "scene_id": datasets.Value("string"),
        "date": datasets.Value("string"),
        "fold": datasets.Value("int64"),
    })


def dataset_features(store: FaciesStore, feature_names: tuple[str, ...] | list[str]):
    """The ``datasets.Features`` of a loaded split (``patch`` as a lazy :class:`FaciesPatch`)."""
    patch = FaciesPatch(store=store.path, content_hash=store.content_hash, features=list(feature_names))
    return _make_features(dict(row_features(patch)))


def describe_dataset(store: FaciesStore, *, variant: str, features: tuple[str, ...]) -> str:
    """One paragraph saying which dataset, version, variant and features a split comes from."""
    kind = ("the synthetic stand-in generated by facies-bench (NOT the published data)" if store.is_synthetic
            else f"the published release (doi:{DATASET_DOI}) converted by facies-bench")
    fs = schema.feature_set_id(features)
    fs_text = f"feature set {fs} ({schema.FEATURE_SET_DESCRIPTIONS[fs]})" if fs else "features " + ", ".join(features)
    return (f"{store.name} version {store.version}: {kind}. Store {store.path} (content hash {store.content_hash}, "
            f"{store.n_samples} samples). Label variant {variant!r}; {fs_text}. Paper: doi:{PAPER_DOI}.")


def _metadata_table(store: FaciesStore, labels: np.ndarray):
    import pyarrow as pa

    cols = {c: store.column(c) for c in ("sample_id", "fold", "glacier", "region", "sensor", "scene", "date")}
    def names(codes, table):
        return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(table), pa.string())).cast(pa.string())
    days = cols["date"].astype("int64")
    dates = (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype(str)
    return pa.table({
        "patch": pa.array(np.arange(store.n_samples, dtype=np.int64)),
        "label": pa.array(labels.astype(np.int64)),
        "sample_id": pa.array(cols["sample_id"].astype(np.int64)),
        "glacier": names(cols["glacier"], store.attrs["glacier_names"]),
        "region": names(cols["region"], store.attrs["region_names"]),
        "sensor": names(cols["sensor"], store.attrs["sensor_names"]),
        "scene_id": names(cols["scene"], store.scene_ids) if store.scene_ids else pa.array([""] * store.n_samples),
        "date": pa.array(dates, pa.string()),
        "fold": pa.array(cols["fold"].astype(np.int64)),
    })


def _split_rows(store: FaciesStore, folds: tuple[int, ...]) -> np.ndarray:
    parts = [np.arange(store.fold_rows(k).start, store.fold_rows(k).stop) for k in folds]
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def load_dataset(name_or_path: str | os.PathLike = DATASET_NAME, *, test_fold: int | None = None,
                 variant: str = "raw", features: int | str | list[str] | None = None,
                 store: str | os.PathLike | FaciesStore | None = None, storage_options: dict | None = None):
    """Load the glacier facies dataset as a ``datasets.DatasetDict``.

    Args:
        name_or_path: ``"glacier-facies"`` (the embedded dataset already in the cache: the
            converted release, else the synthetic stand-in; ``facies_bench.load_dataset`` builds
            the stand-in on first use, this layer only opens it), or a store path or fsspec URL.
        test_fold: None for one split per fold (``fold_0`` ... ``fold_5``); k for the protocol's
            ``train`` (four folds), ``validation`` (fold (k - 1) mod 6) and ``test`` (fold k).
        variant: label variant: ``"raw"``, ``"cleaned"`` (the store's default cleaned variant) or
            a named cleaned variant.  Samples pruned from a cleaned variant are dropped.
        features: feature set id 1-4, a list or comma-separated string of feature names, or None
            for all 11 features.
        store: a store path, URL or open :class:`FaciesStore`; overrides ``name_or_path``.
        storage_options: fsspec options for URL stores (kept in this process only).

    Returns:
        ``datasets.DatasetDict``.  Each row: ``patch`` (C, 33, 33) float32 raw features read
        lazily from the store, ``label`` (``ClassLabel`` with the 8 class names), ``sample_id``,
        ``glacier``, ``region``, ``sensor``, ``scene_id``, ``date`` (ISO), ``fold``.  Every split's
        ``info.description`` says which dataset it is, ``info.config_name`` is the resolved
        variant, and the dict's ``facies_store`` attribute holds ``store.describe()`` plus the
        variant and features.
    """
    import datasets
    import pyarrow as pa
    from datasets.table import InMemoryTable

    from facies_bench.data.cache import open_cached_store

    target = store if store is not None else name_or_path
    opened = open_cached_store(target, storage_options=storage_options)
    if storage_options:
        _STORAGE_OPTIONS[opened.path] = dict(storage_options)
    resolved = opened.resolve_variant(variant)
    names = tuple(opened.feature_names[i] for i in opened.feature_indices(features))
    feats = dataset_features(opened, names)
    table = _metadata_table(opened, opened.labels(resolved)).cast(feats.arrow_schema)

    present = sorted(int(k) for k in opened.attrs.get("fold_ranges", {}))
    splits: dict[str, tuple[int, ...]]
    if test_fold is None:
        splits = {f"fold_{k}": (k,) for k in present}
    else:
        k = int(test_fold)
        splits = {"train": schema.train_folds(k), "validation": (schema.validation_fold(k),), "test": (k,)}
        for split, folds in splits.items():
            missing = [f for f in folds if f not in present]
            if missing:
                from facies_bench.errors import UnknownNameError

                msg = f"Split {split!r} for test fold {k} needs fold(s) {missing}, absent from store {opened.path!r} (folds present: {present})."
                raise UnknownNameError(msg)

    description = describe_dataset(opened, variant=resolved, features=names)
    out = datasets.DatasetDict()
    for split, folds in splits.items():
        rows = _split_rows(opened, folds)
        if resolved != "raw":
            rows = rows[table.column("label").to_numpy()[rows] != schema.PRUNED]
        sub = table.take(pa.array(rows, pa.int64()))
        info = datasets.DatasetInfo(description=description, citation=CITATION, homepage=HOMEPAGE, license=LICENSE,
                                    features=feats, dataset_name=opened.name, config_name=resolved)
        out[split] = datasets.Dataset(InMemoryTable(sub), info=info, split=datasets.NamedSplit(split))
    out.facies_store = {**opened.describe(), "variant": resolved, "features": list(names),
                        "feature_set": schema.feature_set_id(names), "test_fold": test_fold}
    log.info("Loaded %s: %s", opened.name, {k: len(v) for k, v in out.items()})
    return out

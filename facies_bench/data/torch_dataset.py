"""Plain PyTorch access to a facies store, for training.

* :class:`FaciesTorchDataset` — a map-style ``Dataset`` of dict samples (``patch``, ``label``,
  ``sample_id``, ``glacier``, ``region``, ``sensor``, ``scene_id``, ``date``, ``fold``) over chosen
  folds or rows; ``__getitems__`` makes a ``DataLoader`` read each batch with one store call.
* :class:`FaciesBatchIterable` — an ``IterableDataset`` of ready-made batches with chunk-aligned
  reads: each epoch visits the store's shard files in random order, reads a window of shards at
  once and shuffles the samples inside the window (plus whatever is left over from the previous
  window), so every shard is read once per epoch.  With the in-RAM cache the shuffle is a
  full permutation.  Fully random batches (a ``DataLoader`` with ``shuffle=True`` over
  :class:`FaciesTorchDataset`) are also fast: the store's inner chunks hold one patch each, so a
  random row costs one patch decode (read through TensorStore).
* :class:`FoldCache` — an optional in-RAM copy of whole folds (raw patches of the selected
  features), loaded on first use and shareable between datasets (the six fold models of a
  protocol run reuse it).
* :func:`make_dataloader` — the ``DataLoader`` over a :class:`FaciesBatchIterable`.

Worker safety: datasets hold the store's path, not an open handle, and open the store lazily once
per process (keyed by pid), so worker processes never share an I/O thread or event loop.
Every worker reads through its own TensorStore handle, whatever the start method.  TensorStore
cannot be used in a child forked after its threads started, so building a dataset reads only
small arrays (through zarr-python) and starts no TensorStore threads: ``fork`` workers then open
their own.  When this process has already read patches through TensorStore, :func:`make_dataloader`
starts ``fork`` workers from a ``forkserver`` instead (a clean process, so they still read
through TensorStore); a hand-made ``DataLoader`` with ``fork`` workers reads through zarr-python
in that case (correct, slower).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store, tensorstore_started

log = logging.getLogger(__name__)


class _StoreHandle:
    """A picklable store reference that opens the store once per process."""

    def __init__(self, store: str | os.PathLike | FaciesStore, storage_options: dict | None = None):
        self._store: FaciesStore | None
        self._pid: int | None
        if isinstance(store, FaciesStore):
            self.path, self._store, self._pid = store.path, store, os.getpid()
        else:
            self.path, self._store, self._pid = str(store), None, None
        self.storage_options = storage_options

    @property
    def store(self) -> FaciesStore:
        if self._store is None or self._pid != os.getpid():
            self._store = open_store(self.path, storage_options=self.storage_options)
            self._pid = os.getpid()
        return self._store

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.path, self.storage_options = state["path"], state["storage_options"]
        self._store, self._pid = None, None


class FoldCache:
    """In-RAM copy of whole folds' raw patches (selected features), loaded on first use.

    Args:
        store: store path, URL or open store.
        features: feature set id, names or None (all 11).
        storage_options: fsspec options for URL stores.
    """

    def __init__(self, store: str | os.PathLike | FaciesStore, *, features=None, storage_options: dict | None = None):
        self._handle = _StoreHandle(store, storage_options)
        self.features = tuple(self._handle.store.feature_names[i] for i in self._handle.store.feature_indices(features))
        self._folds: dict[int, np.ndarray] = {}
        self._starts: dict[int, int] = {}

    @property
    def nbytes(self) -> int:
        """Bytes held in memory."""
        return sum(a.nbytes for a in self._folds.values())

    def fold(self, k: int) -> np.ndarray:
        """(n_k, C, 33, 33) float32 patches of fold ``k`` (read once, then kept)."""
        k = int(k)
        if k not in self._folds:
            rows = self._handle.store.fold_rows(k)
            self._folds[k] = self._handle.store.read_patches(rows, features=self.features)
            self._starts[k] = rows.start
            log.info("Cached fold %d: %d patches, %.1f MB", k, len(self._folds[k]), self._folds[k].nbytes / 1e6)
        return self._folds[k]

    def read(self, rows: np.ndarray, folds: np.ndarray) -> np.ndarray:
        """Patches of store ``rows`` (any order) whose folds are ``folds``."""
        out = np.empty((len(rows), len(self.features), schema.PATCH_SIZE, schema.PATCH_SIZE), np.float32)
        for k in np.unique(folds):
            sel = folds == k
            arr = self.fold(int(k))
            out[sel] = arr[rows[sel] - self._starts[int(k)]]
        return out

    def __getstate__(self):
        msg = ("A FoldCache cannot be sent to worker processes (it would copy the cached patches into each one); "
               "use num_workers=0 with an in-RAM cache, or no cache with workers.")
        raise TypeError(msg)


class FaciesTorchDataset(Dataset):
    """Map-style dataset of dict samples over some folds (or rows) of a store.

    Args:
        store: store path, fsspec URL or open :class:`FaciesStore`.
        folds: folds to include (default: all); ignored when ``rows`` is given.
        rows: explicit store rows (sorted and de-duplicated).
        variant: label variant (``raw``, ``cleaned`` or a name); pruned samples are left out.
        features: feature set id 1-4, feature names, or None for all 11.
        cache: True for a private in-RAM :class:`FoldCache`, or a shared one, or None.
        storage_options: fsspec options for URL stores.

    Samples: ``patch`` (C, 33, 33) float32 tensor of raw features, ``label`` int64 tensor,
    ``sample_id`` and ``fold`` ints, ``glacier``, ``region``, ``sensor``, ``scene_id``, ``date``
    strings.
    """

    def __init__(self, store: str | os.PathLike | FaciesStore, *, folds=None, rows=None, variant: str = "raw",
                 features=None, cache: bool | FoldCache | None = None, storage_options: dict | None = None):
        self._handle = _StoreHandle(store, storage_options)
        st = self._handle.store
        self.variant = st.resolve_variant(variant)
        self.features = tuple(st.feature_names[i] for i in st.feature_indices(features))
        labels = st.labels(self.variant)
        fold_col = st.column("fold").astype(np.int64)
        if rows is not None:
            rows = np.unique(np.asarray(rows, dtype=np.int64))
            if rows.size and (rows[0] < 0 or rows[-1] >= st.n_samples):
                msg = f"Rows must lie in 0-{st.n_samples - 1} for store {st.path!r}; got {rows[0]}..{rows[-1]}."
                raise IndexError(msg)
        else:
            wanted = range(schema.N_FOLDS) if folds is None else [int(k) for k in np.atleast_1d(folds)]
            rows = np.concatenate([np.arange(st.fold_rows(k).start, st.fold_rows(k).stop) for k in wanted]) if len(wanted) else np.empty(0, np.int64)
            rows = np.sort(rows)
        rows = rows[labels[rows] != schema.PRUNED]
        self.rows = rows
        self.labels = labels[rows].astype(np.int64)
        self.folds = fold_col[rows]
        self.sample_ids = st.column("sample_id")[rows].astype(np.int64)
        self._codes = {c: st.column(c)[rows] for c in ("glacier", "region", "sensor", "scene", "date")}
        self._names = {"glacier": np.asarray(st.attrs["glacier_names"], object),
                       "region": np.asarray(st.attrs["region_names"], object),
                       "sensor": np.asarray(st.attrs["sensor_names"], object),
                       "scene": np.asarray(st.scene_ids if st.scene_ids else [""], object)}
        self.chunk_size = st.patch_block  # rows per shard file: the unit of chunk-windowed reads
        if cache is True:
            cache = FoldCache(st, features=self.features)
        elif isinstance(cache, FoldCache) and cache.features != self.features:
            msg = f"The shared FoldCache holds features {cache.features}; this dataset needs {self.features}."
            raise ValueError(msg)
        self.cache: FoldCache | None = cache or None

    @property
    def store(self) -> FaciesStore:
        """The open store of this process."""
        return self._handle.store

    def __len__(self) -> int:
        return len(self.rows)

    def read_patches(self, positions: np.ndarray) -> np.ndarray:
        """(n, C, 33, 33) float32 raw patches of dataset positions (any order)."""
        positions = np.asarray(positions, dtype=np.int64)
        if self.cache is not None:
            return self.cache.read(self.rows[positions], self.folds[positions])
        return self.store.read_patches(self.rows[positions], features=self.features)

    def collate(self, positions: np.ndarray, patches: np.ndarray) -> dict[str, Any]:
        """A batch dict for dataset positions whose patches are already read."""
        positions = np.asarray(positions, dtype=np.int64)
        days = self._codes["date"][positions].astype("int64")
        return {
            "patch": torch.from_numpy(np.ascontiguousarray(patches)),
            "label": torch.from_numpy(self.labels[positions]),
            "sample_id": torch.from_numpy(self.sample_ids[positions]),
            "glacier": self._names["glacier"][self._codes["glacier"][positions]].tolist(),
            "region": self._names["region"][self._codes["region"][positions]].tolist(),
            "sensor": self._names["sensor"][self._codes["sensor"][positions]].tolist(),
            "scene_id": self._names["scene"][self._codes["scene"][positions]].tolist(),
            "date": (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype(str).tolist(),
            "fold": torch.from_numpy(self.folds[positions].copy()),
        }

    def get_batch(self, positions) -> dict[str, Any]:
        """Batch dict (stacked tensors, string lists) for dataset positions, one store read."""
        positions = np.asarray(positions, dtype=np.int64)
        return self.collate(positions, self.read_patches(positions))

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"Index {index} out of range for a dataset of {len(self)} samples.")
        batch = self.get_batch(np.array([index % len(self)]))
        return {k: (v[0] if isinstance(v, (list, torch.Tensor)) else v) for k, v in batch.items()} | {
            "sample_id": int(batch["sample_id"][0]), "fold": int(batch["fold"][0])}

    def __getitems__(self, indices: list[int]) -> list[dict[str, Any]]:
        batch = self.get_batch(np.asarray(indices, dtype=np.int64))
        n = len(indices)
        return [{"patch": batch["patch"][i], "label": batch["label"][i], "sample_id": int(batch["sample_id"][i]),
                 "glacier": batch["glacier"][i], "region": batch["region"][i], "sensor": batch["sensor"][i],
                 "scene_id": batch["scene_id"][i], "date": batch["date"][i], "fold": int(batch["fold"][i])}
                for i in range(n)]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """All samples as numpy arrays: ``patches`` (N, C, 33, 33), ``labels``, ``scenes`` (codes), ``sample_ids``."""
        if self.cache is not None:
            patches = self.read_patches(np.arange(len(self)))
        else:
            patches = np.empty((len(self), len(self.features), schema.PATCH_SIZE, schema.PATCH_SIZE), np.float32)
            # contiguous runs of rows are read as slices (chunk-aligned), not by fancy indexing
            breaks = np.flatnonzero(np.diff(self.rows) != 1) + 1
            for run in np.split(np.arange(len(self)), breaks):
                if run.size:
                    patches[run] = self.store.read_patches(slice(int(self.rows[run[0]]), int(self.rows[run[-1]]) + 1), features=self.features)
        return {"patches": patches, "labels": self.labels.copy(), "scenes": self._codes["scene"].astype(np.int64),
                "sample_ids": self.sample_ids.copy()}


class FaciesBatchIterable(IterableDataset):
    """Batches of a :class:`FaciesTorchDataset` with chunk-aligned reads.

    Args:
        dataset: the samples.
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (chunk order, then samples inside each window).
        seed: shuffling seed; epoch ``e`` uses ``(seed, e)``.
        drop_last: drop the last incomplete batch (per worker).
        window_chunks: store shard files read at once and shuffled together (at least one batch).
        order: ``"windowed"`` (shard windows in random order, samples shuffled inside each window)
            or ``"random"`` (with ``shuffle``, a full permutation every epoch, each batch read in one
            store call: one patch decode per row).

    Each iteration advances the epoch counter, so persistent workers reshuffle every epoch;
    :meth:`set_epoch` sets it explicitly (main process).  With worker processes, windows are
    dealt round-robin to the workers.
    """

    def __init__(self, dataset: FaciesTorchDataset, *, batch_size: int = 512, shuffle: bool = False, seed: int = 0,
                 drop_last: bool = False, window_chunks: int = 4, order: str = "windowed"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
        if order not in ("windowed", "random"):
            raise ValueError(f"order must be 'windowed' or 'random', got {order!r}.")
        self.order = order
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.window_chunks = max(int(window_chunks), math.ceil(self.batch_size / dataset.chunk_size))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch, which seeds the shuffle order."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def windows(self, epoch: int) -> list[np.ndarray]:
        """Dataset positions grouped into read windows, in this epoch's order."""
        n = len(self.dataset)
        if n == 0:
            return []
        if self.dataset.cache is not None:
            order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
            return [order]
        chunk_of = self.dataset.rows // self.dataset.chunk_size
        starts = np.flatnonzero(np.r_[True, chunk_of[1:] != chunk_of[:-1]])
        groups = np.split(np.arange(n), starts[1:])
        if self.shuffle:
            rng = np.random.default_rng([self.seed, epoch])
            groups = [groups[i] for i in rng.permutation(len(groups))]
        w = self.window_chunks
        return [np.concatenate(groups[i:i + w]) for i in range(0, len(groups), w)]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        epoch = self.epoch
        self.epoch += 1
        info = get_worker_info()
        wid, nworkers = (info.id, info.num_workers) if info is not None else (0, 1)
        rng = np.random.default_rng([self.seed, epoch, 1 + wid])
        if self.order == "random" and self.dataset.cache is None:
            n = len(self.dataset)
            order = np.random.default_rng([self.seed, epoch]).permutation(n) if self.shuffle else np.arange(n)
            stop = n // self.batch_size * self.batch_size if self.drop_last else n
            for b, i in enumerate(range(0, stop, self.batch_size)):
                if b % nworkers == wid:
                    yield self.dataset.get_batch(order[i:i + self.batch_size])
            return
        windows = self.windows(epoch)[wid::nworkers]
        shuffle_inside = self.shuffle and self.dataset.cache is None
        left_pos = np.empty(0, np.int64)
        left_patches = np.empty((0, len(self.dataset.features), schema.PATCH_SIZE, schema.PATCH_SIZE), np.float32)
        for window in windows:
            if shuffle_inside:
                window = np.sort(window)  # read in row order (no reordering copy); shuffled below
            patches = self.dataset.read_patches(window)
            n_left = len(left_pos)
            pos = np.concatenate([left_pos, window]) if n_left else window
            full = len(pos) // self.batch_size * self.batch_size
            if shuffle_inside:  # each batch gathers its rows: one copy of the batch, not of the window
                order = rng.permutation(len(pos))
                for i in range(0, full, self.batch_size):
                    sel = order[i:i + self.batch_size]
                    yield self.dataset.collate(pos[sel], _gather(left_patches, patches, sel, n_left))
                rest = order[full:]
            else:
                if n_left:
                    patches = np.concatenate([left_patches, patches])
                    n_left = 0
                for i in range(0, full, self.batch_size):
                    yield self.dataset.collate(pos[i:i + self.batch_size], patches[i:i + self.batch_size])
                rest = np.arange(full, len(pos))
            left_pos, left_patches = pos[rest], _gather(left_patches, patches, rest, n_left)
        if len(left_pos) and not self.drop_last:
            yield self.dataset.collate(left_pos, left_patches)


def _gather(left: np.ndarray, current: np.ndarray, sel: np.ndarray, n_left: int) -> np.ndarray:
    """Rows ``sel`` of the virtual concatenation ``[left[:n_left], current]``, without building it."""
    if not n_left:
        return current[sel]
    out = np.empty((len(sel), *current.shape[1:]), current.dtype)
    from_left = sel < n_left
    out[from_left] = left[sel[from_left]]
    out[~from_left] = current[sel[~from_left] - n_left]
    return out


def _as_is(batch: Any) -> Any:
    """Batches are ready-made: no per-element conversion by the DataLoader."""
    return batch


def make_dataloader(dataset: FaciesTorchDataset | str | os.PathLike | FaciesStore, *, batch_size: int = 512,
                    shuffle: bool = False, seed: int = 0, drop_last: bool = False, num_workers: int = 0,
                    multiprocessing_context: str = "spawn", pin_memory: bool = False, window_chunks: int = 4,
                    order: str = "windowed",
                    **dataset_kwargs: Any) -> DataLoader:
    """A ``DataLoader`` yielding dict batches (``patch`` (B, C, 33, 33), ``label`` (B,), ...).

    Args:
        dataset: a :class:`FaciesTorchDataset`, or a store (path, URL, open store) plus
            ``dataset_kwargs`` (``folds``, ``rows``, ``variant``, ``features``, ``cache``...).
        batch_size: samples per batch (see :class:`FaciesBatchIterable`).
        shuffle: shuffle the order every epoch (see :class:`FaciesBatchIterable`).
        seed: seed of the shuffle (see :class:`FaciesBatchIterable`).
        drop_last: drop a last, smaller batch (see :class:`FaciesBatchIterable`).
        window_chunks: chunks per read window (see :class:`FaciesBatchIterable`).
        order: read order (see :class:`FaciesBatchIterable`).
        num_workers: reader processes (0 reads in the main process).  Workers are persistent,
            so they reshuffle every epoch.
        multiprocessing_context: ``"spawn"`` (default), ``"forkserver"`` or ``"fork"``; ``"fork"``
            becomes ``"forkserver"`` when this process already read patches through TensorStore
            (a forked worker could not use it).
        pin_memory: pin batches for faster host-to-GPU copies.
        **dataset_kwargs: options of the :class:`FaciesTorchDataset` built from a store.
    """
    if not isinstance(dataset, FaciesTorchDataset):
        dataset = FaciesTorchDataset(dataset, **dataset_kwargs)
    elif dataset_kwargs:
        raise TypeError(f"Dataset options {sorted(dataset_kwargs)} given with an already built dataset.")
    if num_workers and dataset.cache is not None:
        msg = "An in-RAM FoldCache cannot be shared with worker processes; use num_workers=0 with cache (reads from RAM are fast)."
        raise ValueError(msg)
    iterable = FaciesBatchIterable(dataset, batch_size=batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last,
                                   window_chunks=window_chunks, order=order)
    kwargs: dict[str, Any] = {}
    if num_workers and multiprocessing_context == "fork" and tensorstore_started():
        log.info("TensorStore already runs in this process: starting fork workers from a forkserver so they can use it")
        multiprocessing_context = "forkserver"
    if num_workers:
        kwargs = {"multiprocessing_context": multiprocessing_context, "persistent_workers": True, "prefetch_factor": 2}
    return DataLoader(iterable, batch_size=None, num_workers=num_workers, pin_memory=pin_memory, collate_fn=_as_is, **kwargs)

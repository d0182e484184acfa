"""Where the embedded dataset lives in the cache, and opening it when it is there.

The name ``glacier-facies`` resolves, in order, to the converted real release in the cache
(:func:`real_store_path`: ``facies-bench data convert RELEASE -o $FACIES_BENCH_HOME/glacier-facies-release.zarr``)
and otherwise to the embedded synthetic dataset.  This module only finds and opens stores; building the synthetic
dataset on first use needs the simulator, a layer above, so that is
:func:`facies_bench.default_dataset.resolve_store` (also ``facies_bench.resolve_store``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import DatasetNotFoundError, InvalidValueError

log = logging.getLogger(__name__)

DATASET_NAME = "glacier-facies"
#: Version of the embedded synthetic dataset: bump when the simulator's output changes.
SYNTHETIC_VERSION = "13"
#: Scale of the store used by ``--quick`` runs: small enough for a six-fold run in minutes on 2 cores.
QUICK_SCALE = 0.02
DEFAULT_SEED = 0


def cache_dir() -> Path:
    """``$FACIES_BENCH_HOME`` if set, else ``~/.cache/facies-bench``."""
    root = os.environ.get("FACIES_BENCH_HOME")
    return Path(root) if root else Path.home() / ".cache" / "facies-bench"


def real_store_path() -> Path:
    """Where ``facies-bench data convert`` puts the converted published release by default."""
    return cache_dir() / f"{DATASET_NAME}-release.zarr"


def synthetic_store_path(scale: float = 1.0, seed: int = DEFAULT_SEED) -> Path:
    """Cache path of the embedded synthetic store built at ``scale`` with ``seed``."""
    return cache_dir() / f"{DATASET_NAME}-synthetic-v{SYNTHETIC_VERSION}-scale{scale:g}-seed{seed}.zarr"


def names_embedded_dataset(store: str | os.PathLike | FaciesStore | None) -> bool:
    """Whether ``store`` asks for the embedded dataset (None or the name ``glacier-facies``)."""
    return store is None or (not isinstance(store, FaciesStore) and str(store) == DATASET_NAME)


def synthetic_scale(*, quick: bool = False, scale: float | None = None) -> float:
    """The scale of the embedded synthetic store asked for: ``scale``, else ``QUICK_SCALE`` or 1."""
    scale = scale if scale is not None else (QUICK_SCALE if quick else 1.0)
    if scale <= 0:
        raise InvalidValueError(f"Synthetic scale must be positive, got {scale}.")
    return scale


def embedded_store_path(*, quick: bool = False, scale: float | None = None, seed: int = DEFAULT_SEED) -> Path:
    """Where the embedded dataset asked for lives (the synthetic store's path may not exist yet).

    The converted release in the cache when present and neither ``quick`` nor ``scale`` asks
    for a synthetic store; else the synthetic store of that scale (:func:`synthetic_scale`) and seed.
    """
    if scale is None and not quick and real_store_path().exists():
        return real_store_path()
    return synthetic_store_path(synthetic_scale(quick=quick, scale=scale), seed)


def open_cached_store(store: str | os.PathLike | FaciesStore | None = None, *, quick: bool = False,
                      scale: float | None = None, seed: int = DEFAULT_SEED,
                      storage_options: dict | None = None) -> FaciesStore:
    """Open a store, or the embedded dataset from the cache, without building anything.

    Args:
        store: a store path or fsspec URL, an open store, the name ``glacier-facies``, or None
            (the embedded dataset).
        quick: the small ``QUICK_SCALE`` synthetic store (for ``--quick`` runs).
        scale: explicit synthetic scale (overrides ``quick``).
        seed: synthetic generator seed.
        storage_options: fsspec options for a store given as a URL.

    Raises:
        DatasetNotFoundError: the embedded synthetic dataset asked for has not been built yet
            (:func:`facies_bench.resolve_store` and :func:`facies_bench.load_dataset` build it).
    """
    if isinstance(store, FaciesStore):
        return store
    if store is not None and not names_embedded_dataset(store):
        return open_store(store, storage_options=storage_options)
    path = embedded_store_path(quick=quick, scale=scale, seed=seed)
    if not path.exists():
        msg = (f"The embedded synthetic dataset {DATASET_NAME!r} has not been built yet (expected at {str(path)!r}); "
               "`facies_bench.resolve_store()` or `facies_bench.load_dataset()` builds it on first use, "
               "or pass a store path.")
        raise DatasetNotFoundError(msg)
    if path == real_store_path():
        log.info("glacier-facies -> converted release at %s", path)
    return open_store(path)

"""Where the embedded dataset lives, and how ``glacier-facies`` resolves to a store.

The name ``glacier-facies`` resolves, in order, to the converted real release in the cache
(written by ``facies-bench data convert ... -o $(facies-bench data path --real)``) and otherwise to
the embedded synthetic dataset, which is generated on first use and cached.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import InvalidValueError

log = logging.getLogger(__name__)

DATASET_NAME = "glacier-facies"
#: Version of the embedded synthetic dataset: bump when the simulator's output changes.
SYNTHETIC_VERSION = "3"
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


def resolve_store(store: str | os.PathLike | FaciesStore | None = None, *, quick: bool = False,
                  scale: float | None = None, seed: int = DEFAULT_SEED, storage_options: dict | None = None,
                  progress=None) -> FaciesStore:
    """Open the store a command should run on.

    Args:
        store: a store path or fsspec URL, an open store, the name ``glacier-facies``, or None
            (the embedded dataset).
        quick: use the small ``QUICK_SCALE`` synthetic store (for ``--quick`` runs).
        scale: explicit synthetic scale (overrides ``quick``).
        seed: synthetic generator seed.
        storage_options: fsspec options for a store given as a URL.
        progress: optional callback forwarded to the generator when a store must be built.
    """
    if isinstance(store, FaciesStore):
        return store
    if store is not None and str(store) != DATASET_NAME:
        return open_store(store, storage_options=storage_options)
    if scale is None and not quick and real_store_path().exists():
        log.info("glacier-facies -> converted release at %s", real_store_path())
        return open_store(real_store_path())
    scale = scale if scale is not None else (QUICK_SCALE if quick else 1.0)
    if scale <= 0:
        raise InvalidValueError(f"Synthetic scale must be positive, got {scale}.")
    path = synthetic_store_path(scale, seed)
    if not path.exists():
        from facies_bench.synth import generate_store

        log.warning("Building the embedded synthetic dataset (scale %g, seed %d) at %s; this happens once.", scale, seed, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        return generate_store(path, scale=scale, seed=seed, progress=progress)
    return open_store(path)

"""The default dataset: ``glacier-facies`` resolved to a store, the synthetic stand-in built on first use.

It sits above both :mod:`facies_bench.data` (which finds and opens the stores in the cache,
:mod:`facies_bench.data.cache`) and :mod:`facies_bench.synth` (which builds the synthetic
store), so that neither imports the other.  Public as ``facies_bench.resolve_store`` and
``facies_bench.load_dataset``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from facies_bench.data.cache import (
    DATASET_NAME,
    DEFAULT_SEED,
    embedded_store_path,
    names_embedded_dataset,
    open_cached_store,
    synthetic_scale,
)
from facies_bench.data.store import FaciesStore

log = logging.getLogger(__name__)


def resolve_store(store: str | os.PathLike | FaciesStore | None = None, *, quick: bool = False,
                  scale: float | None = None, seed: int = DEFAULT_SEED, storage_options: dict | None = None,
                  progress: Callable[[int, int, str], None] | None = None) -> FaciesStore:
    """Open the store a command should run on, building the embedded synthetic dataset on first use.

    Args:
        store: a store path or fsspec URL, an open store, the name ``glacier-facies``, or None
            (the embedded dataset: the converted release in the cache if present, else the
            synthetic stand-in).
        quick: use the small ``QUICK_SCALE`` synthetic store (for ``--quick`` runs).
        scale: explicit synthetic scale (overrides ``quick``).
        seed: synthetic generator seed.
        storage_options: fsspec options for a store given as a URL.
        progress: optional callback ``progress(done, total, description)`` forwarded to the
            generator when a store must be built.
    """
    if names_embedded_dataset(store):
        path = embedded_store_path(quick=quick, scale=scale, seed=seed)
        if not path.exists():
            from facies_bench.synth import generate_store

            built_scale = synthetic_scale(quick=quick, scale=scale)
            log.warning("Building the embedded synthetic dataset (scale %g, seed %d) at %s; this happens once.",
                        built_scale, seed, path)
            path.parent.mkdir(parents=True, exist_ok=True)
            return generate_store(path, scale=built_scale, seed=seed, progress=progress)
    return open_cached_store(store, quick=quick, scale=scale, seed=seed, storage_options=storage_options)


def load_dataset(name_or_path: str | os.PathLike = DATASET_NAME, *, test_fold: int | None = None, variant: str = "raw",
                 features: int | str | list[str] | None = None, store: str | os.PathLike | FaciesStore | None = None,
                 storage_options: dict | None = None) -> Any:
    """The glacier facies dataset as a ``datasets.DatasetDict``, the embedded dataset built first if needed.

    Resolves ``store`` (else ``name_or_path``) with :func:`resolve_store`, then reads it with
    :func:`facies_bench.data.hf.load_dataset`, which documents the arguments and the result.

    Args:
        name_or_path: ``"glacier-facies"`` (the embedded dataset) or a store path or fsspec URL.
        test_fold: None for one split per fold; k for the protocol's train / validation / test.
        variant: label variant (``"raw"``, ``"cleaned"`` or a named cleaned variant).
        features: feature set id 1-4, feature names, or None for all 11 features.
        store: a store path, URL or open store; overrides ``name_or_path``.
        storage_options: fsspec options for URL stores.
    """
    from facies_bench.data.hf import load_dataset as load_store_dataset

    opened = resolve_store(store if store is not None else name_or_path, storage_options=storage_options)
    return load_store_dataset(store=opened, test_fold=test_fold, variant=variant, features=features,
                              storage_options=storage_options)

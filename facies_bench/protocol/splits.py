"""Protocol splits: for test fold k, validation fold (k - 1) mod 6 and the four others train.

Folds are groups of whole glaciers, so no glacier is ever in two splits; :func:`check_glacier_folds`
verifies that on the store's metadata before anything is trained.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore
from facies_bench.errors import StoreFormatError


@dataclass(frozen=True)
class ProtocolSplit:
    """Row ranges of one protocol split of a store.

    Attributes:
        test_fold: the held-out fold k.
        validation_fold: (k - 1) mod 6, used for checkpoint selection and calibration.
        train_folds: the four remaining folds.
        train_rows / validation_rows / test_rows: contiguous row ranges (store order), one per fold.
    """

    test_fold: int
    validation_fold: int
    train_folds: tuple[int, ...]
    train_rows: tuple[slice, ...]
    validation_rows: slice
    test_rows: slice

    @staticmethod
    def indices(rows: slice | tuple[slice, ...]) -> np.ndarray:
        """Row numbers (int64) of a range or of several ranges, in order."""
        ranges = rows if isinstance(rows, tuple) else (rows,)
        if not ranges:
            return np.empty(0, np.int64)
        return np.concatenate([np.arange(r.start, r.stop, dtype=np.int64) for r in ranges])


def check_glacier_folds(store: FaciesStore) -> dict[str, int]:
    """Glacier -> fold, checking that every glacier lies in exactly one fold.

    Raises:
        StoreFormatError: a glacier has samples in two folds (the protocol would leak it), or a
            fold of the protocol is missing.
    """
    meta = store.metadata("raw")[["glacier", "fold"]]
    folds_per_glacier = meta.groupby("glacier")["fold"].unique()
    leaking = {g: sorted(int(f) for f in folds) for g, folds in folds_per_glacier.items() if len(folds) > 1}
    if leaking:
        listed = "; ".join(f"{g}: folds {f}" for g, f in sorted(leaking.items()))
        msg = f"Store {store.path!r} puts glaciers in several folds ({listed}); the protocol needs each glacier in exactly one fold."
        raise StoreFormatError(msg)
    present = sorted(int(f) for f in meta["fold"].unique())
    if present != list(range(schema.N_FOLDS)):
        msg = f"Store {store.path!r} has folds {present}; the protocol needs all of 0-{schema.N_FOLDS - 1}."
        raise StoreFormatError(msg)
    return {str(g): int(f[0]) for g, f in folds_per_glacier.items()}


def protocol_split(store: FaciesStore, test_fold: int) -> ProtocolSplit:
    """The split of test fold ``test_fold``: validation ``(k - 1) mod 6``, four folds train."""
    k = int(test_fold)
    val = schema.validation_fold(k)
    train = schema.train_folds(k)
    return ProtocolSplit(test_fold=k, validation_fold=val, train_folds=train,
                         train_rows=tuple(store.fold_rows(f) for f in train),
                         validation_rows=store.fold_rows(val), test_rows=store.fold_rows(k))

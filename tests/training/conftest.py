"""Fixtures for training tests: the tiny store's fold-0 protocol splits in RAM."""

from __future__ import annotations

import pytest

from facies_bench import schema


@pytest.fixture(scope="session")
def fold0_splits(tiny_store):
    """(train, validation, test) ArraySplits of test fold 0 on the tiny store, all 11 features."""
    from facies_bench.training import ArraySplit

    k = 0
    train = ArraySplit.concatenate([ArraySplit.from_store(tiny_store, tiny_store.fold_rows(f)) for f in schema.train_folds(k)])
    validation = ArraySplit.from_store(tiny_store, tiny_store.fold_rows(schema.validation_fold(k)))
    test = ArraySplit.from_store(tiny_store, tiny_store.fold_rows(k))
    return train, validation, test

"""Protocol splits: the validation rule and no glacier in two splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.errors import StoreFormatError
from facies_bench.protocol import ProtocolConfig, check_glacier_folds, parse_folds, protocol_split


@pytest.mark.parametrize("k", range(schema.N_FOLDS))
def test_split_rule_and_disjoint_glaciers(tiny_store, k):
    split = protocol_split(tiny_store, k)
    assert split.validation_fold == (k - 1) % 6
    assert sorted(split.train_folds + (split.validation_fold, k)) == list(range(6))
    assert len(split.train_folds) == 4
    meta = tiny_store.metadata("raw")
    glaciers = {name: set(meta["glacier"].to_numpy()[split.indices(rows)])
                for name, rows in (("train", split.train_rows), ("validation", split.validation_rows), ("test", split.test_rows))}
    assert not glaciers["train"] & glaciers["test"]
    assert not glaciers["train"] & glaciers["validation"]
    assert not glaciers["validation"] & glaciers["test"]
    folds = meta["fold"].to_numpy()
    assert set(folds[split.indices(split.test_rows)]) == {k}
    assert set(folds[split.indices(split.validation_rows)]) == {(k - 1) % 6}
    assert set(folds[split.indices(split.train_rows)]) == set(split.train_folds)
    # every sample is in exactly one of the three splits
    n = sum(len(split.indices(r)) for r in (split.train_rows, split.validation_rows, split.test_rows))
    assert n == tiny_store.n_samples


def test_check_glacier_folds_accepts_tiny_store(tiny_store):
    mapping = check_glacier_folds(tiny_store)
    assert len(mapping) == tiny_store.metadata()["glacier"].nunique()
    assert set(mapping.values()) == set(range(6))


class _LeakyStore:
    """A stand-in store whose metadata puts one glacier in two folds."""

    path = "leaky.zarr"

    def __init__(self, store):
        self._meta = store.metadata("raw").copy()
        g = self._meta["glacier"].iloc[0]
        other = self._meta.index[self._meta["fold"] == 3][0]
        self._meta.loc[other, "glacier"] = g
        self.glacier = g

    def metadata(self, variant="raw") -> pd.DataFrame:
        return self._meta


def test_check_glacier_folds_rejects_leak(tiny_store):
    leaky = _LeakyStore(tiny_store)
    with pytest.raises(StoreFormatError, match=leaky.glacier):
        check_glacier_folds(leaky)


def test_parse_folds_and_config():
    assert parse_folds(None) == tuple(range(6))
    assert parse_folds("0,2-3") == (0, 2, 3)
    with pytest.raises(Exception, match="Valid: 0-5"):
        parse_folds("7")
    cfg = ProtocolConfig.from_options(features=2, seed=4, n_seeds=3)
    assert cfg.seeds == (4, 5, 6) and cfg.feature_set == 2 and cfg.features == schema.FEATURE_SETS[2]
    assert np.all(np.diff(cfg.folds) == 1)

"""The schema is the single source of names; look-ups are forgiving, errors list what is valid."""

from __future__ import annotations

import datetime as dt

import pytest

from facies_bench import schema
from facies_bench.errors import UnknownNameError


def test_published_order_and_counts():
    assert schema.CLASS_NAMES == ("ice", "snow", "debris", "firn", "shadow", "refrozen-like", "water", "cloud")
    assert schema.PROBABILITY_COLUMNS[5] == "p_refrozen"
    assert [c.is_facies for c in schema.CLASSES] == [True, True, True, True, False, True, False, False]
    assert len(schema.FEATURE_NAMES) == 11 and len(schema.GLACIERS) == 31
    assert {k: len(v) for k, v in schema.FEATURE_SETS.items()} == {1: 6, 2: 8, 3: 10, 4: 11}
    regions = [g.region for g in schema.GLACIERS]
    assert {r: regions.count(r) for r in schema.REGIONS} == {"Pyrenees": 1, "Alps": 15, "Scandinavia": 6, "Iceland": 3, "Svalbard": 6}


def test_lookups_are_forgiving():
    assert schema.class_index("refrozen") == schema.class_index("Refrozen-like") == 5
    assert schema.glacier_index("goldberg_k") == schema.glacier_index("Goldberg K")
    assert schema.sensor_index("S2") == schema.sensor_index("sentinel-2") == 4
    assert schema.sensor_index("L8") == 2


def test_unknown_names_list_valid_ones():
    with pytest.raises(UnknownNameError, match="Valid: ice, snow"):
        schema.class_index("slush")
    with pytest.raises(UnknownNameError, match="Unknown feature set 7"):
        schema.resolve_features(7)


def test_resolve_features():
    assert schema.resolve_features(2) == schema.FEATURE_SETS[2]
    assert schema.resolve_features("nir,blue") == ("blue", "nir")
    assert schema.feature_set_id(schema.FEATURE_SETS[3]) == 3
    assert schema.feature_set_id(("blue",)) is None


def test_protocol_fold_rule():
    for k in range(6):
        val = schema.validation_fold(k)
        train = schema.train_folds(k)
        assert val == (k - 1) % 6 and len(train) == 4
        assert set(train) | {k, val} == set(range(6))
    with pytest.raises(UnknownNameError):
        schema.validation_fold(6)


def test_sensor_validity():
    assert schema.sensor_valid_on("Landsat 5", dt.date(1990, 8, 1))
    assert not schema.sensor_valid_on("Landsat 5", dt.date(2013, 8, 1))
    assert not schema.sensor_valid_on("Sentinel-2", dt.date(2014, 8, 1))
    assert schema.sensor_valid_on("Landsat 9", dt.date(2022, 8, 1))

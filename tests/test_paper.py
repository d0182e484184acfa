"""The paper's published numbers kept in the package agree with the reference CSVs."""

from __future__ import annotations

import csv

import pytest

from facies_bench import paper, schema

FILES = {2: "table2_before_cl.csv", 3: "table3_after_cl.csv", 4: "table4_after_cl_on_unpruned.csv"}


@pytest.mark.parametrize("table", [2, 3, 4])
def test_tables_match_reference(shared_dir, table):
    rows = list(csv.DictReader(open(shared_dir / "reference" / "paper" / FILES[table])))
    assert len(rows) == 4
    for row in rows:
        fs = int(row["feature_set"])
        for metric in ("precision", "recall", "f1"):
            expected = [row[f"{metric}_{k}"] for k in schema.CLASS_KEYS] + [row[f"{metric}_avg"]]
            assert paper.TABLES[table][fs][metric] == [float(v) if v else None for v in expected]
        if table == 3:
            expected = [row.get(f"pruned_{k}") or None for k in schema.CLASS_KEYS] + [row["pruned_overall"]]
            assert paper.TABLES[3][fs]["pruned"] == [float(v) if v else None for v in expected]


def test_headline_matches_reference(shared_dir):
    stats = dict(csv.reader(open(shared_dir / "reference" / "paper" / "dataset_stats.csv")))
    for key, value in paper.HEADLINE.items():
        assert float(stats[key]) == value, key


def test_schema_glaciers_match_reference(shared_dir):
    rows = list(csv.DictReader(open(shared_dir / "reference" / "paper" / "glaciers.csv")))
    assert [r["name"] for r in rows] == list(schema.GLACIER_NAMES)
    for r, g in zip(rows, schema.GLACIERS, strict=True):
        assert r["region"] == g.region and r["glacier_type"] == g.glacier_type
        assert float(r["approx_min_elev_m"]) == g.min_elev_m and float(r["approx_max_elev_m"]) == g.max_elev_m


def test_feature_sets_match_reference(shared_dir):
    rows = list(csv.DictReader(open(shared_dir / "reference" / "paper" / "feature_sets.csv")))
    for r in rows:
        assert tuple(r["features"].split(";")) == schema.FEATURE_SETS[int(r["feature_set"])]

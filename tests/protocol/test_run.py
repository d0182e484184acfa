"""The merge step: refuses incomplete runs, writes the run layout and mean ± std across seeds."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.data.store import open_store
from facies_bench.errors import FaciesBenchError, IncompleteRunError
from facies_bench.protocol import ProtocolConfig, load_submission, make_executor, merge_run, run_protocol


@pytest.fixture(scope="module")
def two_seed_run(tiny_store, tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    run_dir = tmp_path_factory.mktemp("run") / "two_seeds"
    config = ProtocolConfig(quick=True, epochs=2, folds=(0, 1), seeds=(0, 1), n_bootstrap=20)
    return run_protocol("test_cnn", tiny_store, config, run_dir), config


def test_layout_and_result_json(two_seed_run, tiny_store):
    run, config = two_seed_run
    root = run.run_dir
    result = json.loads(open(f"{root}/result.json").read())
    expected = {"schema_version", "protocol_version", "package_version", "created", "model", "store", "variant",
                "feature_set", "features", "seeds", "folds", "epochs", "recipe", "hardware", "wall_time_s",
                "predictions", "validation_predictions", "metrics"}
    assert set(result) == expected
    assert result["model"]["name"] == "test_cnn" and result["model"]["kind"] == "torch"
    assert result["model"]["n_parameters"] > 0 and len(result["model"]["submission_sha256"]) == 64
    assert "path" not in result["store"] and result["store"]["content_hash"] == tiny_store.content_hash
    assert result["seeds"] == [0, 1] and result["folds"] == [0, 1] and result["epochs"] == 2
    assert result["feature_set"] == 4 and result["features"] == list(schema.FEATURE_SETS[4])
    assert set(result["wall_time_s"]) == {u.unit_id for u in run.units}
    assert result["hardware"]["torch_version"] and result["hardware"]["cpu_count"]
    for seed in ("0", "1"):
        pred = pd.read_parquet(f"{root}/{result['predictions'][seed]['path']}")
        test_ids = np.concatenate([tiny_store.column("sample_id")[tiny_store.fold_rows(k)] for k in (0, 1)])
        assert sorted(pred["sample_id"]) == sorted(test_ids)
        val = pd.read_parquet(f"{root}/{result['validation_predictions'][seed]['path']}")
        assert set(val["model_fold"]) == {0, 1}
        report = json.loads(open(f"{root}/report/seed{seed}/raw/report.json").read())
        assert report["overall"]["macro_f1"] == result["metrics"]["unpruned"]["per_seed"][seed]["macro_f1"]
        for name in ("report.md", "confusion_matrix.png", "reliability.png"):
            assert (run.reports and open(f"{root}/report/seed{seed}/raw/{name}", "rb").read())
    assert result["metrics"]["cleaned"] is None  # the tiny store has no cleaned variant


def test_mean_and_std_across_seeds(two_seed_run):
    run, _ = two_seed_run
    block = run.result["metrics"]["unpruned"]
    for metric in ("macro_f1", "accuracy", "mean_iou", "ece_100"):
        values = [block["per_seed"][s][metric] for s in ("0", "1")]
        assert block["mean"][metric] == pytest.approx(np.mean(values))
        assert block["std"][metric] == pytest.approx(np.std(values, ddof=1))
    per_class = block["mean"]["per_class_f1"]
    assert set(per_class) == set(schema.CLASS_KEYS)


def test_merge_refuses_incomplete_run(two_seed_run, tiny_store, tmp_path):
    run, config = two_seed_run
    copy = tmp_path / "copy"
    shutil.copytree(run.run_dir, copy)
    victim = run.units[1]
    (copy / "units" / victim.unit_id / "unit.json").unlink()
    sub = load_submission("test_cnn")
    with pytest.raises(IncompleteRunError, match=f"1 of 4 work units missing - {victim.unit_id} \\(seed 0 fold 1\\)"):
        merge_run(copy, tiny_store, submission=sub, config=config, units=run.units)


def test_cleaned_variant_scored_and_trained_on(tiny_store_copy, tmp_path):
    store = open_store(tiny_store_copy, mode="r+")
    labels = store.labels("raw").copy()
    labels[::7] = schema.PRUNED
    store.write_label_variant("cl_test", labels, {"method": "every 7th pruned"})
    raw_run = run_protocol("test_logreg", store, ProtocolConfig(folds=(0, 1), n_bootstrap=10), tmp_path / "raw")
    cleaned = raw_run.result["metrics"]["cleaned"]
    assert cleaned["variant"] == "cl_test" and raw_run.result["variant"] == "raw"
    assert (tmp_path / "raw" / "report" / "seed0" / "cl_test" / "report.json").exists()
    clean_run = run_protocol("test_logreg", store, ProtocolConfig(variant="cleaned", folds=(0, 1), n_bootstrap=10), tmp_path / "cl")
    assert clean_run.result["variant"] == "cl_test"
    record = json.loads((tmp_path / "cl" / "units" / clean_run.units[0].unit_id / "unit.json").read_text())
    assert record["n_train_pruned"] > 0
    assert clean_run.units[0].unit_id != raw_run.units[0].unit_id


def test_ray_missing_says_how_to_install(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(FaciesBenchError, match=r"pip install 'facies-bench\[ray\]'"):
        make_executor("ray")

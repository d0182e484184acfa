"""The full evaluator on the tiny store: every number against scikit-learn, known answers, files, CLI."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score, jaccard_score, precision_recall_fscore_support

from facies_bench import schema
from facies_bench.data.store import open_store
from facies_bench.errors import PredictionsError
from facies_bench.evaluation import evaluate_frame, evaluate_predictions, load_calibrators, load_report
from facies_bench.evaluation.bootstrap import bootstrap_glaciers
from facies_bench.evaluation.metric_table import get_metric, per_class_metrics
from facies_bench.evaluation.metrics import confusion_counts, expected_calibration_error
from facies_bench.evaluation.report import EvaluationReport
from facies_bench.predictions import write_predictions

ALL = list(range(schema.N_CLASSES))


@pytest.fixture(scope="module")
def report(tiny_store, tiny_predictions, tiny_validation):
    return evaluate_predictions(tiny_predictions, tiny_store, validation_predictions=tiny_validation, n_bootstrap=200, seed=3)


def _check_block(block, y_true, y_pred):
    present = sorted(set(y_true.tolist()))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ALL, zero_division=0)
    iou = jaccard_score(y_true, y_pred, labels=ALL, average=None, zero_division=0)
    assert block["n"] == len(y_true)
    assert block["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert block["macro_f1"] == pytest.approx(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    assert block["mean_iou"] == pytest.approx(jaccard_score(y_true, y_pred, labels=present, average="macro", zero_division=0))
    mp, mr, _, _ = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    assert (block["macro_precision"], block["macro_recall"]) == pytest.approx((mp, mr))
    for c, key in enumerate(schema.CLASS_KEYS):
        entry = block["per_class"][key]
        assert entry["support"] == s[c]
        if c in present:
            assert (entry["precision"], entry["recall"], entry["f1"], entry["iou"]) == pytest.approx((p[c], r[c], f[c], iou[c]))
        else:
            assert entry["precision"] is entry["recall"] is entry["f1"] is entry["iou"] is None


def test_every_group_matches_sklearn(report, tiny_meta, tiny_predictions):
    d = report.to_dict()
    y_true = tiny_meta["label"].to_numpy()
    y_pred = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    _check_block(d["overall"], y_true, y_pred)
    assert d["overall"]["confusion"]["counts"] == confusion_counts(y_true, y_pred).tolist()
    for col, key in (("region", "by_region"), ("sensor", "by_sensor")):
        assert set(d[key]) == set(tiny_meta[col])
        for name, block in d[key].items():
            rows = (tiny_meta[col] == name).to_numpy()
            _check_block(block, y_true[rows], y_pred[rows])
    for k, block in d["by_fold"].items():
        rows = (tiny_meta["fold"] == int(k)).to_numpy()
        _check_block(block, y_true[rows], y_pred[rows])
    per_glacier = d["glacier_wise"]["per_glacier"]
    f1s = []
    for name, g in per_glacier.items():
        rows = (tiny_meta["glacier"] == name).to_numpy()
        present = sorted(set(y_true[rows].tolist()))
        f1s.append(f1_score(y_true[rows], y_pred[rows], labels=present, average="macro"))
        assert g["macro_f1"] == pytest.approx(f1s[-1])
        assert g["fold"] == int(tiny_meta.loc[rows, "fold"].iloc[0])
    assert d["glacier_wise"]["mean_f1"] == pytest.approx(np.mean(f1s))
    assert d["glacier_wise"]["std_f1"] == pytest.approx(np.std(f1s))


def test_report_keys_and_provenance(report, tiny_store):
    d = json.loads(json.dumps(report.to_dict(), allow_nan=False))  # strict JSON
    assert d["schema_version"] == 1
    for key in ("overall", "by_region", "by_sensor", "by_fold", "glacier_wise", "bootstrap", "calibration", "coverage",
                "spearman_n_f1", "provenance", "package_version"):
        assert key in d
    prov = d["provenance"]
    assert prov["store"]["content_hash"] == tiny_store.content_hash
    assert prov["store"]["name"] == tiny_store.name and prov["store"]["version"] == tiny_store.version
    assert prov["variant"] == "raw" and prov["n_bootstrap"] == 200 and prov["seed"] == 3
    assert len(prov["predictions"]["sha256"]) == 64
    assert d["coverage"]["complete"] and d["coverage"]["note"] is None
    fractions = [d["overall"]["accuracy"], d["calibration"]["ece_100"], d["calibration"]["ece_100_calibrated"]]
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert set(report.summary()) >= {"accuracy", "macro_f1", "macro_f1_ci", "glacier_f1_mean", "ece_100_calibrated", "per_class_f1"}


def test_calibration_section(report, tiny_meta, tiny_predictions):
    cal = report.to_dict()["calibration"]
    probs = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy()
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == tiny_meta["label"].to_numpy()
    assert cal["calibrated"] is True and cal["note"] is None
    assert cal["ece_100"] == pytest.approx(expected_calibration_error(conf, correct))
    folds = tiny_meta["fold"].to_numpy()
    calibrated = np.empty_like(conf)
    for k, c in report.calibrators.items():
        calibrated[folds == k] = c.predict(conf[folds == k])
    assert cal["ece_100_calibrated"] == pytest.approx(expected_calibration_error(calibrated, correct))
    assert cal["per_fold"]["2"]["ece_100"] == pytest.approx(expected_calibration_error(conf[folds == 2], correct[folds == 2]))
    pred = probs.argmax(axis=1)
    assert cal["per_class"]["snow"]["ece_100"] == pytest.approx(expected_calibration_error(conf[pred == 1], correct[pred == 1]))
    assert sum(cal["reliability"]["before"]["count"]) == len(conf)
    assert set(cal["validation"]["per_model_fold"]) == {str(k) for k in range(schema.N_FOLDS)}


def test_no_validation_means_not_calibrated(tiny_store, tiny_predictions):
    d = evaluate_predictions(tiny_predictions, tiny_store, n_bootstrap=0).to_dict()
    assert d["calibration"]["calibrated"] is False
    assert d["calibration"]["ece_100_calibrated"] is None
    assert "Calibration was not run" in d["calibration"]["note"]
    assert d["bootstrap"]["n_resamples"] == 0 and d["bootstrap"]["macro_f1"]["low"] is None


def _known_metadata(predictions_frame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three glaciers with hand-computed macro-F1 11/15, 1 and 1/3."""
    glaciers = ["Gebroulaz", "Engabreen", "Kongsvegen"]
    label = [0, 0, 1, 1, 2, 2, 0, 3]
    pred = [0, 0, 1, 0, 2, 2, 3, 3]
    glacier = [glaciers[0]] * 4 + [glaciers[1]] * 2 + [glaciers[2]] * 2
    fold = [0] * 4 + [1] * 2 + [2] * 2
    meta = pd.DataFrame({"sample_id": np.arange(8) + 100, "label": label, "fold": fold, "glacier": glacier,
                         "region": [schema.glacier_region(g) for g in glacier], "sensor": "Sentinel-2"})
    probs = np.full((8, schema.N_CLASSES), 0.1 / 7)
    probs[np.arange(8), pred] = 0.9
    return meta, predictions_frame(meta["sample_id"].to_numpy(), probs)


def test_glacier_wise_known_answer(make_predictions_frame):
    meta, preds = _known_metadata(make_predictions_frame)
    d = evaluate_frame(preds, meta, n_bootstrap=0).to_dict()
    gw = d["glacier_wise"]
    expected = [11 / 15, 1.0, 1 / 3]
    assert [g["macro_f1"] for g in gw["per_glacier"].values()] == pytest.approx(expected)
    assert list(gw["per_glacier"]) == ["Gebroulaz", "Engabreen", "Kongsvegen"]  # schema order
    assert gw["mean_f1"] == pytest.approx(sum(expected) / 3)
    assert gw["std_f1"] == pytest.approx(np.sqrt(np.mean((np.array(expected) - sum(expected) / 3) ** 2)))
    assert gw["per_glacier"]["Engabreen"]["n_classes_present"] == 1
    # Classes absent from a region are null, never 0: Scandinavia (Engabreen) has debris only.
    scand = d["by_region"]["Scandinavia"]["per_class"]
    assert scand["debris"]["f1"] == 1.0 and scand["ice"]["f1"] is None and scand["ice"]["support"] == 0
    # In report.md the first Scandinavia row is the precision table: ice empty, debris 100.0, n table has 0.
    md = EvaluationReport(d).to_markdown().splitlines()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in md if line.startswith("| Scandinavia |")]
    assert len(rows) == len(per_class_metrics()) + 1  # one table per per-class score, then n
    assert rows[0][1] == "" and rows[0][3] == "100.0" and rows[0][-1] == "100.0"
    assert rows[-1][1] == "0" and rows[-1][3] == "2"


def test_bootstrap_deterministic_and_contains_estimate(tiny_meta, tiny_predictions):
    y_true = tiny_meta["label"].to_numpy()
    y_pred = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    codes, names = pd.factorize(tiny_meta["glacier"])
    cm = confusion_counts(y_true, y_pred, groups=codes, n_groups=len(names))
    a = bootstrap_glaciers(cm, n_resamples=300, seed=7)
    b = bootstrap_glaciers(cm, n_resamples=300, seed=7)
    c = bootstrap_glaciers(cm, n_resamples=300, seed=8)
    np.testing.assert_array_equal(a.values["macro_f1"], b.values["macro_f1"])
    assert not np.array_equal(a.values["macro_f1"], c.values["macro_f1"])
    estimate = f1_score(y_true, y_pred, average="macro")
    low, high = a.interval("macro_f1")
    assert low < estimate < high
    low, high = a.interval("accuracy")
    assert low < accuracy_score(y_true, y_pred) < high
    # Each resample equals scikit-learn on the concatenated samples of the drawn glaciers.
    draws = np.random.default_rng(7).integers(0, len(names), size=(300, len(names)))
    for r in range(3):
        rows = np.concatenate([np.flatnonzero(codes == g) for g in draws[r]])
        present = sorted(set(y_true[rows].tolist()))
        assert a.values["macro_f1"][r] == pytest.approx(f1_score(y_true[rows], y_pred[rows], labels=present, average="macro"))
        assert a.values["accuracy"][r] == pytest.approx(accuracy_score(y_true[rows], y_pred[rows]))


def test_cleaned_variant_scores_unpruned_only(tiny_store_copy, tiny_predictions):
    store = open_store(tiny_store_copy, mode="r+")
    labels = store.labels("raw").copy()
    pruned = np.zeros(len(labels), bool)
    pruned[::7] = True
    labels[pruned] = schema.PRUNED
    store.write_label_variant("cl", labels, {"method": "test"})
    d = evaluate_predictions(tiny_predictions, store, variant="cleaned", n_bootstrap=0).to_dict()
    assert d["provenance"]["variant"] == "cl"
    assert d["coverage"]["n_scored"] == (~pruned).sum() and d["coverage"]["n_ignored_pruned"] == pruned.sum()
    y_pred = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    keep = ~pruned
    assert d["overall"]["macro_f1"] == pytest.approx(f1_score(labels[keep], y_pred[keep], average="macro"))
    only_unpruned = evaluate_predictions(tiny_predictions[keep], store, variant="cl", n_bootstrap=0).to_dict()
    assert only_unpruned["overall"] == d["overall"]
    with pytest.raises(PredictionsError, match=r"83 sample\(s\) of fold\(s\) 0, 1, 2, 3, 4, 5 have no prediction"):
        evaluate_predictions(tiny_predictions[keep], store, variant="raw", n_bootstrap=0)  # raw scores every sample


def test_partial_run_is_scored_and_flagged(tiny_store, tiny_predictions):
    part = tiny_predictions[tiny_predictions["fold"].isin([1, 4])]
    d = evaluate_predictions(part, tiny_store, n_bootstrap=0).to_dict()
    cov = d["coverage"]
    assert not cov["complete"] and cov["folds"] == [1, 4] and cov["missing_folds"] == [0, 2, 3, 5]
    assert "fold(s) 0, 2, 3, 5 are not covered" in cov["note"]
    assert set(d["by_fold"]) == {"1", "4"}
    assert "**Coverage:** Partial test predictions" in EvaluationReport(d).to_markdown()


def test_write_is_atomic(report, tmp_path, monkeypatch):
    out = report.write(tmp_path / "out")
    assert sorted(p.name for p in out.iterdir()) == ["confusion_matrix.png", "reliability.png", "report.json", "report.md"]
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert load_report(out).to_dict() == report.to_dict()
    before = (out / "report.json").read_bytes()

    import facies_bench.evaluation.plots as plots

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "plot_reliability", broken)
    for target in (tmp_path / "fresh", out):
        with pytest.raises(RuntimeError, match="disk full"):
            report.write(target)
    assert not (tmp_path / "fresh").exists()
    assert (out / "report.json").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary directory left


def test_cli_score(tiny_store_path, tiny_store, tiny_predictions, tiny_validation, tmp_path, capsys):
    from facies_bench.cli.main import main

    pred_path = write_predictions(tiny_predictions, tmp_path / "pred.parquet")
    val_path = write_predictions(tiny_validation, tmp_path / "val.csv")
    rc = main(["score", str(pred_path), "--store", str(tiny_store_path), "--validation-predictions", str(val_path),
               "--bootstrap", "50", "-o", str(tmp_path / "rep"), "--save-calibrators", str(tmp_path / "cal.json")])
    assert rc == 0
    out = capsys.readouterr().out
    assert get_metric("macro_f1").title in out and get_metric("ece_100_calibrated").title in out
    d = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert d["provenance"]["predictions"]["sha256"] == hashlib.sha256(pred_path.read_bytes()).hexdigest()
    assert d["bootstrap"]["n_resamples"] == 50
    expected = evaluate_predictions(tiny_predictions, tiny_store, n_bootstrap=0).to_dict()["overall"]
    assert d["overall"] == expected
    assert sorted(load_calibrators(tmp_path / "cal.json")) == list(range(schema.N_FOLDS))

    bad = tiny_predictions.drop(columns="p_water")
    bad.to_parquet(tmp_path / "bad.parquet", index=False)
    rc = main(["score", str(tmp_path / "bad.parquet"), "--store", str(tiny_store_path), "-o", str(tmp_path / "rep2")])
    assert rc == 2
    assert "bad.parquet: wrong probability columns" in capsys.readouterr().err
    assert not (tmp_path / "rep2").exists()

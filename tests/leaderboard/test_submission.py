"""Each validation rule of a leaderboard entry rejects a crafted bad result; a good one passes."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest
from runs import edit_result

from facies_bench import schema
from facies_bench.errors import ValidationError
from facies_bench.evaluation.metric_table import SUMMARY_VERSION, summary_keys
from facies_bench.leaderboard import validate_run


def _rewrite_predictions(run, rel: str, transform) -> None:
    """Rewrite a predictions file and record its new hash, as an honest-looking but bad run would."""
    path = run / rel
    frame = transform(pd.read_parquet(path))
    frame.to_parquet(path, index=False)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    kind = rel.split("/")[0]

    def edit(result):
        result[kind]["0"]["sha256"] = digest
    edit_result(run, edit)


def test_good_run_passes_and_matches_recomputation(good_run, lb_store):
    run = validate_run(good_run, lb_store)
    submitted = json.loads((good_run / "result.json").read_text())["metrics"]
    assert run.seeds == [0]
    assert run.cleaned_variant == "cl_test"
    assert run.metrics["unpruned"]["mean"]["macro_f1"] == pytest.approx(submitted["unpruned"]["mean"]["macro_f1"], abs=1e-12)
    assert run.metrics["cleaned"]["mean"]["accuracy"] == pytest.approx(submitted["cleaned"]["mean"]["accuracy"], abs=1e-12)
    assert set(run.reports[0]) == {"unpruned", "cleaned"}


@pytest.mark.parametrize("path, delta", [
    (("unpruned", "mean", "macro_f1"), 0.02),
    (("unpruned", "per_seed", "0", "accuracy"), 1e-4),
    (("cleaned", "mean", "ece_100_calibrated"), -0.01),
    (("unpruned", "mean", "per_class_f1", "refrozen"), 5e-6),
])
def test_tampered_metric_is_rejected(good_run, lb_store, path, delta):
    def edit(result):
        node = result["metrics"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] += delta
    edit_result(good_run, edit)
    with pytest.raises(ValidationError, match=r"differ from the standard evaluator.*" + path[-1]):
        validate_run(good_run, lb_store)


def test_tampered_interval_is_rejected(good_run, lb_store):
    edit_result(good_run, lambda r: r["metrics"]["unpruned"]["mean"]["macro_f1_ci"].__setitem__(0, 0.0))
    with pytest.raises(ValidationError, match=r"macro_f1_ci\[0\]"):
        validate_run(good_run, lb_store)


def test_missing_fold_is_rejected(good_run, lb_store):
    edit_result(good_run, lambda r: r.__setitem__("folds", [0, 1, 2, 3, 4]))
    with pytest.raises(ValidationError, match=r"all 6 test folds.*missing \[5\]"):
        validate_run(good_run, lb_store)


def test_predictions_missing_a_fold_are_rejected(good_run, lb_store):
    _rewrite_predictions(good_run, "predictions/seed0.parquet", lambda f: f[f["fold"] != 5])
    with pytest.raises(ValidationError, match=r"lack \d+ of the store's 576 samples"):
        validate_run(good_run, lb_store)


def test_missing_predictions_for_some_samples_are_rejected(good_run, lb_store):
    _rewrite_predictions(good_run, "predictions/seed0.parquet", lambda f: f.drop(index=[3, 100, 400]))
    with pytest.raises(ValidationError, match=r"lack 3 of the store's 576 samples"):
        validate_run(good_run, lb_store)


def test_validation_predictions_of_a_fold_model_missing_are_rejected(good_run, lb_store):
    _rewrite_predictions(good_run, "validation_predictions/seed0.parquet", lambda f: f[f["model_fold"] != 2])
    with pytest.raises(ValidationError, match=r"all 6 fold models"):
        validate_run(good_run, lb_store)


@pytest.mark.parametrize("key, value", [("content_hash", "blake2b:" + "0" * 32), ("version", "tiny-9"),
                                        ("name", "another-dataset")])
def test_wrong_store_is_rejected(good_run, lb_store, key, value):
    edit_result(good_run, lambda r: r["store"].__setitem__(key, value))
    with pytest.raises(ValidationError, match=f"store {key}"):
        validate_run(good_run, lb_store)


def test_wrong_protocol_version_is_rejected(good_run, lb_store):
    edit_result(good_run, lambda r: r.__setitem__("protocol_version", "0.9"))
    with pytest.raises(ValidationError, match=rf"protocol_version is '0.9'.*{schema.PROTOCOL_VERSION}"):
        validate_run(good_run, lb_store)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_bad_schema_version_is_rejected(good_run, lb_store, version):
    edit_result(good_run, lambda r: r.__setitem__("schema_version", version))
    with pytest.raises(ValidationError, match="schema_version"):
        validate_run(good_run, lb_store)


def test_missing_required_key_is_rejected(good_run, lb_store):
    edit_result(good_run, lambda r: r.pop("validation_predictions"))
    with pytest.raises(ValidationError, match="'validation_predictions' is missing"):
        validate_run(good_run, lb_store)


def test_predictions_changed_after_the_run_are_rejected(good_run, lb_store):
    path = good_run / "predictions" / "seed0.parquet"
    frame = pd.read_parquet(path)
    frame.iloc[0:5, 1:9] = frame.iloc[0:5, 1:9].to_numpy()[:, ::-1]
    frame.to_parquet(path, index=False)
    with pytest.raises(ValidationError, match="SHA-256"):
        validate_run(good_run, lb_store)


def test_prediction_path_outside_the_run_is_rejected(good_run, lb_store):
    edit_result(good_run, lambda r: r["predictions"]["0"].__setitem__("path", "../elsewhere/seed0.parquet"))
    with pytest.raises(ValidationError, match="inside the run directory"):
        validate_run(good_run, lb_store)


def test_too_few_bootstrap_resamples_are_rejected(good_run, lb_store):
    (good_run / "plan.json").write_text(json.dumps({"config": {"n_bootstrap": 50}}))
    with pytest.raises(ValidationError, match="50 bootstrap resamples"):
        validate_run(good_run, lb_store)


def test_missing_run_directory_is_a_clear_error(tmp_path, lb_store):
    with pytest.raises(ValidationError, match="does not exist"):
        validate_run(tmp_path / "nope", lb_store)


@pytest.fixture()
def newer_table(monkeypatch):
    """The metric table as a later release would have it: one more metric, in the next summary version."""
    from facies_bench.evaluation import metric_table
    from facies_bench.leaderboard import submission

    version = metric_table.SUMMARY_VERSION + 1
    macro_recall = metric_table.get_metric("macro_recall").from_confusion
    extra = metric_table.Metric("balanced_error", "Balanced error", "One minus the macro recall.", higher_is_better=False,
                                since=version, from_confusion=lambda cm: 1.0 - macro_recall(cm))
    monkeypatch.setattr(metric_table, "METRICS", (*metric_table.METRICS, extra))
    monkeypatch.setattr(metric_table, "_BY_KEY", {**metric_table._BY_KEY, extra.key: extra})
    monkeypatch.setattr(metric_table, "SUMMARY_VERSION", version)
    monkeypatch.setattr(submission, "SUMMARY_VERSION", version)
    return extra


def test_a_run_without_summary_version_is_version_1(good_run, lb_store):
    def as_version_1(result):
        metrics = result["metrics"]
        del metrics["summary_version"]
        for block in (metrics["unpruned"], metrics["cleaned"]):
            for summary in (*block["per_seed"].values(), block["mean"], block["std"]):
                for key in set(summary) - set(summary_keys(1)):
                    del summary[key]
    edit_result(good_run, as_version_1)
    validate_run(good_run, lb_store)


def test_an_older_run_validates_against_its_own_summary_keys(good_run, lb_store, newer_table):
    assert json.loads((good_run / "result.json").read_text())["metrics"]["summary_version"] < newer_table.since
    run = validate_run(good_run, lb_store)
    mean = run.metrics["unpruned"]["mean"]
    assert run.metrics["summary_version"] == newer_table.since
    assert mean[newer_table.key] == pytest.approx(1.0 - mean["macro_recall"])  # recomputed for the board all the same


def test_a_run_of_the_newer_version_must_hold_its_new_keys(good_run, lb_store, newer_table):
    edit_result(good_run, lambda r: r["metrics"].__setitem__("summary_version", newer_table.since))
    with pytest.raises(ValidationError, match=r"metrics\.unpruned\.mean\.balanced_error missing"):
        validate_run(good_run, lb_store)


@pytest.mark.parametrize("version", [0, SUMMARY_VERSION + 1, "1", None])
def test_unknown_summary_version_is_rejected(good_run, lb_store, version):
    edit_result(good_run, lambda r: r["metrics"].__setitem__("summary_version", version))
    with pytest.raises(ValidationError, match=r"metrics\.summary_version: Summary version .* is unknown"):
        validate_run(good_run, lb_store)

"""Each validation rule of a leaderboard entry rejects a crafted bad result; a good one passes."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.errors import ValidationError
from facies_bench.leaderboard import validate_run
from runs import edit_result


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

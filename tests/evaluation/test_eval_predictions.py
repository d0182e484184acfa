"""Reading, validating and writing predictions files; every bad input is a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.errors import PredictionsError, UnknownNameError
from facies_bench.evaluation import evaluate_predictions
from facies_bench.predictions import SUM_TOLERANCE, read_predictions, write_predictions


@pytest.mark.parametrize("suffix", [".parquet", ".npz", ".csv"])
def test_write_read_round_trip(tmp_path, tiny_predictions, suffix):
    path = write_predictions(tiny_predictions, tmp_path / f"p{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"p{suffix}"]
    back = read_predictions(path, kind="test")
    assert list(back.columns) == ["sample_id", *schema.PROBABILITY_COLUMNS, "fold"]
    assert back["sample_id"].dtype == np.int64
    np.testing.assert_allclose(back[list(schema.PROBABILITY_COLUMNS)].to_numpy(),
                               tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy(), rtol=1e-12)


def test_npz_with_pred_probs_matrix(tmp_path, tiny_predictions):
    probs = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy()
    np.savez(tmp_path / "m.npz", sample_id=tiny_predictions["sample_id"].to_numpy(), pred_probs=probs)
    back = read_predictions(tmp_path / "m.npz")
    np.testing.assert_array_equal(back[list(schema.PROBABILITY_COLUMNS)].to_numpy(), probs)
    np.savez(tmp_path / "bad.npz", sample_id=tiny_predictions["sample_id"].to_numpy(), pred_probs=probs[:, :7])
    with pytest.raises(PredictionsError, match=r"bad\.npz.*axis 1 must have 8 classes"):
        read_predictions(tmp_path / "bad.npz")


def _bad(tmp_path, frame: pd.DataFrame, name: str = "bad.parquet"):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def _score(path, store, **kw):
    return evaluate_predictions(path, store, n_bootstrap=10, **kw)


def test_missing_predictions_of_a_covered_fold(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.drop(index=[3, 7])
    path = _bad(tmp_path, frame)
    with pytest.raises(PredictionsError, match=r"bad\.parquet: 2 sample\(s\) of fold\(s\) 0 have no prediction: sample_id 3, 7"):
        _score(path, tiny_store)


def test_duplicated_sample_ids(tmp_path, tiny_store, tiny_predictions):
    frame = pd.concat([tiny_predictions, tiny_predictions.iloc[[5]]], ignore_index=True)
    with pytest.raises(PredictionsError, match=r"bad\.parquet: duplicated sample_id in 2 row\(s\): 5 \(sample_id 5\)"):
        _score(_bad(tmp_path, frame), tiny_store)


def test_ids_not_in_store(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.copy()
    frame.loc[10, "sample_id"] = 10_000_000
    with pytest.raises(PredictionsError, match=r"bad\.parquet: sample_id not in the store in 1 row\(s\): 10 \(sample_id 10000000\)"):
        _score(_bad(tmp_path, frame), tiny_store)


def test_missing_sample_id_values(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.astype({"sample_id": "float64"})
    frame.loc[4, "sample_id"] = np.nan
    with pytest.raises(PredictionsError, match=r"'sample_id' has missing or non-integer values in 1 row\(s\): 4"):
        _score(_bad(tmp_path, frame), tiny_store)


@pytest.mark.parametrize("change, pattern", [
    (lambda f: f.drop(columns="p_cloud"), r"found 7 .*missing p_cloud\. Expected exactly 8: p_ice"),
    (lambda f: f.rename(columns={"p_refrozen": "p_refrozen-like"}), r"found 8 .*; missing p_refrozen; unknown p_refrozen-like"),
    (lambda f: f.assign(p_extra=0.0), r"found 9 .*unknown p_extra"),
])
def test_wrong_probability_columns(tmp_path, tiny_store, tiny_predictions, change, pattern):
    with pytest.raises(PredictionsError, match=r"bad\.parquet: wrong probability columns: " + pattern):
        _score(_bad(tmp_path, change(tiny_predictions)), tiny_store)


@pytest.mark.parametrize("value, pattern", [
    (np.nan, "NaN, infinite or non-numeric probabilities"), (np.inf, "NaN, infinite or non-numeric probabilities"),
    (-0.2, "negative probabilities"),
])
def test_non_finite_and_negative(tmp_path, tiny_store, tiny_predictions, value, pattern):
    frame = tiny_predictions.copy()
    frame.loc[[12, 40], "p_snow"] = value
    with pytest.raises(PredictionsError, match=rf"bad\.parquet: {pattern} in 2 row\(s\): 12 \(sample_id 12\), 40 \(sample_id 40\)"):
        _score(_bad(tmp_path, frame), tiny_store)


def test_rows_not_summing_to_one(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.copy()
    frame.loc[8, "p_ice"] += 5 * SUM_TOLERANCE
    with pytest.raises(PredictionsError, match=r"do not sum to 1 \(tolerance 0\.001\) in 1 row\(s\): 8 \(sample_id 8\)"):
        _score(_bad(tmp_path, frame), tiny_store)
    within = tiny_predictions.copy()
    within.loc[8, "p_ice"] += 0.5 * SUM_TOLERANCE
    assert _score(_bad(tmp_path, within, "ok.parquet"), tiny_store).to_dict()["coverage"]["n_scored"] == len(within)


def test_logits_are_rejected(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.copy()
    cols = list(schema.PROBABILITY_COLUMNS)
    frame[cols] = np.log(frame[cols].to_numpy()) + 10.0  # positive logits
    with pytest.raises(PredictionsError, match="softmax outputs, not logits"):
        _score(_bad(tmp_path, frame), tiny_store)


def test_unknown_variant(tiny_store, tiny_predictions):
    with pytest.raises(UnknownNameError, match="Unknown label variant 'nope'"):
        evaluate_predictions(tiny_predictions, tiny_store, variant="nope")


def test_fold_column_must_match_store(tmp_path, tiny_store, tiny_predictions):
    frame = tiny_predictions.copy()
    frame.loc[0, "fold"] = (frame.loc[0, "fold"] + 1) % schema.N_FOLDS
    with pytest.raises(PredictionsError, match=r"bad\.parquet: column 'fold' disagrees .* 1 row\(s\): 0 \(sample_id 0\)"):
        _score(_bad(tmp_path, frame), tiny_store)


def test_validation_predictions_checks(tmp_path, tiny_store, tiny_predictions, tiny_validation):
    no_model_fold = tiny_validation.drop(columns="model_fold")
    with pytest.raises(PredictionsError, match=r"val\.parquet: validation predictions need a 'model_fold' column"):
        _score(tiny_predictions, tiny_store, validation_predictions=_bad(tmp_path, no_model_fold, "val.parquet"))
    wrong_fold = tiny_validation.copy()
    wrong_fold.loc[2, "model_fold"] = wrong_fold.loc[2, "model_fold"] % schema.N_FOLDS + 1
    with pytest.raises(PredictionsError, match=r"val2\.parquet: samples outside their model's validation fold in 1 row\(s\): 2"):
        _score(tiny_predictions, tiny_store, validation_predictions=_bad(tmp_path, wrong_fold, "val2.parquet"))
    partial = tiny_validation[tiny_validation["model_fold"] != 4]
    with pytest.raises(PredictionsError, match=r"val3\.parquet: no validation predictions for the model\(s\) of test fold\(s\) 4"):
        _score(tiny_predictions, tiny_store, validation_predictions=_bad(tmp_path, partial, "val3.parquet"))


def test_file_level_problems(tmp_path, tiny_predictions):
    with pytest.raises(PredictionsError, match=r"suffix '\.txt'; valid: \.parquet"):
        read_predictions(tmp_path / "p.txt")
    with pytest.raises(PredictionsError, match="No predictions file at"):
        read_predictions(tmp_path / "absent.parquet")
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet")
    with pytest.raises(PredictionsError, match=r"Cannot read predictions file .*garbage\.parquet"):
        read_predictions(tmp_path / "garbage.parquet")
    with pytest.raises(PredictionsError, match="no 'sample_id' column"):
        read_predictions(tiny_predictions.drop(columns="sample_id"))
    with pytest.raises(PredictionsError, match="has no rows"):
        read_predictions(tiny_predictions.iloc[:0])
    with pytest.raises(PredictionsError):
        write_predictions(tiny_predictions.assign(p_ice=-1.0), tmp_path / "w.parquet")
    assert not (tmp_path / "w.parquet").exists()

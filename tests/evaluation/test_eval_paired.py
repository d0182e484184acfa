"""The paired comparison of two models against scikit-learn on hand-drawn glacier resamples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from facies_bench import schema
from facies_bench.errors import PredictionsError
from facies_bench.evaluation import compare_frames, compare_predictions
from facies_bench.evaluation.grouping import make_grouping
from facies_bench.predictions import write_predictions


@pytest.fixture(scope="module")
def two_models(tiny_meta, make_noisy_probabilities, make_predictions_frame):
    labels = tiny_meta["label"].to_numpy()
    sample_id, fold = tiny_meta["sample_id"].to_numpy(), tiny_meta["fold"].to_numpy()
    strong = make_predictions_frame(sample_id, make_noisy_probabilities(labels, seed=11, strength=2.5), fold=fold)
    weak = make_predictions_frame(sample_id, make_noisy_probabilities(labels, seed=12, strength=1.0), fold=fold)
    return strong, weak


def _pred(frame: pd.DataFrame) -> np.ndarray:
    return frame[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)


def test_differences_match_scikit_learn_on_the_same_resampled_glaciers(tiny_meta, two_models):
    strong, weak = two_models
    n_resamples, seed = 40, 5
    # B's rows shuffled: the comparison pairs samples by id, not by position
    result = compare_frames(strong, weak.sample(frac=1.0, random_state=0), tiny_meta, n_resamples=n_resamples, seed=seed)
    y_true, pred_a, pred_b = tiny_meta["label"].to_numpy(), _pred(strong), _pred(weak)
    macro = result.metrics["macro_f1"]
    assert macro.a == pytest.approx(f1_score(y_true, pred_a, average="macro"))
    assert macro.b == pytest.approx(f1_score(y_true, pred_b, average="macro"))
    assert macro.difference == pytest.approx(macro.a - macro.b) and macro.difference > 0
    assert result.metrics["accuracy"].a == pytest.approx(accuracy_score(y_true, pred_a))

    glaciers = make_grouping("glacier", tiny_meta["glacier"].to_numpy())
    draws = np.random.default_rng(seed).integers(0, glaciers.n_groups, size=(n_resamples, glaciers.n_groups))
    differences = []
    for drawn in draws:
        rows = np.concatenate([np.flatnonzero(glaciers.codes == g) for g in drawn])
        present = sorted(set(y_true[rows].tolist()))
        differences.append(f1_score(y_true[rows], pred_a[rows], labels=present, average="macro")
                           - f1_score(y_true[rows], pred_b[rows], labels=present, average="macro"))
    low, high = np.percentile(differences, [2.5, 97.5])
    assert (macro.low, macro.high) == pytest.approx((low, high))
    assert macro.share_a_ahead == pytest.approx(np.mean(np.array(differences) > 0))
    assert result.n_glaciers == glaciers.n_groups and result.n_samples == len(tiny_meta)

    by_fold = tiny_meta["fold"].to_numpy()
    for fold, (a, b) in result.by_fold.items():
        rows = by_fold == int(fold)
        assert a == pytest.approx(f1_score(y_true[rows], pred_a[rows], labels=sorted(set(y_true[rows])), average="macro"))
        assert b == pytest.approx(f1_score(y_true[rows], pred_b[rows], labels=sorted(set(y_true[rows])), average="macro"))


def test_a_model_against_itself_is_level(tiny_meta, two_models):
    strong, _ = two_models
    macro = compare_frames(strong, strong, tiny_meta, n_resamples=30).metrics["macro_f1"]
    assert (macro.difference, macro.low, macro.high, macro.share_a_ahead) == (0.0, 0.0, 0.0, 0.0)


def test_predictions_of_other_samples_are_refused(tiny_meta, two_models):
    strong, weak = two_models
    with pytest.raises(PredictionsError, match=r"<predictions A> and <predictions B> do not score the same samples"):
        compare_frames(strong, weak[weak["fold"] != 3], tiny_meta, n_resamples=10)


def test_cli_compare(tiny_store_path, tiny_store, two_models, tmp_path, capsys):
    from facies_bench.cli.main import main

    strong, weak = two_models
    path_a = write_predictions(strong, tmp_path / "a.parquet")
    path_b = write_predictions(weak, tmp_path / "b.parquet")
    rc = main(["compare", str(path_a), str(path_b), "--store", str(tiny_store_path), "--bootstrap", "30", "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    expected = compare_predictions(path_a, path_b, tiny_store, n_resamples=30).to_dict()
    assert d == json.loads(json.dumps(expected))
    assert d["a"] == str(path_a) and d["bootstrap"]["paired"] is True

    rc = main(["compare", str(path_a), str(path_b), "--store", str(tiny_store_path), "--bootstrap", "30"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "A − B" in out and "Macro-F1 by test fold" in out

    write_predictions(weak[weak["fold"] != 0], tmp_path / "part.parquet")
    rc = main(["compare", str(path_a), str(tmp_path / "part.parquet"), "--store", str(tiny_store_path)])
    assert rc != 0
    err = capsys.readouterr().err
    assert "part.parquet" in err and "do not score the same samples" in err

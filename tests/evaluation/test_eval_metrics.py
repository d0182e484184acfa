"""Metrics from confusion matrices against scikit-learn, and known answers for ECE."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, jaccard_score, precision_recall_fscore_support

from facies_bench import schema
from facies_bench.evaluation.grouping import make_grouping, size_f1_correlation
from facies_bench.evaluation.metrics import (
    confusion_counts,
    expected_calibration_error,
    reliability_curve,
    row_normalise,
    scores_from_confusion,
)

K = schema.N_CLASSES
ALL = list(range(K))


def _sklearn_scores(y_true, y_pred):
    present = sorted(set(y_true.tolist()))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=ALL, zero_division=0)
    macro = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    iou = jaccard_score(y_true, y_pred, labels=ALL, average=None, zero_division=0)
    miou = jaccard_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return present, p, r, f, s, iou, macro, miou


@pytest.mark.parametrize("classes", [ALL, [0, 1, 3, 5], [2]])
@pytest.mark.parametrize("seed", [0, 1])
def test_scores_match_sklearn(classes, seed):
    rng = np.random.default_rng(seed)
    y_true = rng.choice(classes, size=500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(0, K, 500))
    cm = confusion_counts(y_true, y_pred)
    np.testing.assert_array_equal(cm, confusion_matrix(y_true, y_pred, labels=ALL))
    scores = scores_from_confusion(cm)
    present, p, r, f, s, iou, macro, miou = _sklearn_scores(y_true, y_pred)
    absent = [c for c in ALL if c not in present]
    np.testing.assert_allclose(scores.precision[present], p[present])
    np.testing.assert_allclose(scores.recall[present], r[present])
    np.testing.assert_allclose(scores.f1[present], f[present])
    np.testing.assert_allclose(scores.iou[present], iou[present])
    np.testing.assert_array_equal(scores.support, s)
    assert np.isnan(scores.f1[absent]).all() and np.isnan(scores.precision[absent]).all()
    np.testing.assert_allclose([scores.macro_precision, scores.macro_recall, scores.macro_f1], macro[:3])
    assert scores.mean_iou == pytest.approx(miou)
    assert scores.accuracy == pytest.approx(accuracy_score(y_true, y_pred))
    assert scores.n_present == len(present)


def test_grouped_scores_match_per_group_sklearn():
    rng = np.random.default_rng(3)
    n = 2000
    groups = rng.integers(0, 5, n)
    y_true = rng.integers(0, K, n)
    y_true[groups == 2] = rng.choice([0, 4], size=(groups == 2).sum())  # a group with two classes
    y_pred = np.where(rng.random(n) < 0.5, y_true, rng.integers(0, K, n))
    cm = confusion_counts(y_true, y_pred, groups=groups, n_groups=6)  # group 5 is empty
    scores = scores_from_confusion(cm)
    for g in range(5):
        rows = groups == g
        present, p, r, f, s, iou, macro, miou = _sklearn_scores(y_true[rows], y_pred[rows])
        np.testing.assert_allclose(scores.f1[g][present], f[present])
        assert scores.macro_f1[g] == pytest.approx(macro[2])
        assert scores.mean_iou[g] == pytest.approx(miou)
        assert scores.accuracy[g] == pytest.approx(accuracy_score(y_true[rows], y_pred[rows]))
    assert scores.n[5] == 0 and np.isnan(scores.macro_f1[5]) and np.isnan(scores.accuracy[5])


def test_row_normalise_has_null_rows_for_absent_classes():
    cm = np.zeros((K, K))
    cm[0, 0], cm[0, 1], cm[2, 2] = 3, 1, 5
    rows = row_normalise(cm)
    np.testing.assert_allclose(rows[0, :2], [0.75, 0.25])
    assert rows[2, 2] == 1.0
    assert np.isnan(rows[1]).all()


def test_ece_known_answer():
    conf = np.array([0.95, 0.95, 0.55, 0.55, 0.25])
    correct = np.array([1, 0, 1, 1, 0], bool)
    # bins 95: |0.5 - 0.95| x 2; 55: |1 - 0.55| x 2; 25: |0 - 0.25| x 1 -> (0.9 + 0.9 + 0.25) / 5
    assert expected_calibration_error(conf, correct) == pytest.approx(0.41)
    # Two confidences in one bin are averaged before the gap is taken.
    assert expected_calibration_error(np.array([0.951, 0.959]), np.array([1, 1], bool)) == pytest.approx(0.045)
    # Ten bins: 0.95 and 0.91 share bin 9.
    assert expected_calibration_error(np.array([0.95, 0.91]), np.array([1, 0], bool), n_bins=10) == pytest.approx(0.43)


def test_ece_edges_and_groups():
    curve = reliability_curve(np.array([0.0, 1.0, 1.0]), np.array([0, 1, 1], bool))
    assert curve.count[0] == 1 and curve.count[-1] == 2 and curve.ece == 0.0
    assert np.isnan(curve.accuracy[50])
    rng = np.random.default_rng(4)
    conf = rng.random(300)
    correct = rng.random(300) < conf
    groups = rng.integers(0, 3, 300)
    per_group = expected_calibration_error(conf, correct, groups=groups, n_groups=4)
    for g in range(3):
        assert per_group[g] == pytest.approx(expected_calibration_error(conf[groups == g], correct[groups == g]))
    assert np.isnan(per_group[3])


def test_make_grouping_uses_schema_order():
    g = make_grouping("region", np.array(["Svalbard", "Alps", "Svalbard", "Iceland"]))
    assert g.names == ("Alps", "Iceland", "Svalbard")
    np.testing.assert_array_equal(g.codes, [2, 0, 2, 1])


def test_spearman_reproduces_paper_table5(shared_dir):
    import pandas as pd

    table = pd.read_csv(shared_dir / "reference" / "paper" / "table5_per_region.csv")
    n = table[[f"n_{k}" for k in schema.CLASS_KEYS]].to_numpy(dtype=float)
    f1 = table[[f"f1_{k}" for k in schema.CLASS_KEYS]].to_numpy(dtype=float) / 100
    result = size_f1_correlation(n, f1)
    assert result["n_cells"] == 32
    assert result["rho"] == pytest.approx(0.525, abs=5e-4)
    assert result["p_value"] < 0.01

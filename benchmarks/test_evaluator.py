"""Speed of the standard evaluator on a dataset of the paper's size.

A full report (every metric, 1,000 glacier bootstrap resamples, per-fold calibration) for 137,592
predictions of 31 glaciers in 6 folds, through the store-free entry point ``evaluate_frame``.
Run with ``python -m pytest benchmarks/test_evaluator.py --benchmark-enable -q``.  The figure to
report is the ratio of the full report to the comparison measured in the same run: one pass of
``sklearn.metrics.precision_recall_fscore_support`` over the same predictions (goal: full report
under 3 s on the development machine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.evaluation import evaluate_frame

N_SAMPLES = 137_592
CLASS_SHARE = np.array([0.32, 0.24, 0.12, 0.12, 0.07, 0.015, 0.01, 0.005])


def make_benchmark_inputs(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Metadata, test predictions and validation predictions of paper size (synthetic)."""
    rng = np.random.default_rng(seed)
    glaciers = schema.GLACIERS
    fold_of = {g.name: i % schema.N_FOLDS for i, g in enumerate(glaciers)}
    share = rng.dirichlet(np.full(len(glaciers), 2.0))
    glacier = rng.choice(len(glaciers), size=N_SAMPLES, p=share)
    fold = np.array([fold_of[glaciers[i].name] for i in glacier])
    order = np.lexsort((glacier, fold))
    glacier, fold = glacier[order], fold[order]
    label = rng.choice(schema.N_CLASSES, size=N_SAMPLES, p=CLASS_SHARE / CLASS_SHARE.sum())
    names = np.array(schema.GLACIER_NAMES, dtype=object)
    regions = np.array([g.region for g in glaciers], dtype=object)
    sensors = np.array(schema.SENSOR_NAMES, dtype=object)
    metadata = pd.DataFrame({"sample_id": np.arange(N_SAMPLES, dtype=np.int64), "label": label, "fold": fold,
                             "glacier": names[glacier], "region": regions[glacier],
                             "sensor": sensors[(glacier + rng.integers(0, 2, N_SAMPLES)) % len(sensors)]})

    def probs(strength: float) -> np.ndarray:
        logits = rng.normal(size=(N_SAMPLES, schema.N_CLASSES))
        logits[np.arange(N_SAMPLES), label] += strength
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    test = pd.DataFrame(probs(2.5), columns=list(schema.PROBABILITY_COLUMNS))
    test.insert(0, "sample_id", metadata["sample_id"].to_numpy())
    test["fold"] = fold
    validation = pd.DataFrame(probs(2.5), columns=list(schema.PROBABILITY_COLUMNS))
    validation.insert(0, "sample_id", metadata["sample_id"].to_numpy())
    validation["model_fold"] = (fold + 1) % schema.N_FOLDS
    return metadata, test, validation


@pytest.fixture(scope="module")
def inputs():
    return make_benchmark_inputs()


def test_full_report(benchmark, inputs):
    metadata, test, validation = inputs
    report = benchmark.pedantic(evaluate_frame, args=(test, metadata),
                                kwargs={"validation_predictions": validation, "n_bootstrap": 1000, "seed": 0},
                                rounds=5, warmup_rounds=1)
    d = report.to_dict()
    assert d["coverage"]["n_scored"] == N_SAMPLES
    assert d["bootstrap"]["n_resamples"] == 1000
    assert d["calibration"]["calibrated"]


def test_full_report_with_files(benchmark, inputs, tmp_path):
    metadata, test, validation = inputs

    def run():
        evaluate_frame(test, metadata, validation_predictions=validation, n_bootstrap=1000, seed=0).write(tmp_path / "report")

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert (tmp_path / "report" / "report.json").is_file()


def test_comparison_sklearn_prfs(benchmark, inputs):
    """Comparison: one scikit-learn per-class precision/recall/F1 pass over the same predictions."""
    from sklearn.metrics import precision_recall_fscore_support

    metadata, test, _ = inputs
    y_pred = test[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    y_true = metadata["label"].to_numpy()
    benchmark.pedantic(precision_recall_fscore_support, args=(y_true, y_pred),
                       kwargs={"labels": list(range(schema.N_CLASSES)), "zero_division": 0}, rounds=5, warmup_rounds=1)

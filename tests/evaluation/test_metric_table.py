"""Common tests of every row of the metric table (as scikit-learn's ``metrics/tests/test_common.py``).

A new row of ``facies_bench.evaluation.metric_table.METRICS`` is picked up by every test here; a
confusion-matrix metric also needs a scikit-learn (or hand-written) reference in ``REFERENCES``,
and a new summary version needs its frozen keys in ``SUMMARY_KEYS_BY_VERSION``.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, jaccard_score, precision_recall_fscore_support

from facies_bench import schema
from facies_bench.errors import UnknownNameError
from facies_bench.evaluation import evaluate_frame
from facies_bench.evaluation.metric_table import (
    KINDS,
    MAIN_METRIC,
    METRICS,
    SUMMARY_VERSION,
    confusion_metrics,
    get_metric,
    headline_metrics,
    interval_metrics,
    summary_keys,
)
from facies_bench.evaluation.metrics import confusion_counts

K = schema.N_CLASSES
CONFUSION = [m.key for m in confusion_metrics()]
SUMMARY = [m.key for m in METRICS if m.in_summary]


def _present(y_true):
    return sorted(set(np.asarray(y_true).tolist()))


def _macro(which: int):
    def reference(y_true, y_pred):
        return precision_recall_fscore_support(y_true, y_pred, labels=_present(y_true), average="macro", zero_division=0)[which]
    return reference


#: Reference implementation of every confusion-matrix metric (classes absent from y_true are left out).
REFERENCES = {
    "accuracy": accuracy_score,
    "macro_precision": _macro(0),
    "macro_recall": _macro(1),
    "macro_f1": _macro(2),
    "mean_iou": lambda y_true, y_pred: jaccard_score(y_true, y_pred, labels=_present(y_true), average="macro", zero_division=0),
}

#: The summary keys of every published summary version: frozen, never edited (a run of that
#: version is validated on exactly these keys).
SUMMARY_KEYS_BY_VERSION = {
    1: {"accuracy", "accuracy_ci", "macro_precision", "macro_recall", "macro_f1", "macro_f1_ci", "mean_iou", "glacier_f1_mean",
        "glacier_f1_std", "ece_100", "ece_100_calibrated", "per_class_f1"},
}


def _labels(seed: int, n: int = 400, classes=tuple(range(K))):
    rng = np.random.default_rng(seed)
    y_true = rng.choice(classes, size=n)
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, K, n))
    return y_true, y_pred


def _value(metric, y_true, y_pred) -> float:
    return float(metric.from_confusion(confusion_counts(y_true, y_pred)))


# ---- the table itself -----------------------------------------------------------------------

def test_rows_are_well_formed():
    keys = [m.key for m in METRICS]
    assert len(set(keys)) == len(keys)
    assert len({m.title for m in METRICS}) == len(METRICS)
    all_summary_keys = [k for m in METRICS for k in m.summary_keys]
    assert len(set(all_summary_keys)) == len(all_summary_keys)  # no interval key collides with a metric key
    for m in METRICS:
        assert m.key == schema.slug(m.key) and m.title and m.description.endswith(".")
        assert m.kind in KINDS and 1 <= m.since <= SUMMARY_VERSION
        assert m.companion is None or get_metric(m.companion).kind == m.kind
        assert (m.per_class is None) == (m.per_class_title is None)
    assert get_metric(MAIN_METRIC).in_summary and get_metric(MAIN_METRIC).interval
    assert {m.key for m in headline_metrics()} >= {MAIN_METRIC}


def test_unknown_metric_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="Unknown metric 'macro_f2'.*macro_f1"):
        get_metric("macro_f2")


def test_summary_versions_are_frozen_and_grow():
    assert set(SUMMARY_KEYS_BY_VERSION) == set(range(1, SUMMARY_VERSION + 1))
    previous: set[str] = set()
    for version, keys in SUMMARY_KEYS_BY_VERSION.items():
        assert set(summary_keys(version)) == keys
        assert previous < keys
        previous = keys
    assert max(m.since for m in METRICS) == SUMMARY_VERSION
    for bad in (0, SUMMARY_VERSION + 1, "1", True):
        with pytest.raises(ValueError, match="Summary version"):
            summary_keys(bad)


# ---- confusion-matrix metrics ---------------------------------------------------------------

def test_every_confusion_metric_has_a_reference():
    assert set(CONFUSION) == set(REFERENCES)


@pytest.mark.parametrize("key", CONFUSION)
@pytest.mark.parametrize(("seed", "classes"), [(0, tuple(range(K))), (1, (0, 1, 3, 5)), (2, (4,))])
def test_confusion_metric_matches_its_reference(key, seed, classes):
    y_true, y_pred = _labels(seed, classes=classes)
    assert _value(get_metric(key), y_true, y_pred) == pytest.approx(REFERENCES[key](y_true, y_pred))


@pytest.mark.parametrize("key", CONFUSION)
def test_confusion_metric_invariances(key):
    metric = get_metric(key)
    y_true, y_pred = _labels(3)
    value = _value(metric, y_true, y_pred)
    order = np.random.default_rng(4).permutation(len(y_true))
    assert _value(metric, y_true[order], y_pred[order]) == pytest.approx(value)  # sample order
    relabel = np.random.default_rng(5).permutation(K)
    assert _value(metric, relabel[y_true], relabel[y_pred]) == pytest.approx(value)  # class names
    assert _value(metric, np.repeat(y_true, 3), np.repeat(y_pred, 3)) == pytest.approx(value)  # sample weight
    best = _value(metric, y_true, y_true)
    assert best == (1.0 if metric.higher_is_better else 0.0)
    assert (best >= value) if metric.higher_is_better else (best <= value)
    assert math.isnan(float(metric.from_confusion(np.zeros((K, K)))))  # an empty group is undefined, not 0


@pytest.mark.parametrize("key", CONFUSION)
def test_confusion_metric_is_vectorised_over_groups(key):
    metric = get_metric(key)
    y_true, y_pred = _labels(6, n=900)
    groups = np.random.default_rng(7).integers(0, 4, len(y_true))
    batched = metric.from_confusion(confusion_counts(y_true, y_pred, groups=groups, n_groups=5))
    assert batched.shape == (5,) and math.isnan(batched[4])
    for g in range(4):
        assert batched[g] == pytest.approx(_value(metric, y_true[groups == g], y_pred[groups == g]))


# ---- every metric in a real report ----------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tiny_meta, tiny_predictions, tiny_validation, make_predictions_frame):
    """A noisy model's report and a perfect, fully confident model's report (both calibrated)."""
    ids, labels = tiny_meta["sample_id"].to_numpy(), tiny_meta["label"].to_numpy()
    perfect = make_predictions_frame(ids, np.eye(K)[labels], fold=tiny_meta["fold"].to_numpy())
    perfect_val = make_predictions_frame(ids, np.eye(K)[labels], model_fold=tiny_validation["model_fold"].to_numpy())
    return {name: evaluate_frame(frame, tiny_meta, validation_predictions=val, n_bootstrap=50, seed=0)
            for name, frame, val in (("noisy", tiny_predictions, tiny_validation), ("perfect", perfect, perfect_val))}


def test_report_blocks_hold_every_confusion_metric(reports, tiny_meta, tiny_predictions):
    d = reports["noisy"].to_dict()
    y_true = tiny_meta["label"].to_numpy()
    y_pred = tiny_predictions[list(schema.PROBABILITY_COLUMNS)].to_numpy().argmax(axis=1)
    for m in confusion_metrics():
        assert d["overall"][m.key] == pytest.approx(REFERENCES[m.key](y_true, y_pred))
        for name, block in d["by_region"].items():
            rows = (tiny_meta["region"] == name).to_numpy()
            assert block[m.key] == pytest.approx(REFERENCES[m.key](y_true[rows], y_pred[rows]))
        if m.per_class:
            assert all(m.per_class in block for block in d["overall"]["per_class"].values())
    for m in interval_metrics():
        boot = d["bootstrap"][m.key]
        assert boot["estimate"] == pytest.approx(d["overall"][m.key]) and boot["low"] <= boot["high"]


def test_summary_holds_every_summary_key_with_valid_values(reports):
    for report in reports.values():
        summary = report.summary()
        assert set(summary) == set(summary_keys())
        for m in METRICS:
            if not m.in_summary:
                continue
            values = list(summary[m.key].values()) if m.kind == "per_class" else [summary[m.key]]
            if m.kind == "per_class":
                assert list(summary[m.key]) == list(schema.CLASS_KEYS)
            assert all(v is None or 0.0 <= v <= 1.0 for v in values), m.key
            if m.interval:
                low, high = summary[m.interval_key]
                assert low <= high


@pytest.mark.parametrize("key", SUMMARY)
def test_direction_a_perfect_model_is_never_worse(reports, key):
    metric = get_metric(key)
    perfect, noisy = reports["perfect"].summary()[key], reports["noisy"].summary()[key]
    pairs = list(zip(perfect.values(), noisy.values(), strict=True)) if metric.kind == "per_class" else [(perfect, noisy)]
    assert all(a is not None and b is not None for a, b in pairs), (key, pairs)
    for a, b in pairs:
        assert (a >= b) if metric.higher_is_better else (a <= b), (key, a, b)
    assert any(a != b for a, b in pairs), f"{key} does not tell a perfect model from a noisy one"


# ---- everything that lists metrics derives from the table ------------------------------------

def test_spec_lists_every_metric(capsys):
    from facies_bench.cli.main import main

    assert main(["spec", "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert list(spec["metrics"]) == [m.key for m in METRICS]
    assert spec["summary_version"] == SUMMARY_VERSION
    for m in METRICS:
        assert spec["metrics"][m.key]["higher_is_better"] is m.higher_is_better


def test_score_table_shows_every_summary_metric(reports, tmp_path, monkeypatch):
    from rich.console import Console

    from facies_bench.cli import _render
    from facies_bench.cli.score import _print_summary

    console = Console(record=True, width=200)
    monkeypatch.setattr(_render, "console", console)
    _print_summary(reports["noisy"], tmp_path)
    out = console.export_text()
    for m in METRICS:
        if m.in_summary:
            assert m.title in out


def test_leaderboard_and_evaluate_tables_show_every_headline_metric():
    from facies_bench.cli.evaluate import _summary_metrics
    from facies_bench.leaderboard.table import COLUMNS

    keys = {c.key for c in COLUMNS}
    for m in headline_metrics():
        assert m.key in keys or m.key == MAIN_METRIC
        assert m in _summary_metrics()
        if m.companion:
            assert get_metric(m.companion) in _summary_metrics()
    for c in COLUMNS:
        if c.key in {m.key for m in METRICS}:
            assert c.ascending_first is not get_metric(c.key).higher_is_better

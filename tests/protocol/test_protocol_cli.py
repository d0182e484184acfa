"""``facies-bench evaluate`` on each baseline and ``facies-bench check``, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facies_bench.cli.main import main
from facies_bench.evaluation.metric_table import SUMMARY_VERSION, get_metric

ROOT = Path(__file__).resolve().parents[2]
BASELINES = sorted((ROOT / "baselines").glob("*.py"))


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda p: p.stem)
def test_evaluate_each_baseline_quick(baseline, tiny_store_path, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["evaluate", str(baseline), "--store", str(tiny_store_path), "--quick", "--epochs", "1",
            "--folds", "0,1", "--bootstrap", "10", "-o", str(out)]
    assert main(argv) == 0, capsys.readouterr()
    result = json.loads((out / "result.json").read_text())
    assert result["model"]["submission_sha256"] and result["folds"] == [0, 1]
    f1 = result["metrics"]["unpruned"]["mean"]["macro_f1"]
    assert 0.0 <= f1 <= 1.0
    shown = capsys.readouterr().out
    assert get_metric("macro_f1").title in shown and result["model"]["name"] in shown
    assert result["metrics"]["summary_version"] == SUMMARY_VERSION


def test_baselines_present():
    assert {p.stem for p in BASELINES} >= {"paper_cnn", "hgb_centre_pixel", "timm_backbone"}


def test_check_template_passes(capsys):
    assert main(["check", str(ROOT / "submissions" / "TEMPLATE.py")]) == 0
    out = capsys.readouterr().out
    assert "All checks passed" in out and "template_cnn" in out


BROKEN = '''
from torch import nn
from facies_bench.models import register_model

@register_model("{name}")
def build(in_channels, n_classes):
    return nn.Sequential(nn.Conv2d(in_channels, n_classes, 3), nn.Flatten())
'''


def test_check_reports_broken_builder(write_submission, capsys):
    path, name = write_submission(BROKEN)
    assert main(["check", str(path)]) == 2
    captured = capsys.readouterr()
    assert "FAILED" in captured.out and "builder output shape" in captured.out
    assert "expected (2, 8)" in captured.err and str(path) in captured.err


def test_evaluate_reports_failed_units(write_submission, tiny_store_path, tmp_path, capsys):
    path, name = write_submission(BROKEN)
    code = main(["evaluate", str(path), "--store", str(tiny_store_path), "--quick", "--epochs", "1", "--folds", "0",
                 "-o", str(tmp_path / "run")])
    captured = capsys.readouterr()
    assert code == 2
    assert "Work units" in captured.out and "failed" in captured.out
    assert "incomplete" in captured.err and name in captured.err and "fold 0" in captured.err


def test_check_submission_estimator_library_call(tmp_path):
    from facies_bench.testing.checks import check_submission

    report = check_submission("test_logreg", tmp_dir=tmp_path)
    assert report.passed, report.to_dict()
    names = [r.name for r in report.results]
    assert "save/load round trip" in names and "same seed, same predictions" in names
    assert report.to_dict()["results"][-1]["status"] == "passed"

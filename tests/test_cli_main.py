"""The CLI frame: one-line errors and non-zero exit codes, usage errors, the spec command."""

from __future__ import annotations

import json

import pytest

from facies_bench.cli.main import main
from facies_bench.errors import InvalidValueError


def test_library_errors_become_one_line(capsys, tmp_path):
    assert main(["data", "info", str(tmp_path / "missing.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: No facies store") and "missing.zarr" in err and "\n" not in err


def test_usage_errors_exit_2(capsys):
    assert main(["spec", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "expected"), [("{bad", "not valid JSON"), ("[1, 2]", "must be a JSON object, got list")])
def test_bad_json_option_is_a_usage_error(capsys, tmp_path, value, expected):
    argv = ["evaluate", "test_cnn", "-o", str(tmp_path / "run"), "--store", str(tmp_path / "none.zarr"), "--storage-options", value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Invalid value for '--storage-options'" in err and expected in err
    assert not (tmp_path / "run").exists()


def test_invalid_values_are_one_line_errors_and_still_value_errors(capsys, tmp_path):
    assert issubclass(InvalidValueError, ValueError)  # callers catching ValueError keep working
    argv = ["evaluate", "test_cnn", "-o", str(tmp_path / "run"), "--store", str(tmp_path / "none.zarr"), "--seeds", "0"]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip() == "error: --seeds must be at least 1, got 0."


@pytest.mark.parametrize("bug", [KeyError("macro_f1"), ValueError("a bug"), TypeError("a bug")])
def test_bugs_keep_their_traceback(monkeypatch, capsys, bug):
    """Only facies-bench's own errors are user errors; anything else propagates (the console script
    prints its traceback) instead of becoming a one-line ``error: 'macro_f1'``."""
    import facies_bench.cli.spec as cli_spec

    def broken():
        raise bug
    monkeypatch.setattr(cli_spec, "benchmark_spec", broken)
    with pytest.raises(type(bug)):
        main(["spec"])
    assert "error:" not in capsys.readouterr().err


def test_spec_json_lists_the_benchmark(capsys):
    assert main(["spec", "--json"]) == 0
    spec = json.loads(capsys.readouterr().out)
    assert [c["name"] for c in spec["classes"]][5] == "refrozen-like"
    assert spec["feature_sets"]["3"]["n_channels"] == 10
    assert sum(len(g) for g in spec["folds"]["synthetic_assignment"].values()) == 31
    assert spec["protocol"]["splits"]["0"] == {"test": 0, "validation": 5, "train": [1, 2, 3, 4]}


def test_spec_text(capsys):
    assert main(["spec"]) == 0
    out = capsys.readouterr().out
    assert "refrozen-like" in out and "Sentinel-2" in out and "fold 0: Skeidararjokull" in out

"""The CLI frame: one-line errors and non-zero exit codes, usage errors, the spec command."""

from __future__ import annotations

import json

from facies_bench.cli.main import main


def test_library_errors_become_one_line(capsys, tmp_path):
    assert main(["data", "info", str(tmp_path / "missing.zarr")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: No facies store") and "missing.zarr" in err and "\n" not in err


def test_usage_errors_exit_2(capsys):
    assert main(["spec", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err


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

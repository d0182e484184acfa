"""``facies-bench data synth`` and ``data info``."""

from __future__ import annotations

import functools
import json

import facies_bench.synth as synth
from facies_bench.cli.main import main
from facies_bench.data.store import open_store


def test_data_synth_writes_a_store(tmp_path, monkeypatch, capsys):
    # the CLI builds the full 92-scene dataset; a two-glacier subset keeps this test quick
    monkeypatch.setattr(synth, "generate_store", functools.partial(synth.generate_store, glaciers=["Sex Rouge", "Luppo"]))
    out = tmp_path / "s.zarr"
    assert main(["data", "synth", "-o", str(out), "--scale", "0.01", "--seed", "2"]) == 0
    store = open_store(out)
    assert store.is_synthetic and "wrote" in capsys.readouterr().out
    assert main(["data", "synth", "-o", str(out), "--scale", "0.01"]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err


def test_data_info_json_and_tables(synth_store, capsys):
    assert main(["data", "info", synth_store.path, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_samples"] == synth_store.n_samples and summary["n_scenes"] == 92
    assert sum(summary["classes"].values()) == synth_store.n_samples
    assert set(summary["fold_glaciers"]) == {str(k) for k in range(6)}
    assert main(["data", "info", synth_store.path]) == 0
    text = capsys.readouterr().out
    for word in ("refrozen-like", "Skeidararjokull", "Sentinel-2", "Svalbard", "Fold labels"):
        assert word in text


def test_data_info_missing_store(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "nope.zarr")]) == 2
    assert "No facies store" in capsys.readouterr().err

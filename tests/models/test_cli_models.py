from __future__ import annotations

import json

import numpy as np

from facies_bench.cli.main import main
from facies_bench.models import load_model


def test_models_list_json(baselines_dir, clean_registry, capsys):
    assert main(["models", "list", "--json", str(baselines_dir / "paper_cnn.py")]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert {"cnn_baseline", "test_cnn", "test_logreg"} <= set(rows)
    assert rows["cnn_baseline"]["kind"] == "torch" and rows["test_logreg"]["kind"] == "estimator"
    assert main(["models", "list", "--pattern", "test_*"]) == 0
    assert "test_cnn" in capsys.readouterr().out


def test_import_keras_cli(published_models, tiny_store_path, tmp_path, capsys):
    out = tmp_path / "fs4.pt"
    h5 = published_models / "fs4" / "fold0_after.h5"
    assert main(["import-keras", str(h5), "--features", "4", "--norm-stats", str(tiny_store_path), "-o", str(out)]) == 0
    assert "200,072 parameters" in capsys.readouterr().out
    model = load_model(out)
    assert len(model.features) == 11 and not model.normalised_input
    ref = np.load(published_models / "io_pairs" / "fs4_fold0_after.npz")
    plain = tmp_path / "plain.pt"
    assert main(["import-keras", str(h5), "-o", str(plain)]) == 0
    np.testing.assert_allclose(load_model(plain).predict_proba(ref["x45"].transpose(0, 3, 1, 2)), ref["y45"], atol=1e-4)
    assert main(["import-keras", str(h5), "--features", "2", "-o", str(tmp_path / "bad.pt")]) == 2
    assert "11 input channels" in capsys.readouterr().err

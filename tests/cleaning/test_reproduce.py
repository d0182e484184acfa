"""``facies-bench reproduce``: raw run -> cleaning -> cleaned run -> Tables 2-4 beside the paper's."""

from __future__ import annotations

import json
from pathlib import Path

from facies_bench import schema
from facies_bench.cli.main import main
from facies_bench.data.store import open_store

ROOT = Path(__file__).resolve().parents[2]


def test_quick_reproduce_end_to_end(tiny_store_copy, tmp_path, capsys):
    out = tmp_path / "repro"
    argv = ["reproduce", str(ROOT / "baselines" / "hgb_centre_pixel.py"), "--store", str(tiny_store_copy),
            "--quick", "-o", str(out)]
    assert main(argv) == 0, capsys.readouterr()
    tables = json.loads((out / "tables.json").read_text())
    assert set(tables["tables"]) == {"2", "3", "4"}
    for t in ("2", "3", "4"):
        for metric in ("precision", "recall", "f1"):
            assert len(tables["tables"][t][metric]) == schema.N_CLASSES + 1
    pruned = tables["tables"]["3"]["pruned"]
    assert all(pruned[schema.class_index(c)] is None for c in schema.NEVER_PRUNED)
    assert tables["paper"]["2"]["f1"][-1] == 63.0  # the paper's Table 2, feature set 4, F1 average
    assert tables["noise_recovery"]["overall"]["flagged"] > 0
    store = open_store(tiny_store_copy)
    assert store.default_cleaned == tables["variant"] == "cl-hgb-centre-pixel-fs4"
    cleaned_result = json.loads((out / "cleaned" / "result.json").read_text())
    assert cleaned_result["variant"] == tables["variant"]
    assert cleaned_result["metrics"]["cleaned"]["variant"] == tables["variant"]
    md = (out / "tables.md").read_text()
    assert "synthetic" in md and "Table 4" in md and "| paper |" in md
    assert "Table 3" in capsys.readouterr().out

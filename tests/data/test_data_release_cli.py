"""The data download/convert/export-hf/push-hf commands and the dataset card's agreement with the schema."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from facies_bench import schema

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:rasterio.*")

ROOT = Path(__file__).resolve().parents[2]


def _run(argv):
    from facies_bench.cli.main import main

    return main(argv)


def test_convert_export_push_commands(tmp_path, capsys):
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin

    rel = tmp_path / "release"
    rel.mkdir()
    rng = np.random.default_rng(0)
    for i, (fold, glacier) in enumerate([(0, "Adler"), (1, "Pasterze"), (2, "Gietro"), (3, "Storbreen"), (4, "Kronebreen"), (5, "Maladeta")]):
        for p in range(3):
            with rasterio.open(rel / f"{fold}_{glacier}_20200815_{p}_{schema.CLASS_NAMES[p]}.tif", "w", driver="GTiff",
                               width=33, height=33, count=11, dtype="float32", crs="EPSG:32632",
                               transform=from_origin(1000 * i + 100 * p, 0, 10, 10)) as dst:
                dst.write(rng.random((11, 33, 33), dtype=np.float32))
    (rel / "6_Adler_20200815_0_ice.tif").write_bytes(b"junk")
    store = tmp_path / "store.zarr"
    assert _run(["data", "convert", str(rel), "-o", str(store)]) == 0
    out = capsys.readouterr()
    assert "18 of 19 GeoTIFFs converted" in out.out and "6_Adler_20200815_0_ice.tif" in out.err
    assert _run(["data", "export-hf", str(store), "-o", str(tmp_path / "hub")]) == 0
    assert "config raw: fold_0 3" in capsys.readouterr().out
    assert _run(["data", "push-hf", str(tmp_path / "hub"), "--repo-id", "lab/glacier-facies", "--dry-run"]) == 0
    assert '"dry_run": true' in capsys.readouterr().out
    assert _run(["data", "push-hf", str(tmp_path / "hub"), "--repo-id", "no-owner", "--dry-run"]) == 2
    assert "needs an owner" in capsys.readouterr().err
    assert _run(["data", "convert", str(tmp_path / "nowhere"), "-o", str(store)]) == 2


def test_download_command_reports_unreachable_server(tmp_path, capsys):
    code = _run(["data", "download", "-o", str(tmp_path / "dl"), "--base-url", "http://127.0.0.1:9/api"])
    assert code == 2 and "Cannot reach the release record" in capsys.readouterr().err


def _card() -> str:
    path = ROOT / "DATASET_CARD.md"
    if not path.exists():
        pytest.skip("DATASET_CARD.md not in this checkout")
    return path.read_text(encoding="utf-8")


def test_dataset_card_tables_match_the_schema():
    text = _card()
    classes = re.findall(r"^\| (\d) \| ([a-z-]+) \| (yes|no) \| (.+?) \|$", text, flags=re.M)
    assert [(int(i), n, f == "yes", d) for i, n, f, d in classes] == [(c.index, c.name, c.is_facies, c.definition) for c in schema.CLASSES]
    features = re.findall(r"^\| (\d+) \| ([a-z_0-9]+) \| (optical|topographic|geometric) \| (.+?) \|$", text, flags=re.M)
    assert [(int(i), n, k, d) for i, n, k, d in features] == [(f.index, f.name, f.kind, f.description) for f in schema.FEATURES]
    sets = re.findall(r"^\| ([1-4]) \| (\d+) \| (.+?) \|$", text, flags=re.M)
    assert [(int(s), int(c), d) for s, c, d in sets] == [(k, len(v), schema.FEATURE_SET_DESCRIPTIONS[k]) for k, v in schema.FEATURE_SETS.items()]
    for region in schema.REGIONS:
        row = re.search(rf"^\| {region} \| (.+?) \|$", text, flags=re.M)
        assert row, region
        assert row.group(1).split(", ") == [g.name for g in schema.GLACIERS if g.region == region]


def test_dataset_card_has_the_required_sections_and_yaml():
    from huggingface_hub import DatasetCard

    card = DatasetCard(_card())
    assert card.data.license == "other" and card.data.to_dict()["configs"][0]["config_name"] == "raw"
    for section in ("Summary", "Supported tasks and the benchmark protocol", "Classes", "Features and feature sets",
                    "Folds and regions", "Label variants: raw and cleaned", "Data fields", "How to load",
                    "The synthetic stand-in", "Sources and provenance", "Limitations and biases", "Licence", "Citation"):
        assert f"## {section}" in card.text, section
    assert "10.31223/X5QN1V" in card.text and "10.5281/zenodo.18469893" in card.text

"""Hub export: stock datasets.load_dataset reads it back equal to the store; push dry run and errors."""

from __future__ import annotations

import numpy as np
import pytest

datasets = pytest.importorskip("datasets")

from facies_bench import schema  # noqa: E402
from facies_bench.data.export_hf import export_hf, push_to_hub  # noqa: E402
from facies_bench.data.store import open_store  # noqa: E402
from facies_bench.errors import DatasetNotFoundError, FaciesBenchError, StoreFormatError  # noqa: E402


@pytest.fixture(scope="module")
def exported(tiny_store_path, tmp_path_factory):
    import shutil

    base = tmp_path_factory.mktemp("export")
    store_path = base / "store.zarr"
    shutil.copytree(tiny_store_path, store_path)
    store = open_store(store_path, mode="r+")
    raw = store.labels("raw")
    cleaned = raw.copy()
    cleaned[(np.arange(len(raw)) % 4 == 0) & (raw < 4)] = schema.PRUNED
    store.write_label_variant("cl_fs4", cleaned, {"method": "test"})
    result = export_hf(store, base / "hub")
    return store, result, base


def _load(outdir, config, cache):
    return datasets.load_dataset(str(outdir), config, cache_dir=str(cache))


@pytest.mark.parametrize("config,variant", [("raw", "raw"), ("cl_fs4", "cl_fs4"), ("cleaned", "cl_fs4")])
def test_stock_load_dataset_equals_the_store(exported, config, variant):
    store, result, base = exported
    dd = _load(result.outdir, config, base / f"cache_{config}")
    assert list(dd) == [f"fold_{k}" for k in range(6)]
    labels = store.labels(variant)
    meta = store.metadata("raw")
    assert dd["fold_0"].features["label"].names == list(schema.CLASS_NAMES)
    for k in range(6):
        sl = store.fold_rows(k)
        rows = np.arange(sl.start, sl.stop)
        rows = rows[labels[rows] != schema.PRUNED]
        got = dd[f"fold_{k}"].with_format("numpy")[:]
        np.testing.assert_array_equal(got["patch"], store.read_patches(rows))
        np.testing.assert_array_equal(got["label"], labels[rows])
        np.testing.assert_array_equal(got["sample_id"], meta["sample_id"].to_numpy()[rows])
        for c in ("glacier", "region", "sensor", "scene_id", "date"):
            assert list(got[c]) == meta[c].to_numpy()[rows].tolist(), c
        np.testing.assert_array_equal(got["fold"], np.full(len(rows), k))


def test_card_yaml_has_configs_features_licence_citation(exported):
    from huggingface_hub import DatasetCard

    _, result, _ = exported
    card = DatasetCard.load(result.outdir / "README.md")
    data = card.data.to_dict()
    names = {c["config_name"] for c in data["configs"]}
    assert names == {"raw", "cl_fs4", "cleaned"}
    raw = next(c for c in data["configs"] if c["config_name"] == "raw")
    assert raw.get("default") is True and [d["split"] for d in raw["data_files"]] == [f"fold_{k}" for k in range(6)]
    assert data["license"] == "other" and "10.5281/zenodo.18469893" in data["license_link"]
    assert "10.31223/X5QN1V" in data["citation"]
    infos = {i["config_name"]: i for i in data["dataset_info"]}
    label = next(f for f in infos["raw"]["features"] if f["name"] == "label")
    assert list(label["dtype"]["class_label"]["names"].values()) == list(schema.CLASS_NAMES)
    assert "synthetic stand-in" in card.text and "## Limitations and biases" in card.text


def test_push_dry_run_lists_the_files(exported):
    _, result, _ = exported
    plan = push_to_hub(result.outdir, "my-lab/glacier-facies", dry_run=True)
    assert plan["dry_run"] and plan["commit_url"] is None
    paths = {f["path"] for f in plan["files"]}
    assert "README.md" in paths and sum(p.endswith(".parquet") for p in paths) == 12
    assert plan["total_bytes"] == sum(f["size"] for f in plan["files"])


def test_push_errors(exported, tmp_path):
    _, result, _ = exported
    with pytest.raises(FaciesBenchError, match="needs an owner"):
        push_to_hub(result.outdir, "glacier-facies", dry_run=True)
    with pytest.raises(FaciesBenchError, match="Invalid Hub repository id"):
        push_to_hub(result.outdir, "my lab/glacier facies!", dry_run=True)
    with pytest.raises(DatasetNotFoundError, match="No export folder"):
        push_to_hub(tmp_path / "missing", "my-lab/glacier-facies", dry_run=True)
    (tmp_path / "notexport").mkdir()
    (tmp_path / "notexport" / "README.md").write_text("# hello")
    with pytest.raises(StoreFormatError, match="configs"):
        push_to_hub(tmp_path / "notexport", "my-lab/glacier-facies", dry_run=True)
    # a real push to an unreachable endpoint fails with a clear error, without touching the network
    with pytest.raises(FaciesBenchError, match="Pushing .* to the Hub dataset 'my-lab/glacier-facies' failed"):
        push_to_hub(result.outdir, "my-lab/glacier-facies", token="hf_fake", endpoint="http://127.0.0.1:9")


def test_existing_outdir_needs_overwrite(exported):
    store, result, _ = exported
    with pytest.raises(FaciesBenchError, match="already exists"):
        export_hf(store, result.outdir)


def test_card_body_is_the_shipped_dataset_card(exported):
    from huggingface_hub import DatasetCard

    from facies_bench.data.export_hf import read_card_body

    _, result, _ = exported
    body = read_card_body()
    assert body.startswith("#") and "## Limitations and biases" in body
    assert DatasetCard.load(result.outdir / "README.md").text.endswith(body)


def test_dataset_card_is_package_data():
    """The card (DATASET_CARD.md at the top) is reached through facies_bench/resources/, which ships."""
    import fnmatch
    import tomllib
    from pathlib import Path

    import facies_bench
    from facies_bench.data.export_hf import CARD_NAME, card_path

    package_dir = Path(facies_bench.__file__).resolve().parent
    assert card_path().is_file()
    assert Path(str(card_path())) == package_dir / "resources" / CARD_NAME
    assert "pretty_name:" in card_path().read_text()  # the link resolves to the card itself
    pyproject = package_dir.parent / "pyproject.toml"
    if not pyproject.is_file():
        pytest.skip("installed package: pyproject.toml not beside it")
    patterns = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]["facies_bench"]
    assert any(fnmatch.fnmatch(f"resources/{CARD_NAME}", p) for p in patterns)

"""The `facies-bench smb` command, GeoTIFF maps as input, on-the-fly mapping with a model, synthetic records."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from facies_bench import schema
from facies_bench.cli.main import main
from facies_bench.errors import StoreFormatError
from facies_bench.smb import (
    measure_smb,
    process_smb_records,
    run_smb,
    true_smb_predictors,
    wgms_dir,
    write_synthetic_wgms,
)
from facies_bench.smb.synthetic import MEASUREMENT_SD, TABLE_NAME

N_YEARS = 6  # len(YEARS) of the multi-year store in conftest.py


def test_cli_with_true_facies_writes_the_records_on_first_use(multiyear_store_path, true_facies_report, tmp_path):
    store = tmp_path / "multiyear.zarr"
    shutil.copytree(multiyear_store_path, store)
    out = tmp_path / "smb"
    assert main(["smb", "--store", str(store), "--true-facies", "-o", str(out)]) == 0
    assert (wgms_dir(store) / TABLE_NAME).is_file()  # written on first use, seed 0 as the fixture's
    data = json.loads((out / "smb_report.json").read_text())
    assert data["global"]["scores"]["n"] == true_facies_report.global_model.scores["n"]
    assert data["global"]["scores"]["r"] == pytest.approx(true_facies_report.global_model.scores["r"])
    assert data["glacier_specific"]["scores"]["n"] == true_facies_report.specific_model.scores["n"]
    assert (out / "smb_global.png").is_file() and (out / "smb_glacier_specific.png").is_file()
    assert "## Left out" in (out / "smb_report.md").read_text()


def test_stores_without_process_records_are_refused(tiny_store_copy, tmp_path, capsys):
    # make_tiny_store's scenes carry no degree-day mass balance: no records are invented for them
    with pytest.raises(StoreFormatError, match="no process-made mass balance"):
        write_synthetic_wgms(tiny_store_copy)
    assert main(["smb", "--store", str(tiny_store_copy), "--true-facies", "-o", str(tmp_path / "smb")]) == 2
    assert "degree-day" in capsys.readouterr().err
    assert not (wgms_dir(tiny_store_copy) / TABLE_NAME).exists()


def test_cli_usage_errors(multiyear_store_path, tmp_path, capsys):
    store = tmp_path / "multiyear.zarr"
    shutil.copytree(multiyear_store_path, store)
    assert main(["smb", "--store", str(store), "-o", str(tmp_path)]) == 2
    assert "--true-facies" in capsys.readouterr().err
    assert main(["smb", "--store", str(store), "--true-facies", "--center", "8/20", "-o", str(tmp_path)]) == 2
    assert "MM-DD" in capsys.readouterr().err


def test_synthetic_records_are_the_process_plus_measurement_error(multiyear_store, multiyear_wgms):
    raw = pd.read_csv(multiyear_wgms["table"])
    wide = raw[(raw["LOWER_BOUND"] == 9999) & (raw["UPPER_BOUND"] == 9999)]
    assert len(raw) == 3 * len(wide)  # two elevation-band rows per glacier-wide row
    assert (wide["WINTER_BALANCE"] + wide["SUMMER_BALANCE"] - wide["ANNUAL_BALANCE"]).abs().max() <= 1
    provenance = json.loads(multiyear_wgms["provenance"].read_text())
    measured = pd.DataFrame(provenance["records"])
    assert len(measured) == 6 * N_YEARS  # every glacier-year with a scene (July ones too), Silvretta 2014 once
    got = dict(zip(zip([schema.GLACIER_NAMES[i - 90000] for i in wide["WGMS_ID"]], wide["YEAR"], strict=True), wide["ANNUAL_BALANCE"] / 1000, strict=True))
    assert all(got[(r.glacier, r.year)] == pytest.approx(r.annual, abs=5e-4) for r in measured.itertuples())
    # the process values are the scenes' own records; measurement error is seeded and of the stated size
    process = process_smb_records(multiyear_store)
    np.testing.assert_allclose(measured["annual_process"], process["annual"])
    error = measured["annual"] - measured["annual_process"]
    assert 0.5 * MEASUREMENT_SD < error.std() < 1.5 * MEASUREMENT_SD and abs(error.mean()) < MEASUREMENT_SD
    assert measure_smb(process, seed=0)["annual"].to_numpy() == pytest.approx(measured["annual"].to_numpy())
    assert not np.allclose(measure_smb(process, seed=1)["annual"], measured["annual"])
    # the band rows bracket the glacier-wide balance (balance rises with elevation)
    bands = raw[raw["LOWER_BOUND"] != 9999].sort_values(["WGMS_ID", "YEAR", "LOWER_BOUND"])
    lower, upper = bands.groupby(["WGMS_ID", "YEAR"])["ANNUAL_BALANCE"].first(), bands.groupby(["WGMS_ID", "YEAR"])["ANNUAL_BALANCE"].last()
    assert (upper > lower).all()
    # the maps follow the same process: the true AAR of each glacier-year tracks its balance
    truth = true_smb_predictors(multiyear_store).merge(measured[["glacier", "year", "annual_process"]], on=["glacier", "year"])
    assert np.corrcoef(truth["aar"], truth["annual_process"])[0, 1] > 0.6
    mapping = pd.read_csv(multiyear_wgms["mapping"])
    assert sorted(mapping["glacier"]) == sorted(measured["glacier"].unique())


def test_maps_folder_gives_the_same_features_as_the_store(multiyear_store, multiyear_wgms, multiyear_maps, true_facies_report):
    from_maps = run_smb(multiyear_maps, multiyear_wgms["table"], multiyear_wgms["mapping"], store=multiyear_store)
    cols = ["glacier", "year", "scene_id", "snow_ratio", "snowline_norm", "albedo", "smb"]
    pd.testing.assert_frame_equal(true_facies_report.features[cols], from_maps.features[cols])
    assert from_maps.global_model.scores == pytest.approx(true_facies_report.global_model.scores)
    assert from_maps.source["kind"] == "maps"


def test_maps_without_store_use_tags_and_report_grid_mismatch(multiyear_store, multiyear_wgms, multiyear_maps, tmp_path):
    import rasterio

    records = pd.read_csv(multiyear_wgms["table"])
    records = records[records["NAME"].isin(["ARGENTIERE", "PASTERZE"])]  # keep the run small
    dem_dir = tmp_path / "dem"
    dem_dir.mkdir()
    for sid in multiyear_store.scene_ids:
        if not sid.startswith(("argentiere", "pasterze")):
            continue
        scene = multiyear_store.scene(sid)
        dem = scene.dem if not sid.startswith("argentiere_2017") else scene.dem[:-2]  # one DEM on a wrong grid
        with rasterio.open(dem_dir / f"{sid}.tif", "w", driver="GTiff", width=dem.shape[1], height=dem.shape[0], count=1,
                           dtype="float32", crs=scene.info.crs, transform=rasterio.Affine(*scene.info.transform)) as dst:
            dst.write(dem.astype(np.float32), 1)
    report = run_smb(multiyear_maps, records, multiyear_wgms["mapping"], dem=dem_dir)
    bad = [i for i in report.left_out if i["glacier"] == "Argentiere" and i["year"] == 2017]
    assert bad and "resample it to the map's grid" in bad[0]["reason"]
    feats = report.features
    assert ("Argentiere", 2017) not in set(zip(feats["glacier"], feats["year"], strict=True))
    assert len(feats) == 2 * N_YEARS - 1
    # no optical bands without a store or --optical: albedo undefined, Eq. 2 reports it, Eq. 3 still runs
    assert feats["albedo"].isna().all()
    assert report.global_model.scores["n"] == 0
    assert any("albedo" in i["reason"] for i in report.left_out if i["stage"] == "global")
    assert report.specific_model.scores["n"] == len(feats)
    assert report.settings["folds"] == "leave-one-glacier-out"


def test_untagged_map_without_store_is_skipped_with_a_reason(multiyear_wgms, tmp_path):
    from facies_bench.mapping.io import RasterGrid, write_facies_map

    folder = tmp_path / "maps"
    folder.mkdir()
    grid = RasterGrid.from_scene_info(type("I", (), {"crs": "EPSG:32632", "transform": (10, 0, 0, 0, -10, 0), "shape": (4, 4)})())
    write_facies_map(folder / "mystery_facies.tif", np.ones((4, 4), np.uint8), grid)
    report = run_smb(folder, multiyear_wgms["table"], multiyear_wgms["mapping"])
    assert report.features.empty
    assert [i["reason"] for i in report.left_out if i["scene_id"] == "mystery"][0].startswith(
        f"{str(folder / 'mystery_facies.tif')!r} carries no glacier/sensor/date tags")


def test_on_the_fly_mapping_with_fold_model_checkpoints(multiyear_store, multiyear_wgms, tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from facies_bench.mapping import predict_scene
    from facies_bench.models import FaciesModel, create_model, save_checkpoint

    torch.manual_seed(0)
    features = schema.FEATURE_NAMES[:6]
    paths = {}
    for fold in (0, 4):  # Silvretta is in fold 0, Pasterze in fold 5 -> no model for it
        backbone = create_model("test_cnn", in_channels=len(features), n_classes=schema.N_CLASSES)
        model = FaciesModel(backbone, features=features, feature_min=multiyear_store.feature_min[:6],
                            feature_max=multiyear_store.feature_max[:6], model_name="test_cnn", hparams={"width": 8})
        paths[fold] = save_checkpoint(model, tmp_path / f"fold{fold}.pt", meta={"fold": fold})
    used = []
    real_map_scene = predict_scene.map_scene

    def spy_map_scene(models, *args, **kwargs):
        used.append(models[0])
        return real_map_scene(models, *args, **kwargs)

    monkeypatch.setattr(predict_scene, "map_scene", spy_map_scene)
    monkeypatch.setattr("facies_bench.mapping.map_scene", spy_map_scene)
    records = pd.read_csv(multiyear_wgms["table"])
    records = records[records["NAME"].isin(["SILVRETTA", "PASTERZE"]) & (records["YEAR"] <= 2016)]
    report = run_smb(multiyear_store, records, multiyear_wgms["mapping"], model_paths=paths)
    assert report.source["facies"] == "mapped on the fly"
    feats = report.features
    assert set(feats["glacier"]) == {"Silvretta"} and len(feats) == 4
    assert len(used) == 4 and all(m.meta.get("fold") == 0 for m in used)  # each glacier by its own fold's model
    assert feats["snow_ratio"].between(0, 1).all() and feats["albedo"].notna().all()
    pasterze = [i["reason"] for i in report.left_out if i["glacier"] == "Pasterze" and i["stage"] == "features"]
    assert len(pasterze) == 4 and all("No model for glacier 'Pasterze' (test fold 5)" in r for r in pasterze)


def test_model_option_forms():
    from facies_bench.errors import MassBalanceError
    from facies_bench.smb import parse_model_paths

    assert parse_model_paths(["a.pt", "b.pt"]) == ["a.pt", "b.pt"]
    assert parse_model_paths(["0=a.pt", "3=dir/b=c.pt"]) == {0: "a.pt", 3: "dir/b=c.pt"}
    with pytest.raises(MassBalanceError, match="mix"):
        parse_model_paths(["0=a.pt", "b.pt"])
    with pytest.raises(MassBalanceError, match="more than once"):
        parse_model_paths(["0=a.pt", "0=b.pt"])

"""``facies-bench map`` end to end: rasters in, COGs and a quicklook out; store scenes; bad input."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from facies_bench.cli.main import main
from facies_bench.mapping import NODATA_CLASS
from facies_bench.testing.mapping import TEST_ORIGIN as ORIGIN
from facies_bench.testing.mapping import write_test_raster as write_raster


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, paper_model):
    from facies_bench.models import save_checkpoint

    path = tmp_path_factory.mktemp("ckpt") / "fold0.pt"
    paper_model.meta["test_fold"] = 0
    save_checkpoint(paper_model, path)
    return path


def test_map_rasters_writes_georeferenced_cogs_and_quicklook(raster_scene, checkpoint, capsys):
    d = raster_scene["dir"]
    rc = main(["map", "--model", str(checkpoint), "--scene", str(raster_scene["optical"]), "--outlines",
               str(raster_scene["outlines"]), "--dem", str(raster_scene["dem"]), "-o", str(d / "facies.tif"),
               "--confidence", str(d / "conf.tif"), "--quicklook", str(d / "map.png")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "glacier pixels" in out and "derived features: elevation, slope, shadow_mask, hillshade, proximity" in out
    with rasterio.open(raster_scene["optical"]) as src:
        crs, transform = src.crs, src.transform
    with rasterio.open(d / "facies.tif") as src:
        classes = src.read(1)
        assert src.crs == crs and src.transform == transform and src.nodata == NODATA_CLASS
        assert src.colormap(1)[0][:3] == (102, 178, 230)
    inside = np.zeros(classes.shape, bool)
    inside[6:42, 4:44] = True
    assert (classes[~inside] == NODATA_CLASS).all() and (classes[inside] < 8).all()
    with rasterio.open(d / "conf.tif") as src:
        conf = src.read(1)
        assert src.crs == crs and src.transform == transform
    assert np.isnan(conf[~inside]).all() and ((conf[inside] > 0) & (conf[inside] <= 1)).all()
    assert (d / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_map_store_scene_reports_accuracy_and_calibrates(tiny_store_path, tiny_store, checkpoint, tmp_path, capsys):
    from facies_bench.evaluation.calibration import Calibrator, save_calibrators

    cal = Calibrator(x_fit=np.array([0.0, 1.0]), dual_coef=np.array([0.0, 1.0]))
    cal_path = save_calibrators({0: cal, 3: cal}, tmp_path / "cal.json")
    scene_id = tiny_store.scene_ids[1]
    rc = main(["map", "--model", str(checkpoint), "--store", str(tiny_store_path), "--scene-id", scene_id,
               "-o", str(tmp_path / "f.tif"), "--confidence", str(tmp_path / "c.tif"), "--calibration", str(cal_path)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "pixel accuracy" in out and "macro-F1" in out
    info = tiny_store.scene_info(scene_id)
    with rasterio.open(tmp_path / "f.tif") as src:
        assert tuple(src.transform)[:6] == tuple(info.transform) and src.crs.to_string() == info.crs
        assert src.tags()["CALIBRATED"] == "True"


def test_map_refuses_dem_on_another_grid_and_offers_resample(raster_scene, checkpoint, tmp_path, capsys):
    dem = write_raster(tmp_path / "shifted_dem.tif", np.zeros((48, 48), np.float32),
                       transform=from_origin(ORIGIN[0] + 20, ORIGIN[1], 10, 10))
    rc = main(["map", "--model", str(checkpoint), "--scene", str(raster_scene["optical"]), "--outlines",
               str(raster_scene["outlines"]), "--dem", str(dem), "-o", str(tmp_path / "f.tif")])
    err = capsys.readouterr().err
    assert rc == 2 and "shifted_dem.tif" in err and "--resample" in err
    assert not (tmp_path / "f.tif").exists()


def test_map_without_dem_for_a_topographic_model_is_an_error(raster_scene, checkpoint, tmp_path, capsys):
    rc = main(["map", "--model", str(checkpoint), "--scene", str(raster_scene["optical"]), "--outlines",
               str(raster_scene["outlines"]), "-o", str(tmp_path / "f.tif")])
    assert rc == 2 and "--dem" in capsys.readouterr().err


def test_map_needs_scene_or_store(checkpoint, tmp_path, capsys):
    rc = main(["map", "--model", str(checkpoint), "-o", str(tmp_path / "f.tif")])
    assert rc == 2 and "--scene" in capsys.readouterr().err


def test_cli_refine_default_is_the_library_default():
    from facies_bench.cli.map import REFINE_MARGIN_DEFAULT
    from facies_bench.mapping import DEFAULT_REFINE_MARGIN

    assert REFINE_MARGIN_DEFAULT == DEFAULT_REFINE_MARGIN


def test_map_rejects_both_sources(checkpoint, tmp_path, capsys):
    rc = main(["map", "--model", str(checkpoint), "--store", "s.zarr", "--scene-id", "x", "--scene", "a.tif",
               "-o", str(tmp_path / "f.tif")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "not both" in err and len(err.splitlines()) == 1

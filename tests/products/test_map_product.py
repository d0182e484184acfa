"""``map --product`` end to end: per-glacier COGs, product tables, time series, per-glacier normalisation, errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import rasterio

from facies_bench import schema
from facies_bench.cli.main import main
from facies_bench.errors import RasterError, UnknownNameError
from facies_bench.mapping.features import required_features
from facies_bench.mapping.io import NODATA_CLASS
from facies_bench.mapping.products import glacier_inputs, glacier_row, map_product
from facies_bench.products import load_glaciers, open_dem_tiles, open_product, read_product_tables
from facies_bench.testing.products import FAKE_BOUNDS as BOUNDS
from facies_bench.testing.products import FAKE_GLACIERS as GLACIERS
from facies_bench.testing.products import ORIGIN, write_fake_dem_tiles, write_fake_landsat, write_fake_safe

IDS = [k[0] for k in GLACIERS]


@pytest.fixture(scope="module")
def mapped(tmp_path_factory, fs4_model, dem_dir, outlines_gpkg):
    """Two products of the same glaciers (Sentinel-2 2022, Landsat 8 2021) mapped into one folder."""
    root = tmp_path_factory.mktemp("products")
    safe = write_fake_safe(root, size=120, date="2022-08-20T10:20:31Z")
    landsat = write_fake_landsat(root, size=40, mtl=("json",), date="2021-08-15")
    out = root / "out"
    results = [map_product([fs4_model], p, [dem_dir], outlines_gpkg, out, smoothing=3) for p in (safe, landsat)]
    return {"out": out, "results": results, "safe": safe, "landsat": landsat}


def test_every_glacier_gets_georeferenced_cogs_and_a_quicklook(mapped):
    res = mapped["results"][0]
    assert res.n_mapped == 2 and list(res.table["glacier_id"]) == IDS
    with rasterio.open(res.table["facies"][0]) as src:
        classes = src.read(1)
        assert src.crs.to_epsg() == 32632 and src.nodata == NODATA_CLASS
        # glacier A spans 10 m pixels cols 10-50, rows 10-60 of the product; its map is that box grown by 1 px
        assert tuple(src.transform)[:6] == (10.0, 0.0, ORIGIN[0] + 90.0, 0.0, -10.0, ORIGIN[1] - 90.0)
        assert src.shape == (52, 42)
        assert src.tags()["GLACIER_ID"] == IDS[0] and src.tags()["SENSOR"] == "Sentinel-2"
        assert src.tags()["DATE"] == "2022-08-20"
        assert src.overviews(1) == [] or src.profile["tiled"]
    assert (classes != NODATA_CLASS).sum() == 2000 and (classes[[0, -1], :] == NODATA_CLASS).all()
    with rasterio.open(res.table["confidence"][0]) as src:
        conf = src.read(1)
        assert np.isfinite(conf[classes != NODATA_CLASS]).all() and np.isnan(conf[classes == NODATA_CLASS]).all()
    assert all(res.folder.joinpath(f"{g}_quicklook.png").stat().st_size > 1000 for g in IDS)


def test_product_table_areas_and_predictors_are_consistent(mapped):
    table = mapped["results"][0].table
    areas = table[[f"area_{k}_m2" for k in schema.CLASS_KEYS]].sum(axis=1)
    np.testing.assert_allclose(areas, table["mapped_px"] * 100.0)
    np.testing.assert_allclose(table["area_m2"], [2000 * 100.0, 2475 * 100.0])
    assert (table["elevation_min_m"] < table["elevation_mean_m"]).all() and table["albedo"].between(0, 1).all()
    payload = json.loads(mapped["results"][0].outputs["table_json"].read_text())
    assert payload["format"] == "facies-bench-product-table" and payload["product"]["sensor"] == "Sentinel-2"
    assert payload["product"]["processing_baseline"] == "04.00" and len(payload["rows"]) == 2
    csv = pd.read_csv(mapped["results"][0].outputs["table_csv"])
    assert list(csv["glacier_id"]) == IDS


def test_time_series_of_two_products(mapped):
    series = pd.read_csv(mapped["out"] / "timeseries.csv")
    assert len(series) == 4 and (series["n_dates"] == 2).all()
    first = series[series["glacier_id"] == IDS[0]]
    assert list(first["date"]) == ["2021-08-15", "2022-08-20"] and list(first["sensor"]) == ["Landsat 8", "Sentinel-2"]
    for gid in IDS:
        assert (mapped["out"] / f"timeseries_{gid}.png").stat().st_size > 1000
    tables = read_product_tables(mapped["out"])
    assert sorted(tables["product_id"].unique()) == sorted(r.product.product_id for r in mapped["results"])


def test_each_glacier_is_normalised_on_its_own(mapped, fs4_model, dem_dir, outlines_gpkg):
    product = open_product(mapped["safe"])
    tiles = open_dem_tiles([dem_dir])
    glaciers = load_glaciers(outlines_gpkg, crs=product.grid.crs, scene_bounds=product.grid.bounds)
    needed = required_features([fs4_model])
    ranges = []
    for g in glaciers:
        inputs = glacier_inputs(product, g, tiles, needed=needed, context_m=200.0)
        inside = inputs.ids > 0
        elev, prox = inputs.bands["elevation"][inside], inputs.bands["proximity"][inside]
        assert elev.min() == pytest.approx(0.0, abs=1e-6) and elev.max() == pytest.approx(1.0, abs=1e-6)
        assert prox.max() == pytest.approx(1.0, abs=1e-6) and prox.min() >= 0.0
        ranges.append((inputs.dem[inside].min(), inputs.dem[inside].max()))
    assert ranges[0][0] > ranges[1][1]  # A lies wholly above B, yet both span [0, 1]


def test_snowline_is_the_5th_percentile_of_snow_elevations(mapped, fs4_model, dem_dir, outlines_gpkg):
    product = open_product(mapped["safe"])
    glaciers = load_glaciers(outlines_gpkg, crs=product.grid.crs, scene_bounds=product.grid.bounds, selectors=["Gebroulaz"])
    inputs = glacier_inputs(product, glaciers[0], open_dem_tiles([dem_dir]), needed=required_features([fs4_model]))
    outline = inputs.ids[inputs.box] > 0
    dem = inputs.dem[inputs.box]
    classes = np.where(outline, schema.class_index("ice"), NODATA_CLASS).astype(np.uint8)
    snow = outline & (dem > np.median(dem[outline]))
    classes[snow] = schema.class_index("snow")
    from rasterio.windows import Window

    from facies_bench.products.product import window_grid

    r, c = inputs.box
    grid = window_grid(inputs.grid, Window(c.start, r.start, c.stop - c.start, r.stop - r.start))
    row = glacier_row(product, inputs, classes, grid=grid, outputs={})
    assert row["snowline_m"] == pytest.approx(np.percentile(dem[snow].astype(np.float64), 5))
    assert row["snow_ratio"] == pytest.approx(snow.sum() / outline.sum())
    assert row["area_snow_m2"] == pytest.approx(snow.sum() * 100.0) and row["area_ice_m2"] == pytest.approx((outline & ~snow).sum() * 100.0)


def test_cli_maps_a_product_by_glacier_name(tmp_path, fs4_model, dem_dir, outlines_gpkg, capsys):
    from facies_bench.models import save_checkpoint

    ckpt = tmp_path / "fold0.pt"
    save_checkpoint(fs4_model, ckpt)
    safe = write_fake_safe(tmp_path, size=120, baseline="03.01")
    out = tmp_path / "maps"
    rc = main(["map", "--product", str(safe), "--dem", str(dem_dir), "--outlines", str(outlines_gpkg),
               "--glacier", "gebroulaz", "-m", str(ckpt), "-o", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert "mapped 1 of 1 glacier(s)" in text
    folder = out / safe.name.removesuffix(".SAFE")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{IDS[1]}_facies.tif", f"{IDS[1]}_confidence.tif", f"{IDS[1]}_quicklook.png", "facies_table.csv", "facies_table.json"])
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary folder left behind


def test_cli_bad_glacier_id_is_one_line(tmp_path, fs4_model, dem_dir, outlines_gpkg, capsys):
    from facies_bench.models import save_checkpoint

    ckpt = tmp_path / "fold0.pt"
    save_checkpoint(fs4_model, ckpt)
    safe = write_fake_safe(tmp_path, size=40)
    rc = main(["map", "--product", str(safe), "--dem", str(dem_dir), "--outlines", str(outlines_gpkg),
               "--glacier", "RGI2000-v7.0-G-11-99999", "-m", str(ckpt), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and "RGI2000-v7.0-G-11-99999" in err and str(outlines_gpkg) in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_dem_that_does_not_cover_the_glacier_names_the_tiles(tmp_path, fs4_model, outlines_gpkg):
    west_half = (BOUNDS[0], BOUNDS[1], BOUNDS[0] + 500.0, BOUNDS[3])  # glacier B (cols 65-110) is east of it
    tiles = write_fake_dem_tiles(tmp_path / "dem", bounds_utm=west_half, n_tiles=1, pad_deg=0.0)
    safe = write_fake_safe(tmp_path, size=120)
    with pytest.raises(RasterError) as err:
        map_product([fs4_model], safe, tiles, outlines_gpkg, tmp_path / "out", glaciers=["Gebroulaz"])
    msg = str(err.value)
    assert tiles[0].name in msg and "do not cover glacier Gebroulaz" in msg and "\n" not in msg
    assert not [p for p in (tmp_path / "out").iterdir()]  # the temporary product folder was removed


def test_unknown_glacier_and_no_model(tmp_path, fs4_model, dem_dir, outlines_gpkg):
    safe = write_fake_safe(tmp_path, size=40)
    with pytest.raises(UnknownNameError, match="No glacier 'Aletsch' in outline file"):
        map_product([fs4_model], safe, [dem_dir], outlines_gpkg, tmp_path / "o", glaciers=["Aletsch"])
    with pytest.raises(ValueError, match="at least one model"):
        map_product([], safe, [dem_dir], outlines_gpkg, tmp_path / "o")


def test_glacier_outside_the_valid_data_is_listed_not_mapped(tmp_path, fs4_model, dem_dir, outlines_gpkg):
    safe = write_fake_safe(tmp_path, size=120, nodata_box=(0, 70, 0, 60))  # glacier A has no data
    res = map_product([fs4_model], safe, [dem_dir], outlines_gpkg, tmp_path / "o", quicklook=False)
    assert list(res.table["status"]) == ["no valid optical data over the glacier (outside the product's footprint or all nodata)",
                                         "mapped"]
    assert res.n_mapped == 1


def test_glacier_cut_by_the_product_edge_says_so(tmp_path, fs4_model, dem_dir):
    from facies_bench.testing.products import box_ring, write_fake_outlines

    rgi = write_fake_outlines(tmp_path / "edge.gpkg", {("RGI2000-v7.0-G-11-00077", "Edge"): box_ring(80, 20, 160, 60)})
    safe = write_fake_safe(tmp_path, size=120)
    res = map_product([fs4_model], safe, [dem_dir], rgi, tmp_path / "o", quicklook=False)
    row = res.table.iloc[0]
    assert row["status"] == "mapped" and row["glacier_px"] == 40 * 40  # only cols 80-120 are on the product
    assert "only 50.0% of the outline lies within the product" in row["issues"]


@pytest.mark.parametrize("broken", ["missing_band", "no_sun"])
def test_cli_bad_product_is_one_line_naming_it(tmp_path, fs4_model, dem_dir, outlines_gpkg, capsys, broken):
    """A product missing a band, or without sun angles, stops `map --product` with one line naming the file."""
    from facies_bench.models import save_checkpoint

    ckpt = tmp_path / "fold0.pt"
    save_checkpoint(fs4_model, ckpt)
    kwargs = {"missing_band": "B12"} if broken == "missing_band" else {"sun_zenith": None, "sun_azimuth": None}
    safe = write_fake_safe(tmp_path, size=40, **kwargs)
    rc = main(["map", "--product", str(safe), "--dem", str(dem_dir), "--outlines", str(outlines_gpkg),
               "-m", str(ckpt), "-o", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and str(safe) in err and len(err.splitlines()) == 1
    assert ("B12" in err) if broken == "missing_band" else ("MTD_TL.xml" in err)


def test_outlines_in_another_crs_are_mapped_not_refused(mapped, outlines_gpkg):
    """The outlines are in EPSG:4326, the products in UTM 32N: both products map every glacier."""
    import pyogrio

    assert pyogrio.read_info(outlines_gpkg)["crs"] == "EPSG:4326"
    for result in mapped["results"]:
        assert result.n_mapped == len(GLACIERS) and (result.table["status"] == "mapped").all()


def test_cli_maps_each_granule_of_a_pre2016_product(tmp_path, fs4_model, dem_dir, outlines_gpkg, old_multi_granule_safe,
                                                    capsys):
    """A multi-granule SAFE maps granule by granule; the granule that covers no glacier is left out."""
    from facies_bench.models import save_checkpoint

    ckpt = tmp_path / "fold0.pt"
    save_checkpoint(fs4_model, ckpt)
    safe, _ = old_multi_granule_safe
    rc = main(["map", "--product", str(safe), "--dem", str(dem_dir), "--outlines", str(outlines_gpkg),
               "-m", str(ckpt), "-o", str(tmp_path / "o"), "--glacier", IDS[0]])
    out = capsys.readouterr().out
    assert rc == 0, out
    folders = [p.name for p in (tmp_path / "o").iterdir() if p.is_dir()]
    assert len(folders) == 1 and folders[0].endswith("_T32TMS")
    table = pd.read_csv(tmp_path / "o" / folders[0] / "facies_table.csv")
    assert list(table["glacier_id"]) == [IDS[0]] and (table["status"] == "mapped").all()


def test_granules_that_cover_no_glacier_are_an_error_naming_the_outlines(outlines_gpkg, old_multi_granule_safe):
    from facies_bench.mapping.products import glaciers_per_granule
    from facies_bench.products import open_products

    west, east = open_products(old_multi_granule_safe[0])
    assert glaciers_per_granule([west, east], outlines_gpkg) == [(west, IDS)]
    with pytest.raises(RasterError, match="No granule of .* covers any outline of") as err:
        glaciers_per_granule([east, east], outlines_gpkg)
    assert str(outlines_gpkg) in str(err.value) and "\n" not in str(err.value)

"""facies_bench.data.convert: a fake release of GeoTIFFs round-trips exactly; invalid files are reported."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import from_origin  # noqa: E402

from facies_bench import schema  # noqa: E402
from facies_bench.data.convert import REPORT_NAME, convert_release, parse_patch_name, patch_file_name  # noqa: E402
from facies_bench.data.store import open_store, store_summary  # noqa: E402
from facies_bench.errors import ConversionError  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:rasterio.*")

GLACIERS = ["Sex Rouge", "Goldberg K", "Langjokull ice cap", "Maladeta", "Kongsvegen", "Engabreen"]


def _write_tif(path: Path, data: np.ndarray, x0: float, y0: float) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype="float32", crs="EPSG:32632", transform=from_origin(x0, y0, 10, 10)) as dst:
        dst.write(data.astype(np.float32))


def _make_release(root: Path, *, seed: int = 0) -> dict[tuple[float, float], dict]:
    """216 valid patch files in the published layout; returns the truth keyed by centre x/y."""
    rng = np.random.default_rng(seed)
    truth = {}
    i = 0
    for gi, glacier in enumerate(GLACIERS):
        fold = gi % schema.N_FOLDS
        for date in ("2019-08-12", "2021-09-01"):
            for p in range(18):
                label = int(rng.integers(schema.N_CLASSES))
                data = rng.normal(0.4, 0.2, (11, 33, 33)).astype(np.float32)
                data[0, 0, 0] = np.nan if i == 3 else data[0, 0, 0]  # nodata pixels survive untouched
                # spell glacier names the ways a release may: schema name, underscores, no spaces
                spelled = {0: glacier, 1: glacier.replace(" ", "_"), 2: glacier.replace(" ", "")}[i % 3]
                name = f"{fold}_{spelled}_{date.replace('-', '') if i % 2 else date}_{p}_{schema.CLASS_NAMES[label]}.tif"
                sub = root / f"fold{fold}"
                sub.mkdir(parents=True, exist_ok=True)
                x0, y0 = 400000.0 + 1000 * i, 5100000.0 - 500 * gi
                _write_tif(sub / name, data, x0, y0)
                truth[(x0 + 165.0, y0 - 165.0)] = {"patch": data, "label": label, "fold": fold, "glacier": glacier,
                                                   "date": date, "file": name}
                i += 1
    return truth


INVALID = {
    "0_Sex Rouge_20190812_900_ice_10bands.tif": "unknown class",
    "1_Sex Rouge_20190812_901_ice.tif": "wrong band count",
    "2_Sex Rouge_20190812_902_snow.tif": "wrong size",
    "3_Sex Rouge_20190812_903_slush.tif": "unknown class",
    "4_Atlantis_20190812_904_ice.tif": "unknown glacier",
    "7_Sex Rouge_20190812_905_ice.tif": "fold 0-5",
    "5_Sex Rouge_2019-13-45_906_ice.tif": "no date found",
    "notes_ice.tif": "at least 4",
    "0_Sex Rouge_20190812_907_firn.tif": "unreadable GeoTIFF",
}


def _add_invalid(root: Path) -> None:
    bad = root / "extra"
    bad.mkdir()
    rng = np.random.default_rng(9)
    for name in INVALID:
        path = bad / name
        if "907" in name:
            path.write_bytes(b"II*\x00 this is not a tiff")
        elif "901" in name:
            _write_tif(path, rng.random((10, 33, 33)), 0, 0)
        elif "902" in name:
            _write_tif(path, rng.random((11, 32, 33)), 0, 0)
        else:
            _write_tif(path, rng.random((11, 33, 33)), 0, 0)
    (root / "README.txt").write_text("release notes")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    truth = _make_release(root)
    _add_invalid(root)
    scenes = root.parent / "scenes.csv"
    scenes.write_text("glacier,date,sensor\nSex Rouge,2019-08-12,Sentinel-2\nkongsvegen,20210901,L8\n")
    return root, truth, scenes


@pytest.fixture(scope="module")
def converted(release, tmp_path_factory):
    root, truth, scenes = release
    out = tmp_path_factory.mktemp("converted") / "release.zarr"
    result = convert_release(root, out, scenes_csv=scenes, progress=False)
    return out, result


def test_every_pixel_label_and_column_round_trips(release, converted):
    root, truth, _ = release
    out, result = converted
    store = open_store(out)
    assert store.n_samples == len(truth) == result.n_converted
    assert not store.is_synthetic and store.name == "glacier-facies"
    meta = store.metadata("raw")
    patches = store.read_patches(slice(0, store.n_samples))
    seen = set()
    for i, row in meta.iterrows():
        t = truth[(row["x"], row["y"])]
        seen.add((row["x"], row["y"]))
        np.testing.assert_array_equal(patches[i], t["patch"])  # NaN-aware, bit-exact float32
        assert row["label"] == t["label"] and row["fold"] == t["fold"] and row["glacier"] == t["glacier"]
        assert row["region"] == schema.glacier_region(t["glacier"]) and row["date"] == t["date"]
        assert row["scene_id"] == f"{schema.slug(t['glacier'])}_{t['date'].replace('-', '')}"
        assert row["sample_id"] == i and row["row"] == -1 and row["col"] == -1
        expected_sensor = {("Sex Rouge", "2019-08-12"): "Sentinel-2", ("Kongsvegen", "2021-09-01"): "Landsat 8"}
        assert row["sensor"] == expected_sensor.get((t["glacier"], t["date"]), "unknown")
    assert len(seen) == len(truth)
    # rows sorted by fold, glacier, scene; min/max from the data
    keys = list(zip(meta["fold"], [schema.glacier_index(g) for g in meta["glacier"]], meta["scene_id"], strict=True))
    assert keys == sorted(keys)
    np.testing.assert_allclose(store.feature_min, np.nanmin(patches, axis=(0, 2, 3)))
    np.testing.assert_allclose(store.feature_max, np.nanmax(patches, axis=(0, 2, 3)))


def test_store_without_scene_rasters_opens_and_summarises(converted):
    store = open_store(converted[0])
    assert len(store.scene_ids) == 2 * len(GLACIERS)
    summary = store_summary(store)
    assert summary["n_scenes"] == 2 * len(GLACIERS) and summary["sensors"]["unknown"] > 0
    assert store.attrs["provenance"]["record"] == "18469893"
    assert set(store.attrs["provenance"]["scene_crs"].values()) == {"EPSG:32632"}


def test_invalid_files_are_skipped_with_reasons(release, converted):
    root, _, _ = release
    out, result = converted
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert set(reasons) == set(INVALID)
    for name, fragment in INVALID.items():
        assert fragment in reasons[name], (name, reasons[name])
        assert name in reasons[name] or "GeoTIFF" in reasons[name] or "expected" in reasons[name]
    assert "expected 11 bands of 33x33 pixels, found 10 band(s)" in reasons["1_Sex Rouge_20190812_901_ice.tif"]
    assert "found 11 band(s) of 32x33" in reasons["2_Sex Rouge_20190812_902_snow.tif"]
    assert "Valid: ice, snow" in reasons["3_Sex Rouge_20190812_903_slush.tif"]
    assert result.ignored == ["README.txt"]
    report = json.loads((out.parent / REPORT_NAME).read_text())
    assert report["n_skipped"] == len(INVALID) and report["n_converted"] == result.n_converted
    assert {Path(s["path"]).name for s in report["skipped"]} == set(INVALID)


def test_conversion_is_idempotent(release, converted):
    root, _, scenes = release
    out, first = converted
    stamp = (out / "zarr.json").stat().st_mtime_ns
    again = convert_release(root, out, scenes_csv=scenes, progress=False)
    assert again.unchanged and again.content_hash == first.content_hash
    assert (out / "zarr.json").stat().st_mtime_ns == stamp
    # touching a file changes the fingerprint: the store is rebuilt, found identical and left alone
    any_tif = next(root.rglob("*_ice.tif"))
    os.utime(any_tif, ns=(any_tif.stat().st_atime_ns, any_tif.stat().st_mtime_ns + 10**9))
    rebuilt = convert_release(root, out, scenes_csv=scenes, progress=False)
    assert rebuilt.unchanged and rebuilt.content_hash == first.content_hash
    assert (out / "zarr.json").stat().st_mtime_ns == stamp
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_same_input_same_hash_anywhere(release, converted, tmp_path):
    root, _, scenes = release
    other = convert_release(root, tmp_path / "b.zarr", scenes_csv=scenes, progress=False, workers=3)
    assert other.content_hash == converted[1].content_hash


@pytest.mark.parametrize("name,glacier,date,label,extra", [
    ("3_Goldberg K_20190812_17_ice.tif", "Goldberg K", "2019-08-12", 0, "17"),
    ("3_Goldberg_K_2019-08-12_17_refrozen-like.tif", "Goldberg K", "2019-08-12", 5, "17"),
    ("0_langjokullicecap_20000815_a_b_refrozen.TIF", "Langjokull ice cap", "2000-08-15", 5, "a_b"),
    ("5_Kesselwand F_19860901_x_cloud.tiff", "Kesselwand F", "1986-09-01", 7, "x"),
])
def test_parse_patch_name(name, glacier, date, label, extra):
    parsed = parse_patch_name(name)
    assert (parsed.glacier, parsed.date, parsed.label, parsed.extra) == (glacier, date, label, extra)
    assert parse_patch_name(patch_file_name(parsed.fold, glacier, date, extra, label)) == parsed


def test_no_valid_file_says_what_was_expected_and_found(tmp_path):
    (tmp_path / "rel").mkdir()
    (tmp_path / "rel" / "patches.zip").write_bytes(b"PK")
    (tmp_path / "rel" / "ice_0001.tif").write_bytes(b"")
    with pytest.raises(ConversionError, match=r"expected 11-band 33x33 GeoTIFFs named \{fold\}_\{glacier\}.*found 1 \.tif file\(s\) and 1 other.*ice_0001\.tif"):
        convert_release(tmp_path / "rel", tmp_path / "s.zarr", progress=False)
    assert not (tmp_path / "s.zarr").exists()


def test_bad_scenes_table(release, tmp_path):
    root, _, _ = release
    bad = tmp_path / "scenes.csv"
    bad.write_text("glacier,when,sensor\n")
    with pytest.raises(ConversionError, match="lacks column\\(s\\) date"):
        convert_release(root, tmp_path / "s.zarr", scenes_csv=bad, progress=False)
    bad.write_text("glacier,date,sensor\nAdler,2011-08-01,Landsat 12\n")
    with pytest.raises(ConversionError, match="line 2: Unknown sensor 'Landsat 12'"):
        convert_release(root, tmp_path / "s.zarr", scenes_csv=bad, progress=False)

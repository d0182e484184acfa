"""A small multi-year store for the SMB tests: a few glaciers, one scene per year, moving snowlines.

As in the simulator, each glacier-year's snow cover and mass-balance record come from one
process, the degree-day model of :mod:`facies_bench.synth.massbalance`: the scene's snow reaches
down to that year's transient snowline on the acquisition date, and the record
(``SceneInfo.extra["mass_balance"]``) is that year's balance.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.data.store import SceneInfo, StoreBuilder
from facies_bench.synth import massbalance as mb
from facies_bench.testing.synthetic import _TINY_SPECTRA, _cut

SNOW, FIRN, ICE, DEBRIS, CLOUD = (schema.class_index(c) for c in ("snow", "firn", "ice", "debris", "cloud"))
SIZE = 24
YEARS = tuple(range(2013, 2019))
GLACIERS = ("Silvretta", "Kongsvegen", "Midtre Lovenbreen", "Storbreen", "Argentiere", "Pasterze")
#: Kongsvegen 2015 is only seen in July, Silvretta 2014 twice.
SPECIAL = {("Kongsvegen", 2015), ("Silvretta", 2014)}


def _grid():
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / (SIZE - 1)
    outline = ((xx - 0.5) ** 2 / 0.3 + (yy - 0.5) ** 2 / 0.35) < 1.0
    return yy, xx, outline


def glacier_elevations(glacier: schema.Glacier) -> np.ndarray:
    """Elevations of the glacier pixels (the noise-free ramp of :func:`multiyear_scene`)."""
    yy, _, outline = _grid()
    return (glacier.min_elev_m + (glacier.max_elev_m - glacier.min_elev_m) * (1 - yy))[outline]


def snow_free_glacier_year(seed: int = 0, glaciers=GLACIERS, years=YEARS) -> tuple[str, int]:
    """The glacier-year with the most negative process balance: its map is drawn without any snow."""
    balances = {}
    for name in glaciers:
        g = schema.glacier(name)
        z = glacier_elevations(g)
        climate = mb.glacier_climate(g, z, seed=seed)
        for y in years:
            if (name, y) not in SPECIAL:
                balances[(name, y)] = mb.glacier_year(climate, g, y, z, seed=seed).annual
    return min(balances, key=balances.get)


#: The glacier-year whose map shows no snow (the hottest summer of the series; seed 0).
SNOW_FREE = snow_free_glacier_year()


def multiyear_scene(rng: np.random.Generator, glacier: schema.Glacier, snow_fraction: float, *, cloud: bool):
    """Features, outline, dem and facies of a glacier whose top ``snow_fraction`` of rows is snow."""
    yy, xx, outline = _grid()
    span = glacier.max_elev_m - glacier.min_elev_m
    dem = glacier.min_elev_m + span * (1 - yy) + 5 * rng.standard_normal((SIZE, SIZE))
    facies = np.full((SIZE, SIZE), ICE, np.int8)
    facies[yy < snow_fraction] = SNOW
    facies[(yy >= snow_fraction) & (yy < snow_fraction + 0.1)] = FIRN
    facies[yy > 0.92] = DEBRIS
    if cloud:
        facies[(yy > 0.6) & (yy < 0.7) & (xx < 0.3)] = CLOUD
    optical = _TINY_SPECTRA[facies].transpose(2, 0, 1) + 0.01 * rng.standard_normal((6, SIZE, SIZE))
    features = np.zeros((schema.N_FEATURES, SIZE, SIZE), np.float32)
    features[:6] = optical
    features[6] = (dem - dem.min()) / (dem.max() - dem.min())
    return features, outline, dem.astype(np.float32), facies


def make_multiyear_store(path, *, seed: int = 0, glaciers=GLACIERS, years=YEARS):
    """One scene per glacier-year in the window, plus: a closer duplicate (Silvretta 2014), a
    July-only year (Kongsvegen 2015, outside the window) and a snow-free map in the glacier-year
    with the most negative balance (``snow_free_glacier_year``: the one map drawn without the
    process's snowline, whose top few per cent would still be snow-covered)."""
    snow_free = snow_free_glacier_year(seed, glaciers, years)
    rng = np.random.default_rng(seed)
    plan = []
    for gi, name in enumerate(glaciers):
        g = schema.glacier(name)
        z = glacier_elevations(g)
        climate = mb.glacier_climate(g, z, seed=seed)
        for y in years:
            record = mb.glacier_year(climate, g, y, z, seed=seed).to_dict()
            day = dt.date(y, 8, 20) + dt.timedelta(days=int(rng.integers(-15, 16)))
            if name == "Kongsvegen" and y == 2015:
                day = dt.date(y, 7, 10)
            days = [day] if not (name == "Silvretta" and y == 2014) else [dt.date(y, 8, 21), dt.date(y, 8, 5)]
            for d in days:
                line = mb.transient_snowline(climate, g, d, seed=seed)
                frac = 1.0 - mb.normalised_elevation(climate, line)  # rows above the snowline are snow
                if (name, y) == snow_free:
                    frac = -1.0  # no snow at all
                plan.append((gi % schema.N_FOLDS, g, d, frac, y % 3 == 0 and len(days) == 1, record))
    plan.sort(key=lambda p: (p[0], p[1].index, p[2]))
    builder = StoreBuilder(path, n_samples=len(plan), dataset_name="smb-multiyear", dataset_version=f"test-{seed}",
                           is_synthetic=True, provenance={"generator": "tests/smb/conftest.py"}, overwrite=True)
    with builder:
        rows, patches = [], []
        for fold, g, day, frac, cloud, record in plan:
            sensor = "Sentinel-2" if day.year >= 2016 else "Landsat 8"
            feats, outline, dem, facies = multiyear_scene(rng, g, frac, cloud=cloud)
            sid = f"{schema.slug(g.name)}_{day:%Y%m%d}"
            info = SceneInfo(scene_id=sid, glacier=g.name, sensor=sensor, date=day.isoformat(), crs="EPSG:32632",
                             transform=(10.0, 0.0, 400000.0, 0.0, -10.0, 5100000.0), shape=(SIZE, SIZE),
                             extra={"mass_balance": record})
            builder.add_scene(info, feats, outline, dem=dem, true_facies=facies)
            r = c = SIZE // 2
            patches.append(_cut(feats, r, c))
            rows.append({"fold": fold, "glacier": g.name, "region": g.region, "sensor": sensor, "scene": sid,
                         "date": day.isoformat(), "row": r, "col": c, "x": 400000.0, "y": 5100000.0, "label": int(facies[r, c])})
        builder.write_patches(0, np.stack(patches))
        cols = {k: [row[k] for row in rows] for k in rows[0] if k != "label"}
        cols["sample_id"] = np.arange(len(rows))
        builder.set_samples(cols)
        labels = np.array([row["label"] for row in rows], np.int8)
        builder.set_labels(labels, true=labels)
        return builder.finish()


@pytest.fixture(scope="session")
def multiyear_store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("smb") / "multiyear.zarr"
    make_multiyear_store(path)
    return path


@pytest.fixture(scope="session")
def snow_free() -> tuple[str, int]:
    """(glacier, year) of the multi-year store's snow-free map."""
    return SNOW_FREE


@pytest.fixture(scope="session")
def multiyear_store(multiyear_store_path):
    from facies_bench.data.store import open_store

    return open_store(multiyear_store_path)


@pytest.fixture(scope="session")
def multiyear_wgms(multiyear_store, tmp_path_factory):
    """Synthetic WGMS records of the multi-year store (seed 0), written once."""
    from facies_bench.smb import write_synthetic_wgms

    return write_synthetic_wgms(multiyear_store, seed=0, outdir=tmp_path_factory.mktemp("smb_wgms"))


@pytest.fixture(scope="session")
def true_facies_report(multiyear_store, multiyear_wgms):
    """run_smb on the multi-year store's true facies, computed once."""
    from facies_bench.smb import run_smb

    return run_smb(multiyear_store, multiyear_wgms["table"], multiyear_wgms["mapping"], use_true_facies=True)


@pytest.fixture(scope="session")
def multiyear_maps(multiyear_store, tmp_path_factory):
    """The store's true facies written as tagged facies GeoTIFFs with the mapper's writer."""
    pytest.importorskip("rasterio")
    from facies_bench.mapping.io import RasterGrid, write_facies_map

    folder = tmp_path_factory.mktemp("smb_maps")
    for sid in multiyear_store.scene_ids:
        scene = multiyear_store.scene(sid)
        classes = np.where(scene.outline, scene.true_facies, 255).astype(np.uint8)
        meta = {"scene_id": sid, "glacier": scene.info.glacier, "sensor": scene.info.sensor, "date": scene.info.date}
        write_facies_map(folder / f"{sid}_facies.tif", classes, RasterGrid.from_scene_info(scene.info), tags=meta)
    return folder

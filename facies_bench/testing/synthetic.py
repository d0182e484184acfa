"""A tiny, fast store for unit tests, written through the production :class:`StoreBuilder`.

It is not the simulator (see ``facies_bench.synth``): scenes are small elevation-banded facies
maps with class-dependent reflectance and noise, enough for every class to be learnable and for
each test to run in seconds.  Every class has labelled points in every fold.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore, SceneInfo, StoreBuilder

# Mean TOA reflectance (blue, green, red, nir, swir1, swir2) per class, in class order.
_TINY_SPECTRA = np.array([
    [0.55, 0.50, 0.42, 0.30, 0.05, 0.04],  # ice
    [0.90, 0.88, 0.85, 0.78, 0.15, 0.10],  # snow
    [0.20, 0.20, 0.22, 0.28, 0.30, 0.25],  # debris
    [0.65, 0.60, 0.52, 0.47, 0.08, 0.06],  # firn
    [0.08, 0.07, 0.06, 0.05, 0.02, 0.02],  # shadow
    [0.70, 0.55, 0.35, 0.20, 0.03, 0.02],  # refrozen-like
    [0.12, 0.10, 0.06, 0.03, 0.01, 0.01],  # water
    [0.75, 0.74, 0.74, 0.74, 0.55, 0.45],  # cloud
], dtype=np.float32)


def _tiny_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Features (11, H, W), outline, dem and true facies for one tiny scene."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    dem = 1000 + 800 * (1 - yy) + 30 * rng.standard_normal((size, size)).astype(np.float32)
    facies = np.zeros((size, size), np.int8)  # ice
    facies[yy < 0.25] = 1  # snow on top
    facies[(yy >= 0.25) & (yy < 0.40)] = 3  # firn
    facies[yy > 0.85] = 2  # debris at the terminus
    facies[(yy > 0.40) & (yy < 0.47) & (xx < 0.3)] = 5  # refrozen next to firn
    facies[(yy > 0.55) & (yy < 0.65) & (xx > 0.75)] = 6  # a lake
    facies[(xx < 0.12) & (yy > 0.45) & (yy < 0.8)] = 4  # shadow strip
    facies[(yy < 0.18) & (xx > 0.8)] = 7  # a cloud corner
    optical = _TINY_SPECTRA[facies].transpose(2, 0, 1) + 0.03 * rng.standard_normal((6, size, size)).astype(np.float32)
    elevation = (dem - dem.min()) / (dem.max() - dem.min())
    slope = np.degrees(np.arctan(np.hypot(*np.gradient(dem, schema.PIXEL_SIZE_M)))).astype(np.float32)
    shadow = (facies == 4).astype(np.float32)
    lit = 1.0 - shadow  # the authors' shadow-mask polarity: 1 = lit
    hillshade = np.clip(0.7 - 0.5 * shadow + 0.05 * rng.standard_normal((size, size)), 0, 1).astype(np.float32)
    proximity = np.minimum.reduce([xx, 1 - xx, yy, 1 - yy]).astype(np.float32) * 2
    features = np.concatenate([optical, np.stack([elevation, slope, lit, hillshade, proximity])]).astype(np.float32)
    outline = np.ones((size, size), bool)
    return features, outline, dem.astype(np.float32), facies


def _cut(features: np.ndarray, row: int, col: int) -> np.ndarray:
    half = schema.PATCH_SIZE // 2
    padded = np.pad(features, ((0, 0), (half, half), (half, half)), mode="reflect")
    return padded[:, row:row + schema.PATCH_SIZE, col:col + schema.PATCH_SIZE]


def make_tiny_store(path: str | Path, *, seed: int = 0, n_glaciers: int = 12, size: int = 48,
                    points_per_class: int = 6, flip_fraction: float = 0.05, overwrite: bool = True) -> FaciesStore:
    """Write a tiny synthetic store and return it opened.

    Args:
        path: where to write the store.
        seed: random seed; the same seed gives the same store bit for bit.
        n_glaciers: glaciers (one scene each), spread round-robin over the six folds.
        size: scene side in pixels.
        points_per_class: labelled points per class and scene.
        flip_fraction: share of facies labels flipped to a neighbouring class (label noise).
        overwrite: replace an existing store at ``path``.
    """
    rng = np.random.default_rng(seed)
    glaciers = [g for g in schema.GLACIERS if g.name != "Maladeta"][:n_glaciers]
    folds = {g.name: i % schema.N_FOLDS for i, g in enumerate(glaciers)}
    order = sorted(glaciers, key=lambda g: (folds[g.name], g.index))
    scenes, rows = [], []
    for g in order:
        sensor = schema.SENSORS[(g.index % 2) * 4]  # Landsat 5 or Sentinel-2
        date = dt.date(2010 if sensor.name == "Landsat 5" else 2020, 8, 10 + g.index % 15)
        feats, outline, dem, facies = _tiny_scene(rng, size)
        scene_id = f"{schema.slug(g.name)}_{date:%Y%m%d}_{schema.slug(sensor.name)}"
        info = SceneInfo(scene_id=scene_id, glacier=g.name, sensor=sensor.name, date=date.isoformat(), crs="EPSG:32632",
                         transform=(10.0, 0.0, 400000.0 + 1000 * g.index, 0.0, -10.0, 5100000.0), shape=(size, size),
                         sun_azimuth=160.0, sun_elevation=40.0)
        scenes.append((info, feats, outline, dem, facies))
        for cls in range(schema.N_CLASSES):
            cand = np.argwhere(facies == cls)
            pick = cand[rng.choice(len(cand), size=min(points_per_class, len(cand)), replace=False)]
            for r, c in pick:
                rows.append((folds[g.name], g.index, scene_id, int(r), int(c), cls, g, sensor.name, date, info))
    n = len(rows)
    true = np.array([r[5] for r in rows], np.int8)
    raw = true.copy()
    neighbours = {0: 3, 1: 3, 3: 1, 5: 0, 2: 0}
    flip = rng.random(n) < flip_fraction
    for i in np.flatnonzero(flip):
        raw[i] = neighbours.get(int(true[i]), int(true[i]))
    builder = StoreBuilder(path, n_samples=n, dataset_name="glacier-facies-tiny", dataset_version=f"tiny-{seed}",
                           is_synthetic=True, provenance={"generator": "facies_bench.testing.make_tiny_store", "seed": seed,
                                                          "n_glaciers": n_glaciers, "size": size}, overwrite=overwrite)
    with builder:
        scene_features = {}
        for info, feats, outline, dem, facies in scenes:
            builder.add_scene(info, feats, outline, dem=dem, true_facies=facies)
            scene_features[info.scene_id] = feats
        patches = np.stack([_cut(scene_features[r[2]], r[3], r[4]) for r in rows])
        builder.write_patches(0, patches)
        t = rows[0][9].transform
        builder.set_samples({
            "sample_id": np.arange(n), "fold": [r[0] for r in rows], "glacier": [r[6].name for r in rows],
            "region": [r[6].region for r in rows], "sensor": [r[7] for r in rows], "scene": [r[2] for r in rows],
            "date": [r[8].isoformat() for r in rows], "row": [r[3] for r in rows], "col": [r[4] for r in rows],
            "x": [r[9].transform[2] + (r[4] + 0.5) * t[0] for r in rows],
            "y": [r[9].transform[5] + (r[3] + 0.5) * t[4] for r in rows],
        })
        builder.set_labels(raw, true=true)
        return builder.finish()

"""Build the embedded synthetic glacier facies store (``facies-bench data synth``).

Two passes over the 92 planned scenes, in row order (fold, glacier, date):

1. simulate each scene (terrain and reference climate drawn once per glacier; the glacier-year's
   degree-day mass balance sets the scene's transient snowline and is kept in
   ``SceneInfo.extra["mass_balance"]``), stage its rasters in a temporary directory and keep
   only its true-facies map and flags in memory;
2. allocate labels to scenes and classes (published shares) and sample the points; the sample
   count is now known, so the :class:`~facies_bench.data.store.StoreBuilder` is opened and, per
   scene, the staged rasters are added and the 33x33 patches around its points streamed to it.

Peak memory is one scene's rasters plus its patches plus the kept truth maps, not the dataset;
the builder writes atomically (temporary sibling, renamed when complete).
Every random draw comes from ``numpy.random.SeedSequence([seed, stream, index])`` so a seed
gives the same store bit for bit (same ``content_hash``), whatever else ran before.
"""

from __future__ import annotations

import datetime as _dt
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facies_bench import schema
from facies_bench.data.cache import SYNTHETIC_VERSION
from facies_bench.data.store import FaciesStore, SceneInfo, StoreBuilder
from facies_bench.errors import InvalidValueError
from facies_bench.synth.labels import allocate_labels, cut_patches, labellable_counts, sample_points
from facies_bench.synth.landscape import Landscape, make_landscape, scene_side
from facies_bench.synth.massbalance import (
    GlacierClimate,
    glacier_climate,
    glacier_year,
    normalised_elevation,
    transient_snowline,
)
from facies_bench.synth.plan import ScenePlan, make_plan, scene_label_counts
from facies_bench.synth.render import simulate_scene

log = logging.getLogger(__name__)

DATASET_NAME = "glacier-facies-synthetic"
#: The simulator's version is the embedded dataset's (one constant, in the cache that names its stores).
GENERATOR_VERSION = SYNTHETIC_VERSION
#: Progress callback: (steps done, total steps, what is being done).
ProgressCallback = Callable[[int, int, str], None]
_STREAM_TERRAIN, _STREAM_SCENE, _STREAM_POINTS = 10, 20, 30
_EPOCH = _dt.date(1970, 1, 1)


def _rng(seed: int, stream: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream, int(index)]))


def _utm(lat: float, lon: float) -> tuple[str, float, float]:
    """EPSG code and projected coordinates of a point, in its UTM zone (Svalbard: zone 33)."""
    from rasterio.warp import transform

    zone = 33 if lat > 72 else int((lon + 180) // 6) + 1
    crs = f"EPSG:{32600 + zone}"
    xs, ys = transform("EPSG:4326", crs, [lon], [lat])
    return crs, float(xs[0]), float(ys[0])


def glacier_elevations(glacier: schema.Glacier, land: Landscape) -> np.ndarray:
    """Elevations (m) of the glacier's pixels on its published range.

    The miniature's relief may be compressed (``landscape.MEAN_SURFACE_SLOPE``); the mass
    balance is computed on the glacier's real elevation range, with the miniature's hypsometry.
    """
    z = land.dem[land.outline].astype(np.float64)
    span = float(np.ptp(z))
    e = (z - z.min()) / span if span > 0 else np.zeros_like(z)
    return glacier.min_elev_m + e * (glacier.max_elev_m - glacier.min_elev_m)


def generate_store(path: str | Path, *, scale: float = 1.0, seed: int = 0, overwrite: bool = False,
                   glaciers: list[str] | None = None, progress: ProgressCallback | None = None) -> FaciesStore:
    """Simulate the synthetic pan-European glacier facies dataset and write it as a store.

    Args:
        path: where to write the store (local directory).
        scale: fraction of the published 137,592 labels (scene sides shrink with
            ``scale ** 0.25``, floor 96 px); the 31 glaciers, 92 scenes and 6 folds are kept.
        seed: random seed; the same seed and scale give the same store bit for bit.
        overwrite: replace an existing store at ``path``.
        glaciers: keep only these glaciers' scenes (a regional or test subset); scenes are those
            of the full dataset, labels are allocated over the subset.
        progress: optional callback ``(done, total, description)``.

    Returns:
        The finished store, opened for reading.
    """
    if not 0 < scale <= 1:
        msg = f"scale must be in (0, 1]; got {scale!r}. Use 1 for the full-size dataset, e.g. 0.05 for a quick one."
        raise InvalidValueError(msg)
    plan = make_plan(seed)
    counts = scene_label_counts(plan, scale)
    if glaciers is not None:
        wanted = {schema.GLACIERS[schema.glacier_index(g)].name for g in glaciers}
        keep = [i for i, p in enumerate(plan) if p.glacier in wanted]
        plan, counts = [plan[i] for i in keep], counts[keep]
    n_steps = 2 * len(plan)
    step = 0

    def tick(desc: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, n_steps, desc)

    provenance = {"generator": "facies_bench.synth.generate_store", "generator_version": GENERATOR_VERSION,
                  "scale": scale, "seed": seed, "n_scenes": len(plan), "glaciers": glaciers,
                  "reference": "Maslov et al., preprint doi:10.31223/X5QN1V; see docs/simulator.md"}
    staged = _StagedScenes()
    try:
        kept, infos = _simulate_scenes(plan, staged, scale=scale, seed=seed, tick=tick)
        points = _place_labels(plan, kept, counts, seed=seed)
        del kept
        n_samples = int(sum(len(pt[0]) for pt in points))
        builder = StoreBuilder(path, n_samples=n_samples, dataset_name=DATASET_NAME,
                               dataset_version=f"synthetic-{GENERATOR_VERSION}-scale{scale:g}-seed{seed}",
                               is_synthetic=True, provenance=provenance, overwrite=overwrite)
        with builder:
            _write_scenes_and_samples(builder, plan, infos, staged, points, n_samples=n_samples, tick=tick)
            store = builder.finish()
    finally:
        staged.close()
    log.info("wrote %s: %d samples, %d scenes", path, store.n_samples, len(plan))
    return store


def _simulate_scenes(plan: list[ScenePlan], staged: _StagedScenes, *, scale: float, seed: int,
                     tick: Callable[[str], None]) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[SceneInfo]]:
    """Simulate every planned scene (one landscape and climate per glacier), staging its rasters.

    Returns each scene's (true facies, flags), kept in memory for placing labels, and its ``SceneInfo``.
    """
    kept: list[tuple[np.ndarray, np.ndarray]] = []
    infos: list[SceneInfo] = []
    landscape = None
    for p in plan:
        g = schema.glacier(p.glacier)
        if landscape is None or infos[-1].glacier != p.glacier:
            landscape = make_landscape(g, scene_side(g.area_km2, scale), _rng(seed, _STREAM_TERRAIN, g.index))
            elevations = glacier_elevations(g, landscape)
            climate: GlacierClimate = glacier_climate(g, elevations, seed=seed)
        balance = glacier_year(climate, g, p.date.year, elevations, seed=seed)
        snowline_m = transient_snowline(climate, g, p.date, seed=seed)
        record = {**balance.to_dict(), "transient_snowline_m": round(snowline_m, 1), "ela0_m": round(climate.ela0, 1),
                  "t0_c": round(climate.t0, 3), "z_min_m": climate.z_min, "z_max_m": climate.z_max}
        sim = simulate_scene(p, landscape, _rng(seed, _STREAM_SCENE, p.index),
                             snowline=normalised_elevation(climate, snowline_m), mass_balance=record)
        h, w = sim.outline.shape
        crs, xc, yc = _utm(g.lat, g.lon)
        x0 = round(xc - w / 2 * schema.PIXEL_SIZE_M, -1)
        y0 = round(yc + h / 2 * schema.PIXEL_SIZE_M, -1)
        info = SceneInfo(scene_id=p.scene_id, glacier=p.glacier, sensor=p.sensor, date=p.date.isoformat(), crs=crs,
                         transform=(schema.PIXEL_SIZE_M, 0.0, x0, 0.0, -schema.PIXEL_SIZE_M, y0), shape=(h, w),
                         sun_azimuth=p.sun_azimuth, sun_elevation=p.sun_elevation,
                         extra={**sim.params, "region": p.region, "fold": p.fold})
        staged.add(sim)
        kept.append((sim.truth, sim.flags))
        infos.append(info)
        tick(f"simulated {p.scene_id}")
    return kept, infos


def _place_labels(plan: list[ScenePlan], kept: list[tuple[np.ndarray, np.ndarray]], counts: np.ndarray, *,
                  seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Label counts per scene and class over the whole plan, then each scene's points (rows, cols, raw, true)."""
    capacity = np.zeros((len(plan), schema.N_CLASSES), np.int64)
    for s, (truth, flags) in enumerate(kept):
        capacity[s] = labellable_counts(truth, flags)
    ice_only = np.array([p.condition == "ice_only" for p in plan])
    alloc = allocate_labels(counts, [p.region for p in plan], capacity, ice_only=ice_only)
    return [sample_points(kept[s][0], kept[s][1], alloc[s], _rng(seed, _STREAM_POINTS, p.index))
              for s, p in enumerate(plan)]


def _write_scenes_and_samples(builder: StoreBuilder, plan: list[ScenePlan], infos: list[SceneInfo], staged: _StagedScenes,
                              points: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], *, n_samples: int,
                              tick: Callable[[str], None]) -> None:
    """Every scene's rasters and patches, then the sample table and labels, in plan order."""
    start = 0
    columns: dict[str, list[np.ndarray]] = {k: [] for k in ("fold", "glacier", "region", "sensor", "scene",
                                                            "date", "row", "col", "x", "y", "raw", "true")}
    for s, p in enumerate(plan):
        features, outline, dem, truth = staged.load(s)
        builder.add_scene(infos[s], features, outline, dem=dem, true_facies=truth)
        rows, cols, raw, true = points[s]
        n = len(rows)
        if n:
            builder.write_patches(start, cut_patches(features, rows, cols))
            start += n
        t = infos[s].transform
        for key, value in (("fold", p.fold), ("glacier", schema.glacier_index(p.glacier)),
                           ("region", schema.region_index(p.region)), ("sensor", schema.sensor_index(p.sensor)),
                           ("scene", s), ("date", (p.date - _EPOCH).days)):
            columns[key].append(np.full(n, value, np.int64))
        columns["row"].append(rows)
        columns["col"].append(cols)
        columns["x"].append(t[2] + (cols + 0.5) * t[0])
        columns["y"].append(t[5] + (rows + 0.5) * t[4])
        columns["raw"].append(raw)
        columns["true"].append(true)
        tick(f"patches of {p.scene_id}")
    samples = {k: np.concatenate(v) for k, v in columns.items()}
    raw, true = samples.pop("raw"), samples.pop("true")
    samples["sample_id"] = np.arange(n_samples, dtype=np.int64)
    builder.set_samples(samples)
    builder.set_labels(raw, true=true)


class _StagedScenes:
    """Scene rasters staged on disk between the two passes (not kept in memory)."""

    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="facies-synth-")
        self._paths: list[Path] = []

    def add(self, sim) -> None:
        path = Path(self._dir.name) / f"{len(self._paths):03d}.npz"
        np.savez(path, features=sim.features, outline=sim.outline, dem=sim.dem, truth=sim.truth)
        self._paths.append(path)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        with np.load(self._paths[index]) as data:
            out = data["features"], data["outline"], data["dem"], data["truth"]
        self._paths[index].unlink()
        return out

    def close(self) -> None:
        self._dir.cleanup()

"""Whole-scene mapping speed: dense vs exact (batched) vs one patch per pixel, and dense/exact agreement.

Run explicitly::

    python -m pytest benchmarks/test_mapping.py --benchmark-enable -q -s

Scene: a synthetic ``SIZE`` x ``SIZE`` scene (all pixels glacier) from the tiny-store generator
(elevation-banded facies, class spectra, noise), ``SIZE`` from ``FACIES_BENCH_MAP_SIZE`` (default
1000).  Model: a random PaperCNN whose batch-norm statistics come from the scene's own patches,
and, when ``shared/reference/published_models`` is present, the authors' trained feature-set-1
CNN (``fs1/fold0_after.h5``) with min-max statistics of the scene.

* dense: :func:`map_scene` ``mode="dense", refine_margin=0`` (pure dense) over the whole scene
  (timed by pytest-benchmark);
* exact: ``mode="exact"`` (batched per-patch) on ``N_EXACT`` pixels, extrapolated to px/s;
* hybrid (the default): ``refine_margin=DEFAULT_REFINE_MARGIN`` on the same pixels; its scene
  px/s is estimated from the dense rate and the exact rate times the refined share;
* one patch per pixel: a model call per pixel patch, like the published Keras workflow, on
  ``N_PER_PIXEL`` pixels, extrapolated to px/s.

``extra_info`` records px/s of each, the ratios dense/per-pixel and dense/exact, and the share of
the exact pixels where dense and exact classes agree.  The authors' per-pixel Keras workflow
maps about 770 glacier px/s on this 2-core CPU.  ``test_peak_memory`` maps the scene in a fresh
process and records its peak RSS, for extrapolating to a 10,000 x 10,000 scene.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.mapping import DEFAULT_REFINE_MARGIN, map_scene
from facies_bench.mapping.exact import gather_patches, read_window

SIZE = int(os.environ.get("FACIES_BENCH_MAP_SIZE", "1000"))
N_EXACT = 1000
N_PER_PIXEL = 100
KERAS_PER_PIXEL_PX_S = 770.0
PUBLISHED = Path(__file__).resolve().parents[1].parent / "shared" / "reference" / "published_models"


def _scene(size: int, seed: int = 0):
    from facies_bench.testing.synthetic import _tiny_scene

    features, outline, _, _ = _tiny_scene(np.random.default_rng(seed), size)
    return features, outline


def _random_model(features: np.ndarray):
    from facies_bench.models import FaciesModel, PaperCNN

    torch.manual_seed(0)
    lo, hi = features.reshape(11, -1).min(axis=1), features.reshape(11, -1).max(axis=1)
    model = FaciesModel(PaperCNN(11), features=schema.FEATURE_NAMES, feature_min=lo, feature_max=hi, model_name="cnn_baseline")
    rng = np.random.default_rng(1)
    rows, cols = rng.integers(0, features.shape[1], 128), rng.integers(0, features.shape[2], 128)
    window = read_window(features, None, (0, features.shape[1]), (0, features.shape[2]), pad=16)
    model.train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    with torch.no_grad():
        model(torch.from_numpy(gather_patches(window, rows + 16, cols + 16)))
    return model.eval()


def _published_model():
    if not (PUBLISHED / "fs1" / "fold0_after.h5").exists():
        return None
    from facies_bench.models import import_keras_weights

    return import_keras_weights(PUBLISHED / "fs1" / "fold0_after.h5", norm_stats="published")


@pytest.fixture(scope="module")
def scene():
    return _scene(SIZE)


def _per_pixel_px_s(model, features, rows, cols) -> float:
    """One model call per pixel patch (batch of 1), as the published workflow does."""
    window = read_window(features, None, (0, features.shape[1]), (0, features.shape[2]), pad=16)
    idx = [schema.FEATURE_NAMES.index(f) for f in model.features]
    start = time.perf_counter()
    with torch.inference_mode():
        for r, c in zip(rows, cols, strict=True):
            patch = torch.from_numpy(np.ascontiguousarray(window[idx, r:r + 33, c:c + 33][None]))
            torch.softmax(model(patch), dim=1)
    return len(rows) / (time.perf_counter() - start)


@pytest.mark.parametrize("which", ["random_papercnn", "published_fs1"])
def test_dense_vs_exact_vs_per_pixel(benchmark, scene, which):
    features, outline = scene
    model = _random_model(features) if which == "random_papercnn" else _published_model()
    if model is None:
        pytest.skip("published weights not available")
    rng = np.random.default_rng(2)
    flat = rng.choice(outline.size, N_EXACT, replace=False)
    subset = np.zeros(outline.shape, bool)
    subset.flat[flat] = True

    dense = benchmark.pedantic(map_scene, args=(model, features, outline), kwargs={"mode": "dense", "refine_margin": 0},
                               rounds=1, iterations=1)
    dense_px_s = dense.n_glacier_px / benchmark.stats.stats.mean
    start = time.perf_counter()
    exact = map_scene(model, features, subset, mode="exact")
    exact_px_s = N_EXACT / (time.perf_counter() - start)
    refine = DEFAULT_REFINE_MARGIN
    start = time.perf_counter()
    hybrid = map_scene(model, features, subset, mode="dense", refine_margin=refine)
    hybrid_s = time.perf_counter() - start
    refined_share = hybrid.n_refined_px / N_EXACT
    # hybrid px/s over the whole scene: the dense pass plus the exact pass on the refined share
    hybrid_px_s = 1.0 / (1.0 / dense_px_s + refined_share / exact_px_s)
    rows, cols = np.nonzero(subset)
    per_pixel_px_s = _per_pixel_px_s(model, features, rows[:N_PER_PIXEL], cols[:N_PER_PIXEL])
    agreement = float((dense.classes[subset] == exact.classes[subset]).mean())
    benchmark.extra_info.update({
        "scene_px": int(dense.n_glacier_px), "dense_px_s": dense_px_s, "exact_px_s": exact_px_s,
        "per_pixel_px_s": per_pixel_px_s, "dense_over_per_pixel": dense_px_s / per_pixel_px_s,
        "dense_over_exact": dense_px_s / exact_px_s, "dense_over_keras_per_pixel": dense_px_s / KERAS_PER_PIXEL_PX_S,
        "dense_exact_agreement": agreement, "n_agreement_px": N_EXACT, "hybrid_refine_margin": refine,
        "hybrid_refined_share": refined_share, "hybrid_px_s_estimated": hybrid_px_s, "hybrid_subset_s": hybrid_s,
        "hybrid_exact_agreement": float((hybrid.classes[subset] == exact.classes[subset]).mean()),
        "hybrid_over_per_pixel": hybrid_px_s / per_pixel_px_s, "torch_threads": torch.get_num_threads(),
    })
    assert dense.n_glacier_px == outline.sum()


MEMORY_SIZE = max(SIZE, 600)

_MEMORY_SCRIPT = """
import json, sys, numpy as np
sys.path.insert(0, {bench!r})
from test_mapping import _scene, _random_model
from facies_bench.mapping import map_scene

def hwm_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

features, outline = _scene({size})
model = _random_model(features)
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # reset the peak RSS (VmHWM) to the current RSS
before = hwm_kib()
result = map_scene(model, features, outline, mode="dense", refine_margin=0, tile={tile})
print(json.dumps({{"rss_before_kib": before, "rss_peak_kib": hwm_kib(), "input_bytes": int(features.nbytes)}}))
"""


def test_peak_memory(benchmark):
    """Peak RSS of a dense run in a fresh process, over the RSS before it (Linux VmHWM reset)."""
    tile = 512
    script = _MEMORY_SCRIPT.format(bench=str(Path(__file__).parent), size=MEMORY_SIZE, tile=tile)

    def run():
        out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    stats = benchmark.pedantic(run, rounds=1, iterations=1)
    working = (stats["rss_peak_kib"] - stats["rss_before_kib"]) * 1024
    scene_px = MEMORY_SIZE * MEMORY_SIZE
    # Per-scene arrays map_scene allocates: uint8 classes, float32 confidence, bool mask (6 B/px).
    per_tile = working - 6 * scene_px
    benchmark.extra_info.update({
        "scene": f"{MEMORY_SIZE}x{MEMORY_SIZE}", "tile": tile, "rss_before_map_mib": stats["rss_before_kib"] / 1024,
        "rss_peak_mib": stats["rss_peak_kib"] / 1024, "map_scene_increase_mib": working / 2**20,
        "estimated_tile_working_set_mib": per_tile / 2**20,
        "estimated_10k_map_scene_gib": (per_tile + 6 * 10_000**2) / 2**30,
        "estimated_10k_inputs_fs4_gib_if_in_ram": 11 * 4 * 10_000**2 / 2**30,
    })


# --------------------------------------------------------------------------------------------
# Dense / exact agreement on the simulator's scenes, and what refinement it takes to reach 99 %
# --------------------------------------------------------------------------------------------

AGREEMENT_SCENES = 12
AGREEMENT_PX_PER_SCENE = 150
REFINE_SHARES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)


@pytest.mark.parametrize("weights", ["fs1/fold0_after.h5", "fs2/fold0_after.h5", "fs4/fold0_after.h5"])
def test_dense_exact_agreement_on_synthetic_scenes(benchmark, weights):
    """Pure dense vs exact classes on glacier pixels of the quick synthetic store's scenes.

    Also the agreement after recomputing exactly the pixels with the smallest
    :func:`robust_margin` (a share of them), which is what ``--refine-margin`` does, so the
    speed cost of reaching a target agreement can be read off: hybrid px/s =
    1 / (1 / dense + share / exact).
    """
    if not (PUBLISHED / weights).exists():
        pytest.skip(f"published weights not available: {PUBLISHED / weights}")
    from facies_bench.default_dataset import resolve_store
    from facies_bench.mapping.predict_scene import _ensemble_proba, robust_margin
    from facies_bench.models import import_keras_weights

    store = resolve_store(quick=True)
    model = import_keras_weights(PUBLISHED / weights, norm_stats="published").eval()  # the authors' normalisation, as estimated
    channels = [schema.FEATURE_NAMES.index(f) for f in model.features]
    rng = np.random.default_rng(0)
    pad = 28

    def run():
        dense, inner, exact = [], [], []
        with torch.inference_mode():
            for scene_id in rng.choice(store.scene_ids, AGREEMENT_SCENES, replace=False):
                scene = store.scene(scene_id)
                outline = np.asarray(scene.outline) != 0
                iy, ix = np.nonzero(outline)
                pick = rng.choice(iy.size, min(AGREEMENT_PX_PER_SCENE, iy.size), replace=False)
                iy, ix = iy[pick] + pad, ix[pick] + pad
                window = read_window(np.asarray(scene.features)[channels], None, (0, outline.shape[0]),
                                     (0, outline.shape[1]), pad=pad)
                all_ch = [list(range(len(channels)))]
                d, i = _ensemble_proba([model], ["dense"], all_ch, window, iy, ix, batch_size=512, with_inner=True)
                dense.append(d)
                inner.append(i)
                exact.append(_ensemble_proba([model], ["exact"], all_ch, window, iy, ix, batch_size=512))
        return [np.concatenate(a) for a in (dense, inner, exact)]

    dense, inner, exact = benchmark.pedantic(run, rounds=1, iterations=1)
    agree = dense.argmax(axis=1) == exact.argmax(axis=1)
    order = np.argsort(robust_margin(dense, inner))
    after = {}
    for share in REFINE_SHARES:
        fixed = agree.copy()
        fixed[order[:int(round(share * agree.size))]] = True
        after[str(share)] = float(fixed.mean())
    benchmark.extra_info.update({
        "weights": weights, "n_px": int(agree.size), "scenes": AGREEMENT_SCENES,
        "dense_exact_agreement": float(agree.mean()), "agreement_after_refining_share": after,
    })
    print(f"\n{weights}: dense/exact agreement {agree.mean():.4f} on {agree.size} px; after refining "
          + ", ".join(f"{float(k):.1%}: {v:.4f}" for k, v in after.items()))


# --------------------------------------------------------------------------------------------
# The default mode on store scenes: agreement with per-patch inference, and same-run time ratios
# --------------------------------------------------------------------------------------------

#: Models for the default-mode benchmark: ``FACIES_BENCH_MAP_MODELS`` (``;``-separated, each a
#: checkpoint or a ``published:`` name, ``,`` inside one entry ensembles), else the published fs4
#: fold-0 model and the fs4 ensemble (fetched into ``$FACIES_BENCH_HOME`` on first use).
DEFAULT_MODE_MODELS = os.environ.get("FACIES_BENCH_MAP_MODELS", "published:fs4/fold0;published:fs4").split(";")
#: Small scenes of the quick store (all glacier pixels are mapped three times, once per patch).
DEFAULT_MODE_SCENES = ("goldberg_k_20020917_landsat_7", "silvretta_20120909_landsat_7", "storbreen_20170807_landsat_8")


@pytest.mark.parametrize("models", DEFAULT_MODE_MODELS)
def test_default_mode_agreement_and_time_on_store_scenes(benchmark, models):
    """Pure dense, the default (dense + close calls per patch) and exact per patch on whole scenes.

    Records, per scene, the share of glacier pixels where each mode's classes equal the exact
    per-patch classes (no smoothing), the share the default recomputed, and the wall-time
    ratios exact / default, default / dense and exact / dense, measured in the same run.
    """
    from facies_bench import resolve_store
    from facies_bench.errors import FaciesBenchError
    from facies_bench.mapping.pipeline import load_mapping_models

    try:
        loaded, _ = load_mapping_models(models.split(","))
    except FaciesBenchError as exc:  # published weights not reachable offline
        pytest.skip(str(exc))
    store = resolve_store(quick=True)

    def run():
        rows = {}
        for scene_id in DEFAULT_MODE_SCENES:
            scene = store.scene(scene_id)
            features, outline = np.asarray(scene.features), np.asarray(scene.outline)
            maps, seconds = {}, {}
            for label, kwargs in (("dense", {"refine_margin": 0}), ("default", {}), ("exact", {"mode": "exact"})):
                start = time.perf_counter()
                maps[label] = map_scene(loaded, features, outline, feature_names=store.feature_names, **kwargs)
                seconds[label] = time.perf_counter() - start
            exact = maps["exact"].classes
            keep = (outline != 0) & (exact != 255)
            rows[scene_id] = {
                "n_px": int(keep.sum()), "refined_share": maps["default"].n_refined_px / int(keep.sum()),
                "agreement_dense": float((maps["dense"].classes == exact)[keep].mean()),
                "agreement_default": float((maps["default"].classes == exact)[keep].mean()),
                "exact_over_default": seconds["exact"] / seconds["default"],
                "default_over_dense": seconds["default"] / seconds["dense"],
                "exact_over_dense": seconds["exact"] / seconds["dense"],
            }
        return rows

    rows = benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update({"models": models, "refine_margin": DEFAULT_REFINE_MARGIN, "scenes": rows})
    for scene_id, row in rows.items():
        print(f"\n{models} {scene_id}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()))

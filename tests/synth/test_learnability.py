"""The synthetic benchmark is neither trivial nor impossible, and whether the 33x33 context helps.

Generator version 13 (the L1 products' resampling; Sentinel-2's B-splines smooth its 10 m bands): scale
0.03, seed 0: 0.735 -> 0.745 (seed 1: 0.699 -> 0.736; scale 0.05: 0.750 -> 0.728; scale 0.02: 0.690 ->
0.682): +0.004 on average.  Both lost, the centre pixel most (it mixes its neighbours now).  At scale 0.03,
seed 0 the window adds 0.0098 against the true labels, just short of the test's 0.01 (0.013 against the
raw labels), so the test below stays a strict expected failure.

Generator version 12 (TM and ETM+ calibrated like the other sensors, thick cloud SWIR-bright): scale
0.03, seed 0: 0.789 -> 0.770 (seed 1: 0.771 -> 0.737; scale 0.05: 0.765 -> 0.754; scale 0.02: 0.660 ->
0.713): -0.003 on average.  The centre pixel gained most (v11 0.760 at scale 0.03, seed 0; cloud F1
0.973 from the centre pixel alone), so the test below stays a strict expected failure.

Generator version 11 (whiter high bare ice, brighter and bluer refrozen-like ice): scale 0.03, seed 0:
0.760 -> 0.754 (seed 1: 0.716 -> 0.720; scale 0.05: 0.743 -> 0.736; scale 0.02: 0.656 -> 0.682): +0.004
on average, so the test below stays a strict expected failure.

Generator version 10 (lakes of meltwater over ice, the adjacency effect): scale 0.03, seed 0: 0.762 ->
0.759 (seed 1: 0.713 -> 0.726; scale 0.05: 0.733 -> 0.720; scale 0.02: 0.695 -> 0.702); debris 0.872
-> 0.844 and firn 0.760 -> 0.743 at scale 0.03, seed 0, water 0.765 -> 0.882 (19 labels).  Over the four
stores context adds +0.001 on average (v9 -0.007), so the test below stays a strict expected failure.

Generator version 9: context no longer helps the forests.  Scale 0.03, seed 0: 0.747 -> 0.726
(seed 1: 0.681 -> 0.678; scale 0.05, seed 0: 0.662 -> 0.650; scale 0.02: 0.651 -> 0.661); the
frequent classes move by -0.05 to +0.02 (ice 0.868 -> 0.866, snow 0.866 -> 0.881, debris 0.826 ->
0.775, firn 0.743 -> 0.745, shadow 0.889 -> 0.841 at scale 0.03).  v9 made the centre pixel more
telling (sun-dependent Landsat saturation, scene gain +-7 % instead of +-15 %, shadowed snow that is
dark: centre 0.609 -> 0.747), which the published models confirmed as more realistic.  The
context test below is kept, marked as an expected failure, so that it fails loudly (strict) as
soon as a generator makes context help again; see docs/simulator.md.  Reverting the five v9
changes one at a time does not bring the gain back on the frequent classes (the summary adds
0.00-0.02 on snow and costs debris 0.03-0.05 in every variant; the macro-F1 swings are water and
cloud, ~20 labels each at this scale).  The paper's CNN, against the same CNN fed only the centre
pixel, is the direct measure of context (docs/simulator.md, scale 0.2).

Generator version 8: scale 0.03, seed 0: 0.609 -> 0.620 (true labels; raw 0.575 -> 0.589): with
Iceland's bare ice no longer inside debris cover, the centre pixel recognises it (ice 0.839 ->
0.842), and context adds most on snow, firn and cloud (docs/simulator.md);
version 7: 0.602 -> 0.631 (docs/simulator.md also shows the expert zone reading under which
context stopped helping on snow, firn and ice);
version 6: 0.593 -> 0.630 (and the stricter label placement under which context stopped helping);
version 5: 0.559 -> 0.600; version 4: 0.523 -> 0.566.

Generator version 3 (same forests and features, see docs/simulator.md): scale 0.03, seed 0:
0.470 (0.451) -> 0.531 (0.510); scale 0.05, seed 0: 0.510 (0.485) -> 0.527 (0.504), every
frequent class higher with context.

Figures (generator version 2; random forests, 150 trees, min_samples_leaf 2, trained on raw labels
of the four training folds of each test fold, all six test folds pooled; macro-F1 against the
true labels, raw labels in brackets), centre pixel's 11 features -> centre plus a compact summary
of the patch (3x3 mean of the optical bands, NIR texture over 5x5 and 9x9, the patch's NIR
quantiles and SWIR1 median, 23 features):

* scale 0.03, seed 0: 0.598 (0.565) -> 0.615 (0.582)
* scale 0.05, seeds 0 / 1 / 2: 0.576 / 0.538 / 0.530 (0.539 / 0.512 / 0.507)
  -> 0.594 / 0.550 / 0.565 (0.558 / 0.524 / 0.546)

Context raises ice, snow, debris, firn (most: 0.47-0.52 -> 0.51-0.60) and cloud, and lowers
refrozen-like, which has ~100 labels at these scales.  Throwing every window statistic at the
trees (means and stds of all channels over 3x3, 9x9 and 33x33, 77 features) dilutes the centre
features and loses macro-F1 at these scales (scale 0.03: 0.60 -> 0.56); see docs/simulator.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench import schema

sklearn = pytest.importorskip("sklearn")
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

C = schema.PATCH_SIZE // 2


def _centre(patches: np.ndarray) -> np.ndarray:
    return patches[:, :, C, C]


def _context(patches: np.ndarray) -> np.ndarray:
    """Centre pixel plus a compact summary of its 33x33 neighbourhood (23 features).

    Nan-aware: Landsat 7 SLC-off gaps are NaN in the patches (never at the labelled centre).
    """
    n = len(patches)
    nir = patches[:, schema.feature_index("nir")]
    swir1 = patches[:, schema.feature_index("swir1")]
    optical = [schema.feature_index(f) for f in schema.FEATURE_SETS[1]]
    local_mean = np.nanmean(patches[:, optical, C - 1:C + 2, C - 1:C + 2], axis=(2, 3))  # denoised centre
    texture = [np.nanstd(nir[:, C - h:C + h + 1, C - h:C + h + 1].reshape(n, -1), axis=1) for h in (2, 4)]  # crevasses
    quantiles = np.nanquantile(nir.reshape(n, -1), [0.1, 0.5, 0.9], axis=1).T  # which zones the patch spans
    return np.concatenate([patches[:, :, C, C], local_mean, np.stack(texture, axis=1), quantiles,
                           np.nanmedian(swir1.reshape(n, -1), axis=1)[:, None]], axis=1)


def _out_of_fold_predictions(store, features) -> np.ndarray:
    x = features(store.read_patches(slice(None)))
    y = store.labels("raw").astype(int)
    fold = store.column("fold")
    pred = np.zeros_like(y)
    for k in range(schema.N_FOLDS):
        train, test = np.isin(fold, schema.train_folds(k)), fold == k
        model = RandomForestClassifier(n_estimators=150, min_samples_leaf=2, random_state=0, n_jobs=1)
        pred[test] = model.fit(x[train], y[train]).predict(x[test])
    return pred


def test_centre_pixel_is_well_above_chance_and_well_below_perfect(synth_store):
    pred = _out_of_fold_predictions(synth_store, _centre)
    score = f1_score(synth_store.labels("raw"), pred, average="macro")
    assert 0.3 < score < 0.9
    # the frequent classes are learnable across glaciers
    per_class = f1_score(synth_store.labels("raw"), pred, average=None, labels=range(schema.N_CLASSES))
    for name in ("ice", "snow", "debris", "shadow"):
        assert per_class[schema.class_index(name)] > 0.5, name


@pytest.fixture(scope="module")
def store_003(tmp_path_factory):
    from facies_bench.synth import generate_store

    return generate_store(tmp_path_factory.mktemp("learn") / "s.zarr", scale=0.03, seed=0)


@pytest.mark.xfail(strict=True, reason="simulator v9 to v13: the 23-feature window summary no longer adds 0.01 to the "
                   "forests' centre pixel (scale 0.03, seed 0: macro-F1 0.735 -> 0.745); see the module docstring")
def test_context_beats_the_centre_pixel(store_003):
    true, raw = store_003.true_labels(), store_003.labels("raw")
    centre_pred = _out_of_fold_predictions(store_003, _centre)
    context_pred = _out_of_fold_predictions(store_003, _context)
    centre, context = f1_score(true, centre_pred, average="macro"), f1_score(true, context_pred, average="macro")
    assert 0.3 < centre < 0.9
    assert context > centre + 0.01, (centre, context)
    assert f1_score(raw, context_pred, average="macro") > f1_score(raw, centre_pred, average="macro") + 0.01
    # snow and firn are zones whose pixels stray across the class cues (mixed surfaces,
    # heterogeneity, old-snow remnants): the neighbourhood shows the zone, the centre pixel does
    # not (v8: snow 0.873 -> 0.886).  Bare ice, since v8 no longer holes in debris cover, is
    # recognised from its centre pixel (0.839 -> 0.842); context must not cost it
    zones = [schema.class_index(n) for n in ("ice", "snow", "firn")]
    centre_zones = f1_score(true, centre_pred, average=None, labels=zones)
    context_zones = f1_score(true, context_pred, average=None, labels=zones)
    assert context_zones[0] > centre_zones[0] - 0.01
    assert context_zones[1] > centre_zones[1] + 0.01
    # firn: between snow and ice, mixed at the pixel scale (v8: 0.727 -> 0.740; v7: 0.689 -> 0.705; v6: 0.65 -> 0.68; v5: 0.50 -> 0.52;
    # v4: 0.413 -> 0.438; v3 gained more, its surfaces were rougher at 10-40 m).  Since v7 a firn pixel shows
    # the yellow-brown hue the experts used and fewer of them are bare-ice or snow patches, so the centre
    # pixel alone recognises more firn and the neighbourhood adds less
    assert context_zones[2] > centre_zones[2] + 0.01

"""Expert-like shadow truth and Landsat 7 SLC-off nodata through patches, models and maps."""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.features import cast_shadow_mask

SHADOW = schema.class_index("shadow")


def test_shadow_truth_is_the_radiometric_minimum_not_the_shadow_mask(synth_store):
    """Shadow truth and the cast-shadow feature agree often, but not always, as in real data."""
    truth_px = cast_px = both = 0
    darker = []
    for scene_id in synth_store.scene_ids:
        scene = synth_store.scene(scene_id)
        info = scene.info
        glacier = scene.outline
        truth = (scene.true_facies == SHADOW) & glacier
        cast = cast_shadow_mask(scene.dem, schema.PIXEL_SIZE_M, sun_azimuth=info.sun_azimuth,
                                sun_elevation=info.sun_elevation) & glacier
        truth_px, cast_px, both = truth_px + truth.sum(), cast_px + cast.sum(), both + (truth & cast).sum()
        brightness = scene.features[:4].mean(axis=0)  # NaN in SLC-off gaps, ignored by nanmedian
        other = glacier & ~truth & (scene.true_facies != schema.class_index("cloud"))
        if truth.sum() > 20 and other.sum() > 20:
            darker.append(np.nanmedian(brightness[truth]) < 0.6 * np.nanmedian(brightness[other]))
    # what an expert sees as shadow is dark in the image
    assert np.mean(darker) > 0.9, np.mean(darker)
    # the feature (cast shadow traced over the smoothed feature DEM) and the truth overlap, but
    # neither contains the other: penumbra, faces turned from the sun, sky-lit snow in shadow
    p_truth_given_cast, p_cast_given_truth = both / cast_px, both / truth_px
    assert 0.5 < p_truth_given_cast < 0.98, p_truth_given_cast
    assert 0.5 < p_cast_given_truth < 0.98, p_cast_given_truth


def test_slc_off_nodata_reaches_models_as_the_documented_fill(synth_store):
    torch = pytest.importorskip("torch")
    from facies_bench.models import FaciesModel, create_model
    from facies_bench.models.wrapper import NODATA_FILL

    meta = synth_store.metadata()
    slc_off = [s for s in synth_store.scene_ids if synth_store.scene_info(s).extra["slc_off"]]
    rows = meta.index[meta["scene_id"].isin(slc_off)].to_numpy()
    patches = synth_store.read_patches(rows)
    assert np.isnan(patches).any()
    torch.manual_seed(0)
    model = FaciesModel(create_model("test_cnn", in_channels=schema.N_FEATURES), features=schema.FEATURE_NAMES,
                        feature_min=synth_store.feature_min, feature_max=synth_store.feature_max, model_name="test_cnn")
    model.eval()
    x = model.normalize(torch.from_numpy(patches))
    gaps = torch.from_numpy(np.isnan(patches))
    assert torch.isfinite(x).all() and (x[gaps] == NODATA_FILL).all()
    proba = model.predict_proba(patches)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-5)


def test_slc_off_gaps_are_nodata_in_maps(synth_store):
    torch = pytest.importorskip("torch")
    from facies_bench.mapping import NODATA_CLASS, map_scene
    from facies_bench.models import FaciesModel, create_model

    scene_id = next(s for s in synth_store.scene_ids if synth_store.scene_info(s).extra["slc_off"])
    scene = synth_store.scene(scene_id)
    torch.manual_seed(0)
    model = FaciesModel(create_model("test_cnn", in_channels=schema.N_FEATURES), features=schema.FEATURE_NAMES,
                        feature_min=synth_store.feature_min, feature_max=synth_store.feature_max, model_name="test_cnn")
    model.eval()
    result = map_scene(model, scene.features, scene.outline)
    gaps = np.isnan(scene.features[:6]).any(axis=0) & scene.outline
    assert gaps.any()
    assert (result.classes[gaps] == NODATA_CLASS).all() and np.isnan(result.confidence[gaps]).all()
    mapped = scene.outline & ~gaps
    assert (result.classes[mapped] < schema.N_CLASSES).all()
    assert result.n_nodata_px == int(gaps.sum())

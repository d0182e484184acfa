"""Dense and exact whole-scene inference: equivalences, tiling, ensembling, fallbacks, nodata."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.errors import RasterError
from facies_bench.mapping import NODATA_CLASS, map_scene
from facies_bench.mapping.dense import DENSE_HALO, dense_latent
from facies_bench.mapping.exact import gather_patches, read_window
from facies_bench.testing.mapping import make_paper_model

#: Share of glacier pixels where dense and exact classes must agree for a random PaperCNN.  The
#: global max ``g`` differs (real neighbours instead of zero padding at the patch border) and a
#: random network's classes hinge on ``g``: measured 0.67-0.84 on tiny scenes (seeds 0-2), about
#: 0.92 for trained networks (see benchmarks/test_mapping.py).  With ``refine_margin=0.5``
#: (close calls recomputed exactly) agreement must be complete.
MIN_RANDOM_AGREEMENT = 0.6


def _window(features, pad):
    bands = {n: features[i] for i, n in enumerate(schema.FEATURE_NAMES)}
    h, w = features.shape[1:]
    return read_window(bands, schema.FEATURE_NAMES, (0, h), (0, w), pad=pad)


def test_dense_centre_slices_equal_the_per_patch_network(paper_model, scene_arrays):
    """c1 and c2 (all 9 pooling phases) are exact; only g may differ."""
    features = scene_arrays[0]
    pad = DENSE_HALO + 6  # room for the 69 x 69 context patches below
    x = torch.nan_to_num(paper_model.normalize(torch.from_numpy(_window(features, pad))[None])[0])
    rows, cols = np.meshgrid([0, 7, 17, 25, 40, 47], [1, 9, 20, 33, 46], indexing="ij")  # scene edges too
    rows, cols = rows.ravel() + pad, cols.ravel() + pad
    assert len({(r % 3, c % 3) for r, c in zip(rows, cols, strict=True)}) == 9
    with torch.no_grad():
        dense = dense_latent(paper_model.backbone, x, rows, cols)
        exact = paper_model.backbone.features(torch.from_numpy(gather_patches(x.numpy(), rows, cols)))
    torch.testing.assert_close(dense[:, :128], exact[:, :128], atol=1e-4, rtol=1e-4)
    assert not torch.allclose(dense[:, 128:], exact[:, 128:], atol=1e-4)  # g: real neighbours vs zero padding
    # g is the max of the scale-2 map over the patch's 11 x 11 cells computed without the patch
    # border: run the network's layers on a 69 x 69 context patch and crop the patch's cells.
    big = torch.from_numpy(np.stack([x.numpy()[:, r - 34:r + 35, c - 34:c + 35] for r, c in zip(rows, cols, strict=True)]))
    bb = paper_model.backbone
    with torch.no_grad():
        f2 = bb.scale2(bb.pool(bb.scale1(big)))  # 23 x 23 cells; the patch starts at row 18 = cell 6
        g = f2[:, :, 6:17, 6:17].amax(dim=(2, 3))
    torch.testing.assert_close(dense[:, 128:], g, atol=1e-4, rtol=1e-4)
    # the inner 3 x 3 scale-2 cells are the same per patch and dense: their max is a lower bound of g
    with torch.no_grad():
        _, inner = dense_latent(paper_model.backbone, x, rows, cols, with_inner=True)
        pf2 = bb.scale2(bb.pool(bb.scale1(torch.from_numpy(gather_patches(x.numpy(), rows, cols)))))
    torch.testing.assert_close(inner, pf2[:, :, 4:7, 4:7].amax(dim=(2, 3)), atol=1e-4, rtol=1e-4)
    assert (exact[:, 128:] >= inner - 1e-5).all()


def test_exact_mode_reproduces_the_store_patches(tiny_store, paper_model, scene_arrays):
    """Exact mode cuts the same patches as the store (reflect padding at scene edges)."""
    features, outline, _, _, scene_id = scene_arrays
    meta = tiny_store.metadata()
    rows_idx = np.flatnonzero(meta["scene_id"].to_numpy() == scene_id)
    r, c = meta["row"].to_numpy()[rows_idx], meta["col"].to_numpy()[rows_idx]
    mask = np.zeros_like(outline)
    mask[r, c] = True
    result = map_scene(paper_model, features, mask, mode="exact", return_probabilities=True, tile=20)
    expected = paper_model.predict_proba(tiny_store.read_patches(rows_idx))
    np.testing.assert_allclose(result.probabilities[:, r, c].T, expected, atol=1e-5)


def test_dense_is_tiling_invariant(paper_model, scene_arrays):
    features = scene_arrays[0]
    outline = np.zeros((48, 48), bool)
    outline[20:44, 3:27] = True  # 4 tiles of 13 px, one at the scene edge
    small = map_scene(paper_model, features, outline, tile=13, return_probabilities=True)
    whole = map_scene(paper_model, features, outline, tile=512, return_probabilities=True)
    np.testing.assert_allclose(small.probabilities, whole.probabilities, atol=1e-5)
    assert small.modes == ["dense"]


def test_dense_agrees_with_exact(paper_model, scene_arrays):
    features, _, _, _, _ = scene_arrays
    mask = np.zeros((48, 48), bool)
    mask[::4, ::5] = True  # 120 pixels spread over the scene, all pooling phases
    dense = map_scene(paper_model, features, mask, mode="dense", refine_margin=0, return_probabilities=True)
    exact = map_scene(paper_model, features, mask, mode="exact", return_probabilities=True)
    agreement = float((dense.classes == exact.classes)[mask].mean())
    assert agreement >= MIN_RANDOM_AGREEMENT
    assert np.nanmax(np.abs(dense.probabilities - exact.probabilities)) < 0.5
    assert (dense.classes[~mask] == NODATA_CLASS).all() and np.isnan(dense.confidence[~mask]).all()
    refined = map_scene(paper_model, features, mask, mode="dense", refine_margin=0.5, return_probabilities=True)
    assert 0 < refined.n_refined_px < mask.sum()
    recomputed = np.isclose(refined.probabilities, exact.probabilities, atol=1e-5).all(axis=0) & mask
    kept = np.isclose(refined.probabilities, dense.probabilities, atol=1e-6).all(axis=0) & mask & ~recomputed
    assert recomputed.sum() >= refined.n_refined_px and (recomputed | kept)[mask].all()
    assert (refined.classes == exact.classes)[mask].mean() >= agreement
    everything = map_scene(paper_model, features, mask, mode="dense", refine_margin=2.0)  # margins are < 2
    np.testing.assert_array_equal(everything.classes, exact.classes)
    assert everything.n_refined_px == mask.sum()


def test_robust_margin_takes_the_worse_end():
    from facies_bench.mapping.predict_scene import robust_margin

    probs = np.array([[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]])
    inner = np.array([[0.5, 0.45, 0.05], [0.2, 0.7, 0.1]])
    np.testing.assert_allclose(robust_margin(probs, inner), [0.05, -0.5])


def test_ensemble_averages_probabilities(tiny_store, paper_model, scene_arrays):
    features = scene_arrays[0]
    outline = np.zeros((48, 48), bool)
    outline[30:48, 0:18] = True
    other = make_paper_model(tiny_store, seed=1)
    one = map_scene(paper_model, features, outline, refine_margin=0, return_probabilities=True)
    two = map_scene(other, features, outline, refine_margin=0, return_probabilities=True)
    both = map_scene([paper_model, other], features, outline, refine_margin=0, return_probabilities=True)
    mean = (one.probabilities + two.probabilities) / 2
    np.testing.assert_allclose(both.probabilities, mean, atol=1e-6)
    np.testing.assert_array_equal(both.classes[outline], mean.argmax(axis=0)[outline])
    np.testing.assert_allclose(both.confidence[outline], mean.max(axis=0)[outline], atol=1e-6)


def test_feature_subset_model_and_dict_input(tiny_store, scene_arrays):
    features = scene_arrays[0]
    outline = np.zeros((48, 48), bool)
    outline[:16, 30:] = True
    model = make_paper_model(tiny_store, seed=2, features=1)  # optical only
    as_array = map_scene(model, features, outline, return_probabilities=True)
    as_dict = map_scene(model, {n: features[i] for i, n in enumerate(schema.OPTICAL_FEATURES)}, outline,
                        return_probabilities=True)
    np.testing.assert_allclose(as_array.probabilities, as_dict.probabilities, atol=1e-6)


def test_missing_feature_is_an_error(paper_model, scene_arrays):
    features, outline = scene_arrays[:2]
    with pytest.raises(RasterError, match="needs feature.*elevation"):
        map_scene(paper_model, features[:6], outline, feature_names=schema.OPTICAL_FEATURES)


def test_nodata_inside_the_glacier_becomes_nodata(paper_model, scene_arrays):
    features, outline = scene_arrays[:2]
    broken = features.copy()
    broken[3, 20, 21] = np.nan
    broken[8, 30, 10] = np.nan
    result = map_scene(paper_model, broken, outline)
    assert result.n_nodata_px == 2
    for r, c in ((20, 21), (30, 10)):
        assert result.classes[r, c] == NODATA_CLASS and np.isnan(result.confidence[r, c])
    assert (result.classes[outline] != NODATA_CLASS).sum() == outline.sum() - 2


def test_non_paper_models_fall_back_to_exact(tiny_store, scene_arrays, caplog):
    from torch import nn

    from facies_bench.models import FaciesModel

    torch.manual_seed(0)
    backbone = nn.Sequential(nn.Conv2d(11, 4, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, schema.N_CLASSES))
    model = FaciesModel(backbone, features=schema.FEATURE_NAMES, feature_min=tiny_store.feature_min,
                        feature_max=tiny_store.feature_max, model_name="tiny_conv").eval()
    features = scene_arrays[0]
    mask = np.zeros((48, 48), bool)
    mask[10:14, 10:30] = True
    with caplog.at_level(logging.WARNING):
        result = map_scene(model, features, mask, mode="dense", return_probabilities=True)
    assert result.modes == ["exact"] and "exact per-patch mode" in caplog.text
    rows, cols = np.nonzero(mask)
    patches = gather_patches(_window(features, 16), rows + 16, cols + 16)
    np.testing.assert_allclose(result.probabilities[:, rows, cols].T, model.predict_proba(patches), atol=1e-5)


def test_unknown_mode_is_an_error(paper_model, scene_arrays):
    with pytest.raises(ValueError, match="Unknown mapping mode 'fast'"):
        map_scene(paper_model, scene_arrays[0], scene_arrays[1], mode="fast")


def test_default_mode_recomputes_close_calls_per_patch(paper_model, scene_arrays):
    """By default dense mode recomputes the pixels whose robust margin is below DEFAULT_REFINE_MARGIN."""
    from facies_bench.mapping import DEFAULT_REFINE_MARGIN

    features, _, _, _, _ = scene_arrays
    mask = np.zeros((48, 48), bool)
    mask[::4, ::5] = True
    default = map_scene(paper_model, features, mask, return_probabilities=True)
    explicit = map_scene(paper_model, features, mask, refine_margin=DEFAULT_REFINE_MARGIN, return_probabilities=True)
    pure = map_scene(paper_model, features, mask, refine_margin=0)
    np.testing.assert_array_equal(default.probabilities, explicit.probabilities)
    assert default.n_refined_px == explicit.n_refined_px > 0 and pure.n_refined_px == 0
    with pytest.raises(ValueError, match="refine_margin must be >= 0"):
        map_scene(paper_model, features, mask, refine_margin=-0.1)

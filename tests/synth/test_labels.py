"""Where the simulated expert puts point labels (``facies_bench.synth.labels.sample_points``)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from facies_bench import schema
from facies_bench.synth.labels import HOMOGENEITY_WINDOW_PX, labellable, sample_points
from facies_bench.synth.render import FLAG_GAP, FLAG_THIN_CLOUD

ICE, SNOW, DEBRIS, FIRN = (schema.class_index(n) for n in ("ice", "snow", "debris", "firn"))


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """Snow above firn above clean ice, a debris-covered terminus with small ice holes in it."""
    truth = np.full((120, 120), ICE, np.int8)
    truth[:30] = SNOW
    truth[30:50] = FIRN
    truth[90:] = DEBRIS
    rng = np.random.default_rng(0)
    holes = rng.random((30, 120)) < 0.12  # single ice pixels inside the debris cover
    truth[90:][holes] = ICE
    flags = np.zeros(truth.shape, np.uint8)
    flags[50:60, :60] |= FLAG_THIN_CLOUD
    flags[60:64, :] |= FLAG_GAP
    return truth, flags


def test_labels_avoid_gaps_thin_cloud_and_ice_holes_in_debris():
    truth, flags = _scene()
    counts = np.zeros(schema.N_CLASSES, np.int64)
    counts[[ICE, SNOW, DEBRIS, FIRN]] = [300, 150, 150, 100]
    rows, cols, raw, true = sample_points(truth, flags, counts, np.random.default_rng(1))
    assert np.bincount(raw, minlength=schema.N_CLASSES).tolist() == counts.tolist()
    assert labellable(truth, flags)[rows, cols].all()
    assert not (flags[rows, cols] & (FLAG_GAP | FLAG_THIN_CLOUD)).any()
    # correct ice labels sit in ice-dominated windows: the clean-ice zone has room for all of
    # them, so none goes to the one-pixel holes of the debris cover
    share = ndimage.uniform_filter((truth == ICE).astype(np.float32), HOMOGENEITY_WINDOW_PX, mode="nearest")
    correct_ice = (raw == ICE) & (true == ICE)
    assert correct_ice.sum() > 200 and (share[rows[correct_ice], cols[correct_ice]] >= 0.5 - 1e-6).all()
    assert not (correct_ice & (rows >= 90)).any()


def test_a_tiny_class_keeps_its_labels_when_wrong_labels_compete_for_its_pixels():
    # a scene with four ice pixels, all next to firn and debris: the firn and debris labels'
    # wrong share (placed first, on neighbouring classes' pixels) must leave the ice label a pixel
    truth = np.full((40, 40), FIRN, np.int8)
    truth[20:] = DEBRIS
    truth[19:21, 19:21] = ICE
    counts = np.zeros(schema.N_CLASSES, np.int64)
    counts[[ICE, FIRN, DEBRIS]] = [1, 120, 120]
    for seed in range(20):
        _, _, raw, _ = sample_points(truth, np.zeros(truth.shape, np.uint8), counts, np.random.default_rng(seed))
        assert np.bincount(raw, minlength=schema.N_CLASSES).tolist() == counts.tolist(), seed

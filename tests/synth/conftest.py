"""A small synthetic store built once for the synth tests (scale 0.01: 1,376 labels, 92 scenes)."""

from __future__ import annotations

import numpy as np
import pytest

from facies_bench import schema

SCALE = 0.01


@pytest.fixture(scope="session")
def synth_store(tmp_path_factory):
    from facies_bench.synth import generate_store

    return generate_store(tmp_path_factory.mktemp("synth") / "synth.zarr", scale=SCALE, seed=0)


@pytest.fixture(scope="session")
def true_class_spectra(synth_store):
    """``f(class_name, min_pixels)``: per scene with at least that many true pixels of the class, the
    median of each of its 11 features over those pixels, stacked (n_scenes, 11)."""

    def spectra(class_name: str, min_pixels: int) -> np.ndarray:
        code, out = schema.class_index(class_name), []
        for scene_id in synth_store.scene_ids:
            scene = synth_store.scene(scene_id)
            mask = scene.true_facies == code
            if mask.sum() >= min_pixels:
                out.append(np.nanmedian(scene.features[:, mask], axis=1))
        return np.array(out).reshape(-1, len(schema.FEATURE_NAMES))

    return spectra

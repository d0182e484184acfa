"""The baselines in ``baselines/``: common tests over every file (a new baseline needs no edit here),
then a few tests of one baseline's specifics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.models import (
    FaciesModel,
    count_parameters,
    create_model,
    get_model_entry,
    import_submission,
    load_model,
    save_checkpoint,
)
from facies_bench.training import ArraySplit

BASELINES = Path(__file__).resolve().parents[2] / "baselines"
BASELINE_FILES = sorted(BASELINES.glob("*.py"))


def _splits(store, features=None):
    train = ArraySplit.concatenate([ArraySplit.from_store(store, store.fold_rows(f), features=features) for f in schema.train_folds(0)])
    validation = ArraySplit.from_store(store, store.fold_rows(schema.validation_fold(0)), features=features)
    test = ArraySplit.from_store(store, store.fold_rows(0), features=features)
    return train, validation, test


def test_baselines_are_found():
    assert BASELINE_FILES, f"no baseline files in {BASELINES}"


@pytest.mark.parametrize("path", BASELINE_FILES, ids=lambda p: p.stem)
def test_baseline_registers_exactly_one_model(path, clean_registry):
    names = import_submission(path)
    assert len(names) == 1
    assert import_submission(path) == names  # loading twice is fine
    entry = get_model_entry(names[0])
    assert entry.kind in ("torch", "estimator") and entry.description
    assert entry.name == schema.slug(entry.name)  # family_variant, usable in file names and entry ids


def test_baselines_register_distinct_names(clean_registry):
    names = [import_submission(path)[0] for path in BASELINE_FILES]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("path", BASELINE_FILES, ids=lambda p: p.stem)
def test_baseline_predicts_class_probabilities(path, clean_registry, tiny_store):
    """Every baseline, whatever its kind, gives (N, K) probabilities for feature set 4 (timm's
    test_model_forward over the registry)."""
    (name,) = import_submission(path)
    torch.manual_seed(0)
    if get_model_entry(name).kind == "torch":
        model = FaciesModel.from_registry(name, features=4, store=tiny_store, seed=0)
        proba = model.predict_proba(tiny_store.read_patches(slice(0, 16)))
        n = 16
    else:
        train, validation, test = _splits(tiny_store, features=4)
        estimator = create_model(name, in_channels=len(schema.FEATURE_SETS[4])).fit(train, validation)
        proba = estimator.predict_proba(test)
        n = len(test)
    assert proba.shape == (n, schema.N_CLASSES)
    assert np.isfinite(proba).all() and (proba >= 0).all() and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_paper_cnn_baseline_checkpoint_loads_without_the_file(baselines_dir, clean_registry, tiny_store, tmp_path):
    import_submission(baselines_dir / "paper_cnn.py")
    entry = get_model_entry("cnn_baseline")
    assert entry.importable and entry.target_path == "facies_bench.models.cnn_baseline:build_paper_cnn"
    model = FaciesModel.from_registry("cnn_baseline", features=4, store=tiny_store, seed=0)
    assert count_parameters(model.backbone) == 200_072
    path = save_checkpoint(model, tmp_path / "cnn.pt")
    clean_registry.unregister_model("cnn_baseline")
    patches = tiny_store.read_patches(slice(0, 4))
    np.testing.assert_array_equal(load_model(path).predict_proba(patches), model.predict_proba(patches))


def test_centre_only_cnn_sees_the_centre_pixel_and_nothing_else(baselines_dir, clean_registry, tiny_store, tmp_path):
    """The context ablation: the paper's CNN, unchanged, on the centre pixel broadcast over the patch."""
    import_submission(baselines_dir / "paper_cnn_centre_only.py")
    assert get_model_entry("cnn_baseline_centre_only").importable
    torch.manual_seed(0)
    model = FaciesModel.from_registry("cnn_baseline_centre_only", features=4, store=tiny_store, seed=0)
    assert count_parameters(model.backbone) == 200_072
    patches = tiny_store.read_patches(slice(0, 8))
    c = schema.PATCH_SIZE // 2
    neighbours = patches.copy()
    neighbours[:, :, :c] = patches[::-1, :, :c]  # every row above the centre from another patch
    neighbours[:, :, c, c + 1:] = patches[::-1, :, c, c + 1:]
    np.testing.assert_allclose(model.predict_proba(neighbours), model.predict_proba(patches), rtol=1e-5, atol=1e-6)
    centre = patches.copy()
    centre[:, :, c, c] = patches[::-1, :, c, c]
    assert not np.allclose(model.predict_proba(centre), model.predict_proba(patches), atol=1e-4)
    path = save_checkpoint(model, tmp_path / "centre_only.pt")
    clean_registry.unregister_model("cnn_baseline_centre_only")
    np.testing.assert_array_equal(load_model(path).predict_proba(patches), model.predict_proba(patches))


@pytest.mark.parametrize(("channels", "size"), [(6, 33), (11, 33), (11, 45)])
def test_timm_backbone_shapes(baselines_dir, clean_registry, channels, size):
    import_submission(baselines_dir / "timm_backbone.py")
    torch.manual_seed(0)
    model = create_model("timm_resnet10t", in_channels=channels).eval()
    with torch.no_grad():
        assert model(torch.randn(2, channels, size, size)).shape == (2, 8)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in model.modules())


def test_hgb_centre_pixel_beats_chance(baselines_dir, clean_registry, tiny_store):
    import_submission(baselines_dir / "hgb_centre_pixel.py")
    train, validation, test = _splits(tiny_store, features=1)
    labels = train.labels.copy()
    labels[:5] = -1  # pruned samples are ignored
    train = ArraySplit(train.patches, labels, train.scene, train.sample_id)
    estimator = create_model("hgb_centre_pixel", in_channels=6, max_iter=20, max_leaf_nodes=15, random_state=0).fit(train, validation)
    proba = estimator.predict_proba(test)
    assert proba.shape == (len(test), 8) and np.allclose(proba.sum(1), 1, atol=1e-6)
    assert (proba.argmax(1) == test.labels).mean() > 0.4
    assert estimator.n_parameters > 0

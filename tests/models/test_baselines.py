from __future__ import annotations

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.models import FaciesModel, count_parameters, create_model, get_model_entry, import_submission, load_model, save_checkpoint
from facies_bench.training import ArraySplit


def _splits(store, features=None):
    train = ArraySplit.concatenate([ArraySplit.from_store(store, store.fold_rows(f), features=features) for f in schema.train_folds(0)])
    validation = ArraySplit.from_store(store, store.fold_rows(schema.validation_fold(0)), features=features)
    test = ArraySplit.from_store(store, store.fold_rows(0), features=features)
    return train, validation, test


def test_each_baseline_registers_exactly_one_model(baselines_dir, clean_registry):
    expected = {"paper_cnn.py": "cnn_baseline", "timm_backbone.py": "timm_resnet10t", "hgb_centre_pixel.py": "hgb_centre_pixel"}
    assert sorted(p.name for p in baselines_dir.glob("*.py")) == sorted(expected)
    for file, name in expected.items():
        assert import_submission(baselines_dir / file) == (name,)
        assert import_submission(baselines_dir / file) == (name,)  # loading twice is fine


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

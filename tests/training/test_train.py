from __future__ import annotations

import numpy as np
import pytest
import torch

from facies_bench.models import FaciesModel, load_model, save_checkpoint
from facies_bench.models.cnn_baseline import PaperCNN
from facies_bench.training import ArraySplit, TrainingRecipe, train_torch_model
from facies_bench.training.train import mean_iou_score

FAST = TrainingRecipe.quick().replace(epochs=2, batch_size=32, num_threads=1)


def _paper_cnn(store, **hparams):
    """The paper's architecture, narrowed for test speed (same code path as cnn_baseline)."""
    backbone = PaperCNN(11, **hparams)
    return FaciesModel(backbone, features=store.feature_names, feature_min=store.feature_min, feature_max=store.feature_max,
                       model_name="cnn_baseline", builder="facies_bench.models.cnn_baseline:build_paper_cnn", hparams=hparams)


def test_two_epochs_beat_chance_and_keep_best(tiny_store, fold0_splits, tmp_path):
    train, validation, test = fold0_splits
    torch.manual_seed(0)
    model = _paper_cnn(tiny_store, filters=16, hidden=32)
    seen = []
    result = train_torch_model(model, train, validation, recipe=FAST, seed=0, progress=lambda e, m: seen.append((e, m)))
    assert [e for e, _ in seen] == [0, 1] and len(result.history) == 2
    assert result.best_val_miou == max(h["val_miou"] for h in result.history)
    assert result.history[result.best_epoch]["val_miou"] == result.best_val_miou
    assert not result.model.training and result.model is model
    proba = model.predict_proba(validation.patches)
    assert mean_iou_score(validation.labels, proba.argmax(1)) == pytest.approx(result.best_val_miou)  # best state restored
    accuracy = (proba.argmax(1) == validation.labels).mean()
    assert accuracy > 0.3, f"validation accuracy {accuracy:.2f} is not above chance (0.125)"
    assert all(np.isfinite(h["loss"]) and h["lr"] < FAST.lr for h in result.history)
    path = save_checkpoint(model, tmp_path / "m.pt")
    np.testing.assert_array_equal(load_model(path).predict_proba(test.patches), model.predict_proba(test.patches))
    assert model.backbone.scale1[0][1].momentum == 0.01  # the recipe's bn_momentum was restored


def test_deterministic_for_a_seed(tiny_store, fold0_splits):
    train, validation, _ = fold0_splits
    recipe = FAST.replace(epochs=1)
    runs = []
    for _ in range(2):
        model = FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=1)
        runs.append(train_torch_model(model, train, validation, recipe=recipe, seed=4))
    assert [h["loss"] for h in runs[0].history] == [h["loss"] for h in runs[1].history]
    for a, b in zip(runs[0].model.state_dict().values(), runs[1].model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    other = train_torch_model(FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=1),
                              train, validation, recipe=recipe, seed=5)
    assert other.history[0]["loss"] != runs[0].history[0]["loss"]


def test_bf16_path_runs(tiny_store, fold0_splits):
    train, validation, _ = fold0_splits
    model = _paper_cnn(tiny_store, filters=8, hidden=16)
    result = train_torch_model(model, train.subset(slice(0, 128)), validation, recipe=FAST.replace(epochs=1, precision="bf16"), seed=0)
    assert np.isfinite(result.history[0]["loss"])
    proba = model.predict_proba(validation.patches, precision="bf16")
    assert proba.dtype == np.float32 and np.allclose(proba.sum(1), 1, atol=1e-3)


def test_pruned_samples_ignored_and_bad_inputs(tiny_store, fold0_splits):
    train, validation, _ = fold0_splits
    labels = train.labels.copy()
    labels[::2] = -1
    pruned = ArraySplit(train.patches, labels, train.scene, train.sample_id)
    model = FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=0)
    result = train_torch_model(model, pruned, validation, recipe=FAST.replace(epochs=1), seed=0)
    assert np.isfinite(result.history[0]["loss"])
    with pytest.raises(ValueError, match="expects 6"):
        train_torch_model(FaciesModel.from_registry("test_cnn", features=1), train, validation, recipe=FAST)
    empty = validation.subset(np.zeros(len(validation), bool))
    with pytest.raises(ValueError, match="validation split has no labelled samples"):
        train_torch_model(model, train, empty, recipe=FAST)


def test_array_split_checks(fold0_splits):
    train, _, _ = fold0_splits
    with pytest.raises(ValueError, match="do not match"):
        ArraySplit(train.patches, train.labels[:-1], train.scene, train.sample_id)
    assert len(ArraySplit.concatenate([train, train])) == 2 * len(train)

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

from facies_bench.errors import CheckpointError
from facies_bench.models import FaciesModel, load_model, read_checkpoint, save_checkpoint


def test_round_trip_raw_patches(tiny_store, tmp_path):
    model = FaciesModel.from_registry("test_cnn", features=2, store=tiny_store, seed=3, meta={"fold": 0})
    patches = tiny_store.read_patches(slice(0, 40), features=model.features)
    path = save_checkpoint(model, tmp_path / "sub" / "model.pt", meta={"seed": 3})
    assert not list(path.parent.glob(".*tmp*"))  # nothing left from the atomic write
    loaded = load_model(path)
    assert isinstance(loaded, FaciesModel) and not loaded.training
    assert loaded.features == model.features and loaded.model_name == "test_cnn"
    assert loaded.builder == "facies_bench.models.tiny:build_test_cnn" and loaded.hparams == {"width": 8}
    assert loaded.meta == {"fold": 0, "seed": 3}
    idx = tiny_store.feature_indices(2)
    np.testing.assert_array_equal(loaded.feature_min.numpy(), tiny_store.feature_min[idx])
    np.testing.assert_array_equal(loaded.feature_max.numpy(), tiny_store.feature_max[idx])
    proba = loaded.predict_proba(patches, batch_size=7)
    np.testing.assert_array_equal(proba, model.predict_proba(patches))
    assert proba.shape == (40, 8) and np.allclose(proba.sum(1), 1, atol=1e-5)
    ckpt = read_checkpoint(path)
    assert ckpt["format"] == "facies-bench-checkpoint" and ckpt["version"] == 1


def test_normalisation_is_applied(tiny_store):
    model = FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=0)
    raw = torch.as_tensor(tiny_store.read_patches(slice(0, 5)))
    lo, hi = tiny_store.feature_min, tiny_store.feature_max
    expected = (raw - torch.as_tensor(lo)[None, :, None, None]) / torch.as_tensor(hi - lo)[None, :, None, None]
    torch.testing.assert_close(model.normalize(raw), expected)
    assert float(model.normalize(raw).min()) >= -1e-6 and float(model.normalize(raw).max()) <= 1 + 1e-6


def test_same_seed_same_init(tiny_store):
    a = FaciesModel.from_registry("test_cnn", features=1, seed=5)
    b = FaciesModel.from_registry("test_cnn", features=1, seed=5)
    for (ka, va), (_, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(va, vb, msg=ka)


def test_wrong_patch_shape_message(tiny_store):
    model = FaciesModel.from_registry("test_cnn", features=1)
    with pytest.raises(ValueError, match=r"expects \(N, 6, H, W\)"):
        model.predict_proba(np.zeros((2, 11, 33, 33), np.float32))


def test_submission_file_model_reloads(clean_registry, tmp_path):
    sub = tmp_path / "unit_ckpt_sub.py"
    sub.write_text(textwrap.dedent("""
        from torch import nn
        from facies_bench.models import register_model

        @register_model("unit_ckpt_model", hparams={"width": 3})
        def build(in_channels, n_classes, *, width=3):
            return nn.Sequential(nn.Conv2d(in_channels, width, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, n_classes))
    """))
    clean_registry.import_submission(sub)
    model = FaciesModel.from_registry("unit_ckpt_model", features=1, seed=0)
    assert model.builder is None and model.meta["submission"] == str(sub.resolve())
    path = save_checkpoint(model, tmp_path / "m.pt")
    x = np.random.default_rng(0).random((3, 6, 33, 33), dtype=np.float32)
    expected = model.predict_proba(x)
    clean_registry.unregister_model("unit_ckpt_model")
    np.testing.assert_array_equal(load_model(path).predict_proba(x), expected)  # re-imports the submission
    clean_registry.unregister_model("unit_ckpt_model")
    sub.unlink()
    with pytest.raises(CheckpointError, match="unit_ckpt_model"):
        load_model(path)


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_model(tmp_path / "missing.pt")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(CheckpointError, match="not a facies-bench checkpoint"):
        load_model(other)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="torch.load failed"):
        load_model(junk)


def test_bf16_predict_close_to_fp32(tiny_store):
    model = FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=0)
    patches = tiny_store.read_patches(slice(0, 32))
    p32 = model.predict_proba(patches)
    p16 = model.predict_proba(patches, precision="bf16")
    assert p16.dtype == np.float32 and np.abs(p16 - p32).max() < 0.05


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_bf16_warns_once(tiny_store, monkeypatch, caplog, native):
    from facies_bench.models import wrapper

    monkeypatch.setattr(wrapper, "cpu_has_native_bf16", lambda: native)
    wrapper._warn_emulated_bf16.cache_clear()
    model = FaciesModel.from_registry("test_cnn", features=4, store=tiny_store, seed=0)
    patches = tiny_store.read_patches(slice(0, 8))
    with caplog.at_level("WARNING", logger="facies_bench.models.wrapper"):
        model.predict_proba(patches, precision="fp32")
        assert not caplog.records
        model.predict_proba(patches, precision="bf16")
        model.predict_proba(patches, precision="bf16")
    warnings = [r for r in caplog.records if "no native bf16" in r.getMessage()]
    assert len(warnings) == (0 if native else 1)
    wrapper._warn_emulated_bf16.cache_clear()

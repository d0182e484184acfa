from __future__ import annotations

import json

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.errors import ConversionError
from facies_bench.models import import_keras_weights, load_model, save_checkpoint
from facies_bench.models.keras_import import read_keras_weights

ATOL = 1e-4


def _pairs(published_models):
    files = sorted((published_models / "io_pairs").glob("*.npz"))
    assert files, "no io_pairs found"
    for npz in files:
        fs, stem = npz.stem.split("_", 1)
        yield npz, published_models / fs / f"{stem}.h5"


def _check_pairs(published_models, n_rows):
    worst = 0.0
    for npz, h5 in _pairs(published_models):
        model = import_keras_weights(h5)
        ref = np.load(npz)
        for key in ("33", "45"):
            x = ref[f"x{key}"][:n_rows].transpose(0, 3, 1, 2)  # NHWC -> NCHW
            proba = model.predict_proba(x)
            err = float(np.abs(proba - ref[f"y{key}"][:n_rows]).max())
            worst = max(worst, err)
            assert err < ATOL, f"{h5.name} ({npz.stem}) x{key}: max abs error {err:.2e}"
    assert worst < 1e-5  # a float32 port matches to ~1e-6


def test_softmax_matches_every_published_model(published_models):
    """Every shipped model, x33 (first 16 of 64 inputs) and x45 (all 4)."""
    _check_pairs(published_models, 16)


@pytest.mark.slow
def test_softmax_matches_every_published_model_all_inputs(published_models):
    _check_pairs(published_models, None)


def test_layers_read_by_position(published_models):
    layers = read_keras_weights(published_models / "fs4" / "fold1_after.h5")
    assert len(layers) == 15
    assert layers[0][0] == "conv2d_6"  # fold 1 numbering continues from fold 0
    assert [t.shape for t in layers[1][1]] == [(64,)] * 4


def test_feature_set_inferred_and_checked(published_models):
    model = import_keras_weights(published_models / "fs2" / "fold0_after.h5")
    assert model.features == schema.FEATURE_SETS[2] and model.normalised_input
    with pytest.raises(ConversionError, match="8 input channels"):
        import_keras_weights(published_models / "fs2" / "fold0_after.h5", features=4)


def test_norm_stats_json_and_checkpoint_round_trip(published_models, tmp_path):
    npz, h5 = next(p for p in _pairs(published_models) if p[0].stem == "fs1_fold0_after")
    ref = np.load(npz)
    lo = np.linspace(-1, 0.5, 6).astype(np.float32)
    hi = lo + np.linspace(2, 50, 6).astype(np.float32)
    stats = tmp_path / "minmax.json"
    stats.write_text(json.dumps({"min": lo.tolist(), "max": hi.tolist()}))
    model = import_keras_weights(h5, features=1, norm_stats=stats)
    raw = ref["x33"].transpose(0, 3, 1, 2) * (hi - lo)[None, :, None, None] + lo[None, :, None, None]
    np.testing.assert_allclose(model.predict_proba(raw), ref["y33"], atol=ATOL)
    path = save_checkpoint(model, tmp_path / "fs1.pt")
    loaded = load_model(path)
    assert not loaded.training and loaded.features == schema.FEATURE_SETS[1] and loaded.model_name == "cnn_baseline"
    np.testing.assert_array_equal(loaded.predict_proba(raw), model.predict_proba(raw))


def test_norm_stats_from_store(published_models, tiny_store):
    model = import_keras_weights(published_models / "fs3" / "fold0_after.h5", norm_stats=tiny_store)
    idx = tiny_store.feature_indices(3)
    np.testing.assert_array_equal(model.feature_min.numpy(), tiny_store.feature_min[idx])


def test_bad_inputs(tmp_path):
    with pytest.raises(ConversionError, match="No Keras weights file"):
        import_keras_weights(tmp_path / "missing.h5")
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(ConversionError, match="not an HDF5 file"):
        import_keras_weights(bad)
    import h5py

    wrong = tmp_path / "wrong.h5"
    with h5py.File(wrong, "w") as f:
        f.attrs["layer_names"] = [b"dense"]
    with h5py.File(wrong, "a") as f:
        g = f.create_group("dense")
        g.attrs["weight_names"] = [b"dense/kernel:0", b"dense/bias:0"]
        g["dense/kernel:0"] = np.zeros((192, 8), np.float32)
        g["dense/bias:0"] = np.zeros(8, np.float32)
    with pytest.raises(ConversionError, match="15 weighted layers"):
        import_keras_weights(wrong)
    from facies_bench.models.keras_import import load_norm_stats

    with pytest.raises(ConversionError, match="expected one per feature"):
        load_norm_stats({"min": [0, 0], "max": [1, 1]}, schema.FEATURE_SETS[1])

"""``predict_proba(compile=True)``: the torch.compile-d inference copy gives the eager results."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch

from facies_bench import schema
from facies_bench.models import FaciesModel, PaperCNN


def _model() -> FaciesModel:
    torch.manual_seed(0)
    return FaciesModel(PaperCNN(schema.N_FEATURES), features=schema.FEATURE_NAMES, model_name="cnn_baseline").eval()


def _patches(n: int = 70) -> np.ndarray:  # not a multiple of the 64-patch chunk: the tail is padded
    return np.random.default_rng(0).random((n, schema.N_FEATURES, 33, 33), dtype=np.float32)


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="Inductor needs a C++ compiler")
def test_compiled_matches_eager_and_is_reused():
    model, x = _model(), _patches()
    eager = model.predict_proba(x)
    compiled = model.predict_proba(x, compile=True)
    np.testing.assert_allclose(compiled, eager, atol=1e-5)
    cached = model.__dict__["_compiled_inference"][1]
    model.predict_proba(x[:5], compile=True)
    assert model.__dict__["_compiled_inference"][1] is cached  # same weights: not compiled again
    with torch.no_grad():
        model.backbone.head[-1].bias.add_(1.0)  # new weights: a new compiled copy with them
    np.testing.assert_allclose(model.predict_proba(x, compile=True), model.predict_proba(x), atol=1e-5)
    assert model.__dict__["_compiled_inference"][1] is not cached


def test_failed_compile_falls_back_to_eager(monkeypatch, caplog):
    def broken(*args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("no C++ compiler")
        return fail

    monkeypatch.setattr(torch, "compile", broken)
    model, x = _model(), _patches(10)
    with caplog.at_level(logging.WARNING):
        out = model.predict_proba(x, compile=True)
    np.testing.assert_array_equal(out, model.predict_proba(x))
    assert caplog.text.count("torch.compile failed") == 1
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        np.testing.assert_array_equal(model.predict_proba(x, compile=True), out)
    assert "torch.compile failed" not in caplog.text  # the failure is remembered: no second attempt


@pytest.mark.skipif(shutil.which("c++") is None and shutil.which("g++") is None, reason="Inductor needs a C++ compiler")
def test_model_with_a_compiled_copy_still_copies_and_pickles(tmp_path):
    import copy

    model, x = _model(), _patches(8)
    model.predict_proba(x, compile=True)
    clone = copy.deepcopy(model)
    assert "_compiled_inference" not in clone.__dict__
    np.testing.assert_array_equal(clone.predict_proba(x), model.predict_proba(x))
    torch.save(model, tmp_path / "m.pt")

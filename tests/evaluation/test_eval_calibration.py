"""Per-fold Laplacian kernel ridge calibrators."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge

from facies_bench import schema
from facies_bench.errors import FaciesBenchError
from facies_bench.evaluation import Calibrator, fit_calibrator, fit_calibrators, load_calibrators, save_calibrators
from facies_bench.evaluation.metrics import expected_calibration_error


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    conf = rng.uniform(0.3, 0.95, n)
    correct = rng.random(n) < conf**2  # accuracy well below confidence
    return conf, correct


def test_fit_calibrator_reduces_ece_and_stays_in_unit_interval():
    conf, correct = _overconfident(20_000, 0)
    cal = fit_calibrator(conf, correct)
    test_conf, test_correct = _overconfident(20_000, 1)
    before = expected_calibration_error(test_conf, test_correct)
    after = expected_calibration_error(cal.predict(test_conf), test_correct)
    assert before > 0.15
    assert after < 0.04
    grid = cal.predict(np.linspace(-0.5, 1.5, 401))
    assert grid.min() >= 0.0 and grid.max() <= 1.0
    assert cal.predict(np.array([0.0, 1.0])) == pytest.approx([0.0, 1.0], abs=1e-6)  # anchors interpolated
    curve = cal.info["curve"]
    assert curve["confidence"][0] == 0.0 and curve["confidence"][-1] == 1.0
    assert curve["alpha"][0] == 0.0 and curve["alpha"][-1] == 0.0 and min(curve["alpha"][1:-1]) == 0.0
    assert cal.predict(np.full((3, 4), 0.5)).shape == (3, 4)


def test_calibrator_equals_kernel_ridge_predict():
    rng = np.random.default_rng(5)
    x = np.sort(rng.random(12))[:, None]
    y = rng.random(12)
    model = KernelRidge(kernel="laplacian", alpha=rng.random(12) * 1e-2).fit(x, y)
    q = np.linspace(0, 1, 101)
    np.testing.assert_allclose(Calibrator.from_kernel_ridge(model, clip=False).predict(q), model.predict(q[:, None]), atol=1e-12)
    np.testing.assert_allclose(Calibrator.from_kernel_ridge(model).predict(q), np.clip(model.predict(q[:, None]), 0, 1), atol=1e-12)
    with pytest.raises(FaciesBenchError, match="Laplacian"):
        Calibrator.from_kernel_ridge(KernelRidge(kernel="rbf").fit(x, y))


def test_published_calibration_model_wraps_exactly(shared_dir):
    path = shared_dir / "reference" / "published_models" / "calibration" / "fold0.pickle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = pickle.loads(path.read_bytes())
    q = np.linspace(0, 1, 201)
    cal = Calibrator.from_kernel_ridge(model)
    np.testing.assert_allclose(cal.predict(q), np.clip(model.predict(q[:, None]), 0, 1), atol=1e-10)


def test_save_and_load_round_trip(tmp_path):
    conf, correct = _overconfident(3000, 2)
    cals = {0: fit_calibrator(conf, correct, info={"test_fold": 0}), 3: fit_calibrator(conf[:1000], correct[:1000])}
    path = save_calibrators(cals, tmp_path / "cal.json")
    assert [p.name for p in tmp_path.iterdir()] == ["cal.json"]  # no temp file left
    loaded = load_calibrators(path)
    assert sorted(loaded) == [0, 3]
    q = np.linspace(0, 1, 50)
    for k in cals:
        np.testing.assert_allclose(loaded[k].predict(q), cals[k].predict(q))
    assert loaded[0].info["test_fold"] == 0
    again = pickle.loads(pickle.dumps(loaded[3]))
    np.testing.assert_allclose(again.predict(q), cals[3].predict(q))
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(FaciesBenchError, match="not a calibrator file"):
        load_calibrators(tmp_path / "bad.json")


def test_fit_calibrators_from_store(tiny_store, tiny_validation):
    cals = fit_calibrators(tiny_validation, tiny_store, variant="raw")
    assert sorted(cals) == list(range(schema.N_FOLDS))
    for k, cal in cals.items():
        assert cal.info["test_fold"] == k and cal.info["validation_fold"] == schema.validation_fold(k)
        assert cal.info["n_samples"] == int((tiny_validation["model_fold"] == k).sum())

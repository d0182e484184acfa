"""Published models one name away: fetched, verified, cached; offline and tampered files refused."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import facies_bench
from facies_bench.errors import CheckpointError, DownloadError, UnknownNameError
from facies_bench.published import files, load_published_calibrators, load_published_models
from facies_bench.published.calibration import calibrator_from_pickle, read_kernel_ridge_pickle


def test_load_model_by_published_name_fetches_once_and_caches(published_env):
    model = facies_bench.load_model("published:fs4/fold0")
    assert model.meta["published"] == "fs4/fold0" and model.meta["test_fold"] == 0
    assert model.meta["normalisation"] == "published" and len(model.features) == 11
    cached = files.published_cache_dir() / files.WEIGHTS["fs4/fold0"].path
    assert cached.is_file()
    assert published_env == [f"/{files.REPOSITORY}/{files.COMMIT}/{files.WEIGHTS['fs4/fold0'].path}"]
    facies_bench.load_model("published:fs4/fold0")
    assert len(published_env) == 1  # the second load reads the verified cache


def test_published_model_reproduces_the_authors_outputs(published_env, shared_models):
    """With identity normalisation the fetched model is the Keras model (reference I/O pairs)."""
    pairs = np.load(shared_models / "io_pairs" / "fs4_fold3_after.npz")
    model = load_published_models("published:fs4/fold3", norm_stats="identity")[0]
    probs = model.predict_proba(np.ascontiguousarray(pairs["x33"].transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(probs, pairs["y33"], atol=1e-5)


def test_published_normalisation_is_attached(published_env):
    from facies_bench.published import published_norm_stats

    model = load_published_models("published:fs2/fold0")[0]
    lo, hi = published_norm_stats().for_features(model.features)
    np.testing.assert_allclose(model.feature_min.numpy(), lo)
    np.testing.assert_allclose(model.feature_max.numpy(), hi)


def test_ensemble_name_expands_to_six_folds_with_their_calibration(published_env, shared_models):
    models = load_published_models("published:fs4")
    assert [m.meta["test_fold"] for m in models] == list(range(6))
    calibrators = load_published_calibrators(models)
    assert [c.info["fold"] for c in calibrators] == list(range(6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns about the pickle's version
        reference = pickle.loads((shared_models / "calibration" / "fold4.pickle").read_bytes())
    q = np.linspace(0.05, 1.0, 40)
    np.testing.assert_allclose(calibrators[4].predict(q), np.clip(reference.predict(q[:, None]), 0, 1), atol=1e-12)
    assert load_published_calibrators(load_published_models("published:fs1/fold0")) is None


def test_unknown_name_lists_the_published_ones(published_env):
    with pytest.raises(UnknownNameError, match="fs4/fold0.*published:NAME"):
        facies_bench.load_model("published:fs5/fold0")


def test_offline_error_names_the_url_and_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("FACIES_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(files.BASE_URL_ENV, "http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(DownloadError) as info:
        facies_bench.load_model("published:fs1/fold0")
    message = str(info.value)
    url = f"http://127.0.0.1:9/{files.REPOSITORY}/{files.COMMIT}/{files.WEIGHTS['fs1/fold0'].path}"
    assert url in message and str(files.published_cache_dir() / files.WEIGHTS["fs1/fold0"].path) in message
    assert "\n" not in message


def test_a_file_put_there_by_hand_is_used_offline(tmp_path, monkeypatch, shared_models):
    monkeypatch.setenv("FACIES_BENCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(files.BASE_URL_ENV, "http://127.0.0.1:9")
    dest = files.published_cache_dir() / files.WEIGHTS["fs1/fold0"].path
    dest.parent.mkdir(parents=True)
    dest.write_bytes((shared_models / "fs1" / "fold0_after.h5").read_bytes())
    assert facies_bench.load_model("published:fs1/fold0").meta["published"] == "fs1/fold0"


def test_a_tampered_upstream_file_is_refused(published_tree, published_env):
    target = published_tree / files.REPOSITORY / files.COMMIT / files.WEIGHTS["fs2/fold0"].path
    original = target.read_bytes()
    try:
        middle = len(original) // 2
        target.write_bytes(original[:middle] + bytes(b ^ 0xFF for b in original[middle:middle + 8]) + original[middle + 8:])
        with pytest.raises(DownloadError, match="sha256"):
            facies_bench.load_model("published:fs2/fold0")
        assert not (files.published_cache_dir() / files.WEIGHTS["fs2/fold0"].path).exists()
    finally:
        target.write_bytes(original)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_calibration_pickle_with_other_globals_is_refused(tmp_path):
    path = tmp_path / "evil.pickle"
    path.write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(CheckpointError, match="refusing to unpickle builtins.print"):
        read_kernel_ridge_pickle(path)
    path.write_bytes(pickle.dumps({"X_fit_": np.zeros((3, 1))}))  # only numpy, but not a KernelRidge
    with pytest.raises(CheckpointError, match="not a KernelRidge"):
        read_kernel_ridge_pickle(path)
    path.write_bytes(b"\x80\x04garbage")
    with pytest.raises(CheckpointError, match="not a readable calibration pickle"):
        read_kernel_ridge_pickle(path)


def test_published_calibration_pickle_reads_without_scikit_learn_classes(shared_models):
    cal = calibrator_from_pickle(shared_models / "calibration" / "fold0.pickle")
    assert cal.x_fit.ndim == 1 and cal.gamma == 1.0 and 0 <= cal.predict(np.array([0.5]))[0] <= 1

"""Work units: stable ids, resume after a crash, and each bad input named by submission and fold."""

from __future__ import annotations

import os

import numpy as np
import pytest

from facies_bench import schema
from facies_bench.errors import IncompleteRunError, SubmissionError
from facies_bench.protocol import ProtocolConfig, WorkUnit, load_submission, run_protocol
from facies_bench.protocol.units import check_probabilities

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ESTIMATOR_HEADER = '''
import numpy as np
from facies_bench.models import register_model
from facies_bench.models.estimators import centre_pixel_features, expand_proba, labelled
'''


def _unit(**overrides):
    base = dict(submission_sha256="a" * 64, model_name="m", store_hash="blake2b:x", variant="raw",
                features=schema.FEATURE_SETS[4], test_fold=0, seed=0, recipe={"epochs": 3, "num_threads": None})
    return WorkUnit(**{**base, **overrides})


def test_unit_id_is_stable_and_content_addressed():
    a = _unit()
    assert a.unit_id == _unit().unit_id and len(a.unit_id) == 16
    assert a.unit_id == WorkUnit.from_dict(a.to_dict()).unit_id
    for change in ({"seed": 1}, {"test_fold": 1}, {"variant": "cl"}, {"features": schema.FEATURE_SETS[1]},
                   {"recipe": {"epochs": 4}}, {"submission_sha256": "b" * 64}, {"store_hash": "blake2b:y"},
                   {"variant_fingerprint": "raw@other"}):
        assert _unit(**change).unit_id != a.unit_id, change
    # a cleaned variant rewritten under the same name gives new units
    assert _unit(variant="cl", variant_fingerprint="cl@1").unit_id != _unit(variant="cl", variant_fingerprint="cl@2").unit_id
    # thread count changes speed, not results: same unit
    assert _unit(recipe={"epochs": 3, "num_threads": 4}).unit_id == a.unit_id


def test_check_probabilities_messages():
    good = np.full((3, 8), 1 / 8)
    assert np.allclose(check_probabilities(good, 3, submission="'s.py'", where="fold 1").sum(1), 1)
    for bad, pattern in ((np.full((3, 7), 1 / 7), r"shape \(3, 7\); expected \(3, 8\)"),
                         (np.where(np.eye(3, 8) > 0, np.nan, 1 / 8), "NaN"),
                         (np.full((3, 8), 1.0), "do not sum to 1"),
                         (np.c_[np.full((3, 7), 0.2), np.full(3, -0.4)], "negative")):
        with pytest.raises(SubmissionError, match=pattern) as info:
            check_probabilities(bad, 3, submission="'s.py'", where="seed 0 fold 1")
        assert "'s.py'" in str(info.value) and "fold 1" in str(info.value)


CRASH_ONCE = ESTIMATOR_HEADER + '''
from pathlib import Path
MARKER = Path({marker!r})
FIRST_VALIDATION_ID = {first_id}


@register_model("{name}")
class Flaky:
    """Logistic regression that crashes the first time it trains for test fold 2."""

    def fit(self, train, validation):
        if int(validation.sample_id[0]) == FIRST_VALIDATION_ID and not MARKER.exists():
            MARKER.write_text("crashed once")
            raise RuntimeError("simulated crash")
        from sklearn.linear_model import LogisticRegression
        keep = labelled(train)
        self.model_ = LogisticRegression(max_iter=50).fit(centre_pixel_features(train.patches[keep]), train.labels[keep])
        return self

    def predict_proba(self, split):
        p = self.model_.predict_proba(centre_pixel_features(split.patches))
        return expand_proba(p, self.model_.classes_, 8)
'''


def test_resume_after_crash_keeps_completed_units(tiny_store, write_submission, tmp_path):
    first_val_id = int(tiny_store.column("sample_id")[tiny_store.fold_rows(1)][0])  # fold 2 validates on fold 1
    marker = tmp_path / "crashed"
    path, name = write_submission(CRASH_ONCE.replace("{marker!r}", repr(str(marker))).replace("{first_id}", str(first_val_id)))
    config = ProtocolConfig(folds=(0, 1, 2), n_bootstrap=10)
    run_dir = tmp_path / "run"
    with pytest.raises(IncompleteRunError) as info:
        run_protocol(path, tiny_store, config, run_dir)
    err = info.value
    assert "fold 2" in str(err) and name in str(err) and "simulated crash" in str(err)
    assert [o.status for o in err.outcomes] == ["completed", "completed", "failed"]
    assert len(err.missing) == 1
    done = {o.unit.test_fold: run_dir / "units" / o.unit.unit_id for o in err.outcomes if o.ok}
    mtimes = {k: {f: os.stat(d / f).st_mtime_ns for f in ("unit.json", "test.parquet", "validation.parquet")} for k, d in done.items()}
    assert not (run_dir / "result.json").exists()

    result = run_protocol(path, tiny_store, config, run_dir)
    assert [o.status for o in result.outcomes] == ["skipped", "skipped", "completed"]
    for k, d in done.items():  # completed units were not retrained or rewritten
        assert {f: os.stat(d / f).st_mtime_ns for f in mtimes[k]} == mtimes[k]
    assert (run_dir / "result.json").exists()
    assert result.result["folds"] == [0, 1, 2]
    # a third run retrains nothing
    again = run_protocol(path, tiny_store, config, run_dir)
    assert again.n_trained == 0


def test_unit_outputs(tiny_store, tmp_path):
    import pandas as pd

    from facies_bench.models import read_checkpoint

    result = run_protocol("test_cnn", tiny_store, ProtocolConfig(quick=True, epochs=1, folds=(3,), n_bootstrap=10), tmp_path / "r")
    unit = result.units[0]
    folder = tmp_path / "r" / "units" / unit.unit_id
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint.pt", "test.parquet", "unit.json", "validation.parquet"]
    test = pd.read_parquet(folder / "test.parquet")
    rows = tiny_store.fold_rows(3)
    assert test["sample_id"].tolist() == tiny_store.column("sample_id")[rows].tolist()  # all test samples
    assert (test["fold"] == 3).all()
    val = pd.read_parquet(folder / "validation.parquet")
    assert len(val) == rows.stop - rows.start or len(val) == len(tiny_store.column("sample_id")[tiny_store.fold_rows(2)])
    assert (val["model_fold"] == 3).all()
    assert set(val["sample_id"]) == set(tiny_store.column("sample_id")[tiny_store.fold_rows(2)])
    assert read_checkpoint(folder / "checkpoint.pt")["model_name"] == "test_cnn"


# ---- bad input ------------------------------------------------------------------------------

NO_MODEL = "import numpy as np\nX = 1\n"
TWO_MODELS = '''
from facies_bench.models import register_model
from facies_bench.models.tiny import TinyCNN

@register_model("{name}_a")
def a(in_channels, n_classes):
    return TinyCNN(in_channels, n_classes)

@register_model("{name}_b")
def b(in_channels, n_classes):
    return TinyCNN(in_channels, n_classes)
'''
WRONG_SHAPE = '''
from torch import nn
from facies_bench.models import register_model

@register_model("{name}")
def build(in_channels, n_classes):
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(n_classes - 1))
'''


def test_file_registering_no_model(write_submission):
    path, _ = write_submission(NO_MODEL)
    with pytest.raises(SubmissionError, match="registers no model"):
        load_submission(path)


def test_file_registering_two_models(write_submission):
    path, name = write_submission(TWO_MODELS)
    with pytest.raises(SubmissionError, match=f"registers 2 models.*{name}_a.*{name}_b"):
        load_submission(path)


def test_builder_wrong_output_shape(tiny_store, write_submission, tmp_path):
    path, name = write_submission(WRONG_SHAPE)
    with pytest.raises(IncompleteRunError) as info:
        run_protocol(path, tiny_store, ProtocolConfig(quick=True, epochs=1, folds=(0,)), tmp_path / "r")
    outcome = info.value.outcomes[0]
    assert outcome.error_type == "SubmissionError"
    assert name in outcome.error and "fold 0" in outcome.error and "(2, 7)" in outcome.error


ESTIMATOR_BAD = ESTIMATOR_HEADER + '''
BAD_FOLD_FIRST_ID = {first_id}


@register_model("{name}")
class Bad:
    def fit(self, train, validation):
        self.bad = int(validation.sample_id[0]) == BAD_FOLD_FIRST_ID
        if self.bad and "{mode}" == "fit":
            raise ValueError("fit exploded")
        return self

    def predict_proba(self, split):
        n = len(split.sample_id)
        p = np.full((n, 8), 1 / 8)
        if self.bad:
            if "{mode}" == "predict":
                raise RuntimeError("predict exploded")
            if "{mode}" == "shape":
                return p[:, :5]
            if "{mode}" == "nan":
                p[0, 0] = np.nan
        return p
'''


@pytest.mark.parametrize("mode, pattern", [("fit", "fit raised ValueError: fit exploded"),
                                           ("predict", "predict_proba raised RuntimeError: predict exploded"),
                                           ("shape", r"shape \(\d+, 5\); expected \(\d+, 8\)"),
                                           ("nan", "NaN")])
def test_bad_estimator_named_with_fold_and_completed_folds_intact(tiny_store, write_submission, tmp_path, mode, pattern):
    first_id = int(tiny_store.column("sample_id")[tiny_store.fold_rows(0)][0])  # fold 1 validates on fold 0
    path, name = write_submission(ESTIMATOR_BAD.replace("{first_id}", str(first_id)).replace("{mode}", mode))
    run_dir = tmp_path / "r"
    with pytest.raises(IncompleteRunError) as info:
        run_protocol(path, tiny_store, ProtocolConfig(folds=(0, 1)), run_dir)
    good, bad = info.value.outcomes
    assert good.status == "completed" and bad.status == "failed"
    assert bad.error_type == "SubmissionError"
    assert name in bad.error and "fold 1" in bad.error
    import re

    assert re.search(pattern, bad.error), bad.error
    assert (run_dir / "units" / good.unit.unit_id / "unit.json").exists()
    assert not (run_dir / "units" / bad.unit.unit_id / "unit.json").exists()


def test_feature_set_the_store_lacks(tiny_store_copy, tmp_path):
    import zarr

    group = zarr.open_group(str(tiny_store_copy), mode="r+")
    group.attrs["feature_names"] = list(schema.FEATURE_SETS[1])  # a release with optical bands only
    from facies_bench.data.store import seal_store

    seal_store(tiny_store_copy, group)  # record the edit in the integrity record, as a writer would
    with pytest.raises(SubmissionError, match=r"test_logreg.*folds 0, 1.*lacks feature\(s\) elevation"):
        run_protocol("test_logreg", str(tiny_store_copy), ProtocolConfig(features=2, folds=(0, 1)), tmp_path / "r")

from __future__ import annotations

import importlib.metadata
import textwrap

import pytest
from torch import nn

from facies_bench.errors import SubmissionError, UnknownNameError
from facies_bench.models import (
    create_model,
    get_model_entry,
    import_submission,
    list_models,
    register_model,
    unregister_model,
)


def _builder(in_channels, n_classes, *, width=4):
    return nn.Sequential(nn.Flatten(), nn.LazyLinear(n_classes))


def test_register_create_and_list(clean_registry):
    register_model("unit_linear", hparams={"width": 4}, recipe={"lr": 3e-4})(_builder)
    entry = get_model_entry("unit_linear")
    assert entry.kind == "torch" and entry.recipe == {"lr": 3e-4} and entry.hparams == {"width": 4}
    assert "unit_linear" in list_models() and list_models("unit_*") == ["unit_linear"]
    assert isinstance(create_model("unit_linear", in_channels=6), nn.Module)


def test_builtin_test_models_registered():
    assert {"test_cnn", "test_logreg"} <= set(list_models())
    assert get_model_entry("test_cnn").kind == "torch"
    assert get_model_entry("test_logreg").kind == "estimator"


def test_duplicate_name_is_an_error(clean_registry):
    register_model("unit_dup")(_builder)
    register_model("unit_dup")(_builder)  # the same definition again: allowed (a file loaded twice)

    def other(in_channels, n_classes):
        return nn.Identity()

    with pytest.raises(SubmissionError, match="already registered"):
        register_model("unit_dup")(other)


def test_unknown_name_lists_registered():
    with pytest.raises(UnknownNameError, match=r"Unknown model 'nope_x'\. Registered: .*test_cnn"):
        get_model_entry("nope_x")
    with pytest.raises(UnknownNameError):
        unregister_model("nope_x")


def test_unknown_recipe_field_rejected(clean_registry):
    with pytest.raises(UnknownNameError, match="lrr"):
        register_model("unit_badrecipe", recipe={"lrr": 1})(_builder)
    assert "unit_badrecipe" not in list_models()


def test_builder_must_return_module(clean_registry):
    register_model("unit_notmodule")(lambda c, k: "nope")
    with pytest.raises(SubmissionError, match="must return a torch.nn.Module"):
        create_model("unit_notmodule", in_channels=3)
    with pytest.raises(ValueError, match="in_channels"):
        create_model("unit_notmodule")


def test_estimator_gets_n_classes(clean_registry):
    @register_model("unit_est")
    class Est:
        def __init__(self, *, n_classes=3):
            self.n_classes = n_classes

        def fit(self, train, validation):
            return self

        def predict_proba(self, split):
            return None

    assert get_model_entry("unit_est").kind == "estimator"
    assert create_model("unit_est").n_classes == 8


def test_import_submission_twice_and_rollback(clean_registry, tmp_path):
    sub = tmp_path / "my_sub.py"
    sub.write_text(textwrap.dedent("""
        from torch import nn
        from facies_bench.models import register_model

        @register_model("unit_subfile")
        def build(in_channels, n_classes):
            return nn.Sequential(nn.Flatten(), nn.LazyLinear(n_classes))
    """))
    assert import_submission(sub) == ("unit_subfile",)
    assert import_submission(sub) == ("unit_subfile",)  # loading twice is not a duplicate
    assert not get_model_entry("unit_subfile").importable
    clash = tmp_path / "clash.py"
    clash.write_text(sub.read_text())
    with pytest.raises(SubmissionError, match="already registered"):
        import_submission(clash)
    broken = tmp_path / "broken.py"
    broken.write_text("from facies_bench.models import register_model\n"
                      "register_model('unit_broken')(lambda c, k: None)\nraise RuntimeError('boom')\n")
    with pytest.raises(SubmissionError, match="broken.py.*boom"):
        import_submission(broken)
    assert "unit_broken" not in list_models()
    with pytest.raises(SubmissionError, match="does not exist"):
        import_submission(tmp_path / "missing.py")


def test_entry_points_loaded_lazily(clean_registry, monkeypatch):
    ep = importlib.metadata.EntryPoint(name="plugin_tinycnn", value="facies_bench.models.tiny:TinyCNN", group="facies_bench.models")
    broken = importlib.metadata.EntryPoint(name="plugin_broken", value="no_such_module_xyz:thing", group="facies_bench.models")
    monkeypatch.setattr(clean_registry.importlib.metadata, "entry_points", lambda group: [ep, broken])
    clean_registry._ENTRY_POINTS_LOADED = False
    assert "plugin_tinycnn" in list_models()
    assert "plugin_broken" not in list_models()
    assert create_model("plugin_tinycnn", in_channels=3)(__import__("torch").zeros(2, 3, 33, 33)).shape == (2, 8)

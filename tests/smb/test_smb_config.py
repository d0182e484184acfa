"""The SMB analysis config: input modes named explicitly, conflicting options refused with a clear error."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from facies_bench.cli.main import main
from facies_bench.errors import FaciesBenchError, MassBalanceError, UnknownNameError
from facies_bench.smb import SMB_INPUTS, SMBConfig, locate_wgms_records, open_smb_store, run_smb, run_smb_config
from facies_bench.smb.synthetic import MAPPING_NAME


@pytest.mark.parametrize(("options", "mode"), [
    ({"store": "s.zarr", "models": ["a.pt", "b.pt"]}, "models"),
    ({"true_facies": True}, "true_facies"),
    ({"maps": "maps", "store": "s.zarr", "dem": "dem.tif"}, "maps"),
    ({"tables": "tables"}, "tables"),
])
def test_the_mode_follows_from_the_source_flag(options, mode):
    config = SMBConfig.from_options(**options)
    assert config.input == mode and mode in SMB_INPUTS
    assert config.uses_embedded_store == (mode == "true_facies")


def test_model_options_become_a_list_or_fold_models():
    assert SMBConfig.from_options(models=["a.pt", "b.pt"]).model_spec() == ["a.pt", "b.pt"]
    config = SMBConfig.from_options(models=["0=a.pt", "4=b.pt"])
    assert config.model_paths == ((0, "a.pt"), (4, "b.pt")) and config.model_spec() == {0: "a.pt", 4: "b.pt"}
    assert SMBConfig(input="models", model_paths={1: "c.pt"}).model_spec() == {1: "c.pt"}
    assert SMBConfig(input="models", model_paths=config.model_paths) == config  # pairs stay pairs


@pytest.mark.parametrize(("options", "message"), [
    ({"models": ["a.pt"], "true_facies": True}, "Pass either --model or --true-facies, not both"),
    ({"tables": "t", "maps": "m"}, "Pass --tables alone"),
    ({"tables": "t", "true_facies": True}, "Pass --tables alone"),
    ({"maps": "m", "models": ["a.pt"]}, "Pass either --maps .* or --model"),
    ({"maps": "m", "true_facies": True}, "Pass either --maps .* or --true-facies"),
    ({"store": "s.zarr"}, "No facies source"),
    ({"true_facies": True, "dem": "dem.tif"}, "--dem complete"),
    ({"tables": "t", "optical": "o.tif", "outlines": "o.geojson"}, "--outlines, --optical complete"),
    ({"true_facies": True, "center": "8/20"}, "MM-DD"),
    ({"true_facies": True, "window_days": -1}, "0 or more days"),
])
def test_conflicting_or_invalid_options_are_refused(options, message):
    with pytest.raises(MassBalanceError, match=message) as info:
        SMBConfig.from_options(**options)
    assert isinstance(info.value, FaciesBenchError)


def test_the_config_checks_its_fields_against_its_mode():
    with pytest.raises(MassBalanceError, match="Unknown SMB input mode 'store'. Valid: models: .*tables: "):
        SMBConfig(input="store")
    with pytest.raises(MassBalanceError, match="the input mode 'maps' takes none"):
        SMBConfig(input="maps", folder="m", model_paths=["a.pt"])
    with pytest.raises(MassBalanceError, match="give its folder"):
        SMBConfig(input="tables")
    with pytest.raises(MassBalanceError, match="not a folder"):
        SMBConfig(input="true_facies", folder="m")
    with pytest.raises(UnknownNameError):
        SMBConfig(input="true_facies", snow_classes=("powder",))
    config = SMBConfig(input="true_facies", snow_classes=["snow", "Firn"], folds={"Silvretta": 0})
    assert config.snow_classes == ("snow", "firn") and config.folds_dict() == {"Silvretta": 0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.input = "maps"  # type: ignore[misc]
    with pytest.raises(MassBalanceError, match="takes none"):
        config.replace(dem="dem.tif")


def test_run_smb_refuses_options_of_two_modes(multiyear_store, multiyear_wgms, multiyear_maps):
    table, mapping = multiyear_wgms["table"], multiyear_wgms["mapping"]
    with pytest.raises(MassBalanceError, match="'true_facies' takes none"):
        run_smb(multiyear_store, table, mapping, use_true_facies=True, model_paths=["a.pt"])
    with pytest.raises(MassBalanceError, match="the source is itself a store"):
        run_smb(multiyear_store, table, mapping, use_true_facies=True, store=multiyear_store)
    with pytest.raises(MassBalanceError, match="use_true_facies takes a store's scenes"):
        run_smb(multiyear_maps, table, mapping, use_true_facies=True)
    with pytest.raises(MassBalanceError, match="--dem complete"):
        run_smb(multiyear_store, table, mapping, use_true_facies=True, dem="dem.tif")
    with pytest.raises(MassBalanceError, match="Loaded models"):
        run_smb(multiyear_maps, table, mapping, models=[object()])


def test_cli_refuses_maps_with_a_model(multiyear_maps, tmp_path, capsys):
    rc = main(["smb", "--maps", str(multiyear_maps), "--model", "a.pt", "-o", str(tmp_path / "out")])
    assert rc == 2
    assert "Pass either --maps" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_store_modes_without_a_store_take_the_embedded_dataset(monkeypatch):
    import facies_bench.default_dataset

    monkeypatch.setattr(facies_bench.default_dataset, "resolve_store", lambda store=None, **kwargs: "embedded")
    assert open_smb_store(SMBConfig(input="true_facies")) == "embedded"
    assert open_smb_store(SMBConfig(input="maps", folder="maps")) is None  # a maps folder needs no store


def test_records_are_located_beside_the_table_or_the_store(tmp_path):
    found = locate_wgms_records(None, wgms_table=tmp_path / "fog.csv")
    assert found.mapping == tmp_path / MAPPING_NAME and not found.drawn
    with pytest.raises(MassBalanceError, match="No WGMS table"):
        locate_wgms_records(None)


def test_config_run_is_the_keyword_run(multiyear_store, multiyear_wgms, true_facies_report):
    config = SMBConfig(input="true_facies", wgms_table=multiyear_wgms["table"], mapping=multiyear_wgms["mapping"])
    calls = []
    report = run_smb_config(config, store=multiyear_store, progress=lambda done, total: calls.append((done, total)))
    pd.testing.assert_frame_equal(report.features, true_facies_report.features)
    assert report.settings == true_facies_report.settings
    assert report.left_out == true_facies_report.left_out
    assert calls and calls[-1][0] == calls[-1][1] == len(calls)

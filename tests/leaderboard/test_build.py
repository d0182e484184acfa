"""The built pages: README.md, index.html, leaderboard.json, eval.yaml and eval_results/."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from facies_bench import schema
from facies_bench.leaderboard.table import COLUMNS


def test_readme_has_ranked_tables_and_breakdowns(built_site):
    text = (built_site / "README.md").read_text()
    front, body = text.split("---\n", 2)[1:]
    assert yaml.safe_load(front)["sdk"] == "static" and yaml.safe_load(front)["app_file"] == "index.html"
    header = next(line for line in body.splitlines() if line.startswith("| Rank |"))
    assert header == "| " + " | ".join(c.title for c in COLUMNS) + " |"
    titles = [c.title for c in COLUMNS]
    assert titles[:6] == ["Rank", "Model", "Params", "Features", "Macro-F1 unpruned", "Macro-F1 cleaned"]
    assert titles[-2:] == ["Seeds", "Date"]
    # One column per headline metric of the metric table, companions in the same cell.
    assert {"Accuracy", "Mean IoU", "Glacier F1 ± std", "ECE_100 → calibrated"} <= set(titles)
    raw_section = body.split("## glacier-facies-tiny tiny-0 (synthetic), trained on 'raw' labels")[1].split("\n## ")[0]
    rows = [line for line in raw_section.splitlines() if re.match(r"\| \d+=? \| ", line)]
    assert [r.split(" | ")[1] for r in rows] == ["alpha_net", "beta_net", "gamma_hgb"]
    assert rows[0].startswith("| 1= |") and rows[2].startswith("| 3 |")
    assert rows[1].split(" | ")[titles.index("Seeds")] == "2"  # seeds behind the row
    assert re.search(r"\d+\.\d ± \d+\.\d \[\d+\.\d, \d+\.\d\]", rows[1])  # mean ± std [interval]
    for heading in ("Per-class F1", "Per-region Macro-F1", "Per-sensor Macro-F1"):
        assert heading in raw_section
    assert "refrozen-like" in raw_section and "Sentinel-2" in raw_section and "Alps (n=" in raw_section
    assert "trained on 'cl_test' labels" in body
    assert "## How to submit" in body and schema.PROTOCOL_VERSION in body


def test_index_html_is_self_contained(built_site):
    page = (built_site / "index.html").read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", page)
    assert not re.search(r"url\((?!data:)", page)
    assert page.count("data:image/png;base64,") == 8  # confusion + reliability for each of 4 entries
    assert page.count("<tr data-entry=") == 4
    assert f"Protocol version <code>{schema.PROTOCOL_VERSION}</code>" in page
    assert "glacier-facies-tiny tiny-0" in page and 'id="how-to-submit"' in page


def test_leaderboard_json_lists_ranked_boards(built_site):
    data = json.loads((built_site / "leaderboard.json").read_text())
    raw = data["boards"][0]
    assert raw["variant"] == "raw"
    assert [e["rank_label"] for e in raw["entries"]] == ["1=", "1=", "3"]
    assert raw["entries"][1]["seeds"] == [0, 1]
    assert (built_site / raw["entries"][0]["path"] / "entry.json").is_file()  # results copied beside the pages


def test_eval_yaml_describes_the_benchmark(built_site):
    data = yaml.safe_load((built_site / "eval.yaml").read_text())
    assert {"name", "description", "evaluation_framework", "tasks"} <= set(data)
    assert data["evaluation_framework"] == "facies-bench"
    assert data["protocol_version"] == schema.PROTOCOL_VERSION
    assert [t["id"] for t in data["tasks"]] == ["facies_raw", "facies_cleaned"]
    assert [t["config"] for t in data["tasks"]] == ["raw", "cleaned"]  # the configs of `data export-hf`
    assert data["tasks"][0]["splits"] == [f"fold_{k}" for k in range(6)]
    for task in data["tasks"]:
        assert {"id", "config", "split"} <= set(task)
        main = [m for m in task["metrics"] if m.get("main")]
        assert main == [{"name": "macro_f1", "display_name": "Macro-F1 (%)", "scoring": "unpruned test labels",
                         "higher_is_better": True, "main": True}]
        assert "8-class" in task["description"]
    assert "&id" not in (built_site / "eval.yaml").read_text()  # no YAML anchors


def test_eval_results_files_parse_with_huggingface_hub(built_site):
    from huggingface_hub import parse_eval_result_entries

    files = sorted((built_site / "eval_results").rglob("*.yaml"))
    assert len(files) == 4
    by_name = {}
    for path in files:
        (entry,) = parse_eval_result_entries(yaml.safe_load(path.read_text()))
        by_name[path.stem.split("-fs")[0]] = entry
    assert by_name["alpha_net"].dataset_id == "example-org/glacier-facies"
    assert by_name["alpha_net"].task_id == "facies_raw" and by_name["delta_cnn"].task_id == "facies_cleaned"
    assert 60 < by_name["alpha_net"].value < 100
    assert "mean of 2 seeds" in by_name["beta_net"].notes


def test_synthetic_boards_get_no_eval_results_by_default(board_results, tmp_path):
    from facies_bench.leaderboard import build_leaderboard

    result = build_leaderboard(board_results, tmp_path / "lb", dataset_repo="example-org/glacier-facies", copy_results=False,
                               plots=False)
    assert not (tmp_path / "lb" / "eval_results").exists()
    assert (tmp_path / "lb" / "eval.yaml").is_file()
    assert result.n_entries == 4
    assert "data:image/png" not in (tmp_path / "lb" / "index.html").read_text()
    assert not (tmp_path / "lb" / "results").exists()


def test_build_refuses_a_results_path_that_is_not_a_folder(tmp_path):
    from facies_bench.errors import InvalidValueError
    from facies_bench.leaderboard import build_leaderboard

    not_a_folder = tmp_path / "results.txt"
    not_a_folder.write_text("")
    with pytest.raises(InvalidValueError, match="is not a folder"):
        build_leaderboard(not_a_folder, tmp_path / "lb", plots=False)

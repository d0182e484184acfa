"""The `facies-bench leaderboard` commands, run through the real CLI entry point."""

from __future__ import annotations

from runs import edit_result

from facies_bench.cli.main import main


def test_add_then_build(good_run, lb_store, tmp_path, capsys):
    results = tmp_path / "lb" / "results"
    rc = main(["leaderboard", "add", str(good_run), "--store", lb_store.path, "--results", str(results)])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Added good_model-fs4-" in out and "board glacier_facies_tiny--tiny_0--raw" in out and "Macro-F1 unpruned" in out
    rc = main(["leaderboard", "build", "--results", str(results), "-o", str(tmp_path / "lb"), "--no-plots"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "Built 1 board(s), 1 entry" in out
    for name in ("README.md", "index.html", "eval.yaml", "leaderboard.json"):
        assert (tmp_path / "lb" / name).is_file()
    assert "good_model" in (tmp_path / "lb" / "README.md").read_text()


def test_rejected_add_exits_2_with_the_reason(good_run, lb_store, tmp_path, capsys):
    edit_result(good_run, lambda r: r["metrics"]["unpruned"]["mean"].__setitem__("macro_f1", 0.999))
    results = tmp_path / "results"
    rc = main(["leaderboard", "add", str(good_run), "--store", lb_store.path, "--results", str(results)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and "metrics.unpruned.mean.macro_f1 = 0.999" in err and len(err.strip().splitlines()) == 1
    assert not results.exists() or not any(results.iterdir())


def test_help_lists_the_commands(capsys):
    rc = main(["leaderboard", "--help"])
    out = capsys.readouterr().out
    assert rc == 0
    for command in ("add", "build", "publish", "seed"):
        assert command in out


def test_build_with_missing_results_exits_2_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "no-such-results"
    rc = main(["leaderboard", "build", "--results", str(missing), "-o", str(tmp_path / "lb"), "--no-plots"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and str(missing) in err and "does not exist" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "lb").exists()

"""``facies-bench leaderboard add | build | publish | seed``: thin wrappers over ``facies_bench.leaderboard``."""

from __future__ import annotations

from pathlib import Path

import typer

from facies_bench.leaderboard.paths import DEFAULT_OUTPUT_DIR, DEFAULT_RESULTS_DIR


def _pct(value: float | None) -> str:
    from facies_bench.cli._render import pct

    return f"{pct(value)} %"


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    lb = typer.Typer(help="Validated results, ranked pages, and publishing to the Hugging Face Hub.", no_args_is_help=True)
    app.add_typer(lb, name="leaderboard")
    lb.command("add")(add)
    lb.command("build")(build)
    lb.command("publish")(publish_cmd)
    lb.command("seed")(seed)


def add(
    run_dir: Path = typer.Argument(..., help="Run directory written by `facies-bench evaluate -o RUN_DIR`."),
    store: str | None = typer.Option(None, "--store", help="The leaderboard's dataset (default: the embedded glacier-facies dataset)."),
    results: Path = typer.Option(DEFAULT_RESULTS_DIR, "--results", help="Results folder of the leaderboard."),
) -> None:
    """Validate a run (every metric recomputed from its predictions) and add it to its board."""
    from facies_bench.cli._render import resolve_store_with_progress
    from facies_bench.evaluation.metric_table import MAIN_METRIC, get_metric
    from facies_bench.leaderboard import add_entry
    from facies_bench.leaderboard.scoring import MAIN_SCORING, main_score

    entry = add_entry(run_dir, results, resolve_store_with_progress(store))
    score, interval = main_score(entry)
    ci = f" [{_pct(interval[0])}, {_pct(interval[1])}]" if interval else ""
    typer.echo(f"Added {entry.entry_id} to board {entry.board}: {get_metric(MAIN_METRIC).title} {MAIN_SCORING} {_pct(score)}{ci}, "
               f"{len(entry.seeds)} seed(s). Rebuild the pages with `facies-bench leaderboard build`.")


def build(
    results: Path = typer.Option(DEFAULT_RESULTS_DIR, "--results", help="Results folder of the leaderboard."),
    output: Path = typer.Option(DEFAULT_OUTPUT_DIR, "-o", "--output", help="Where README.md, index.html and eval.yaml go."),
    dataset_repo: str | None = typer.Option(None, "--dataset-repo", help="Hub dataset repo OWNER/NAME of the benchmark; writes eval_results/ files (real-dataset boards) for model repos."),
    page_url: str | None = typer.Option(None, "--page-url", help="Public URL of index.html, linked from README.md."),
    plots: bool = typer.Option(True, "--plots/--no-plots", help="Draw each entry's confusion-matrix and reliability figures."),
) -> None:
    """Render leaderboard/README.md, the self-contained index.html, leaderboard.json and eval.yaml."""
    from facies_bench.leaderboard import build_leaderboard

    built = build_leaderboard(results, output, dataset_repo=dataset_repo, page_url=page_url, plots=plots)
    typer.echo(f"Built {len(built.boards)} board(s), {built.n_entries} entr{'y' if built.n_entries == 1 else 'ies'} into {built.out_dir}:")
    for path in built.files:
        typer.echo(f"  {path}")


def publish_cmd(
    repo_id: str = typer.Option(..., "--repo-id", help="OWNER/NAME of the Space or dataset repository."),
    repo_type: str = typer.Option("space", "--repo-type", help="space (static Space) or dataset (files under leaderboard/)."),
    built: Path = typer.Option(DEFAULT_OUTPUT_DIR, "--dir", help="The built leaderboard folder."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the files and the commit message; publish nothing."),
    token: str | None = typer.Option(None, "--token", help="Hub token (default: HF_TOKEN or `hf auth login`)."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
) -> None:
    """Publish the built leaderboard to the Hugging Face Hub as one commit."""
    from facies_bench.leaderboard import format_plan, publish

    plan = publish(built, repo_id, repo_type=repo_type, token=token, dry_run=dry_run, commit_message=message)
    typer.echo(format_plan(plan))


def seed(
    store: str | None = typer.Option(None, "--store", help="Dataset (default: the embedded synthetic glacier-facies dataset)."),
    results: Path = typer.Option(DEFAULT_RESULTS_DIR, "--results", help="Results folder of the leaderboard."),
    runs: Path = typer.Option(Path("runs") / "leaderboard-seed", "--runs", help="Where the protocol runs are written (resumable)."),
    baselines: list[Path] | None = typer.Option(None, "--baseline", help="Baseline submission file(s); default: every file in baselines/."),
    variants: str = typer.Option("raw,cleaned", "--variants", help="Comma-separated training label variants."),
    features: int = typer.Option(4, "--features", help="Feature set 1-4."),
    n_seeds: int = typer.Option(1, "--seeds", help="Seeds per run."),
    epochs: int | None = typer.Option(None, "--epochs", help="Epochs (default: the recipe's)."),
    quick: bool = typer.Option(False, "--quick", help="Quick profile: short recipe, and the small synthetic store when no --store."),
) -> None:
    """Evaluate the baselines on the embedded synthetic dataset, raw and cleaned, and add them.

    Equivalent to `facies-bench evaluate BASELINE.py --variant V -o RUNS/NAME-V` followed by
    `facies-bench leaderboard add RUNS/NAME-V` for every baseline and variant.  Interrupted
    runs resume; runs already on the board are skipped.
    """
    from facies_bench.cli._render import resolve_store_with_progress
    from facies_bench.leaderboard.seed import DEFAULT_BASELINES, seed_leaderboard

    opened = resolve_store_with_progress(store, quick=quick)
    outcome = seed_leaderboard(
        results, store=opened, runs_dir=runs, baselines=baselines or DEFAULT_BASELINES,
        variants=tuple(v.strip() for v in variants.split(",") if v.strip()), features=features,
        seeds=tuple(range(n_seeds)), epochs=epochs, quick=quick,
        on_event=lambda text: typer.echo(text),
    )
    typer.echo(f"{len(outcome.added)} entr{'y' if len(outcome.added) == 1 else 'ies'} added, {len(outcome.skipped)} already on the board.")

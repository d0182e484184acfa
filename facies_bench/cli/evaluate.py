"""``facies-bench evaluate MODEL.py`` (run the protocol) and ``facies-bench check MODEL.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from facies_bench.cli._render import console, pct, table
from facies_bench.errors import IncompleteRunError
from facies_bench.evaluation.metric_table import Metric, get_metric, headline_metrics

if TYPE_CHECKING:  # the protocol (zarr, torch) is imported only when a command runs
    from facies_bench.protocol.executors import UnitOutcome



def _summary_metrics() -> list[Metric]:
    """The metric table's headline metrics, each followed by its companion (std, calibrated)."""
    out = []
    for m in headline_metrics():
        out.append(m)
        if m.companion:
            out.append(get_metric(m.companion))
    return out


class RichProgress:
    """A ``facies_bench.protocol.ProgressReporter`` drawing one bar over units (with per-unit status) and one over the current unit's epochs."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False)
        self.units_task: TaskID | None = None
        self.epoch_tasks: dict[str, Any] = {}

    def start(self, units, *, n_complete: int) -> None:
        """Show the units bar; ``n_complete`` units were finished by an earlier run."""
        self.progress.start()
        self.units_task = self.progress.add_task(f"units ({n_complete} already complete)", total=len(units), completed=n_complete)

    def unit_started(self, unit, *, n_epochs: int | None) -> None:
        """Add an epochs bar for a unit that trains for ``n_epochs``."""
        if n_epochs:
            self.epoch_tasks[unit.unit_id] = self.progress.add_task(f"  {unit.label} epochs", total=n_epochs)

    def epoch_finished(self, unit, epoch: int, metrics: dict[str, float]) -> None:
        """Advance the unit's epochs bar and show its validation mean IoU."""
        task = self.epoch_tasks.get(unit.unit_id)
        if task is not None:
            self.progress.update(task, completed=epoch + 1,
                                 description=f"  {unit.label} epochs (val mIoU {metrics.get('val_miou', float('nan')):.3f})")

    def unit_finished(self, outcome: UnitOutcome) -> None:
        """Remove the unit's epochs bar and advance the units bar."""
        task = self.epoch_tasks.pop(outcome.unit.unit_id, None)
        if task is not None:
            self.progress.remove_task(task)
        if self.units_task is not None:
            self.progress.advance(self.units_task)
        status = "[green]done[/]" if outcome.ok else f"[red]FAILED[/] {escape(outcome.error or '')}"
        self.progress.console.print(f"  {outcome.unit.label} ({outcome.unit.unit_id}) {status} ({outcome.wall_time_s:.1f} s)")

    def close(self) -> None:
        """Stop drawing the progress bars."""
        self.progress.stop()


def _outcome_table(outcomes: list[UnitOutcome]):
    rows = [[o.unit.unit_id, o.unit.label, o.status, f"{o.wall_time_s:.1f}", (o.error or "")[:160]] for o in outcomes]
    return table("Work units", ["unit", "seed / fold", "status", "time (s)", "error"], rows)


def _fmt(mean: Any, std: Any, n_seeds: int) -> str:
    if mean is None:
        return pct(None)
    return pct(mean) + (f" ± {pct(std)}" if n_seeds > 1 and std is not None else "")


def _summary_table(result: dict[str, Any]):
    blocks = [(key, result["metrics"][key]) for key in ("unpruned", "cleaned") if result["metrics"].get(key)]
    columns = ["metric (%)", *[f"{key} ({block['variant']})" for key, block in blocks]]
    rows = []
    for m in _summary_metrics():
        rows.append([m.title, *[_fmt(block["mean"].get(m.key), block["std"].get(m.key), len(block["per_seed"])) for _, block in blocks]])
    n_seeds = len(result["seeds"])
    title = (f"{result['model']['name']}: feature set {result['feature_set'] or ','.join(result['features'])}, "
             f"trained on {result['variant']}, {result['epochs'] or '-'} epochs, folds {','.join(map(str, result['folds']))}, "
             f"{n_seeds} seed(s)" + (" (mean ± std)" if n_seeds > 1 else ""))
    return table(title, columns, rows)


def _parse_storage_options(text: str | None) -> dict[str, Any] | None:
    """``--storage-options`` as a dict; a usage error when it is not a JSON object."""
    if not text:
        return None
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"not valid JSON ({exc}): {text!r}. Example: '{{\"anon\": true}}'.",
                                 param_hint="'--storage-options'") from exc
    if not isinstance(options, dict):
        raise typer.BadParameter(f"must be a JSON object, got {type(options).__name__}: {text!r}.", param_hint="'--storage-options'")
    return options


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("evaluate")
    def evaluate(
        model: str = typer.Argument(..., help="Submission: a .py file that registers one model, a module, or a registered model name."),
        output: str = typer.Option(..., "-o", "--output", help="Run directory (local path or fsspec URL)."),
        store: str | None = typer.Option(None, "--store", help="Store path or URL (default: the embedded dataset, built on first use)."),
        variant: str = typer.Option("raw", "--variant", help="Label variant for training/validation: raw, cleaned or a variant name."),
        features: str = typer.Option("4", "--features", help="Feature set 1-4, or comma-separated feature names."),
        epochs: int | None = typer.Option(None, "--epochs", help="Epochs per fold model (default: the recipe's; 1000 in the paper)."),
        folds: str | None = typer.Option(None, "--folds", help="Test folds to run, e.g. 0,1,5 or 0-2 (default: all six)."),
        seed: int = typer.Option(0, "--seed", help="First seed."),
        n_seeds: int = typer.Option(1, "--seeds", help="Number of seeds (seed, seed+1, ...); results give mean ± std."),
        quick: bool = typer.Option(False, "--quick", help="Quick profile: short recipe, and the small synthetic store when no --store."),
        precision: str | None = typer.Option(None, "--precision", help="fp32 or bf16 (default: the recipe's)."),
        executor: str = typer.Option("local", "--executor", help="local (in this process) or ray."),
        ray_address: str | None = typer.Option(None, "--ray-address", help="Ray address; 'auto' joins a running cluster."),
        gpus_per_unit: float = typer.Option(0.0, "--gpus-per-unit", help="GPUs per unit (Ray; fractions allowed)."),
        cpus_per_unit: float | None = typer.Option(None, "--cpus-per-unit", help="CPUs per unit (Ray); torch threads per unit."),
        cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Copy a store given as a URL here once, and train from the copy."),
        storage_options: str | None = typer.Option(None, "--storage-options", help='fsspec options for URLs as JSON, e.g. \'{"endpoint_url": "http://..."}\'.'),
        n_bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap resamples for confidence intervals."),
    ) -> None:
        """Train and test MODEL under the paper's protocol and write predictions, reports and result.json."""
        from facies_bench.atomic import is_url
        from facies_bench.protocol import ProtocolConfig, run_protocol

        options = _parse_storage_options(storage_options)
        config = ProtocolConfig.from_options(
            features=features, seed=seed, n_seeds=n_seeds, variant=variant, folds=folds, epochs=epochs, quick=quick,
            precision=precision, executor=executor, ray_address=ray_address, cpus_per_unit=cpus_per_unit,
            gpus_per_unit=gpus_per_unit, cache_dir=str(cache_dir) if cache_dir else None, n_bootstrap=n_bootstrap)
        if store is not None and is_url(store):
            target: Any = store
        else:
            from facies_bench.cli._render import resolve_store_with_progress

            target = resolve_store_with_progress(store, quick=quick)
        # RichProgress duck-types ProgressReporter, so that importing the CLI does not import the protocol.
        reporter: Any = RichProgress()
        try:
            run = run_protocol(model, target, config, output, progress=reporter, storage_options=options,
                               run_storage_options=options if is_url(output) else None)
        except IncompleteRunError as exc:
            reporter.close()
            if getattr(exc, "outcomes", None):
                console.print(_outcome_table(exc.outcomes))
            raise
        console.print(_summary_table(run.result))
        console.print(f"{run.n_trained} unit(s) trained, {len(run.units) - run.n_trained} reused. Result: {run.result_path}")

    @app.command("check")
    def check(
        model: str = typer.Argument(..., help="Submission: a .py file that registers one model, a module, or a registered name."),
        tmp_dir: Path | None = typer.Option(None, "--tmp-dir", help="Keep the tiny store and outputs here (default: a temporary folder)."),
    ) -> None:
        """Run a submission through the whole submission contract on a tiny store, in seconds."""
        from facies_bench.testing.checks import check_submission

        report = check_submission(model, tmp_dir=tmp_dir)
        rows = [[r.name, {"passed": "[green]passed[/]", "FAILED": "[red]FAILED[/]", "skipped": "skipped"}[r.status],
                 f"{r.seconds:.1f}", r.message] for r in report.results]
        title = f"check {model}" + (f" -> {report.model_name} ({report.kind})" if report.model_name else "")
        console.print(table(title, ["check", "status", "s", "detail"], rows))
        report.raise_for_failures()
        console.print("[green]All checks passed.[/] Next: facies-bench evaluate " + model + " --quick -o runs/quick")

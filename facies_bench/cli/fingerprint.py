"""``facies-bench fingerprint``: how closely a store resembles the data the published models saw."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

#: The nine published final models: every feature set, every fs4 fold.
DEFAULT_MODELS = ("fs1/fold0", "fs2/fold0", "fs3/fold0", *(f"fs4/fold{k}" for k in range(6)))


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @app.command("fingerprint")
    def fingerprint_command(
        store: str | None = typer.Argument(None, help="Store path or URL (default: the embedded dataset; see --quick)."),
        quick: bool = typer.Option(False, "--quick", help="The small synthetic store of --quick runs."),
        weights: list[str] | None = typer.Option(None, "--weights", "-w", help="Published model names (fs4/fold0...) or Keras .h5 files; repeat. Default: the nine published final models."),
        n_patches: int = typer.Option(2048, "--n-patches", help="Random patches to pass through each model."),
        folds: list[int] | None = typer.Option(None, "--fold", help="Sample only these folds (repeat)."),
        scene_ids: list[str] | None = typer.Option(None, "--scene-id", help="Sample random glacier pixels of these store scenes' feature rasters instead of the labelled patches (repeat)."),
        norm_stats: str = typer.Option("published", "--norm-stats", help="'published' (the estimate of the authors' min/max) or 'store' (the store's own min/max)."),
        by: str | None = typer.Option(None, "--by", help="Also report accuracy per region, sensor, glacier or scene of the sampled labels."),
        seed: int = typer.Option(0, "--seed"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    ) -> None:
        """Channel means beside the real data's, and every batch-norm layer's offset, per published model."""
        from facies_bench import schema
        from facies_bench.data.store import NAMED_COLUMNS
        from facies_bench.default_dataset import resolve_store
        from facies_bench.errors import FaciesBenchError
        from facies_bench.fingerprint import fingerprint, labelled_patches, sample_scene_patches, sample_store_rows
        from facies_bench.models.keras_import import import_keras_weights
        from facies_bench.published import load_published_model, published_norm_stats

        if norm_stats not in ("published", "store"):
            raise FaciesBenchError(f"--norm-stats must be 'published' or 'store'; got {norm_stats!r}.")
        if by is not None and by not in NAMED_COLUMNS:
            *first, last = NAMED_COLUMNS
            raise FaciesBenchError(f"--by must be {', '.join(first)} or {last}; got {by!r}.")
        if by is not None and scene_ids:
            raise FaciesBenchError("--by groups the labelled points; it cannot be used with --scene-id.")
        opened = resolve_store(store, quick=quick)
        groups = None
        if scene_ids:
            patches, labels = sample_scene_patches(opened, scene_ids, n_patches=n_patches, seed=seed)
        else:
            rows = sample_store_rows(opened, n_patches=n_patches, seed=seed, folds=folds)
            patches, labels = labelled_patches(opened, rows)
            if by is not None:
                groups = opened.named_column(by, opened.column(by)[rows])
        if norm_stats == "store":
            lo, hi = opened.feature_min, opened.feature_max
            stats: dict[str, Any] | str = {"features": list(schema.FEATURE_NAMES), "min": lo.tolist(), "max": hi.tolist()}
        else:
            lo, hi = published_norm_stats().for_features(schema.FEATURE_NAMES)
            stats = "published"
        models = []
        for w in weights or DEFAULT_MODELS:
            if w.endswith(".h5"):
                models.append((Path(w).name, import_keras_weights(w, norm_stats=stats)))
            else:
                models.append((w.removeprefix("published:"), load_published_model(w, norm_stats=stats)))
        result = fingerprint(patches, models, labels=labels, groups=groups, feature_min=lo, feature_max=hi,
                             normalisation=norm_stats)
        if as_json:
            typer.echo(json.dumps(result.to_dict(), indent=2))
            return
        _print(result, opened.path)


def _print(result, store_path) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 140)  # a pipe gets the whole table, not 80 columns
    means = Table(title=f"Normalised channel means ({result.normalisation} min/max), {result.n_patches:,} patches of {store_path}")
    for col in ("channel", "this data", "real (models)", "|Δ|"):
        means.add_column(col, justify="right")
    for f in result.features:
        implied = [m.implied_means[f] for m in result.models if f in m.implied_means]
        if not implied:
            continue
        real = float(sum(implied) / len(implied))
        spread = f"{min(implied):.2f}–{max(implied):.2f}" if len(implied) > 1 else f"{real:.2f}"
        means.add_row(f, f"{result.data_means[f]:.2f}", spread, f"{abs(result.data_means[f] - real):.2f}")
    console.print(means)
    layers = Table(title="Batch-norm inputs vs the real data: |Δmean| in running std (std ratio)")
    for col in ("model", *(f"BN{i}" for i in range(1, 7)), "BN2-6", "acc.", "macro-F1"):
        layers.add_column(col, justify="right")
    for m in result.models:
        cells = [f"{s.mean_offset_sd:.2f} ({s.std_ratio:.2f})" for s in m.layers]
        layers.add_row(m.name, *cells, f"{m.deeper_offset_sd:.2f}", "" if m.accuracy is None else f"{m.accuracy:.3f}",
                       "" if m.macro_f1 is None else f"{m.macro_f1:.3f}")
    console.print(layers)
    scored = [m for m in result.models if m.class_f1]
    if scored:
        classes = list(scored[0].class_f1)  # every model is scored on the same labels, so on the same classes
        per_class = Table(title="F1 per class against the store's labels")
        for col in ("model", *classes):
            per_class.add_column(col, justify="right")
        for m in scored:
            per_class.add_row(m.name, *(f"{m.class_f1[c]:.2f}" for c in classes))
        console.print(per_class)
    grouped = [m for m in result.models if m.group_accuracy]
    if grouped:
        names = list(grouped[0].group_accuracy)
        per_group = Table(title="Accuracy per group (labelled points sampled)")
        per_group.add_column("model", justify="right")
        for g in names:
            per_group.add_column(f"{g} ({result.group_sizes[g]})", justify="right")
        for m in grouped:
            per_group.add_row(m.name, *(f"{m.group_accuracy[g]:.3f}" for g in names))
        console.print(per_group)

"""``facies-bench reproduce``: the paper's workflow in one command.

raw training (six folds) -> confident-learning cleaning -> training on the cleaned variant ->
evaluation on the cleaned and on the unpruned test data, rendered as the analogues of the
paper's Tables 2, 3 and 4 beside the paper's own numbers (``facies_bench.paper``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facies_bench import paper, schema
from facies_bench.atomic import atomic_write_bytes
from facies_bench.cleaning.clean import CleaningResult, clean_run
from facies_bench.data.store import FaciesStore, open_store

METRICS = ("precision", "recall", "f1")


@dataclass
class ReproduceResult:
    """The three runs' tables and where everything was written."""

    out_dir: Path
    store: dict[str, Any]
    feature_set: int | None
    variant: str
    tables: dict[int, dict[str, list[float | None]]]  #: table -> metric -> [8 classes, average] in %
    cleaning: CleaningResult
    runs: dict[str, str] = field(default_factory=dict)

    def to_markdown(self) -> str:
        """The comparison with the paper as Markdown tables."""
        return format_tables(self)


def _mean_over_seeds(reports: dict[int, dict[str, Any]], which: str) -> dict[str, list[float | None]]:
    """Per-class P/R/F1 and macro averages in %, averaged over seeds (None where a class is absent)."""
    rows: dict[str, list[list[float | None]]] = {m: [] for m in METRICS}
    for per_seed in reports.values():
        overall = per_seed[which].to_dict()["overall"]
        for m in METRICS:
            values = [overall["per_class"][k][m] for k in schema.CLASS_KEYS] + [overall[f"macro_{m}" if m != "f1" else "macro_f1"]]
            rows[m].append(values)
    out = {}
    for m, seeds in rows.items():
        cols = list(zip(*seeds, strict=False))
        out[m] = [None if any(v is None for v in col) else round(100 * float(np.mean(col)), 1) for col in cols]
    return out


def reproduce(submission: str | os.PathLike, store: str | os.PathLike | FaciesStore | None = None, *,
              out_dir: str | os.PathLike, features: int | str = 4, quick: bool = False, epochs: int | None = None,
              seeds: tuple[int, ...] = (0,), variant_name: str | None = None, precision: str | None = None,
              executor: str = "local", progress=None) -> ReproduceResult:
    """Run raw training, cleaning, cleaned training and both evaluations.

    Args:
        submission: a submission file (e.g. ``baselines/paper_cnn.py``) or registered name.
        store: store path/URL; None means the embedded dataset (the quick store with ``quick``).
        out_dir: gets ``raw/``, ``cleaned/`` (two run directories) and ``tables.md`` / ``tables.json``.
        features: feature set 1-4 (or a feature list).
        quick: the small synthetic store and the quick recipe, as ``facies-bench evaluate --quick``.
        epochs: training epochs, as for ``facies-bench evaluate``.
        seeds: seeds, as for ``facies-bench evaluate``.
        precision: ``fp32`` or ``bf16``, as for ``facies-bench evaluate``.
        executor: ``local`` or ``ray``, as for ``facies-bench evaluate``.
        variant_name: name of the cleaned variant written into the store (default
            ``cl-<model>-fs<k>``); an existing variant of that name is replaced.
        progress: a protocol ``ProgressReporter`` for both trainings.
    """
    from facies_bench.default_dataset import resolve_store
    from facies_bench.protocol import ProtocolConfig, load_submission, run_protocol

    opened = resolve_store(store, quick=quick)
    sub = load_submission(submission)
    out_dir = Path(out_dir)
    common: dict[str, Any] = dict(features=schema.resolve_features(features), seeds=tuple(seeds), epochs=epochs, quick=quick,
                  precision=precision, executor=executor)
    raw_run = run_protocol(sub, opened, ProtocolConfig(variant="raw", **common), out_dir / "raw", progress=progress)
    fs = schema.feature_set_id(schema.resolve_features(features))
    name = variant_name or f"cl-{schema.slug(sub.model_name).replace('_', '-')}-fs{fs or 'custom'}"
    cleaning = clean_run(out_dir / "raw", opened.path, name, overwrite=True, make_default=True)
    opened = open_store(opened.path)
    cleaned_run = run_protocol(sub, opened, ProtocolConfig(variant=name, **common), out_dir / "cleaned", progress=progress)
    tables = {2: _mean_over_seeds(raw_run.reports, "unpruned"),
              3: _mean_over_seeds(cleaned_run.reports, "cleaned"),
              4: _mean_over_seeds(cleaned_run.reports, "unpruned")}
    per = cleaning.summary["per_class"]
    tables[3]["pruned"] = [None if per[k]["protected"] or per[k]["pruned_fraction"] is None else round(100 * per[k]["pruned_fraction"], 1)
                           for k in schema.CLASS_KEYS] + [round(100 * cleaning.summary["pruned_fraction"], 1)]
    result = ReproduceResult(out_dir=out_dir, store=opened.describe(), feature_set=fs, variant=name, tables=tables,
                             cleaning=cleaning, runs={"raw": str(out_dir / "raw"), "cleaned": str(out_dir / "cleaned")})
    atomic_write_bytes(out_dir / "tables.md", format_tables(result).encode())
    atomic_write_bytes(out_dir / "tables.json", json.dumps(
        {"store": result.store, "feature_set": fs, "variant": name, "tables": {str(k): v for k, v in tables.items()},
         "paper": {str(k): paper.TABLES[k].get(fs) for k in (2, 3, 4)} if fs else None,
         "noise_recovery": cleaning.noise_recovery, "runs": result.runs}, indent=2).encode())
    return result


_TITLES = {2: "Table 2 - before confident learning (raw training, raw test labels)",
           3: "Table 3 - after confident learning (cleaned training, cleaned test labels)",
           4: "Table 4 - after confident learning, evaluated on the unpruned test data"}


def format_tables(result: ReproduceResult) -> str:
    """The three tables in the paper's layout, each with the paper's row for the same feature set."""
    fs = result.feature_set
    lines = [f"# Reproduction of the paper's Tables 2-4 (feature set {fs if fs else 'custom'})", ""]
    if result.store.get("is_synthetic"):
        lines += ["> These numbers come from the **synthetic** stand-in dataset "
                  f"`{result.store['name']}` (version {result.store['version']}); the paper's rows come from the real data. "
                  "Compare patterns (which classes are hard, what cleaning changes), not values.", ""]
    fmt = lambda v: "-" if v is None else f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"  # noqa: E731
    for t in (2, 3, 4):
        lines += [f"## {_TITLES[t]}", ""]
        metrics = list(METRICS) + (["pruned"] if t == 3 else [])
        for m in metrics:
            lines += [f"**{m.capitalize()}, %**", "",
                      "| source | " + " | ".join(c.name for c in schema.CLASSES) + " | " + ("Overall" if m == "pruned" else "Average") + " |",
                      "|---" * (schema.N_CLASSES + 2) + "|",
                      "| this run | " + " | ".join(fmt(v) for v in result.tables[t][m]) + " |"]
            if fs and fs in paper.TABLES[t] and m in paper.TABLES[t][fs]:
                lines.append("| paper | " + " | ".join(fmt(v) for v in paper.TABLES[t][fs][m]) + " |")
            lines.append("")
    nr = result.cleaning.noise_recovery
    if nr:
        o = nr["overall"]
        lines += ["## Cleaning against the injected label noise", "",
                  f"Flagged {o['flagged']} samples; {o['noisy']} labels were noisy "
                  f"({100 * (o['base_rate'] or 0):.1f} %). Precision {100 * (o['precision'] or 0):.1f} %, "
                  f"recall {100 * (o['recall'] or 0):.1f} %.", ""]
    return "\n".join(lines)

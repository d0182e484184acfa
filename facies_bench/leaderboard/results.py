"""Leaderboard entries on disk: ``leaderboard/results/<board>/<entry_id>/``.

A board is one dataset (store name and version) and one label variant (the variant the models
were trained on).  An entry holds::

    entry.json                         identity, recomputed metrics, file hashes (what pages read)
    result.json                        the submitted result.json, byte for byte
    predictions/seed{s}.parquet        test predictions, float32 probabilities, zstd
    validation_predictions/seed{s}.parquet
    reports/seed{s}/{unpruned,cleaned}.json   the standard evaluator's full reports

:func:`add_entry` validates a run (:func:`~facies_bench.leaderboard.submission.validate_run`),
assembles the entry in a hidden staging folder and renames it into place: a failure at any
point leaves ``results/`` exactly as it was.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.errors import ValidationError
from facies_bench.hashing import file_sha256
from facies_bench.leaderboard.paths import DEFAULT_RESULTS_DIR  # noqa: F401  (re-exported)
from facies_bench.leaderboard.submission import METRIC_TOLERANCE, ValidatedRun, validate_run

ENTRY_FORMAT = "facies-bench-leaderboard-entry"
ENTRY_VERSION = 1
#: Default results folder, relative to the working directory.


class DuplicateEntryError(ValidationError):
    """The run is already on its board (same entry id or same predictions)."""


def board_id(dataset: str, dataset_version: str, variant: str) -> str:
    """File-name-safe id of a board: ``<dataset>--<version>--<variant>``."""
    return f"{schema.slug(dataset)}--{schema.slug(str(dataset_version))}--{schema.slug(variant)}"


def predictions_digest(result: dict[str, Any]) -> str:
    """SHA-256 over the seeds' prediction hashes: identical predictions give the same digest."""
    digest = hashlib.sha256()
    for seed in sorted(result["seeds"]):
        record = result["predictions"].get(str(seed), result["predictions"].get(seed))
        digest.update(f"{seed}:{record['sha256']};".encode())
    return digest.hexdigest()


def make_entry_id(result: dict[str, Any]) -> str:
    """Entry id of a validated ``result.json``: model slug, feature set and predictions digest."""
    fs = schema.feature_set_id(schema.resolve_features(result["features"]))
    return f"{schema.slug(result['model']['name'])}-fs{fs if fs else 'custom'}-{predictions_digest(result)[:10]}"


@dataclass(frozen=True)
class Entry:
    """One accepted run on a board (read from ``entry.json``)."""

    path: Path
    info: dict[str, Any] = field(repr=False)

    @property
    def entry_id(self) -> str:
        """The entry's id (see :func:`make_entry_id`)."""
        return self.info["entry_id"]

    @property
    def board(self) -> str:
        """Id of the board the entry is ranked on."""
        return self.info["board"]["id"]

    @property
    def model_name(self) -> str:
        """Registry name of the model."""
        return self.info["model"]["name"]

    @property
    def n_parameters(self) -> int | None:
        """Trainable parameters, if the run recorded them."""
        return self.info["model"].get("n_parameters")

    @property
    def feature_set(self) -> int | None:
        """Feature set 1-4, or None for a custom feature list."""
        return self.info.get("feature_set")

    @property
    def variant(self) -> str:
        """Label variant the model was trained on."""
        return self.info["board"]["variant"]

    @property
    def seeds(self) -> list[int]:
        """Seeds of the run."""
        return list(self.info["seeds"])

    @property
    def metrics(self) -> dict[str, Any]:
        """Metrics recomputed by the leaderboard (``unpruned`` and ``cleaned`` -> per_seed/mean/std)."""
        return self.info["metrics"]

    @property
    def date(self) -> str:
        """Date (YYYY-MM-DD) the run was made, else the date it was added."""
        return str(self.info.get("created") or self.info["added"])[:10]

    def report(self, seed: int, scoring: str) -> dict[str, Any] | None:
        """The evaluator's full report of one seed and scoring (``unpruned``/``cleaned``), or None."""
        path = self.path / "reports" / f"seed{seed}" / f"{scoring}.json"
        return json.loads(path.read_text()) if path.is_file() else None

    @cached_property
    def reports(self) -> dict[str, list[dict[str, Any]]]:
        """Scoring -> the reports of every seed (missing ones left out)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for scoring in ("unpruned", "cleaned"):
            found = [r for r in (self.report(s, scoring) for s in self.seeds) if r is not None]
            if found:
                out[scoring] = found
        return out


@dataclass
class Board:
    """All entries of one dataset and label variant."""

    board_id: str
    dataset: str
    dataset_version: str
    content_hash: str
    is_synthetic: bool
    variant: str
    entries: list[Entry]

    @property
    def title(self) -> str:
        """Heading of the board: dataset, version, real or synthetic, training labels."""
        kind = "synthetic" if self.is_synthetic else "real"
        return f"{self.dataset} {self.dataset_version} ({kind}), trained on '{self.variant}' labels"


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def load_entry(path: str | Path) -> Entry:
    """Read the entry stored in folder ``path`` (its ``entry.json``)."""
    path = Path(path)
    info_path = path / "entry.json"
    try:
        info = json.loads(info_path.read_text())
    except (OSError, ValueError) as exc:  # unreadable, not JSON, not UTF-8
        raise ValidationError(f"Leaderboard entry {str(path)!r} is unreadable ({exc}); remove the folder or add the run again.") from exc
    if not isinstance(info, dict) or info.get("format") != ENTRY_FORMAT or info.get("version") != ENTRY_VERSION:
        info = info if isinstance(info, dict) else {}
        msg = (f"{str(info_path)!r} is not a facies-bench leaderboard entry of version {ENTRY_VERSION} "
               f"(format {info.get('format')!r}, version {info.get('version')!r}).")
        raise ValidationError(msg)
    return Entry(path=path, info=info)


def load_entries(results_dir: str | Path) -> list[Entry]:
    """Every entry under ``results_dir`` (hidden staging folders are skipped), sorted by board and id."""
    root = Path(results_dir)
    if not root.is_dir():
        return []
    entries = []
    for board_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for entry_dir in sorted(p for p in board_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            entries.append(load_entry(entry_dir))
    return entries


def load_boards(results_dir: str | Path) -> list[Board]:
    """Entries grouped by board, boards sorted by dataset, version and variant (raw first)."""
    boards: dict[str, Board] = {}
    for entry in load_entries(results_dir):
        b = entry.info["board"]
        board = boards.setdefault(entry.board, Board(board_id=b["id"], dataset=b["dataset"], dataset_version=b["dataset_version"],
                                                     content_hash=b["content_hash"], is_synthetic=b["is_synthetic"],
                                                     variant=b["variant"], entries=[]))
        board.entries.append(entry)
    return sorted(boards.values(), key=lambda b: (b.dataset, b.dataset_version, b.variant != "raw", b.variant))


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _rename(src: Path, dst: Path) -> None:
    """The commit point of :func:`add_entry`: the complete entry appears in one rename."""
    os.replace(src, dst)


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, allow_nan=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    if isinstance(value, (float, np.floating)) and not np.isfinite(value):
        return None
    return value


def write_compact_predictions(frame: pd.DataFrame, path: Path) -> None:
    """Predictions as Parquet with float32 probabilities and zstd compression."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = pd.DataFrame({"sample_id": frame["sample_id"].to_numpy(dtype=np.int64)})
    for col in schema.PROBABILITY_COLUMNS:
        out[col] = frame[col].to_numpy(dtype=np.float32)
    for col in ("fold", "model_fold"):
        if col in frame:
            out[col] = frame[col].to_numpy(dtype=np.int8)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False), path, compression="zstd")


def _write_predictions(staging: Path, run: ValidatedRun) -> None:
    for seed in run.seeds:
        write_compact_predictions(run.predictions[seed], staging / "predictions" / f"seed{seed}.parquet")
        write_compact_predictions(run.validation_predictions[seed], staging / "validation_predictions" / f"seed{seed}.parquet")


def _write_reports(staging: Path, run: ValidatedRun) -> None:
    for seed, by_scoring in run.reports.items():
        for scoring, report in by_scoring.items():
            _write_json(staging / "reports" / f"seed{seed}" / f"{scoring}.json", _nan_to_none(report))


def _entry_info(run: ValidatedRun, store: Any, *, entry_id: str, board: str, added: str) -> dict[str, Any]:
    from facies_bench.protocol.provenance import package_version

    result = run.result
    features = list(schema.resolve_features(result["features"]))
    return {
        "format": ENTRY_FORMAT, "version": ENTRY_VERSION, "entry_id": entry_id,
        "board": {"id": board, "dataset": store.name, "dataset_version": store.version, "content_hash": store.content_hash,
                  "is_synthetic": store.is_synthetic, "variant": store.resolve_variant(result["variant"])},
        "added": added, "created": result.get("created"),
        "model": {k: result["model"].get(k) for k in ("name", "kind", "n_parameters", "submission", "submission_sha256", "hparams")},
        "feature_set": schema.feature_set_id(features), "features": features,
        "seeds": sorted(int(s) for s in result["seeds"]), "folds": sorted(result["folds"]),
        "epochs": result.get("epochs"), "package_version": result.get("package_version"),
        "protocol_version": result.get("protocol_version"), "cleaned_variant": run.cleaned_variant,
        "hardware": result.get("hardware"),
        "evaluation": {"n_bootstrap": run.n_bootstrap, "bootstrap_seed": run.bootstrap_seed, "tolerance": METRIC_TOLERANCE,
                       "evaluator": "facies_bench.evaluation.evaluate_predictions", "leaderboard_version": package_version()},
        "metrics": _nan_to_none(run.metrics), "predictions_digest": predictions_digest(result), "notes": run.notes,
    }


def add_entry(run_dir: str | Path, results_dir: str | Path, store: Any, *, added: str | None = None) -> Entry:
    """Validate a protocol run and add it to its board, atomically.

    Args:
        run_dir: the run directory (``facies-bench evaluate -o RUN_DIR``).
        results_dir: the leaderboard's results folder (``leaderboard/results``).
        store: the leaderboard's dataset; the run must have used exactly this store.
        added: ISO timestamp to record (default: now, UTC).

    Returns:
        The new :class:`Entry`.

    Raises:
        ValidationError: the run breaks a rule (see :func:`validate_run`) or is already on the board.
    """
    run = validate_run(run_dir, store)
    results_dir = Path(results_dir)
    variant = store.resolve_variant(run.result["variant"])
    board = board_id(store.name, store.version, variant)
    entry_id = make_entry_id(run.result)
    final = results_dir / board / entry_id
    digest = predictions_digest(run.result)
    for existing in load_entries(results_dir):
        if existing.board == board and existing.info["board"]["content_hash"] != store.content_hash:
            msg = (f"Board {board!r} holds entries for content hash {existing.info['board']['content_hash']!r}, but the store "
                   f"has {store.content_hash!r}: one dataset version cannot have two contents. Bump the dataset version.")
            raise ValidationError(msg)
        if existing.board == board and (existing.entry_id == entry_id or existing.info.get("predictions_digest") == digest):
            msg = (f"{str(run_dir)!r} is already on board {board!r} as entry {existing.entry_id!r} (same predictions); "
                   "duplicate entries are refused.")
            raise DuplicateEntryError(msg)
    if final.exists():
        raise DuplicateEntryError(f"Entry {entry_id!r} already exists at {str(final)!r}; duplicate entries are refused.")

    added = added or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    results_dir.mkdir(parents=True, exist_ok=True)
    staging = results_dir / f".staging-{entry_id}-{uuid.uuid4().hex[:8]}"
    board_dir = results_dir / board
    created_board = False
    try:
        staging.mkdir()
        (staging / "result.json").write_bytes(run.result_bytes)
        _write_predictions(staging, run)
        _write_reports(staging, run)
        info = _entry_info(run, store, entry_id=entry_id, board=board, added=added)
        info["files"] = {p.relative_to(staging).as_posix(): {"sha256": file_sha256(p), "size": p.stat().st_size}
                         for p in sorted(staging.rglob("*")) if p.is_file()}
        _write_json(staging / "entry.json", info)
        if not board_dir.exists():
            board_dir.mkdir()
            created_board = True
        _rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created_board and board_dir.is_dir() and not any(board_dir.iterdir()):
            board_dir.rmdir()
        raise
    return load_entry(final)

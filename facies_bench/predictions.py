"""Predictions files: read, validate, write, and join to a store's samples.

A predictions file holds out-of-sample class probabilities, one row per sample: a ``sample_id``
(int64) and the eight ``schema.PROBABILITY_COLUMNS`` (``p_ice ... p_cloud``), optionally ``fold``
(the test fold of the model that made the row).  Validation predictions (the fold models'
predictions on their validation folds, used to fit calibrators) also carry ``model_fold``: the test
fold k of the model, whose validation fold is ``schema.validation_fold(k)``.

Formats, chosen by suffix: Parquet (``.parquet``/``.pq``), ``.npz`` (one array per column, or
``sample_id`` plus a (N, 8) ``pred_probs`` array) and ``.csv``.

Every problem is a :class:`~facies_bench.errors.PredictionsError` naming the file and the first
offending rows.  Probabilities must be finite, non-negative and sum to 1 within
:data:`SUM_TOLERANCE` per row.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench import schema
from facies_bench.atomic import atomic_path
from facies_bench.errors import PredictionsError
from facies_bench.hashing import file_sha256

#: Largest accepted |row sum - 1| of the probability columns.
SUM_TOLERANCE = 1e-3
#: Accepted file suffixes.
SUFFIXES = (".parquet", ".pq", ".npz", ".csv")
#: Rows quoted in an error message.
_SHOWN_ROWS = 5
_KINDS = ("test", "validation")


# --------------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------------


def _source_name(path_or_frame: Any) -> str:
    return "<DataFrame>" if isinstance(path_or_frame, pd.DataFrame) else str(path_or_frame)


def _load_frame(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        msg = f"Predictions file {str(path)!r} has suffix {suffix!r}; valid: {', '.join(SUFFIXES)}."
        raise PredictionsError(msg)
    if not path.is_file():
        raise PredictionsError(f"No predictions file at {str(path)!r}: the path does not exist or is not a file.")
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path, engine="pyarrow")
        if suffix == ".csv":
            return pd.read_csv(path)
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except PredictionsError:
        raise
    except Exception as exc:  # pyarrow, pandas and numpy raise many types for unreadable files
        raise PredictionsError(f"Cannot read predictions file {str(path)!r} as {suffix}: {exc}") from exc
    if "pred_probs" in arrays:
        probs = arrays.pop("pred_probs")
        if probs.ndim != 2 or probs.shape[1] != schema.N_CLASSES:
            msg = (f"{str(path)!r}: pred_probs has shape {probs.shape}; axis 1 must have {schema.N_CLASSES} classes "
                   f"in schema order ({', '.join(schema.CLASS_KEYS)}).")
            raise PredictionsError(msg)
        arrays.update({c: probs[:, i] for i, c in enumerate(schema.PROBABILITY_COLUMNS)})
    lengths = {k: len(v) for k, v in arrays.items() if np.ndim(v) == 1}
    bad = {k: np.shape(v) for k, v in arrays.items() if np.ndim(v) != 1}
    if bad or len(set(lengths.values())) > 1:
        msg = f"{str(path)!r}: every array must be one column of the same length; got shapes {dict(bad, **{k: (n,) for k, n in lengths.items()})}."
        raise PredictionsError(msg)
    return pd.DataFrame(arrays)


def _rows_text(frame: pd.DataFrame, mask: np.ndarray) -> str:
    idx = np.flatnonzero(mask)
    shown = idx[:_SHOWN_ROWS]
    ids = frame["sample_id"].to_numpy()[shown] if "sample_id" in frame else shown
    parts = ", ".join(f"{int(r)} (sample_id {i})" for r, i in zip(shown, ids, strict=True))
    more = f" and {len(idx) - len(shown)} more" if len(idx) > len(shown) else ""
    return f"{len(idx)} row(s): {parts}{more}"


def _integer_column(frame: pd.DataFrame, name: str, source: str) -> np.ndarray:
    col = frame[name]
    values = pd.to_numeric(col, errors="coerce")
    bad = values.isna().to_numpy() | (col.isna().to_numpy())
    numeric = values.to_numpy(dtype=np.float64, na_value=np.nan)
    bad |= ~np.isfinite(numeric)
    bad[~bad] |= numeric[~bad] != np.round(numeric[~bad])
    if bad.any():
        msg = f"{source}: column {name!r} has missing or non-integer values in {_rows_text(frame, bad)}. Every row needs an integer {name}."
        raise PredictionsError(msg)
    return numeric.astype(np.int64)


def read_predictions(path_or_frame: str | os.PathLike | pd.DataFrame, *, store: Any = None,
                     kind: str = "test") -> pd.DataFrame:
    """Read and validate a predictions file (or check a DataFrame).

    Args:
        path_or_frame: a ``.parquet``/``.pq``, ``.npz`` or ``.csv`` path, or a DataFrame.
        store: optional open store; when given, every ``sample_id`` must exist in it and ``fold`` /
            ``model_fold`` must agree with the store's folds.
        kind: ``"test"`` (out-of-sample test predictions) or ``"validation"`` (requires
            ``model_fold``).

    Returns:
        DataFrame with ``sample_id`` (int64), the eight ``p_*`` columns (float64, schema order),
        then ``fold`` and/or ``model_fold`` (int64) when present, in file order.

    Raises:
        PredictionsError: naming the file, the problem and the first offending rows.
    """
    if kind not in _KINDS:
        raise ValueError(f"Unknown predictions kind {kind!r}. Valid: {', '.join(_KINDS)}.")
    source = _source_name(path_or_frame)
    frame = path_or_frame.reset_index(drop=True) if isinstance(path_or_frame, pd.DataFrame) else _load_frame(Path(path_or_frame))
    columns = [str(c) for c in frame.columns]
    missing = [c for c in schema.PROBABILITY_COLUMNS if c not in columns]
    unknown = [c for c in columns if c.startswith("p_") and c not in schema.PROBABILITY_COLUMNS]
    if missing or unknown:
        found = [c for c in columns if c.startswith("p_")]
        msg = (f"{source}: wrong probability columns: found {len(found)} ({', '.join(found) or 'none'})"
               + (f"; missing {', '.join(missing)}" if missing else "") + (f"; unknown {', '.join(unknown)}" if unknown else "")
               + f". Expected exactly {schema.N_CLASSES}: {', '.join(schema.PROBABILITY_COLUMNS)}.")
        raise PredictionsError(msg)
    if "sample_id" not in columns:
        raise PredictionsError(f"{source}: no 'sample_id' column. Columns: {', '.join(columns)}.")
    if kind == "validation" and "model_fold" not in columns:
        msg = f"{source}: validation predictions need a 'model_fold' column (the test fold k of the model that predicted each row)."
        raise PredictionsError(msg)
    if len(frame) == 0:
        raise PredictionsError(f"{source}: the predictions file has no rows.")

    out = {"sample_id": _integer_column(frame, "sample_id", source)}
    dup = pd.Series(out["sample_id"]).duplicated(keep=False).to_numpy()
    if dup.any():
        raise PredictionsError(f"{source}: duplicated sample_id in {_rows_text(frame, dup)}. Each sample must appear once.")
    try:
        probs = frame.loc[:, list(schema.PROBABILITY_COLUMNS)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise PredictionsError(f"{source}: probability columns are not numeric: {exc}") from exc
    nonfinite = ~np.isfinite(probs).all(axis=1)
    if nonfinite.any():
        raise PredictionsError(f"{source}: NaN, infinite or non-numeric probabilities in {_rows_text(frame, nonfinite)}.")
    negative = (probs < 0).any(axis=1)
    if negative.any():
        raise PredictionsError(f"{source}: negative probabilities in {_rows_text(frame, negative)}. Probabilities must be >= 0 (softmax outputs, not logits).")
    sums = probs.sum(axis=1)
    off = np.abs(sums - 1.0) > SUM_TOLERANCE
    if off.any():
        first = float(sums[np.flatnonzero(off)[0]])
        msg = (f"{source}: probabilities do not sum to 1 (tolerance {SUM_TOLERANCE:g}) in {_rows_text(frame, off)}; "
               f"the first sums to {first:.6g}. Pass softmax outputs, not logits.")
        raise PredictionsError(msg)
    for i, c in enumerate(schema.PROBABILITY_COLUMNS):
        out[c] = probs[:, i]
    for name in ("fold", "model_fold"):
        if name in columns:
            values = _integer_column(frame, name, source)
            bad = (values < 0) | (values >= schema.N_FOLDS)
            if bad.any():
                raise PredictionsError(f"{source}: column {name!r} outside 0-{schema.N_FOLDS - 1} in {_rows_text(frame, bad)}.")
            out[name] = values
    result = pd.DataFrame(out)
    if store is not None:
        check_against_samples(result, sample_ids=store.column("sample_id"), folds=store.column("fold"), source=source)
    return result


def check_against_samples(frame: pd.DataFrame, *, sample_ids: np.ndarray, folds: np.ndarray, source: str) -> np.ndarray:
    """Check a validated frame against the store's samples; return each row's store position.

    Every ``sample_id`` must exist; ``fold`` must equal the sample's fold (a test prediction comes
    from the model whose test fold holds the sample); ``model_fold`` k must have the sample in
    validation fold ``(k - 1) mod 6``.
    """
    index = pd.Index(np.asarray(sample_ids, dtype=np.int64))
    pos = index.get_indexer(frame["sample_id"].to_numpy())
    unknown = pos < 0
    if unknown.any():
        msg = f"{source}: sample_id not in the store in {_rows_text(frame, unknown)}. Predictions must use the store's sample ids."
        raise PredictionsError(msg)
    store_fold = np.asarray(folds, dtype=np.int64)[pos]
    if "fold" in frame:
        bad = frame["fold"].to_numpy() != store_fold
        if bad.any():
            msg = (f"{source}: column 'fold' disagrees with the store's fold of the sample in {_rows_text(frame, bad)}; "
                   "test predictions must come from the model whose test fold holds the sample.")
            raise PredictionsError(msg)
    if "model_fold" in frame:
        expected = (frame["model_fold"].to_numpy() - 1) % schema.N_FOLDS
        bad = expected != store_fold
        if bad.any():
            msg = (f"{source}: samples outside their model's validation fold in {_rows_text(frame, bad)}; a row with "
                   "model_fold k must be a sample of fold (k - 1) mod 6.")
            raise PredictionsError(msg)
    return pos


def write_predictions(frame: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Validate ``frame`` and write it atomically (temp file in the same folder, then rename).

    The format follows the suffix (``.parquet``/``.pq``, ``.npz`` or ``.csv``).  Returns the path.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise PredictionsError(f"Cannot write predictions to {str(path)!r}: suffix {suffix!r}; valid: {', '.join(SUFFIXES)}.")
    kind = "validation" if "model_fold" in frame else "test"
    clean = read_predictions(frame, kind=kind)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        if suffix in (".parquet", ".pq"):
            clean.to_parquet(fh, engine="pyarrow", index=False)
        elif suffix == ".csv":
            clean.to_csv(fh, index=False)
        else:
            np.savez(fh, **{c: clean[c].to_numpy() for c in clean.columns})
    return path


def predictions_sha256(path_or_frame: str | os.PathLike | pd.DataFrame) -> str:
    """SHA-256 of a predictions file's bytes, or of a DataFrame's validated columns."""
    digest = hashlib.sha256()
    if isinstance(path_or_frame, pd.DataFrame):
        for c in path_or_frame.columns:
            digest.update(str(c).encode())
            digest.update(np.ascontiguousarray(path_or_frame[c].to_numpy()).tobytes())
        return digest.hexdigest()
    return file_sha256(path_or_frame)


# --------------------------------------------------------------------------------------------
# Joining to store metadata
# --------------------------------------------------------------------------------------------


@dataclass
class JoinedPredictions:
    """Predictions aligned with the labels they are scored against (scored rows only)."""

    rows: np.ndarray  #: (n,) positions in the metadata frame
    probs: np.ndarray  #: (n, K) float64
    label: np.ndarray  #: (n,) int64 label codes of the variant
    pred: np.ndarray  #: (n,) argmax class
    confidence: np.ndarray  #: (n,) max probability
    fold: np.ndarray  #: (n,) the sample's fold (the test fold of the model for test predictions)
    model_fold: np.ndarray | None  #: (n,) for validation predictions
    coverage: dict[str, Any]

    @property
    def correct(self) -> np.ndarray:
        """Whether each prediction's arg-max equals its label."""
        return self.pred == self.label


def _join(frame: pd.DataFrame, metadata: pd.DataFrame, *, source: str, kind: str) -> JoinedPredictions:
    meta_ids = metadata["sample_id"].to_numpy()
    meta_fold = metadata["fold"].to_numpy().astype(np.int64)
    labels = metadata["label"].to_numpy().astype(np.int64)
    pos = check_against_samples(frame, sample_ids=meta_ids, folds=meta_fold, source=source)
    scored = labels[pos] != schema.PRUNED
    n_ignored = int((~scored).sum())
    if not scored.any():
        msg = f"{source}: none of the {len(frame)} predicted samples is scored (all are pruned in this label variant)."
        raise PredictionsError(msg)
    frame_folds = np.unique(meta_fold[pos])
    all_folds = np.unique(meta_fold)
    # Every scored sample of a covered fold must be predicted.
    predicted = np.zeros(len(metadata), dtype=bool)
    predicted[pos] = True
    expected = np.isin(meta_fold, frame_folds) & (labels != schema.PRUNED)
    missing = expected & ~predicted
    if missing.any():
        idx = np.flatnonzero(missing)
        ids = ", ".join(str(int(i)) for i in meta_ids[idx[:_SHOWN_ROWS]])
        more = f" and {len(idx) - _SHOWN_ROWS} more" if len(idx) > _SHOWN_ROWS else ""
        msg = (f"{source}: {len(idx)} sample(s) of fold(s) {', '.join(map(str, sorted(set(meta_fold[idx].tolist()))))} "
               f"have no prediction: sample_id {ids}{more}. Predict every sample of each fold you cover.")
        raise PredictionsError(msg)
    pos = pos[scored]
    probs = frame.loc[:, list(schema.PROBABILITY_COLUMNS)].to_numpy(dtype=np.float64)[scored]
    pred = probs.argmax(axis=1)
    missing_folds = sorted(set(all_folds.tolist()) - set(frame_folds.tolist()))
    coverage = {
        "complete": not missing_folds, "folds": sorted(int(k) for k in frame_folds), "missing_folds": [int(k) for k in missing_folds],
        "n_scored": int(scored.sum()), "n_ignored_pruned": n_ignored,
        "n_scorable": int((labels != schema.PRUNED).sum()),
        "note": None if not missing_folds else (
            f"Partial {kind} predictions: fold(s) {', '.join(map(str, missing_folds))} are not covered; "
            "metrics describe the covered folds only."),
    }
    model_fold = frame["model_fold"].to_numpy()[scored] if "model_fold" in frame else None
    return JoinedPredictions(rows=pos, probs=probs, label=labels[pos], pred=pred, confidence=probs.max(axis=1),
                             fold=meta_fold[pos], model_fold=model_fold, coverage=coverage)


def join_predictions(frame: pd.DataFrame, metadata: pd.DataFrame, *, source: str = "<predictions>") -> JoinedPredictions:
    """Align validated test predictions with metadata (``sample_id``, ``label``, ``fold``).

    Samples pruned in the variant (label ``schema.PRUNED``) are ignored.  Folds with no
    prediction are reported as missing in ``coverage``; a covered fold must be complete.
    """
    return _join(frame, metadata, source=source, kind="test")


def join_validation(frame: pd.DataFrame, metadata: pd.DataFrame, *, source: str = "<validation predictions>") -> JoinedPredictions:
    """Align validated validation predictions (with ``model_fold``) with metadata."""
    if "model_fold" not in frame:
        raise PredictionsError(f"{source}: validation predictions need a 'model_fold' column.")
    return _join(frame, metadata, source=source, kind="validation")

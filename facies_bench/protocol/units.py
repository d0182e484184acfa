"""Work units: one (submission, store, variant, features, test fold, seed, recipe) training.

A unit's id is a short SHA-256 of the canonical JSON of that tuple, so the same protocol planned
twice gives the same ids and a re-run finds what is already done.  Running a unit reads the
train / validation / test folds into RAM, trains the submission (the standard recipe for torch
models, ``fit`` for estimators), checks its probabilities and writes, each atomically::

    units/<id>/checkpoint.pt        torch models only (facies_bench.load_model)
    units/<id>/test.parquet         sample_id, p_*, fold        (every sample of the test fold)
    units/<id>/validation.parquet   sample_id, p_*, model_fold  (every sample of the validation fold)
    units/<id>/unit.json            written last: the completion marker
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facies_bench import schema
from facies_bench.data.store import FaciesStore, open_store
from facies_bench.errors import FaciesBenchError, SubmissionError, UnknownNameError
from facies_bench.protocol._io import RunDir, frame_to_parquet_bytes, is_url
from facies_bench.protocol.provenance import describe_hardware, package_version, utc_now
from facies_bench.protocol.splits import protocol_split
from facies_bench.protocol.submitted_model import Submission, SubmissionRef

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

UNIT_FILE = "unit.json"
UNIT_FORMAT = "facies-bench-unit"
#: Recipe fields that change how fast a unit runs, not what it computes; left out of unit ids.
EXECUTION_FIELDS = ("num_threads",)
#: Largest accepted |row sum - 1| of a submission's probabilities before renormalisation.
SUM_TOLERANCE = 1e-3

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass(frozen=True)
class WorkUnit:
    """One training of the protocol.

    Attributes:
        submission_sha256: hash of the submission file.
        model_name: the registry name the submission registers.
        store_hash: the store's content hash.
        variant: the label variant used for training and validation (resolved name).
        features: feature names (schema order).
        test_fold: the held-out fold k.
        seed: training seed.
        recipe: the training recipe as a dict (torch models), None for estimators.
        variant_fingerprint: ``store.variant_fingerprint(variant)``; changes when a variant of
            the same name is rewritten, so stale units are never reused.
    """

    submission_sha256: str
    model_name: str
    store_hash: str
    variant: str
    features: tuple[str, ...]
    test_fold: int
    seed: int
    recipe: Mapping[str, Any] | None = field(default=None, hash=False)
    variant_fingerprint: str = ""

    def key(self) -> dict[str, Any]:
        """The canonical content hashed into :attr:`unit_id`."""
        recipe = None if self.recipe is None else {k: v for k, v in sorted(self.recipe.items()) if k not in EXECUTION_FIELDS}
        return {"protocol_version": schema.PROTOCOL_VERSION, "submission_sha256": self.submission_sha256,
                "model_name": self.model_name, "store_hash": self.store_hash, "variant": self.variant,
                "variant_fingerprint": self.variant_fingerprint or self.variant, "features": list(self.features), "test_fold": int(self.test_fold), "seed": int(self.seed),
                "recipe": recipe}

    @property
    def unit_id(self) -> str:
        """Content address of the unit: a hash of everything that determines its outputs."""
        canonical = json.dumps(self.key(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """Human-readable name: ``seed 0 fold 3``."""
        return f"seed {self.seed} fold {self.test_fold}"

    @property
    def feature_set(self) -> int | None:
        """Feature set 1-4, or None for a custom feature list."""
        return schema.feature_set_id(self.features)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the unit, with its id."""
        return {"unit_id": self.unit_id, **self.key(), "feature_set": self.feature_set}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkUnit:
        """Rebuild a unit from :meth:`to_dict`'s output."""
        return cls(submission_sha256=data["submission_sha256"], model_name=data["model_name"],
                   store_hash=data["store_hash"], variant=data["variant"], features=tuple(data["features"]),
                   test_fold=int(data["test_fold"]), seed=int(data["seed"]), recipe=data.get("recipe"),
                   variant_fingerprint=data.get("variant_fingerprint", ""))


@dataclass(frozen=True)
class StoreRef:
    """Where a worker finds the store: path or URL, fsspec options, optional local cache."""

    path: str
    storage_options: Mapping[str, Any] | None = None
    cache_dir: str | None = None

    def open(self) -> FaciesStore:
        """Open the store, copying it into ``cache_dir`` first when it is a URL and a cache is set."""
        path, options = self.path, dict(self.storage_options or {})
        if is_url(path) and self.cache_dir:
            from facies_bench.data.remote import cache_store

            path, options = str(cache_store(path, self.cache_dir, storage_options=options)), {}
        return open_store(path, storage_options=options or None)


@dataclass(frozen=True)
class UnitEnvironment:
    """How to run units (not part of their identity): submission, store and run directory handles."""

    submission: SubmissionRef
    store: StoreRef
    run_dir: str
    run_storage_options: Mapping[str, Any] | None = None
    num_threads: int | None = None


def unit_dir(unit_id: str) -> str:
    """Folder of a unit inside the run directory."""
    return f"units/{unit_id}"


def is_unit_complete(run_dir: RunDir, unit_id: str) -> bool:
    """Whether a unit's completion marker and outputs exist."""
    rel = unit_dir(unit_id)
    if not run_dir.exists(f"{rel}/{UNIT_FILE}"):
        return False
    try:
        record = run_dir.read_json(f"{rel}/{UNIT_FILE}")
    except (OSError, ValueError):
        return False
    return record.get("status") == "complete" and all(run_dir.exists(f"{rel}/{name}") for name in record.get("files", {}))


# --------------------------------------------------------------------------------------------
# Output checks
# --------------------------------------------------------------------------------------------


def check_probabilities(proba: Any, n: int, *, submission: str, where: str) -> np.ndarray:
    """Validate a submission's (N, K) probabilities and return them renormalised as float64.

    Raises:
        SubmissionError: wrong shape, non-finite or negative values, or rows not summing to 1;
            the message names the submission and ``where`` (fold, split).
    """
    try:
        arr = np.asarray(proba, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SubmissionError(f"Submission {submission}, {where}: predict_proba returned {type(proba).__name__} that is not numeric ({exc}).") from exc
    if arr.shape != (n, schema.N_CLASSES):
        msg = (f"Submission {submission}, {where}: probabilities have shape {arr.shape}; expected ({n}, {schema.N_CLASSES}) "
               f"(one row per sample, one column per class in order {', '.join(schema.CLASS_NAMES)}).")
        raise SubmissionError(msg)
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        msg = f"Submission {submission}, {where}: {int(bad.sum())} of {n} rows hold NaN or infinite probabilities (first row {int(np.flatnonzero(bad)[0])})."
        raise SubmissionError(msg)
    if (arr < 0).any():
        row = int(np.flatnonzero((arr < 0).any(axis=1))[0])
        raise SubmissionError(f"Submission {submission}, {where}: negative probabilities (first in row {row}: {arr[row].round(4).tolist()}).")
    sums = arr.sum(axis=1)
    off = np.abs(sums - 1) > SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        msg = (f"Submission {submission}, {where}: probabilities do not sum to 1 (row {row} sums to {sums[row]:.6g}; "
               f"tolerance {SUM_TOLERANCE:g}). Return softmax outputs, not logits.")
        raise SubmissionError(msg)
    return arr / sums[:, None]


def predictions_frame(sample_id: np.ndarray, proba: np.ndarray, *, column: str, fold: int) -> pd.DataFrame:
    """A predictions DataFrame: sample_id, the eight ``p_*`` columns, then ``column`` = ``fold``."""
    import pandas as pd

    frame = pd.DataFrame({"sample_id": np.asarray(sample_id, np.int64)})
    for i, name in enumerate(schema.PROBABILITY_COLUMNS):
        frame[name] = proba[:, i]
    frame[column] = np.full(len(frame), int(fold), np.int64)
    return frame


@contextlib.contextmanager
def _blame(submission: Submission, where: str, stage: str) -> Iterator[None]:
    """Turn exceptions raised by submission code into a SubmissionError naming it and the fold."""
    try:
        yield
    except SubmissionError as exc:
        text = str(exc)
        if where in text:
            raise
        raise SubmissionError(f"Submission {submission.label}, {where}: {stage}: {text}") from exc
    except FaciesBenchError:
        raise
    except Exception as exc:
        raise SubmissionError(f"Submission {submission.label}, {where}: {stage} raised {type(exc).__name__}: {exc}") from exc


# --------------------------------------------------------------------------------------------
# Running one unit
# --------------------------------------------------------------------------------------------


@dataclass
class _Splits:
    train: Any
    validation: Any
    test: Any


def load_unit_splits(store: FaciesStore, unit: WorkUnit) -> _Splits:
    """Read a unit's train / validation / test folds into RAM as ``ArraySplit`` objects.

    Training and validation carry the unit's label variant (pruned samples have label -1 and are
    ignored by the trainer); the test split carries no labels at all (all -1), so a submission
    never sees its test glaciers' labels.
    """
    from facies_bench.training import ArraySplit

    split = protocol_split(store, unit.test_fold)
    labels = store.labels(unit.variant).astype(np.int64)
    scene = store.column("scene")
    sample_id = store.column("sample_id")

    def read(rows: slice, *, hide_labels: bool = False) -> ArraySplit:
        y = np.full(rows.stop - rows.start, schema.PRUNED, np.int64) if hide_labels else labels[rows]
        return ArraySplit(patches=store.read_patches(rows, unit.features), labels=y, scene=scene[rows], sample_id=sample_id[rows])

    train = ArraySplit.concatenate([read(r) for r in split.train_rows])
    return _Splits(train=train, validation=read(split.validation_rows), test=read(split.test_rows, hide_labels=True))


def _accepts(target: Any, name: str) -> bool:
    try:
        params = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _run_torch(submission: Submission, unit: WorkUnit, store: FaciesStore, data: _Splits, where: str,
               num_threads: int | None, on_epoch: EpochCallback | None) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    import torch

    from facies_bench.models import FaciesModel, count_parameters
    from facies_bench.training import TrainingRecipe, train_torch_model

    recipe = TrainingRecipe.from_dict(dict(unit.recipe or {}))
    if num_threads:
        recipe = recipe.replace(num_threads=int(num_threads))
    n_channels = len(unit.features)
    with _blame(submission, where, "building the model"):
        model = FaciesModel.from_registry(unit.model_name, features=unit.features, store=store, seed=unit.seed,
                                          meta={"test_fold": unit.test_fold, "seed": unit.seed, "unit_id": unit.unit_id})
        probe = torch.as_tensor(data.train.patches[:2])
        model.eval()
        with torch.no_grad():
            out = model(probe)
        if tuple(out.shape) != (len(probe), schema.N_CLASSES):
            msg = (f"the model maps input {tuple(probe.shape)} (N, C={n_channels}, 33, 33) to {tuple(out.shape)}; "
                   f"it must return (N, {schema.N_CLASSES}) class scores (logits).")
            raise SubmissionError(msg)
    with _blame(submission, where, "training"):
        result = train_torch_model(model, data.train, data.validation, recipe=recipe, seed=unit.seed, progress=on_epoch)
    model = result.model
    with _blame(submission, where, "predicting"):
        p_test = model.predict_proba(data.test.patches, batch_size=recipe.eval_batch_size, precision=recipe.precision)
        p_val = model.predict_proba(data.validation.patches, batch_size=recipe.eval_batch_size, precision=recipe.precision)
    info = {"n_parameters": int(count_parameters(model.backbone)), "best_epoch": int(result.best_epoch),
            "best_val_miou": float(result.best_val_miou), "train_time_s": float(result.train_time_s),
            "device": result.device, "history": result.history}
    return model, p_test, p_val, info


def run_estimator(submission: Submission, unit: WorkUnit, data: _Splits, where: str) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
    """Fit an estimator submission on one unit's splits: (estimator, test probabilities, validation probabilities, info)."""
    from facies_bench.models import create_model

    entry = submission.entry
    kwargs: dict[str, Any] = {}
    for name in ("seed", "random_state"):
        if name not in entry.hparams and _accepts(entry.target, name):
            kwargs[name] = unit.seed
            break
    with _blame(submission, where, "creating the estimator"):
        estimator = create_model(unit.model_name, in_channels=len(unit.features), **kwargs)
    t0 = time.perf_counter()
    with _blame(submission, where, "fit"):
        estimator.fit(data.train, data.validation)
    train_time = time.perf_counter() - t0
    with _blame(submission, where, "predict_proba"):
        p_test = estimator.predict_proba(data.test)
        p_val = estimator.predict_proba(data.validation)
    n_params = getattr(estimator, "n_parameters", None)
    info: dict[str, Any] = {"n_parameters": int(n_params) if isinstance(n_params, (int, np.integer)) else None,
            "best_epoch": None, "best_val_miou": None, "train_time_s": float(train_time), "device": "cpu", "history": []}
    return estimator, p_test, p_val, info


def run_unit(unit: WorkUnit, env: UnitEnvironment, *, on_epoch: EpochCallback | None = None,
             store: FaciesStore | None = None, submission: Submission | None = None) -> dict[str, Any]:
    """Train and predict one unit and write its outputs under the run directory.

    Args:
        unit: the unit.
        env: submission, store and run directory handles (a worker loads them itself).
        on_epoch: called as ``on_epoch(epoch, metrics)`` after every epoch (torch models).
        store: an already open store (saves re-opening it in-process).
        submission: an already loaded submission.

    Returns:
        The unit record written to ``unit.json`` (``status: complete``).  A unit that is already
        complete is not run again; its record is returned with ``skipped: True``.

    Raises:
        SubmissionError: the submission breaks the contract (message names it and the fold).
        UnknownNameError: the store lacks a feature the unit needs.
    """
    run_dir = RunDir(env.run_dir, storage_options=dict(env.run_storage_options or {}))
    rel = unit_dir(unit.unit_id)
    if is_unit_complete(run_dir, unit.unit_id):
        return {**run_dir.read_json(f"{rel}/{UNIT_FILE}"), "skipped": True}
    started, t0 = utc_now(), time.perf_counter()
    submission = submission or env.submission.load()
    store = store or env.store.open()
    where = f"{unit.label} (test fold {unit.test_fold}, validation fold {schema.validation_fold(unit.test_fold)})"
    if store.content_hash != unit.store_hash:
        msg = f"Store {store.path!r} has content hash {store.content_hash}; unit {unit.unit_id} was planned for {unit.store_hash}."
        raise FaciesBenchError(msg)
    try:
        store.feature_indices(unit.features)
    except UnknownNameError as exc:
        raise SubmissionError(f"Submission {submission.label}, {where}: {exc}") from exc
    from facies_bench.training.train import torch_threads

    with torch_threads(env.num_threads):
        data = load_unit_splits(store, unit)
        if submission.kind == "torch":
            model, p_test, p_val, info = _run_torch(submission, unit, store, data, where, env.num_threads, on_epoch)
        else:
            model, p_test, p_val, info = run_estimator(submission, unit, data, where)
    p_test = check_probabilities(p_test, len(data.test), submission=submission.label, where=f"{where}, test predictions")
    p_val = check_probabilities(p_val, len(data.validation), submission=submission.label, where=f"{where}, validation predictions")

    files: dict[str, str] = {}
    if submission.kind == "torch":
        from facies_bench.models import save_checkpoint

        with tempfile.TemporaryDirectory(prefix="facies-bench-unit-") as tmp:
            path = Path(tmp) / "checkpoint.pt"
            save_checkpoint(model, path, meta={"unit": unit.to_dict(), "submission": submission.path,
                                               "submission_sha256": submission.sha256})
            payload = path.read_bytes()
        run_dir.write_bytes(f"{rel}/checkpoint.pt", payload)
        files["checkpoint.pt"] = hashlib.sha256(payload).hexdigest()
    for name, frame in (("test.parquet", predictions_frame(data.test.sample_id, p_test, column="fold", fold=unit.test_fold)),
                        ("validation.parquet", predictions_frame(data.validation.sample_id, p_val, column="model_fold", fold=unit.test_fold))):
        payload = frame_to_parquet_bytes(frame)
        run_dir.write_bytes(f"{rel}/{name}", payload)
        files[name] = hashlib.sha256(payload).hexdigest()
    n_train_labelled = int((data.train.labels >= 0).sum())
    n_val_labelled = int((data.validation.labels >= 0).sum())
    record = {
        "format": UNIT_FORMAT, "status": "complete", "unit": unit.to_dict(), "model_name": unit.model_name,
        "kind": submission.kind, "test_fold": unit.test_fold, "validation_fold": schema.validation_fold(unit.test_fold),
        "train_folds": list(schema.train_folds(unit.test_fold)), "seed": unit.seed,
        "n_train": n_train_labelled, "n_train_pruned": int(len(data.train) - n_train_labelled),
        "n_validation": n_val_labelled, "n_test": int(len(data.test)), **info,
        "files": files, "started": started, "finished": utc_now(), "wall_time_s": round(time.perf_counter() - t0, 3),
        "num_threads": env.num_threads, "hardware": describe_hardware(), "package_version": package_version(),
    }
    run_dir.write_json(f"{rel}/{UNIT_FILE}", record)
    return record

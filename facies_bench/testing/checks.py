"""``check_submission``: run a submission through the whole contract on a tiny store in seconds.

Like scikit-learn's ``check_estimator``: submitters run it (``facies-bench check MODEL.py``)
before a long protocol run.  Each check is reported with a clear message; later checks that
depend on a failed one are skipped.
"""

from __future__ import annotations

import pickle
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facies_bench import schema
from facies_bench.errors import FaciesBenchError, SubmissionError

if TYPE_CHECKING:
    from facies_bench.data.store import FaciesStore
    from facies_bench.protocol import Submission, UnitEnvironment, WorkUnit

#: Epochs of the torch trainings the checks run.
CHECK_EPOCHS = 2
#: Test fold the checks train on.
CHECK_FOLD = 0


@dataclass
class CheckResult:
    """One check: ``passed`` is True, False, or None when skipped."""

    name: str
    passed: bool | None
    message: str = ""
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``passed``, ``FAILED`` or ``skipped``."""
        return {True: "passed", False: "FAILED", None: "skipped"}[self.passed]


@dataclass
class CheckReport:
    """Results of :func:`check_submission`."""

    submission: str
    model_name: str | None = None
    kind: str | None = None
    results: list[CheckResult] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """Whether the model registered and no check failed."""
        return bool(self.results) and all(r.passed is not False for r in self.results) and self.results[0].passed is True

    @property
    def failures(self) -> list[CheckResult]:
        """The failed checks."""
        return [r for r in self.results if r.passed is False]

    def raise_for_failures(self) -> None:
        """Raise :class:`SubmissionError` listing the failed checks, if any."""
        if not self.passed:
            lines = "; ".join(f"{r.name}: {r.message}" for r in self.failures) or "no checks ran"
            raise SubmissionError(f"Submission {self.submission!r} failed {len(self.failures)} check(s): {lines}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the report."""
        return {"submission": self.submission, "model_name": self.model_name, "kind": self.kind, "passed": self.passed,
                "results": [{"name": r.name, "status": r.status, "message": r.message, "seconds": round(r.seconds, 3)}
                            for r in self.results]}


class _Checker:
    def __init__(self, report: CheckReport):
        self.report = report

    @contextmanager
    def check(self, name: str) -> Iterator[CheckResult]:
        result = CheckResult(name, None)
        t0 = time.perf_counter()
        try:
            yield result
            result.passed = True
        except _Skip as exc:
            result.passed, result.message = None, str(exc)
        except Exception as exc:
            result.passed, result.message = False, f"{type(exc).__name__}: {exc}" if not isinstance(exc, FaciesBenchError) else str(exc)
        result.seconds = time.perf_counter() - t0
        self.report.results.append(result)

    def ok(self, name: str) -> bool:
        return any(r.name == name and r.passed for r in self.report.results)

    def skip(self, name: str, reason: str) -> None:
        self.report.results.append(CheckResult(name, None, reason))


class _Skip(Exception):
    pass


def _make_store(root: Path):
    from facies_bench.testing.synthetic import make_tiny_store

    store = make_tiny_store(root / "check.zarr", seed=0, n_glaciers=6, size=32)
    from facies_bench.data.store import open_store

    store = open_store(store.path, mode="r+")
    labels = store.labels("raw").copy()
    rng = np.random.default_rng(0)
    pruned = rng.random(len(labels)) < 0.15
    labels[pruned] = schema.PRUNED
    store.write_label_variant("check_pruned", labels, {"method": "check_submission: 15 % random samples pruned"})
    return store


def _compare(a: np.ndarray, b: np.ndarray, what: str) -> None:
    diff = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))) if np.size(a) else 0.0
    if np.shape(a) != np.shape(b) or diff > 1e-5:
        raise SubmissionError(f"{what}: probabilities differ (max abs difference {diff:.3g}; shapes {np.shape(a)} vs {np.shape(b)}).")


def check_submission(path_or_name: str | Path, *, tmp_dir: str | Path | None = None) -> CheckReport:
    """Run a submission through the submission contract on a freshly made tiny store.

    Checks, in order: it registers exactly one model; (torch) the builder maps (2, C, 33, 33)
    to (2, 8) finite scores for every feature set's channel count C, (estimator) it can be
    created; it fits and predicts one protocol fold with valid probabilities for every test and
    validation sample; it survives a save/load round trip (checkpoint for torch models, pickle
    for estimators) with the same predictions; it gives the same predictions for the same seed;
    it trains on a cleaned variant whose pruned samples carry label -1.

    Args:
        path_or_name: a ``.py`` file, a module, or a registered model name.
        tmp_dir: where to write the tiny store and outputs (default: a temporary directory,
            removed afterwards).

    Returns:
        The :class:`CheckReport` (``.passed``, ``.failures``, ``.raise_for_failures()``).
    """
    report = CheckReport(submission=str(path_or_name))
    checker = _Checker(report)
    if tmp_dir is None:
        with tempfile.TemporaryDirectory(prefix="facies-bench-check-") as tmp:
            _run_checks(path_or_name, Path(tmp), checker)
    else:
        Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        _run_checks(path_or_name, Path(tmp_dir), checker)
    return report


def _run_checks(source: str | Path, root: Path, checker: _Checker) -> None:
    """Every check in order: registration, the model's interface, then training on a tiny store."""
    sub = _check_registration(source, checker)
    if sub is None:
        return
    if sub.kind == "torch":
        _check_builder_shapes(sub, checker)
    else:
        _check_estimator_methods(sub, checker)
    if checker.report.failures:
        return
    _check_training(sub, root, checker)


def _check_registration(source: str | Path, checker: _Checker) -> Submission | None:
    """Load the submission; it must register exactly one model (None if it does not)."""
    from facies_bench.protocol import load_submission

    report = checker.report
    sub = None
    with checker.check("registers exactly one model") as res:
        sub = load_submission(source)
        report.model_name, report.kind = sub.model_name, sub.kind
        res.message = f"{sub.model_name!r} ({sub.kind})"
    return sub


def _check_builder_shapes(sub: Submission, checker: _Checker) -> None:
    """A torch builder maps (2, C, 33, 33) to (2, 8) finite scores for every feature set's C."""
    import torch

    from facies_bench.models import FaciesModel

    with checker.check("builder output shape for every feature set") as res:
        for fs, names in schema.FEATURE_SETS.items():
            model = FaciesModel.from_registry(sub.model_name, features=names, seed=0).eval()
            x = torch.zeros(2, len(names), schema.PATCH_SIZE, schema.PATCH_SIZE)
            with torch.no_grad():
                out = model(x)
            if tuple(out.shape) != (2, schema.N_CLASSES):
                raise SubmissionError(f"feature set {fs} ({len(names)} channels): input {tuple(x.shape)} gave output "
                                      f"{tuple(out.shape)}; expected (2, {schema.N_CLASSES}) class scores.")
            if not torch.isfinite(out).all():
                raise SubmissionError(f"feature set {fs}: the output holds NaN or infinite values for an all-zero input.")
        res.message = "(2, C, 33, 33) -> (2, 8) for C = " + ", ".join(str(len(n)) for n in schema.FEATURE_SETS.values())


def _check_estimator_methods(sub: Submission, checker: _Checker) -> None:
    """An estimator can be created and offers ``fit`` and ``predict_proba``."""
    from facies_bench.models import create_model

    with checker.check("estimator offers fit and predict_proba"):
        est = create_model(sub.model_name, in_channels=len(schema.FEATURE_NAMES))
        missing = [m for m in ("fit", "predict_proba") if not callable(getattr(est, m, None))]
        if missing:
            raise SubmissionError(f"the estimator lacks {', '.join(missing)}.")


def _check_training(sub: Submission, root: Path, checker: _Checker) -> None:
    """Fit and predict one fold of a tiny store, then the checks that need that fold's outputs."""
    from facies_bench.protocol import ProtocolConfig, StoreRef, UnitEnvironment, plan_units
    from facies_bench.protocol.units import run_unit

    with checker.check("build a tiny store") as res:
        store = _make_store(root)
        res.message = f"{store.n_samples} samples, 6 folds"
    config = ProtocolConfig(quick=True, epochs=CHECK_EPOCHS, folds=(CHECK_FOLD,), seeds=(0,),
                            recipe_overrides=(("batch_size", 64), ("eval_batch_size", 256)))
    unit = plan_units(sub, store, config)[0]
    env = UnitEnvironment(submission=sub.ref(), store=StoreRef(store.path), run_dir=str(root / "run_a"), num_threads=1)
    record = None
    with checker.check(f"fit and predict fold {CHECK_FOLD}") as res:
        record = run_unit(unit, env, store=store, submission=sub)
        res.message = (f"{record['n_train']} train, {record['n_validation']} validation, {record['n_test']} test samples; "
                       "probabilities (N, 8), finite, non-negative, rows sum to 1")
    if record is None:
        for name in ("save/load round trip", "same seed, same predictions", "trains on a cleaned variant (label -1)"):
            checker.skip(name, f"needs 'fit and predict fold {CHECK_FOLD}'")
        return
    first = _unit_test_probabilities(env.run_dir, unit.unit_id)
    _check_round_trip(sub, store, unit, env, first, checker)
    with checker.check("same seed, same predictions"):
        env_b = UnitEnvironment(submission=sub.ref(), store=StoreRef(store.path), run_dir=str(root / "run_b"), num_threads=1)
        run_unit(unit, env_b, store=store, submission=sub)
        _compare(first, _unit_test_probabilities(env_b.run_dir, unit.unit_id), f"two trainings with seed {unit.seed}")
    with checker.check("trains on a cleaned variant (label -1)") as res:
        cleaned_cfg = ProtocolConfig(quick=True, epochs=CHECK_EPOCHS, folds=(CHECK_FOLD,), seeds=(0,), variant="check_pruned",
                                     recipe_overrides=(("batch_size", 64), ("eval_batch_size", 256)))
        pruned_unit = plan_units(sub, store, cleaned_cfg)[0]
        rec = run_unit(pruned_unit, env, store=store, submission=sub)
        res.message = f"{rec['n_train_pruned']} pruned training samples ignored"


def _unit_test_probabilities(run_dir: str, unit_id: str) -> np.ndarray:
    """The (N, 8) test probabilities a unit of a run wrote."""
    from facies_bench.protocol import RunDir

    frame = RunDir(run_dir).read_parquet(f"units/{unit_id}/test.parquet")
    return frame[list(schema.PROBABILITY_COLUMNS)].to_numpy()


def _check_round_trip(sub: Submission, store: FaciesStore, unit: WorkUnit, env: UnitEnvironment, first: np.ndarray,
                      checker: _Checker) -> None:
    """Predictions survive a save/load round trip: checkpoint for torch models, pickle for estimators."""
    from facies_bench.protocol import RunDir
    from facies_bench.protocol.units import check_probabilities, load_unit_splits, run_estimator

    data = load_unit_splits(store, unit)
    where = f"check fold {CHECK_FOLD}"
    with checker.check("save/load round trip") as res:
        if sub.kind == "torch":
            from facies_bench.models import load_model

            model = load_model(RunDir(env.run_dir).path(f"units/{unit.unit_id}/checkpoint.pt"))
            again = model.predict_proba(data.test.patches)
            res.message = "checkpoint.pt -> facies_bench.load_model"
        else:
            est, _, _, _ = run_estimator(sub, unit, data, where)
            before = check_probabilities(est.predict_proba(data.test), len(data.test), submission=sub.label, where=where)
            clone = pickle.loads(pickle.dumps(est))
            again = clone.predict_proba(data.test)
            _compare(before, again, "after pickle round trip")
            res.message = "pickle.dumps -> pickle.loads"
        _compare(first, check_probabilities(again, len(data.test), submission=sub.label, where=where), "after the round trip")

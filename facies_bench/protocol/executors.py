"""Executors run work units: ``local`` (in this process) or ``ray`` (one Ray task per unit).

``local`` runs the units one after another; ``ray`` gives each task the requested CPUs / GPUs,
on a local Ray instance or a cluster.

A failing unit never stops the others: every unit yields a :class:`UnitOutcome` with its status
and, on failure, the error and traceback.  Completed units are skipped, so running the same plan
again retries only what failed or is missing.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from facies_bench.errors import FaciesBenchError
from facies_bench.protocol.units import UnitEnvironment, WorkUnit, run_unit

log = logging.getLogger(__name__)

STATUSES = ("completed", "skipped", "failed")
RAY_INSTALL_HINT = "pip install 'facies-bench[ray]'"


@dataclass
class UnitOutcome:
    """What happened to one unit.

    Attributes:
        unit: the unit.
        status: ``completed`` (trained now), ``skipped`` (outputs already there) or ``failed``.
        record: the unit.json record (completed / skipped).
        error: ``"Type: message"`` of the failure.
        error_type: the exception class name.
        traceback: the formatted traceback of the failure.
        wall_time_s: time spent on the unit in this run.
    """

    unit: WorkUnit
    status: str
    record: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None
    traceback: str | None = field(default=None, repr=False)
    wall_time_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the unit completed or was already complete."""
        return self.status != "failed"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the outcome."""
        return {"unit_id": self.unit.unit_id, "label": self.unit.label, "status": self.status, "error": self.error,
                "error_type": self.error_type, "wall_time_s": round(self.wall_time_s, 3)}


class ProgressReporter:
    """Receives progress events of a run; the default does nothing (the CLI renders bars)."""

    def start(self, units: Sequence[WorkUnit], *, n_complete: int) -> None:
        """Called once with every planned unit and how many are already complete."""

    def unit_started(self, unit: WorkUnit, *, n_epochs: int | None) -> None:
        """A unit began (``n_epochs`` None for estimators)."""

    def epoch_finished(self, unit: WorkUnit, epoch: int, metrics: dict[str, float]) -> None:
        """An epoch of a torch unit ended (local executor only)."""

    def unit_finished(self, outcome: UnitOutcome) -> None:
        """A unit completed, was skipped or failed."""

    def close(self) -> None:
        """The run's units are done."""


def execute_unit(unit: WorkUnit, env: UnitEnvironment, *, progress: ProgressReporter | None = None, **kwargs: Any) -> UnitOutcome:
    """Run one unit and capture any failure in the outcome instead of raising."""
    t0 = time.perf_counter()
    on_epoch = None
    if progress is not None:
        def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
            progress.epoch_finished(unit, epoch, metrics)
    try:
        record = run_unit(unit, env, on_epoch=on_epoch, **kwargs)
    except Exception as exc:  # captured per unit; the run goes on
        log.warning("unit %s (%s) failed: %s: %s", unit.unit_id, unit.label, type(exc).__name__, exc)
        return UnitOutcome(unit=unit, status="failed", error=f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__,
                           traceback=traceback.format_exc(), wall_time_s=time.perf_counter() - t0)
    status = "skipped" if record.get("skipped") else "completed"
    return UnitOutcome(unit=unit, status=status, record=record, wall_time_s=time.perf_counter() - t0)


def _n_epochs(unit: WorkUnit) -> int | None:
    return int(unit.recipe["epochs"]) if unit.recipe and "epochs" in unit.recipe else None


class LocalExecutor:
    """Runs units one after another in this process.

    Args:
        num_threads: torch threads inside each unit (None keeps the current setting).
    """

    name = "local"

    def __init__(self, *, num_threads: int | None = None):
        self.num_threads = num_threads

    def run(self, units: Sequence[WorkUnit], env: UnitEnvironment, *, progress: ProgressReporter | None = None,
            store: Any = None, submission: Any = None) -> list[UnitOutcome]:
        """Run ``units``; returns one outcome per unit, in order."""
        if self.num_threads is not None:
            env = dataclasses.replace(env, num_threads=self.num_threads)
        outcomes = []
        for unit in units:
            if progress is not None:
                progress.unit_started(unit, n_epochs=_n_epochs(unit))
            outcome = execute_unit(unit, env, progress=progress, store=store, submission=submission)
            outcomes.append(outcome)
            if progress is not None:
                progress.unit_finished(outcome)
        return outcomes


def _ray_unit_task(unit_data: dict[str, Any], env: UnitEnvironment) -> dict[str, Any]:
    """Body of the Ray task: run one unit in a worker, return a plain-dict outcome."""
    unit = WorkUnit.from_dict(unit_data)
    outcome = execute_unit(unit, env)
    return {"status": outcome.status, "record": outcome.record, "error": outcome.error, "error_type": outcome.error_type,
            "traceback": outcome.traceback, "wall_time_s": outcome.wall_time_s}


def import_ray() -> Any:
    """Import Ray or explain how to install it."""
    try:
        import ray
    except ImportError as exc:
        msg = f"--executor ray needs Ray, which is not installed ({exc}). Install it with: {RAY_INSTALL_HINT}"
        raise FaciesBenchError(msg) from None
    return ray


class RayExecutor:
    """Runs each unit as a Ray task.

    Args:
        address: Ray address; ``"auto"`` joins a running cluster (``ray start --head`` / a
            KubeRay cluster), None starts a local Ray instance.  Ignored when Ray is already
            initialised in this process (the caller's ``ray.init`` is used as is).
        num_cpus: CPUs reserved per unit; torch inside the unit uses ``ceil(num_cpus)`` threads.
        num_gpus: GPUs per unit; fractions (0.25) pack several small models on one GPU.
        init_kwargs: extra arguments for ``ray.init`` (``runtime_env``...).
    """

    name = "ray"

    def __init__(self, *, address: str | None = None, num_cpus: float = 1.0, num_gpus: float = 0.0,
                 init_kwargs: dict[str, Any] | None = None):
        self.ray = import_ray()
        self.address = address
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.init_kwargs = dict(init_kwargs or {})

    def run(self, units: Sequence[WorkUnit], env: UnitEnvironment, *, progress: ProgressReporter | None = None,
            store: Any = None, submission: Any = None) -> list[UnitOutcome]:
        """Submit every unit, collect outcomes as they finish; returns them in ``units`` order."""
        ray = self.ray
        started_here = False
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False, **self.init_kwargs)
            started_here = True
        try:
            env = dataclasses.replace(env, num_threads=max(1, math.ceil(self.num_cpus)))
            task = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_retries=0)(_ray_unit_task)
            env_ref = ray.put(env)
            pending: dict[Any, tuple[int, WorkUnit, float]] = {}
            for i, unit in enumerate(units):
                ref = task.remote(unit.to_dict(), env_ref)
                pending[ref] = (i, unit, time.perf_counter())
                if progress is not None:  # epochs are not reported back from workers
                    progress.unit_started(unit, n_epochs=None)
            outcomes: list[UnitOutcome | None] = [None] * len(units)
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    i, unit, t0 = pending.pop(ref)
                    try:
                        data = ray.get(ref)
                        outcome = UnitOutcome(unit=unit, status=data["status"], record=data["record"], error=data["error"],
                                              error_type=data["error_type"], traceback=data["traceback"],
                                              wall_time_s=data["wall_time_s"])
                    except Exception as exc:  # the worker itself died or could not run the task
                        outcome = UnitOutcome(unit=unit, status="failed", error=f"{type(exc).__name__}: {exc}",
                                              error_type=type(exc).__name__, traceback=traceback.format_exc(),
                                              wall_time_s=time.perf_counter() - t0)
                    outcomes[i] = outcome
                    if progress is not None:
                        progress.unit_finished(outcome)
            return [o for o in outcomes if o is not None]
        finally:
            if started_here:
                ray.shutdown()


def make_executor(name: str, *, ray_address: str | None = None, cpus_per_unit: float | None = None,
                  gpus_per_unit: float = 0.0) -> LocalExecutor | RayExecutor:
    """The executor called ``name`` (``local`` or ``ray``)."""
    if name == "local":
        return LocalExecutor(num_threads=math.ceil(cpus_per_unit) if cpus_per_unit else None)
    if name == "ray":
        return RayExecutor(address=ray_address, num_cpus=cpus_per_unit or 1.0, num_gpus=gpus_per_unit)
    from facies_bench.errors import UnknownNameError

    raise UnknownNameError(f"Unknown executor {name!r}. Valid: local, ray.")

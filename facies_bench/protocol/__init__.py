"""The benchmark protocol: splits, submissions, work units, executors and the run.

Public API::

    ProtocolConfig, protocol_split, check_glacier_folds, load_submission, Submission,
    WorkUnit, run_unit, LocalExecutor, RayExecutor, ProgressReporter, run_protocol, merge_run,
    RunResult, RunDir, describe_hardware
"""

from facies_bench.protocol._io import RunDir
from facies_bench.protocol.config import ProtocolConfig, parse_folds
from facies_bench.protocol.executors import LocalExecutor, ProgressReporter, RayExecutor, UnitOutcome, make_executor
from facies_bench.protocol.provenance import describe_hardware, package_version
from facies_bench.protocol.run import RunResult, merge_run, missing_units, plan_units, run_protocol
from facies_bench.protocol.splits import ProtocolSplit, check_glacier_folds, protocol_split
from facies_bench.protocol.submitted_model import Submission, SubmissionRef, load_submission
from facies_bench.protocol.units import StoreRef, UnitEnvironment, WorkUnit, check_probabilities, run_unit

__all__ = [
    "LocalExecutor", "ProgressReporter", "ProtocolConfig", "ProtocolSplit", "RayExecutor", "RunDir", "RunResult", "StoreRef",
    "Submission", "SubmissionRef", "UnitEnvironment", "UnitOutcome", "WorkUnit", "check_glacier_folds",
    "check_probabilities", "describe_hardware", "load_submission", "make_executor", "merge_run", "missing_units",
    "package_version", "parse_folds", "plan_units", "protocol_split", "run_protocol", "run_unit",
]

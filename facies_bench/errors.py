"""Exceptions raised by facies_bench.

Every error the library raises for bad input is a subclass of :class:`FaciesBenchError`, so the
CLI can turn it into a one-line message and a non-zero exit code.  Messages say what was wrong,
the value received, what is valid, and how to fix it.
"""

from __future__ import annotations

from typing import Any


class FaciesBenchError(Exception):
    """Base class of all facies_bench errors."""


class DatasetNotFoundError(FaciesBenchError, FileNotFoundError):
    """A dataset store or release file does not exist where it was looked for."""


class StoreFormatError(FaciesBenchError, ValueError):
    """A path exists but is not a valid facies store (missing arrays, unknown schema version...)."""


class StoreDamagedError(StoreFormatError):
    """A store fails its integrity checks (missing, resized or corrupt chunks, edited metadata)."""


class InvalidValueError(FaciesBenchError, ValueError):
    """An argument or option has a value outside its valid range or format.

    For example a scale, a number of epochs or seeds, a list of folds; for a name that is not
    known, see :class:`UnknownNameError`.
    """


class UnknownNameError(FaciesBenchError, KeyError):
    """A class, feature, glacier, region, sensor, variant or model name is not known."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0]) if self.args else ""


class PredictionsError(FaciesBenchError, ValueError):
    """A predictions file is malformed (missing ids, bad probabilities...)."""


class CalibrationError(FaciesBenchError, ValueError):
    """A calibrator file is missing or malformed, or a model cannot be wrapped as a calibrator."""


class SubmissionError(FaciesBenchError):
    """A submitted model breaks the submission contract."""


class ConversionError(FaciesBenchError, ValueError):
    """A file of the published release cannot be converted."""


class DownloadError(FaciesBenchError):
    """A release file could not be downloaded or failed verification."""


class IncompleteRunError(FaciesBenchError):
    """A protocol run lacks work units (folds, seeds) needed for the requested step.

    Attributes:
        missing: ids of the missing work units (when a run raised it).
        outcomes: the run's unit outcomes, for a report of what failed.
    """

    missing: list[str]
    outcomes: list[Any]

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.missing = []
        self.outcomes = []


class ValidationError(FaciesBenchError, ValueError):
    """A leaderboard entry failed validation."""


class RasterError(FaciesBenchError, ValueError):
    """Rasters given to the mapper are inconsistent (grid, CRS, band count, nodata)."""


class MassBalanceError(FaciesBenchError, ValueError):
    """A mass-balance table, glacier mapping or SMB analysis input is malformed or insufficient."""


class CheckpointError(FaciesBenchError, ValueError):
    """A model checkpoint or weights file is missing, malformed or cannot be rebuilt."""


class PublishError(FaciesBenchError):
    """Publishing the leaderboard to the Hugging Face Hub failed (no token, Hub unreachable, push rejected)."""

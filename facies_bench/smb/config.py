"""The settings of one SMB analysis: where the facies come from (the input mode) and the analysis options.

Input modes (:data:`SMB_INPUTS`), one per run:

* ``models``: a store's scenes, mapped on the fly with model checkpoints (``smb --model``);
* ``true_facies``: a synthetic store's true facies, the bound of a perfect classifier (``smb --true-facies``);
* ``maps``: a folder of facies GeoTIFFs written by ``facies-bench map`` (``smb --maps``);
* ``tables``: a folder of product tables written by ``facies-bench map --product`` (``smb --tables``).

:meth:`SMBConfig.from_options` turns the command-line flags into a config and names any
conflicting pair of flags; :class:`SMBConfig` itself checks that its fields fit its mode.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from facies_bench import schema
from facies_bench.errors import MassBalanceError
from facies_bench.smb import features as feat
from facies_bench.smb import regression
from facies_bench.smb.window import DEFAULT_CENTER, DEFAULT_WINDOW_DAYS, parse_center

#: Input modes of the SMB analysis and what each reads.
SMB_INPUTS: dict[str, str] = {
    "models": "a store's scenes, mapped on the fly with model checkpoints (--model)",
    "true_facies": "a synthetic store's true facies (--true-facies)",
    "maps": "a folder of facies GeoTIFFs from `facies-bench map` (--maps)",
    "tables": "a folder of product tables from `facies-bench map --product` (--tables)",
}
#: Modes whose scenes are a store's.
STORE_INPUTS = ("models", "true_facies")
#: Modes whose scenes are files in a folder (a store, if given, only helps).
FOLDER_INPUTS = ("maps", "tables")

PathLike = str | os.PathLike
ModelPaths = tuple[str, ...] | tuple[tuple[int, str], ...]


def parse_model_paths(values: Sequence[str]) -> list[str] | dict[int, str]:
    """``PATH ...`` -> list (ensembled); ``K=PATH ...`` -> ``{test fold: path}``; a mix is an error.

    Raises:
        MassBalanceError: the two forms are mixed, or a fold is given twice.
    """
    folded = [v.partition("=") for v in values if v.partition("=")[0].strip().isdigit() and "=" in v]
    if not folded:
        return list(values)
    if len(folded) != len(values):
        raise MassBalanceError(f"--model values {list(values)} mix PATH and K=PATH forms; use one form for all.")
    out = {int(k): p for k, _, p in folded}
    if len(out) != len(folded):
        raise MassBalanceError(f"--model gives a fold more than once: {list(values)}.")
    return out


def freeze_model_paths(paths: Sequence[Any] | Mapping[int, PathLike] | None) -> ModelPaths:
    """Checkpoint paths as :attr:`SMBConfig.model_paths` holds them: a tuple of paths, or of (fold, path) pairs."""
    if isinstance(paths, Mapping):
        return tuple((int(k), str(v)) for k, v in paths.items())
    values = list(paths or ())
    if values and all(isinstance(p, tuple) for p in values):  # already (fold, path) pairs
        return tuple((int(k), str(v)) for k, v in values)
    return tuple(str(p) for p in values)


def optional_str(value: PathLike | None) -> str | None:
    """``str(value)``, or None for None (paths as the config holds them)."""
    return None if value is None else str(value)


@dataclass(frozen=True)
class SMBConfig:
    """Settings of an SMB analysis (:func:`facies_bench.smb.run_smb_config`).

    Attributes:
        input: the input mode, one of :data:`SMB_INPUTS`.
        store: path or URL of a facies store: the scenes (``models``, ``true_facies``; None means
            the store given to the run, else the embedded dataset) or, with ``maps`` / ``tables``,
            the store supplying scene metadata, DEM, outline, optical bands, glacier folds and
            the default WGMS records.
        folder: the maps or tables folder (``maps`` / ``tables`` only).
        model_paths: checkpoints (``models`` only): paths, ensembled, or ``(test fold, path)``
            pairs, so each glacier is mapped by its own fold's model.  A list or a dict is accepted.
        dem: DEM raster or folder (``maps`` only; see :mod:`facies_bench.smb.sources`).
        outlines: outline raster, folder or vector file (``maps`` only).
        optical: optical raster(s) for the albedo (``maps`` only).
        wgms_table: WGMS FoG mass-balance table (default: ``<store>.wgms/mass_balance.csv``, drawn
            on first use for a synthetic store).
        mapping: ``glacier,wgms_id`` CSV (default: beside the WGMS table).
        records_seed: seed of the synthetic records drawn for a synthetic store without any.
        folds: ``(glacier, fold)`` pairs for Eq. 2 (a dict is accepted); default: the store's
            folds, else leave-one-glacier-out.
        window_days: half-width of the acquisition window, in days.
        center: centre of the acquisition window (``'MM-DD'``).
        alpha: ridge penalty (standardised predictors).
        min_records: fewest records for a glacier-specific model.
        snow_classes: classes counted as snow (schema names; default: snow only, as in the paper).
        snowline_percentile: percentile of snow elevations taken as the snowline (paper: 5).

    Raises:
        MassBalanceError: an unknown mode, or a field that does not fit the mode (for instance
            model checkpoints with ``maps``, or a DEM with a store mode).
    """

    input: str
    store: str | None = None
    folder: str | None = None
    model_paths: ModelPaths = ()
    dem: str | None = None
    outlines: str | None = None
    optical: str | None = None
    wgms_table: str | None = None
    mapping: str | None = None
    records_seed: int = 0
    folds: tuple[tuple[str, int], ...] | None = None
    window_days: int = DEFAULT_WINDOW_DAYS
    center: str = DEFAULT_CENTER
    alpha: float = regression.DEFAULT_ALPHA
    min_records: int = regression.MIN_RECORDS
    snow_classes: tuple[str, ...] = field(default=("snow",))
    snowline_percentile: float = feat.SNOWLINE_PERCENTILE

    def __post_init__(self) -> None:
        for name in ("store", "folder", "dem", "outlines", "optical", "wgms_table", "mapping"):
            object.__setattr__(self, name, optional_str(getattr(self, name)))
        object.__setattr__(self, "model_paths", freeze_model_paths(self.model_paths))
        if self.folds is not None:
            pairs = self.folds.items() if isinstance(self.folds, Mapping) else self.folds
            object.__setattr__(self, "folds", tuple((str(g), int(k)) for g, k in pairs))
        snow = tuple(schema.CLASS_NAMES[schema.class_index(c)] for c in self.snow_classes)
        object.__setattr__(self, "snow_classes", snow)
        self._check_mode()
        if int(self.window_days) < 0:
            raise MassBalanceError(f"window_days is {self.window_days}; it must be 0 or more days.")
        parse_center(self.center)

    def _check_mode(self) -> None:
        if self.input not in SMB_INPUTS:
            valid = "; ".join(f"{k}: {v}" for k, v in SMB_INPUTS.items())
            raise MassBalanceError(f"Unknown SMB input mode {self.input!r}. Valid: {valid}.")
        if self.model_paths and self.input != "models":
            raise MassBalanceError(f"Model checkpoints (--model) map a store's scenes; the input mode {self.input!r} takes none.")
        raster_options = [f"--{n}" for n in ("dem", "outlines", "optical") if getattr(self, n) is not None]
        if raster_options and self.input != "maps":
            msg = f"{', '.join(raster_options)} complete(s) facies GeoTIFFs (--maps); the input mode {self.input!r} takes none."
            raise MassBalanceError(msg)
        if self.input in FOLDER_INPUTS and self.folder is None:
            raise MassBalanceError(f"The input mode {self.input!r} reads {SMB_INPUTS[self.input]}; give its folder.")
        if self.input in STORE_INPUTS and self.folder is not None:
            msg = (f"The input mode {self.input!r} reads a store's scenes, not a folder ({self.folder!r}); "
                   "use the mode 'maps' or 'tables' for a folder.")
            raise MassBalanceError(msg)

    @classmethod
    def from_options(cls, *, store: PathLike | None = None, models: Sequence[str] = (), true_facies: bool = False,
                     maps: PathLike | None = None, tables: PathLike | None = None, **settings: Any) -> SMBConfig:
        """The config of ``facies-bench smb``'s flags: the mode follows from which source flag is given.

        Args:
            store: ``--store``.
            models: ``--model`` values (``PATH`` or ``K=PATH``, see :func:`parse_model_paths`).
            true_facies: ``--true-facies``.
            maps: ``--maps``.
            tables: ``--tables``.
            **settings: the other :class:`SMBConfig` fields.

        Raises:
            MassBalanceError: no facies source, or two of them (each conflict is named).
        """
        if models and true_facies:
            raise MassBalanceError("Pass either --model or --true-facies, not both.")
        if tables is not None and (maps is not None or models or true_facies):
            raise MassBalanceError("Pass --tables alone, without --maps, --model or --true-facies.")
        if maps is not None and (models or true_facies):
            flag = "--model" if models else "--true-facies"
            msg = f"Pass either --maps (facies GeoTIFFs already made) or {flag} (facies of the store's scenes), not both."
            raise MassBalanceError(msg)
        if maps is None and tables is None and not models and not true_facies:
            raise MassBalanceError("No facies source: pass --model CHECKPOINT (repeatable), --true-facies, or --maps DIR.")
        if tables is not None:
            mode, folder = "tables", tables
        elif maps is not None:
            mode, folder = "maps", maps
        else:
            mode, folder = ("true_facies" if true_facies else "models"), None
        paths = parse_model_paths(list(models)) if models else ()
        return cls(input=mode, store=optional_str(store), folder=optional_str(folder), model_paths=freeze_model_paths(paths), **settings)

    def replace(self, **changes: Any) -> SMBConfig:
        """A copy with some fields changed (checked again)."""
        return replace(self, **changes)

    @property
    def uses_embedded_store(self) -> bool:
        """A store mode without a store path: the run takes the given store, else the embedded dataset."""
        return self.input in STORE_INPUTS and self.store is None

    def model_spec(self) -> list[str] | dict[int, str]:
        """``model_paths`` as ``facies_bench.smb.sources.load_models`` takes them: a list, or ``{fold: path}``."""
        pairs = [p for p in self.model_paths if isinstance(p, tuple)]
        if pairs:
            return {int(k): str(p) for k, p in pairs}
        return [str(p) for p in self.model_paths]

    def folds_dict(self) -> dict[str, int] | None:
        """``folds`` as a dict (None when not given)."""
        return None if self.folds is None else dict(self.folds)

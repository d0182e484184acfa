"""The settings of one protocol run, frozen so that they can be hashed into work-unit ids."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from facies_bench import schema
from facies_bench.errors import InvalidValueError, UnknownNameError
from facies_bench.recipe import TrainingRecipe

#: Executors understood by :func:`facies_bench.protocol.run_protocol`.
EXECUTORS = ("local", "ray")
PRECISIONS = ("fp32", "bf16")


def _freeze(mapping: Mapping[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((str(k), v) for k, v in (mapping or {}).items()))


def parse_folds(folds: str | int | list[int] | tuple[int, ...] | None) -> tuple[int, ...]:
    """Folds to run from ``"0,1,5"``, ``"0-2"``, an int, a list, or None (all six)."""
    if folds is None or (isinstance(folds, str) and folds.strip().lower() in ("", "all")):
        return tuple(range(schema.N_FOLDS))
    if isinstance(folds, int):
        folds = [folds]
    if isinstance(folds, str):
        parsed: list[int] = []
        for part in folds.split(","):
            part = part.strip()
            if not part:
                continue
            try:
                if "-" in part:
                    lo, hi = (int(p) for p in part.split("-", 1))
                    parsed.extend(range(lo, hi + 1))
                else:
                    parsed.append(int(part))
            except ValueError:
                msg = f"Cannot read folds {folds!r}: use comma-separated fold numbers or ranges such as '0,1,5' or '0-2' (valid folds 0-{schema.N_FOLDS - 1})."
                raise InvalidValueError(msg) from None
        folds = parsed
    out = sorted({int(f) for f in folds})
    bad = [f for f in out if not 0 <= f < schema.N_FOLDS]
    if bad or not out:
        msg = f"Unknown fold(s) {bad or folds!r}. Valid: 0-{schema.N_FOLDS - 1}."
        raise UnknownNameError(msg)
    return tuple(out)


@dataclass(frozen=True)
class ProtocolConfig:
    """Settings of a protocol run.

    Attributes:
        variant: label variant used for training and validation (``raw``, ``cleaned`` or a
            variant name); test predictions are always made for every sample of a test fold.
        features: feature names in schema order (from a feature set id or a list).
        seeds: one training replicate per seed; results give mean and std across them.
        folds: test folds to run (default all six).
        epochs: epoch count (None: the recipe's, i.e. 1000, or the quick profile's).
        quick: start from ``TrainingRecipe.quick()`` instead of the paper recipe.
        precision: ``fp32`` or ``bf16`` (mixed precision on CPUs with AVX-512 BF16); None keeps
            the recipe's (the submission's choice, else fp32).
        recipe_overrides: further ``TrainingRecipe`` fields to override (sorted key/value pairs).
        executor: ``local`` (in-process, sequential) or ``ray``.
        ray_address: Ray cluster address (``auto`` joins a running cluster; None starts a local one).
        cpus_per_unit: CPUs reserved per work unit (Ray); also the torch thread count inside a unit
            when given.
        gpus_per_unit: GPUs per unit (Ray; fractions share a GPU between units).
        cache_dir: local directory where a store given as a URL is copied once.
        n_bootstrap: bootstrap resamples for the evaluator's confidence intervals.
    """

    variant: str = "raw"
    features: tuple[str, ...] = schema.FEATURE_SETS[4]
    seeds: tuple[int, ...] = (0,)
    folds: tuple[int, ...] = tuple(range(schema.N_FOLDS))
    epochs: int | None = None
    quick: bool = False
    precision: str | None = None
    recipe_overrides: tuple[tuple[str, Any], ...] = field(default=())
    executor: str = "local"
    ray_address: str | None = None
    cpus_per_unit: float | None = None
    gpus_per_unit: float = 0.0
    cache_dir: str | None = None
    n_bootstrap: int = 1000

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", schema.resolve_features(self.features))
        object.__setattr__(self, "folds", parse_folds(self.folds))
        seeds = (self.seeds,) if isinstance(self.seeds, int) else tuple(int(s) for s in self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise InvalidValueError(f"Seeds must be distinct integers, got {self.seeds!r}.")
        object.__setattr__(self, "seeds", seeds)
        if isinstance(self.recipe_overrides, Mapping):
            object.__setattr__(self, "recipe_overrides", _freeze(self.recipe_overrides))
        if self.executor not in EXECUTORS:
            raise UnknownNameError(f"Unknown executor {self.executor!r}. Valid: {', '.join(EXECUTORS)}.")
        if self.precision is not None and self.precision not in PRECISIONS:
            raise UnknownNameError(f"Unknown precision {self.precision!r}. Valid: {', '.join(PRECISIONS)}.")
        if self.epochs is not None and int(self.epochs) < 1:
            raise InvalidValueError(f"Epochs must be a positive integer, got {self.epochs!r}.")
        if self.gpus_per_unit < 0 or (self.cpus_per_unit is not None and self.cpus_per_unit <= 0):
            raise InvalidValueError(f"Resources per unit must be positive: cpus={self.cpus_per_unit!r}, gpus={self.gpus_per_unit!r}.")

    @classmethod
    def from_options(cls, *, features: int | str = 4, seed: int = 0, n_seeds: int = 1, **kwargs: Any) -> ProtocolConfig:
        """Build a config from CLI-style options: ``seed`` and ``n_seeds`` give ``seed .. seed+n_seeds-1``."""
        if n_seeds < 1:
            raise InvalidValueError(f"--seeds must be at least 1, got {n_seeds}.")
        return cls(features=schema.resolve_features(features), seeds=tuple(range(seed, seed + n_seeds)), **kwargs)

    @property
    def feature_set(self) -> int | None:
        """The paper's feature set id (1-4) of ``features``, or None for a custom list."""
        return schema.feature_set_id(self.features)

    def recipe(self, submission_overrides: Mapping[str, Any] | None = None) -> TrainingRecipe:
        """The :class:`~facies_bench.training.TrainingRecipe` of this run.

        The quick or paper recipe, then the submission's own overrides (its registry entry's
        ``recipe``), then this run's overrides, epochs and precision, which win.
        """
        from facies_bench.training import TrainingRecipe

        base = TrainingRecipe.quick() if self.quick else TrainingRecipe()
        if submission_overrides:
            base = base.replace(**dict(submission_overrides))
        overrides: dict[str, Any] = dict(self.recipe_overrides)
        if self.epochs is not None:
            overrides["epochs"] = int(self.epochs)
        if self.precision is not None:
            overrides["precision"] = self.precision
        return base.replace(**overrides)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the configuration."""
        out = asdict(self)
        out["features"] = list(self.features)
        out["feature_set"] = self.feature_set
        out["recipe_overrides"] = dict(self.recipe_overrides)
        return out

    def to_json(self) -> str:
        """The configuration as canonical JSON (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

"""The seeded entries: the baselines on the embedded synthetic dataset, raw and cleaned.

:func:`seed_leaderboard` runs the protocol (:func:`facies_bench.protocol.run_protocol`) for every
baseline and training label variant into ``runs_dir/<baseline>-<variant>-fs<N>`` (an interrupted
run resumes from its completed folds), then adds each run with :func:`add_entry`; runs already on
their board are skipped.  ``facies-bench leaderboard seed`` is the documented command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.errors import ValidationError
from facies_bench.leaderboard.results import DuplicateEntryError, Entry, add_entry


def _baselines_dir() -> Path:
    """``baselines/`` of the source checkout (beside the package), else of the working directory."""
    beside = Path(__file__).resolve().parents[2] / "baselines"
    return beside if beside.is_dir() else Path("baselines")


#: The baselines of the protocol: every submission file in ``baselines/`` (the paper's CNN, a timm
#: backbone and gradient boosting today), so that adding a baseline is adding its file.
DEFAULT_BASELINES: tuple[Path, ...] = tuple(sorted(_baselines_dir().glob("*.py")))


@dataclass
class SeedOutcome:
    """Entries added and runs skipped (already on the board)."""

    added: list[Entry] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def seed_leaderboard(results_dir: str | Path, *, store: Any, runs_dir: str | Path,
                     baselines: Sequence[str | Path] = DEFAULT_BASELINES, variants: Sequence[str] = ("raw", "cleaned"),
                     features: int = 4, seeds: Sequence[int] = (0,), epochs: int | None = None, quick: bool = False,
                     on_event: Callable[[str], None] | None = None) -> SeedOutcome:
    """Evaluate baselines under the protocol and add them to the leaderboard.

    Args:
        results_dir: the leaderboard's results folder.
        store: the dataset (an open store; the embedded synthetic one for the published board).
        runs_dir: folder of the protocol runs, one per baseline and variant.
        baselines: submission files.
        variants: training label variants (``cleaned`` needs the store's default cleaned variant).
        features: feature set 1-4.
        seeds: training seeds of every run.
        epochs: epoch override (None: the recipe's).
        quick: the quick training profile.
        on_event: receives one line per step (the CLI prints them).

    Returns:
        A :class:`SeedOutcome`.
    """
    from facies_bench.protocol import ProtocolConfig, run_protocol

    say = on_event or (lambda text: None)
    missing = [str(b) for b in baselines if not Path(b).is_file()]
    if missing:
        raise ValidationError(f"Baseline submission file(s) not found: {', '.join(missing)}. Pass --baseline PATH for each.")
    for variant in variants:
        if variant != "raw":
            try:
                store.resolve_variant(variant)
            except Exception as exc:
                msg = (f"Cannot seed the {variant!r} board: {exc} Run `facies-bench clean` on the store first, "
                       "or pass --variants raw.")
                raise ValidationError(msg) from exc
    outcome = SeedOutcome()
    runs_dir = Path(runs_dir)
    for baseline in baselines:
        for variant in variants:
            run_dir = runs_dir / f"{Path(baseline).stem}-{schema.slug(variant)}-fs{features}"
            say(f"running {Path(baseline).name} on {store.name} {store.version}, variant {variant}, feature set {features} -> {run_dir}")
            config = ProtocolConfig(variant=variant, features=schema.resolve_features(features), seeds=tuple(seeds), epochs=epochs, quick=quick)
            run_protocol(str(baseline), store, config, run_dir)
            try:
                entry = add_entry(run_dir, results_dir, store)
            except DuplicateEntryError as exc:
                say(f"skipped: {exc}")
                outcome.skipped.append(str(run_dir))
                continue
            say(f"added {entry.entry_id} to board {entry.board}")
            outcome.added.append(entry)
    return outcome

"""Default locations of the leaderboard (kept light: the CLI imports them at start-up)."""

from __future__ import annotations

from pathlib import Path

#: Where ``leaderboard build`` writes README.md, index.html and eval.yaml.
DEFAULT_OUTPUT_DIR = Path("leaderboard")
#: Where ``leaderboard add`` keeps validated entries.
DEFAULT_RESULTS_DIR = DEFAULT_OUTPUT_DIR / "results"

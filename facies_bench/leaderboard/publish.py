"""Publishing the built leaderboard to the Hugging Face Hub in one commit.

To a Space (``repo_type="space"``, a static Space serving ``index.html``) the built folder goes to
the repository root.  To the dataset repository (``repo_type="dataset"``) it goes under
``leaderboard/`` so the dataset card stays untouched, except ``eval.yaml``, which the Hub reads
from the root.  ``dry_run`` lists exactly the files (path in the repository, size, SHA-256) and
the commit message, and contacts nobody.  Publishing only reads local files: whatever fails,
nothing changes locally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facies_bench.errors import PublishError
from facies_bench.hashing import file_sha256

REPO_TYPES = ("space", "dataset")
#: Files and folders of a built leaderboard that are published (anything else is left out).
PUBLISHED_FILES = ("README.md", "index.html", "eval.yaml", "leaderboard.json")
PUBLISHED_DIRS = ("results", "eval_results")
#: Files a built folder must have before it can be published.
REQUIRED_FILES = ("README.md", "index.html", "eval.yaml")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class PlannedFile:
    """One file of the commit."""

    path_in_repo: str
    local_path: Path
    size: int
    sha256: str


@dataclass
class PublishPlan:
    """What :func:`publish` committed (or, for a dry run, would commit)."""

    repo_id: str
    repo_type: str
    commit_message: str
    files: list[PlannedFile]
    dry_run: bool
    commit_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_size(self) -> int:
        """Bytes to upload."""
        return sum(f.size for f in self.files)


def plan_files(built_dir: str | Path, *, repo_type: str = "space") -> list[PlannedFile]:
    """The files of a built leaderboard folder and where they go in the repository, sorted.

    Hidden files and folders (staging leftovers, ``.git``) are never published.
    """
    built = Path(built_dir)
    if repo_type not in REPO_TYPES:
        raise PublishError(f"Unknown repo type {repo_type!r}. Valid: {', '.join(REPO_TYPES)}.")
    missing = [name for name in REQUIRED_FILES if not (built / name).is_file()]
    if missing:
        msg = (f"{str(built)!r} is not a built leaderboard: {', '.join(missing)} missing. Run "
               f"`facies-bench leaderboard build -o {built}` first.")
        raise PublishError(msg)
    paths = [built / name for name in PUBLISHED_FILES if (built / name).is_file()]
    for folder in PUBLISHED_DIRS:
        root = built / folder
        if root.is_dir():
            paths += [p for p in root.rglob("*") if p.is_file()
                      and not any(part.startswith(".") for part in p.relative_to(built).parts)]
    prefix = "leaderboard/" if repo_type == "dataset" else ""
    planned = []
    for path in paths:
        rel = path.relative_to(built).as_posix()
        in_repo = rel if (rel == "eval.yaml" or not prefix) else prefix + rel
        planned.append(PlannedFile(path_in_repo=in_repo, local_path=path, size=path.stat().st_size, sha256=file_sha256(path)))
    return sorted(planned, key=lambda f: f.path_in_repo)


def default_commit_message(built_dir: str | Path) -> str:
    """``Update leaderboard: N entries on M boards (protocol X)`` from the built leaderboard.json."""
    import json

    from facies_bench import schema

    summary = Path(built_dir) / "leaderboard.json"
    boards, entries = 0, 0
    if summary.is_file():
        data = json.loads(summary.read_text())
        boards = len(data.get("boards", []))
        entries = sum(len(b.get("entries", [])) for b in data.get("boards", []))
    return (f"Update leaderboard: {entries} entr{'y' if entries == 1 else 'ies'} on {boards} board{'' if boards == 1 else 's'} "
            f"(protocol {schema.PROTOCOL_VERSION})")


def format_plan(plan: PublishPlan) -> str:
    """A plain-text listing of a plan (the CLI prints it for ``--dry-run``)."""
    head = "Would commit" if plan.dry_run else "Committed"
    lines = [f"{head} {len(plan.files)} file(s), {plan.total_size} bytes, to {plan.repo_type} {plan.repo_id}",
             f"commit message: {plan.commit_message}"]
    lines += [f"{f.path_in_repo}\t{f.size}\t{f.sha256}" for f in plan.files]
    if plan.commit_url:
        lines.append(f"commit: {plan.commit_url}")
    return "\n".join(lines)


def publish(built_dir: str | Path, repo_id: str, repo_type: str = "space", token: str | None = None,
            dry_run: bool = False, *, commit_message: str | None = None, endpoint: str | None = None,
            create_repo: bool = True) -> PublishPlan:
    """Publish a built leaderboard folder to the Hub as one commit.

    Args:
        built_dir: the folder ``facies-bench leaderboard build`` wrote.
        repo_id: ``OWNER/NAME`` of the Space or dataset repository.
        repo_type: ``space`` (static Space) or ``dataset`` (files under ``leaderboard/``).
        token: Hub token; default: ``HF_TOKEN`` or the token saved by ``hf auth login``.
        dry_run: only plan; list files and commit message, contact nobody.
        commit_message: default: a summary of the boards.
        endpoint: Hub endpoint (default: ``huggingface_hub``'s, i.e. ``HF_ENDPOINT`` or huggingface.co).
        create_repo: create the repository (a static Space for ``space``) if it does not exist.

    Returns:
        The :class:`PublishPlan`, with ``commit_url`` after a real push.

    Raises:
        PublishError: bad repo id or folder, no token, Hub unreachable, or the push rejected.
    """
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id):
        raise PublishError(f"Invalid repo id {repo_id!r}: use OWNER/NAME, e.g. my-org/glacier-facies-leaderboard.")
    files = plan_files(built_dir, repo_type=repo_type)
    plan = PublishPlan(repo_id=repo_id, repo_type=repo_type, commit_message=commit_message or default_commit_message(built_dir),
                       files=files, dry_run=dry_run)
    if dry_run:
        return plan

    import httpx2
    from huggingface_hub import CommitOperationAdd, HfApi, get_token
    from huggingface_hub.errors import HfHubHTTPError

    token = token or get_token()
    if not token:
        msg = ("No Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token. Nothing was published "
               "(use --dry-run to see what would be).")
        raise PublishError(msg)
    api = HfApi(endpoint=endpoint, token=token)
    where = f"{repo_type} {repo_id!r} at {api.endpoint}"
    try:
        user = api.whoami()
        if create_repo:
            api.create_repo(repo_id, repo_type=repo_type, exist_ok=True,
                            space_sdk="static" if repo_type == "space" else None)
        operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path)) for f in files]
        info = api.create_commit(repo_id, operations, commit_message=plan.commit_message, repo_type=repo_type)
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"The Hub rejected the push to {where} (HTTP {status}): {first}. Nothing was changed locally."
        if status == 401:
            msg += " Check that the token is valid and has write access."
        raise PublishError(msg) from exc
    except (httpx2.TransportError, OSError) as exc:
        msg = f"Cannot reach the Hugging Face Hub to publish to {where}: {exc}. Nothing was published or changed locally."
        raise PublishError(msg) from exc
    plan.commit_url = getattr(info, "commit_url", None)
    plan.extra["user"] = (user or {}).get("name")
    return plan

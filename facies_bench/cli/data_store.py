"""``facies-bench data verify`` and ``facies-bench data upgrade``: store integrity and format upgrades."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @data_app.command("verify")
    def verify(
        store: str = typer.Argument(..., help="Path or URL of a facies store."),
        full: bool = typer.Option(False, "--full", help="Also decode every chunk (checksums) and recompute the content hash."),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON."),
    ) -> None:
        """Check a store against its inventory: one line per problem, exit code 1 if any."""
        from facies_bench.data.verify import verify_store

        report = verify_store(store, full=full)
        if as_json:
            typer.echo(json.dumps(report.to_dict(), indent=2))
        else:
            root = store.rstrip("/")
            for problem in report.problems:
                where = root if problem.path in ("", ".") else f"{root}/{problem.path}"
                typer.echo(f"{where}: {problem.message}")
            if report.ok:
                what = f"{report.n_files} chunk files in {report.n_arrays} arrays"
                extra = f", every chunk decoded, content hash {report.content_hash}" if full else ""
                typer.echo(f"ok: {store}: {what} match the inventory{extra}")
            else:
                typer.echo(f"{len(report.problems)} problem(s) in {store}", err=True)
        if not report.ok:
            raise typer.Exit(1)

    @data_app.command("upgrade")
    def upgrade(
        old: Path = typer.Argument(..., help="Store written by an older facies-bench (a converted release)."),
        output: Path = typer.Option(..., "--output", "-o", help="Where to write the upgraded store."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output store."),
    ) -> None:
        """Re-lay an older converted-release store out in the current format (values unchanged)."""
        from facies_bench.data.upgrade import upgrade_store

        store = upgrade_store(old, output, overwrite=overwrite)
        typer.echo(f"wrote {store.path}: {store.n_samples} samples, content hash {store.content_hash} (unchanged)")

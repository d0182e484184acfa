"""``facies-bench data download | convert | export-hf | push-hf``: the published release and the Hub."""

from __future__ import annotations

import json
from pathlib import Path

import typer


def register(app: typer.Typer, data_app: typer.Typer) -> None:
    """Add this module's commands to the ``facies-bench`` app (``app``) and its ``data`` group (``data_app``)."""
    @data_app.command("download")
    def download(
        output: Path = typer.Option(..., "--output", "-o", help="Folder to download the release into."),
        record: str = typer.Option("18469893", "--record", help="Zenodo record id of the release."),
        base_url: str = typer.Option("https://zenodo.org/api", "--base-url", help="Record API base URL."),
        extract: bool = typer.Option(True, "--extract/--no-extract", help="Unpack downloaded archives."),
        retries: int = typer.Option(3, "--retries", min=0, help="Resume attempts per file after a broken transfer."),
    ) -> None:
        """Download the published release: verified checksums, resumable, never a corrupt final file."""
        from facies_bench.data.download import download_release

        result = download_release(output, record=record, base_url=base_url, extract=extract, retries=retries)
        for path in result.files:
            state = "already present" if path.name in result.skipped else "downloaded"
            typer.echo(f"{state}: {path}")
        for folder in result.extracted:
            typer.echo(f"unpacked: {folder}")
        typer.echo(f"Next: facies-bench data convert {output} -o STORE.zarr")

    @data_app.command("convert")
    def convert(
        release_dir: Path = typer.Argument(..., help="Folder holding the release's patch GeoTIFFs (searched recursively)."),
        output: Path = typer.Option(..., "--output", "-o", help="Store to write (Zarr folder)."),
        scenes: Path = typer.Option(None, "--scenes", help="CSV glacier,date,sensor giving each scene's sensor."),
        record: str = typer.Option("18469893", "--record", help="Zenodo record id, kept in the provenance."),
        workers: int = typer.Option(None, "--workers", min=1, help="Reader threads (default: by CPU count)."),
    ) -> None:
        """Convert the published patch release into a store (skips and reports invalid files)."""
        from facies_bench.data.convert import convert_release

        result = convert_release(release_dir, output, scenes_csv=scenes, record=record, workers=workers)
        state = "unchanged (identical store already there)" if result.unchanged else "written"
        typer.echo(f"{output}: {state}; {result.n_converted} of {result.n_files} GeoTIFFs converted "
                   f"({result.files_per_s:.0f} files/s), content hash {result.content_hash}")
        for s in result.skipped[:20]:
            typer.echo(f"skipped {s.path}: {s.reason}", err=True)
        if len(result.skipped) > 20:
            typer.echo(f"... and {len(result.skipped) - 20} more skipped files", err=True)
        for w in result.warnings:
            typer.echo(f"warning: {w}", err=True)
        if result.report_path:
            typer.echo(f"report: {result.report_path}")

    @data_app.command("export-hf")
    def export(
        store: str = typer.Argument(..., help="Store path or URL."),
        output: Path = typer.Option(..., "--output", "-o", help="Folder to write (Parquet shards + README card)."),
        variant: list[str] = typer.Option(None, "--variant", help="Label variant(s) to export (default: all)."),
        overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder."),
    ) -> None:
        """Export a store as a Hugging Face dataset folder loadable with stock `datasets.load_dataset`."""
        from facies_bench.data.export_hf import export_hf

        result = export_hf(store, output, variants=variant or None, overwrite=overwrite)
        for name, splits in result.configs.items():
            rows = result.n_rows.get(name)
            typer.echo(f"config {name}: " + (", ".join(f"{s} {rows[s]}" for s in splits) if rows else "alias"))
        typer.echo(f"{len(result.files)} Parquet file(s), {result.nbytes / 1e6:.1f} MB in {output}")

    @data_app.command("push-hf")
    def push(
        folder: Path = typer.Argument(..., help="Folder written by `data export-hf`."),
        repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository OWNER/NAME."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Check the folder and show what would be uploaded."),
        private: bool = typer.Option(False, "--private", help="Create the repository as private."),
    ) -> None:
        """Upload an export folder to the Hugging Face Hub in one commit."""
        from facies_bench.data.export_hf import push_to_hub

        plan = push_to_hub(folder, repo_id, dry_run=dry_run, private=private)
        typer.echo(json.dumps({k: v for k, v in plan.items() if k != "files"} | {"n_files": len(plan["files"])}, indent=2))

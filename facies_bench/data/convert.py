"""Convert the published patch release into a facies store.

The release has one 11-band 33×33 GeoTIFF per point label, named
``{fold}_{glacier}_{date}_..._{class}.tif`` (the layout read by the published code, which splits
the name on ``_``: fold first, glacier second, date third, class last).  Parsing rules:

* ``fold``: an integer 0-5.
* ``glacier``: a glacier of :data:`facies_bench.schema.GLACIERS`, matched ignoring case, spaces,
  dashes and underscores, so ``Sex Rouge``, ``SexRouge``, ``sex-rouge`` and ``Sex_Rouge`` (which
  spans two ``_`` fields) all name the same glacier.  Files written by facies-bench use the
  schema name with its spaces (``3_Goldberg K_20190812_0_ice.tif``).
* ``date``: ``YYYYMMDD`` or ``YYYY-MM-DD``.
* anything between the date and the class is kept only as part of the file's identity.
* ``class``: a published class name (``ice, snow, debris, firn, shadow, refrozen-like, water,
  cloud``; the key ``refrozen`` is accepted too).

Region comes from the schema, sensor from an optional scenes table (CSV with columns
``glacier,date,sensor``; else ``unknown``), the scene is the glacier and date.  Feature min/max are
computed from the data by :class:`~facies_bench.data.store.StoreBuilder`.  Rows are sorted by fold,
glacier, scene and file name; ``sample_id`` is the row number, ``row``/``col`` are -1 (the release
has no scene rasters, so the store has none) and ``x``/``y`` are the centre pixel's map coordinates.

Invalid files (unparseable name, unknown glacier or class, wrong band count or size, unreadable)
are skipped and reported with reasons, in the returned :class:`ConversionResult` and in
``conversion_report.json`` beside the store.  Conversion is idempotent: an existing store built
from the same files (same fingerprint) or with the same content hash is left untouched.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facies_bench import schema
from facies_bench.atomic import replace_dir
from facies_bench.data.store import FaciesStore, StoreBuilder, open_store
from facies_bench.errors import ConversionError, FaciesBenchError, UnknownNameError

log = logging.getLogger(__name__)

CONVERTER_VERSION = 1
NAME_PATTERN = "{fold}_{glacier}_{date}_..._{class}.tif"
REPORT_NAME = "conversion_report.json"
_TIF_SUFFIXES = (".tif", ".tiff")
_DATE_RE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")
_BLOCK = 1024


@dataclass(frozen=True)
class PatchName:
    """The fields encoded in a release file name."""

    fold: int
    glacier: str  #: schema name
    date: str  #: ISO date
    label: int  #: class code
    extra: str  #: the fields between date and class, joined with "_"

    @property
    def scene_id(self) -> str:
        """Scene id: the glacier's slug and the date (YYYYMMDD)."""
        return f"{schema.slug(self.glacier)}_{self.date.replace('-', '')}"


@dataclass(frozen=True)
class SkippedFile:
    """A release file the conversion left out, and why."""
    path: str
    reason: str


@dataclass
class ConversionResult:
    """What :func:`convert_release` did."""

    store_path: Path
    content_hash: str
    n_files: int  #: GeoTIFFs seen
    n_converted: int
    skipped: list[SkippedFile] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  #: files that are not GeoTIFFs
    warnings: list[str] = field(default_factory=list)
    unchanged: bool = False  #: an identical store was already there and was left alone
    elapsed_s: float = 0.0
    report_path: Path | None = None

    @property
    def files_per_s(self) -> float:
        """Files converted per second."""
        return self.n_files / self.elapsed_s if self.elapsed_s > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict of the conversion report."""
        return {"store": str(self.store_path), "content_hash": self.content_hash, "n_files": self.n_files,
                "n_converted": self.n_converted, "n_skipped": len(self.skipped),
                "skipped": [asdict(s) for s in self.skipped], "ignored": self.ignored, "warnings": self.warnings,
                "unchanged": self.unchanged, "elapsed_s": round(self.elapsed_s, 3),
                "files_per_s": round(self.files_per_s, 1) if self.elapsed_s > 0 else None}


def _parse_date(text: str) -> str | None:
    m = _DATE_RE.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def parse_patch_name(name: str) -> PatchName:
    """Parse a release file name (see the module docstring).

    Raises:
        ConversionError: naming the file, the field that is wrong, what was found and what is valid.
    """
    base = Path(name).name
    stem = base
    for suffix in _TIF_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    parts = stem.split("_")
    if len(parts) < 4:
        msg = f"{base!r}: expected {NAME_PATTERN} (at least 4 '_'-separated fields), found {len(parts)} field(s) {parts}."
        raise ConversionError(msg)
    if not parts[0].isdigit() or not 0 <= int(parts[0]) < schema.N_FOLDS:
        msg = f"{base!r}: the first field must be the fold 0-{schema.N_FOLDS - 1} ({NAME_PATTERN}); found {parts[0]!r}."
        raise ConversionError(msg)
    try:
        label = schema.class_index(parts[-1])
    except UnknownNameError:
        msg = f"{base!r}: unknown class {parts[-1]!r} in the last field ({NAME_PATTERN}). Valid: {', '.join(schema.CLASS_NAMES)}."
        raise ConversionError(msg) from None
    # The glacier may span several '_' fields (a schema name written with underscores).
    for n in range(1, len(parts) - 2):
        date = _parse_date(parts[1 + n])
        if date is None:
            continue
        try:
            glacier = schema.GLACIER_NAMES[schema.glacier_index(" ".join(parts[1:1 + n]))]
        except UnknownNameError:
            continue
        return PatchName(fold=int(parts[0]), glacier=glacier, date=date, label=label,
                         extra="_".join(parts[2 + n:-1]))
    if _parse_date(parts[2]) is not None:
        msg = f"{base!r}: unknown glacier {parts[1]!r} in the second field ({NAME_PATTERN}). Valid: {', '.join(schema.GLACIER_NAMES)} (case, spaces, dashes and underscores are ignored)."
    else:
        msg = f"{base!r}: no date found after the glacier ({NAME_PATTERN}); expected YYYYMMDD or YYYY-MM-DD in the third field, found {parts[2]!r}."
    raise ConversionError(msg)


def patch_file_name(fold: int, glacier: str, date: str, extra: str, label: int | str) -> str:
    """The release-style file name that :func:`parse_patch_name` reads back."""
    cls = schema.CLASS_NAMES[label if isinstance(label, int) else schema.class_index(label)]
    return f"{fold}_{glacier}_{date.replace('-', '')}_{extra}_{cls}.tif"


def read_scenes_table(path: str | os.PathLike) -> dict[tuple[str, str], str]:
    """(glacier, ISO date) -> sensor name, from a CSV with columns ``glacier,date,sensor``."""
    path = Path(path)
    if not path.exists():
        raise ConversionError(f"Scenes table {str(path)!r} does not exist.")
    table: dict[tuple[str, str], str] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"glacier", "date", "sensor"} - set(reader.fieldnames or [])
        if missing:
            msg = f"Scenes table {str(path)!r} lacks column(s) {', '.join(sorted(missing))}; expected a header glacier,date,sensor, found {reader.fieldnames}."
            raise ConversionError(msg)
        for i, row in enumerate(reader, start=2):
            try:
                glacier = schema.GLACIER_NAMES[schema.glacier_index(row["glacier"])]
                sensor = schema.SENSOR_NAMES[schema.sensor_index(row["sensor"])]
            except UnknownNameError as exc:
                raise ConversionError(f"Scenes table {str(path)!r} line {i}: {exc}") from None
            date = _parse_date(row["date"].strip())
            if date is None:
                raise ConversionError(f"Scenes table {str(path)!r} line {i}: date {row['date']!r} is not YYYY-MM-DD or YYYYMMDD.")
            table[(glacier, date)] = sensor
    return table


def _fingerprint(files: list[Path], root: Path, scenes_csv: Path | None) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(f"converter={CONVERTER_VERSION}".encode())
    for p in files:
        st = p.stat()
        h.update(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    if scenes_csv is not None:
        h.update(Path(scenes_csv).read_bytes())
    return "blake2b:" + h.hexdigest()


#: One GeoTIFF read: (patch or None, centre x/y, crs, problem or None).
_ReadPatch = tuple[np.ndarray | None, tuple[float, float], str, str | None]


def _read_block(paths: list[Path]) -> list[_ReadPatch]:
    """Read GeoTIFFs: (patch or None, centre x/y, crs, problem)."""
    import rasterio
    from rasterio.errors import RasterioError

    out: list[_ReadPatch] = []
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        for p in paths:
            try:
                with rasterio.open(p) as src:
                    expected = (schema.N_FEATURES, schema.PATCH_SIZE, schema.PATCH_SIZE)
                    found = (src.count, src.height, src.width)
                    if found != expected:
                        what = "band count" if src.count != expected[0] else "size"
                        problem = (f"wrong {what}: expected {expected[0]} bands of {expected[1]}x{expected[2]} pixels, "
                                   f"found {found[0]} band(s) of {found[1]}x{found[2]}")
                        out.append((None, (np.nan, np.nan), "", problem))
                        continue
                    data = src.read(out_dtype="float32")
                    x, y = src.xy(src.height // 2, src.width // 2)  # centre of the centre pixel
                    crs = src.crs.to_string() if src.crs else ""
                out.append((data, (float(x), float(y)), crs, None))
            except (RasterioError, OSError) as exc:
                out.append((None, (np.nan, np.nan), "", f"unreadable GeoTIFF: {exc}"))
    return out


def _read_all(paths: list[Path], workers: int) -> Iterator[_ReadPatch]:
    blocks = [paths[i:i + 64] for i in range(0, len(paths), 64)]
    if workers <= 1:
        for b in blocks:
            yield from _read_block(b)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for res in pool.map(_read_block, blocks):
            yield from res


def _write_report(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, path)


def _existing(path: Path) -> FaciesStore | None:
    if not path.exists():
        return None
    try:
        return open_store(path)
    except FaciesBenchError:
        return None


def convert_release(release_dir: str | os.PathLike, store_path: str | os.PathLike, *,
                    scenes_csv: str | os.PathLike | None = None, record: str = "18469893",
                    dataset_version: str | None = None, workers: int | None = None,
                    progress: bool = True) -> ConversionResult:
    """Convert a release folder of patch GeoTIFFs (searched recursively) into a store.

    Args:
        release_dir: folder holding the release's ``.tif`` files (any depth).
        store_path: where to write the store; an identical existing store is left alone.
        scenes_csv: optional table ``glacier,date,sensor``; scenes not in it get sensor ``unknown``.
        record: Zenodo record id, recorded in the provenance and the dataset version.
        dataset_version: version string of the store (default ``zenodo-<record>``).
        workers: reader threads (default: 1 on machines with 2 or fewer cores, else 4).
        progress: show a tqdm progress bar.

    Raises:
        DatasetNotFoundError: ``release_dir`` does not exist.
        ConversionError: no valid patch file was found (the message shows what was found).
    """
    t0 = time.perf_counter()
    root = Path(release_dir)
    store_path = Path(store_path)
    all_files, tifs, ignored = _list_release(root)
    scenes = read_scenes_table(scenes_csv) if scenes_csv is not None else {}
    fingerprint = _fingerprint(tifs, root, Path(scenes_csv) if scenes_csv else None)
    report_path = store_path.parent / REPORT_NAME

    existing = _existing(store_path)
    if existing is not None and existing.attrs["provenance"].get("source_fingerprint") == fingerprint:
        log.info("%s was converted from these files already; left unchanged.", store_path)
        prev = existing.attrs["provenance"].get("conversion", {})
        return ConversionResult(store_path=store_path, content_hash=existing.content_hash, n_files=len(tifs),
                                n_converted=existing.n_samples,
                                skipped=[SkippedFile(**s) for s in prev.get("skipped", [])], ignored=ignored,
                                unchanged=True, elapsed_s=time.perf_counter() - t0,
                                report_path=report_path if report_path.exists() else None)

    parsed, skipped = _parse_release_names(tifs, root)
    if not parsed:
        raise ConversionError(_no_patch_files_message(root, all_files, tifs, ignored, skipped))
    warnings = _release_warnings(parsed, scenes, scenes_csv=scenes_csv)
    workers = workers if workers is not None else (1 if (os.cpu_count() or 1) <= 2 else 4)

    tmp_final = store_path.with_name(f".{store_path.name}.new-{uuid.uuid4().hex[:8]}")
    store, bad = _build_skipping_bad_files(
        parsed, tmp_final, n_files=len(tifs), progress=progress, workers=workers, scenes=scenes, record=record,
        fingerprint=fingerprint, root=root, dataset_version=dataset_version or f"zenodo-{record}",
        scenes_csv=scenes_csv, skipped=skipped, ignored=ignored)
    skipped.extend(SkippedFile(p.relative_to(root).as_posix(), why) for p, why in bad.items())
    skipped.sort(key=lambda s: s.path)

    unchanged = existing is not None and existing.content_hash == store.content_hash
    if unchanged:
        shutil.rmtree(tmp_final, ignore_errors=True)
        log.info("%s already holds identical content (%s); left unchanged.", store_path, store.content_hash)
    else:
        replace_dir(tmp_final, store_path)
    result = ConversionResult(store_path=store_path, content_hash=store.content_hash, n_files=len(tifs),
                              n_converted=len(parsed) - len(bad), skipped=skipped, ignored=ignored,
                              warnings=warnings, unchanged=unchanged, elapsed_s=time.perf_counter() - t0,
                              report_path=report_path)
    _write_report(report_path, {"release_dir": str(root), "record": record, "converter_version": CONVERTER_VERSION,
                                "source_fingerprint": fingerprint, **result.to_dict()})
    return result


def _list_release(root: Path) -> tuple[list[Path], list[Path], list[str]]:
    """Every visible file under ``root``, the GeoTIFFs among them, and the others (relative paths)."""
    from facies_bench.errors import DatasetNotFoundError

    if not root.is_dir():
        raise DatasetNotFoundError(f"Release folder {str(root)!r} does not exist; download it with `facies-bench data download -o DIR`.")
    all_files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    tifs = [p for p in all_files if p.name.lower().endswith(_TIF_SUFFIXES)]
    tif_set = set(tifs)
    ignored = [p.relative_to(root).as_posix() for p in all_files if p not in tif_set]
    return all_files, tifs, ignored


def _parse_release_names(tifs: list[Path], root: Path) -> tuple[list[tuple[PatchName, Path]], list[SkippedFile]]:
    """The parsed file names in store row order, and the files skipped for their names or as duplicates."""
    skipped: list[SkippedFile] = []
    parsed: list[tuple[PatchName, Path]] = []
    seen: dict[tuple, Path] = {}
    for p in tifs:
        rel = p.relative_to(root).as_posix()
        try:
            name = parse_patch_name(p.name)
        except ConversionError as exc:
            skipped.append(SkippedFile(rel, str(exc)))
            continue
        key = (name.fold, name.glacier, name.date, name.extra, name.label)
        if key in seen:
            skipped.append(SkippedFile(rel, f"duplicate of {seen[key].relative_to(root).as_posix()} (same fold, glacier, date, fields and class)"))
            continue
        seen[key] = p
        parsed.append((name, p))
    parsed.sort(key=lambda t: (t[0].fold, schema.glacier_index(t[0].glacier), t[0].scene_id, t[1].name))
    return parsed, skipped


def _no_patch_files_message(root: Path, all_files: list[Path], tifs: list[Path], ignored: list[str],
                            skipped: list[SkippedFile]) -> str:
    """Why nothing in ``root`` could be converted: what was expected, what was found, the first problem."""
    examples = ", ".join(repr(p.name) for p in (tifs or all_files)[:5]) or "no files at all"
    msg = (f"No convertible patch files in {str(root)!r}: expected 11-band 33x33 GeoTIFFs named {NAME_PATTERN}; "
           f"found {len(tifs)} .tif file(s) and {len(ignored)} other file(s), e.g. {examples}.")
    if skipped:
        msg += f" First problem: {skipped[0].reason}"
    return msg


def _release_warnings(parsed: list[tuple[PatchName, Path]], scenes: dict[tuple[str, str], str], *,
                      scenes_csv: str | os.PathLike | None) -> list[str]:
    """Warnings about a release: glaciers in several folds, scenes missing from the scenes table."""
    warnings = []
    folds_of: dict[str, set[int]] = {}
    for name, _ in parsed:
        folds_of.setdefault(name.glacier, set()).add(name.fold)
    for g, fs in folds_of.items():
        if len(fs) > 1:
            warnings.append(f"glacier {g!r} appears in several folds {sorted(fs)}; the protocol assumes one fold per glacier")
    missing_sensor = sorted({n.scene_id for n, _ in parsed if (n.glacier, n.date) not in scenes})
    if scenes_csv is not None and missing_sensor:
        warnings.append(f"{len(missing_sensor)} scene(s) not in the scenes table get sensor 'unknown': {', '.join(missing_sensor[:10])}")
    return warnings


def _build_skipping_bad_files(parsed: list[tuple[PatchName, Path]], tmp_final: Path, *, n_files: int, progress: bool,
                              **build_args: Any) -> tuple[FaciesStore, dict[Path, str]]:
    """Build the store at ``tmp_final``; files that fail their content checks are left out in a second pass.

    Returns the built store and the bad files with their reasons; on failure ``tmp_final`` is removed.
    """
    from tqdm.auto import tqdm

    bar = tqdm(total=n_files, unit="file", desc="convert", disable=not progress)
    bar.update(n_files - len(parsed))
    bad: dict[Path, str] = {}
    try:
        for attempt in range(2):
            items = [(n, p) for n, p in parsed if p not in bad]
            store, new_bad = _build(items, tmp_final, bar=bar if attempt == 0 else None, **build_args)
            if store is not None:
                return store, bad
            bad.update(new_bad)  # content problems found: rebuild once without those files
        # The second pass only sees files that passed the first, so it cannot find new bad files.
        raise ConversionError(f"Conversion of {str(build_args['root'])!r} did not converge.")  # pragma: no cover
    except BaseException:
        shutil.rmtree(tmp_final, ignore_errors=True)
        raise
    finally:
        bar.close()


def _build(items, tmp_final: Path, *, workers, bar, scenes, record, fingerprint, root, dataset_version,
           scenes_csv, skipped, ignored) -> tuple[FaciesStore | None, dict[Path, str]]:
    """Build the store from ``items``; (None, bad files) if some files fail their content checks."""
    n = len(items)
    provenance = {
        "source": "published release", "record": record, "doi": "10.5281/zenodo.18469893",
        "release_dir": str(root.resolve()), "converter": "facies_bench.data.convert",
        "converter_version": CONVERTER_VERSION, "source_fingerprint": fingerprint,
        "scenes_table": str(scenes_csv) if scenes_csv else None, "name_pattern": NAME_PATTERN,
        "conversion": {"skipped": [asdict(s) for s in skipped], "n_ignored": len(ignored)},
    }
    builder = StoreBuilder(tmp_final, n_samples=n, dataset_name="glacier-facies", dataset_version=dataset_version,
                           is_synthetic=False, provenance=provenance, overwrite=True)
    bad: dict[Path, str] = {}
    xs = np.empty(n)
    ys = np.empty(n)
    scene_crs: dict[str, str] = {}
    block: list[np.ndarray] = []
    written = 0
    try:
        for i, (data, (x, y), crs, problem) in enumerate(_read_all([p for _, p in items], workers)):
            if bar is not None:
                bar.update(1)
            if problem is not None or data is None:
                bad[items[i][1]] = problem or "unreadable GeoTIFF"
                continue
            if bad:
                continue  # a rebuild follows: only keep looking for bad files
            xs[i], ys[i] = x, y
            scene_crs.setdefault(items[i][0].scene_id, crs)
            block.append(data)
            if len(block) == _BLOCK:
                builder.write_patches(written, np.stack(block))
                written += len(block)
                block = []
        if bad:
            builder.abort()
            return None, bad
        if block:
            builder.write_patches(written, np.stack(block))
        names = [nm for nm, _ in items]
        scene_ids = list(dict.fromkeys(nm.scene_id for nm in names))
        # The release has no scene rasters: scenes are declared by id only.
        for scene_id in scene_ids:
            builder.declare_scene(scene_id)
        builder.update_provenance(scene_crs=scene_crs)
        builder.set_samples({
            "sample_id": np.arange(n), "fold": [nm.fold for nm in names], "glacier": [nm.glacier for nm in names],
            "region": [schema.glacier_region(nm.glacier) for nm in names],
            "sensor": [scenes.get((nm.glacier, nm.date), schema.UNKNOWN_SENSOR) for nm in names],
            "scene": [nm.scene_id for nm in names], "date": [nm.date for nm in names],
            "row": np.full(n, -1), "col": np.full(n, -1), "x": xs, "y": ys,
        })
        builder.set_labels(np.array([nm.label for nm in names], np.int8))
        return builder.finish(), bad
    except BaseException:
        builder.abort()
        raise

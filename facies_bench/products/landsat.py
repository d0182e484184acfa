"""Landsat 5 / 7 / 8 / 9 Collection 2 Level-1 scenes: per-band GeoTIFFs and an MTL file.

The MTL metadata comes as text (``*_MTL.txt``: ``GROUP = ...`` / ``KEY = VALUE`` / ``END_GROUP``)
or as JSON (``*_MTL.json``: the same groups as nested objects under ``LANDSAT_METADATA_FILE``);
both parse into the same nested dict.  Keys read:

* ``PRODUCT_CONTENTS``: ``LANDSAT_PRODUCT_ID``, ``FILE_NAME_BAND_n``;
* ``IMAGE_ATTRIBUTES``: ``SPACECRAFT_ID`` (``LANDSAT_8``...), ``DATE_ACQUIRED``,
  ``SCENE_CENTER_TIME``, ``SUN_AZIMUTH``, ``SUN_ELEVATION``;
* ``LEVEL1_RADIOMETRIC_RESCALING``: ``REFLECTANCE_MULT_BAND_n``, ``REFLECTANCE_ADD_BAND_n``.

Band numbers of blue..swir2 come from ``schema.SENSORS`` (TM / ETM+: 1 2 3 4 5 7; OLI: 2 3 4 5 6 7).
TOA reflectance: ``(REFLECTANCE_MULT * DN + REFLECTANCE_ADD) / sin(SUN_ELEVATION)`` (the USGS
Landsat 8-9 / Collection 2 Level-1 data format control book's sun-angle correction).  DN 0 is
fill: it stays NaN, so the Landsat 7 SLC-off gaps stay gaps.  The 30 m bands are resampled
bilinearly to the 10 m grid with the same origin (see :mod:`facies_bench.products.product`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.errors import RasterError, UnknownNameError
from facies_bench.products.product import (
    BandSource,
    Product,
    check_sun,
    grid_at_resolution,
    open_band,
    require_bands,
    sensor_band_ids,
)

log = logging.getLogger(__name__)

ROOT_GROUP = "LANDSAT_METADATA_FILE"
_LINE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*$")


def parse_mtl_text(text: str, *, path: str = "MTL") -> dict[str, Any]:
    """Parse an MTL text file into nested dicts (values are strings, quotes removed).

    Raises:
        RasterError: unbalanced ``GROUP`` / ``END_GROUP`` or a line that is not ``KEY = VALUE``.
    """
    root: dict[str, Any] = {}
    stack = [root]
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.strip() == "END":
            continue
        m = _LINE.match(line)
        if not m:
            raise RasterError(f"MTL file {path!r} line {n} is not 'KEY = VALUE': {line.strip()[:60]!r}.")
        key, value = m.group(1), m.group(2).strip().strip('"')
        if key == "GROUP":
            child: dict[str, Any] = {}
            stack[-1][value] = child
            stack.append(child)
        elif key == "END_GROUP":
            if len(stack) == 1:
                raise RasterError(f"MTL file {path!r} line {n}: END_GROUP = {value} without a matching GROUP.")
            stack.pop()
        else:
            stack[-1][key] = value
    if len(stack) != 1:
        raise RasterError(f"MTL file {path!r} ends inside a GROUP (missing END_GROUP).")
    return root


def read_mtl(path: str | os.PathLike) -> dict[str, Any]:
    """The ``LANDSAT_METADATA_FILE`` group of an MTL file (``.txt`` or ``.json``).

    Raises:
        RasterError: the file is missing, unreadable, or lacks the root group.
    """
    path = Path(path)
    if not path.is_file():
        raise RasterError(f"Landsat metadata file {str(path)!r} does not exist.")
    text = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
        except ValueError as exc:
            raise RasterError(f"Landsat metadata file {str(path)!r} is not valid JSON: {exc}.") from exc
    else:
        payload = parse_mtl_text(text, path=str(path))
    meta = payload.get(ROOT_GROUP) if isinstance(payload, dict) else None
    if not isinstance(meta, dict):
        raise RasterError(f"Landsat metadata file {str(path)!r} has no {ROOT_GROUP} group; is it a Collection 2 MTL file?")
    return meta


def find_mtl(folder: str | os.PathLike) -> Path | None:
    """The MTL file of a scene folder: ``*_MTL.json`` preferred, else ``*_MTL.txt``; None if neither."""
    folder = Path(folder)
    for pattern in ("*_MTL.json", "*MTL.json", "*_MTL.txt", "*MTL.txt"):
        hits = sorted(folder.glob(pattern))
        if hits:
            return hits[0]
    return None


def is_landsat_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding a Landsat MTL file."""
    return Path(path).is_dir() and find_mtl(path) is not None


def _get(meta: dict[str, Any], group: str, key: str) -> Any:
    value = (meta.get(group) or {}).get(key)
    return None if value in (None, "") else value


def _num(meta: dict[str, Any], group: str, key: str, *, path: Path) -> float | None:
    value = _get(meta, group, key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RasterError(f"{str(path)!r}: {group}/{key} = {value!r} is not a number.") from None


def sensor_from_spacecraft(spacecraft: str, *, path: str) -> str:
    """``'LANDSAT_8'`` -> ``'Landsat 8'`` (a ``schema.SENSOR_NAMES`` entry)."""
    m = re.search(r"(\d+)", str(spacecraft))
    name = f"Landsat {m.group(1)}" if m else str(spacecraft)
    try:
        return schema.SENSOR_NAMES[schema.sensor_index(name)]
    except UnknownNameError:
        valid = ", ".join(n for n in schema.SENSOR_NAMES if n.startswith("Landsat"))
        raise UnknownNameError(f"{path!r}: SPACECRAFT_ID {spacecraft!r} is not a supported Landsat ({valid}).") from None


def acquisition_time(date: str | None, time: str | None, *, path: str) -> dt.datetime:
    """UTC datetime from ``DATE_ACQUIRED`` and ``SCENE_CENTER_TIME`` (``10:15:12.1234560Z``)."""
    if not date:
        raise RasterError(f"{path!r} has no IMAGE_ATTRIBUTES/DATE_ACQUIRED; the acquisition date is needed.")
    try:
        day = dt.date.fromisoformat(str(date)[:10])
    except ValueError:
        raise RasterError(f"{path!r}: DATE_ACQUIRED {date!r} is not an ISO date.") from None
    hms = (0, 0, 0)
    if time:
        m = re.match(r"(\d{1,2}):(\d{2}):(\d{2})", str(time))
        if m:
            hms = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return dt.datetime(day.year, day.month, day.day, *hms, tzinfo=dt.UTC)


def read_landsat_scene(path: str | os.PathLike, *, mtl: str | os.PathLike | None = None) -> Product:
    """Read a Landsat Collection 2 Level-1 scene folder.

    Args:
        path: the folder with the band GeoTIFFs and the MTL file (or the MTL file itself).
        mtl: the MTL file to use (default: found in the folder, JSON preferred).

    Returns:
        A :class:`~facies_bench.products.product.Product` on the 10 m grid of the 30 m bands.

    Raises:
        RasterError: no or invalid MTL, a missing band or rescaling factor, missing sun angles.
    """
    path = Path(path)
    folder = path.parent if path.is_file() else path
    mtl_path = Path(mtl) if mtl is not None else (path if path.is_file() else find_mtl(folder))
    if mtl_path is None:
        raise RasterError(f"Landsat scene folder {str(folder)!r} has no *_MTL.json or *_MTL.txt metadata file.")
    meta = read_mtl(mtl_path)
    where = str(mtl_path)
    sensor = sensor_from_spacecraft(_get(meta, "IMAGE_ATTRIBUTES", "SPACECRAFT_ID") or "", path=where)
    az, el = check_sun(_num(meta, "IMAGE_ATTRIBUTES", "SUN_AZIMUTH", path=mtl_path),
                       _num(meta, "IMAGE_ATTRIBUTES", "SUN_ELEVATION", path=mtl_path),
                       where=f"Landsat metadata file {where!r} (IMAGE_ATTRIBUTES/SUN_AZIMUTH, SUN_ELEVATION)")
    found: dict[str, BandSource] = {}
    problems: list[str] = []
    band_ids = sensor_band_ids(sensor)
    for name, band in zip(schema.OPTICAL_FEATURES, band_ids, strict=True):
        n = int(band.lstrip("Bb"))
        file_name = _get(meta, "PRODUCT_CONTENTS", f"FILE_NAME_BAND_{n}")
        gain = _num(meta, "LEVEL1_RADIOMETRIC_RESCALING", f"REFLECTANCE_MULT_BAND_{n}", path=mtl_path)
        offset = _num(meta, "LEVEL1_RADIOMETRIC_RESCALING", f"REFLECTANCE_ADD_BAND_{n}", path=mtl_path)
        if gain is None or offset is None:
            problems.append(f"REFLECTANCE_MULT/ADD_BAND_{n}")
            continue
        if file_name is None or not (folder / file_name).is_file():
            continue
        found[name] = BandSource(name=name, href=str(folder / file_name), band_id=f"B{n}", gain=gain, offset=offset)
    if problems:
        msg = (f"Landsat metadata file {where!r} lacks {', '.join(problems)} in LEVEL1_RADIOMETRIC_RESCALING; "
               "a Collection 2 Level-1 MTL has them for every reflective band.")
        raise RasterError(msg)
    bands = require_bands(found, where=f"Landsat scene {str(folder)!r}",
                          looked_for=[f"{b}: PRODUCT_CONTENTS/FILE_NAME_BAND_{b.lstrip('B')}" for b in band_ids])
    with open_band(bands[0].href, what=f"Landsat scene {str(folder)!r}") as src:
        if src.crs is None:
            raise RasterError(f"Landsat band file {bands[0].href!r} has no CRS; Collection 2 GeoTIFFs are georeferenced.")
        grid = grid_at_resolution(src.transform, src.width, src.height, src.crs)
    product_id = _get(meta, "PRODUCT_CONTENTS", "LANDSAT_PRODUCT_ID") or folder.name
    acquired = acquisition_time(_get(meta, "IMAGE_ATTRIBUTES", "DATE_ACQUIRED"),
                                _get(meta, "IMAGE_ATTRIBUTES", "SCENE_CENTER_TIME"), path=where)
    return Product(product_id=str(product_id), sensor=sensor, acquired=acquired, grid=grid, sun_azimuth=az,
                   sun_elevation=el, bands=bands, sun_correction=True, source=str(folder),
                   metadata={"mtl": str(mtl_path), "collection": str(_get(meta, "PRODUCT_CONTENTS", "COLLECTION_NUMBER") or "")})

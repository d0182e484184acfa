"""Glacier outlines from RGI 7.0 / RGI 6.0 / GLIMS files, chosen by id, by name or by the scene.

Files are read through ``pyogrio`` (shapefile, GeoPackage, GeoJSON, any OGR vector format), as
:mod:`facies_bench.mapping.io` does.  Attribute fields, first present wins:

* id: ``rgi_id`` (RGI 7.0), ``RGIId`` (RGI 6.0), ``glac_id`` / ``GLIMS_ID`` (GLIMS), ``id``;
* name: ``glac_name`` (RGI 7.0, GLIMS), ``Name`` (RGI 6.0), ``name``.

Outlines in a CRS other than the scene's are reprojected (``rasterio.warp.transform_geom``),
never refused.  With no selection, every outline whose bounding box intersects the scene is
taken (read with a bounding-box filter, so a whole RGI region file is cheap).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio.warp
from rasterio.crs import CRS

from facies_bench.errors import RasterError, UnknownNameError

log = logging.getLogger(__name__)

ID_FIELDS = ("rgi_id", "RGIId", "glac_id", "GLIMS_ID", "glims_id", "id", "ID")
NAME_FIELDS = ("glac_name", "Name", "name", "GLAC_NAME", "NAME")


@dataclass(frozen=True)
class GlacierOutline:
    """One glacier: its id, name and polygon (GeoJSON mapping) in the CRS it was requested in."""

    glacier_id: str
    name: str
    geometry: dict[str, Any]

    @property
    def label(self) -> str:
        """``name (id)`` or the id alone."""
        return f"{self.name} ({self.glacier_id})" if self.name else self.glacier_id

    @property
    def slug(self) -> str:
        """File-name-safe id (outputs are named by it)."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.glacier_id).strip("_") or "glacier"


def _norm(text: str) -> str:
    return "".join(ch for ch in str(text).lower() if ch.isalnum())


def _field(names: Sequence[str], candidates: Sequence[str]) -> str | None:
    for c in candidates:
        if c in names:
            return c
    return None


def _read(path: Path, *, bbox: tuple[float, float, float, float] | None = None) -> tuple[dict, np.ndarray, list, list]:
    from pyogrio.errors import DataLayerError, DataSourceError
    from pyogrio.raw import read

    try:
        meta, _, geometry, fields = read(str(path), read_geometry=True, bbox=bbox)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise RasterError(f"Outline file {str(path)!r} cannot be read as a vector file: {str(exc).splitlines()[0]}".rstrip(".") + ".") from exc
    return meta, geometry, list(meta.get("fields", [])), fields


def file_crs(path: str | os.PathLike) -> CRS:
    """The CRS of an outline file (GeoJSON without one is EPSG:4326)."""
    from pyogrio import read_info

    path = Path(path)
    if not path.exists():
        raise RasterError(f"Outline file {str(path)!r} does not exist.")
    try:
        info = read_info(str(path))
    except Exception as exc:  # pyogrio's DataSourceError and friends
        raise RasterError(f"Outline file {str(path)!r} cannot be read as a vector file: {str(exc).splitlines()[0]}.") from exc
    if not info.get("crs"):
        if path.suffix.lower() in (".geojson", ".json"):
            return CRS.from_epsg(4326)
        msg = (f"Outline file {str(path)!r} has no coordinate reference system (a shapefile needs its .prj beside it); "
               "without one the outlines cannot be placed on the scene.")
        raise RasterError(msg)
    return CRS.from_user_input(info["crs"])


def read_glacier_outlines(path: str | os.PathLike, *, crs: CRS | None = None,
                          bounds: tuple[float, float, float, float] | None = None) -> list[GlacierOutline]:
    """Every glacier polygon of a file, reprojected to ``crs``.

    Args:
        path: RGI / GLIMS file (shapefile, GeoPackage, GeoJSON...).
        crs: target CRS (default: the file's).
        bounds: only outlines whose bounding box intersects these bounds (in ``crs``).

    Raises:
        RasterError: the file is missing, unreadable, has no CRS or no polygon.
    """
    import shapely

    path = Path(path)
    src_crs = file_crs(path)
    crs = crs or src_crs
    bbox = bounds
    if bounds is not None and crs != src_crs:
        left, bottom, right, top = rasterio.warp.transform_bounds(crs, src_crs, *bounds, densify_pts=21)
        bbox = (left, bottom, right, top)
    meta, geometry, names, fields = _read(path, bbox=bbox)
    id_field, name_field = _field(names, ID_FIELDS), _field(names, NAME_FIELDS)
    ids = fields[names.index(id_field)] if id_field else None
    glacier_names = fields[names.index(name_field)] if name_field else None
    out = []
    for i, wkb in enumerate(geometry):
        if wkb is None:
            continue
        geom = shapely.from_wkb(wkb)
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            continue
        mapping = shapely.geometry.mapping(geom)
        if crs != src_crs:
            mapping = rasterio.warp.transform_geom(src_crs, crs, mapping)
        gid = str(ids[i]) if ids is not None and ids[i] not in (None, "") else f"{path.stem}-{i}"
        name = "" if glacier_names is None or glacier_names[i] is None else str(glacier_names[i]).strip()
        out.append(GlacierOutline(glacier_id=gid, name=name, geometry=dict(mapping)))
    if not out and bounds is None:
        raise RasterError(f"Outline file {str(path)!r} contains no polygon geometries; give glacier outlines as (multi)polygons.")
    if src_crs != crs:
        log.info("Reprojected %d outline(s) of %s from %s to %s", len(out), path, src_crs.to_string(), crs.to_string())
    return out


def select_glaciers(outlines: Sequence[GlacierOutline], selectors: Sequence[str], *, path: str | os.PathLike) -> list[GlacierOutline]:
    """The outlines whose id (exact, any case) or name (ignoring case, spaces, punctuation) is asked for.

    Raises:
        UnknownNameError: a selector matches nothing (the message names the file and close matches).
    """
    chosen: dict[str, GlacierOutline] = {}
    by_id = {o.glacier_id.lower(): o for o in outlines}
    for sel in selectors:
        key = str(sel).strip()
        hits = [by_id[key.lower()]] if key.lower() in by_id else [o for o in outlines if o.name and _norm(o.name) == _norm(key)]
        if not hits:
            import difflib

            labels = [o.glacier_id for o in outlines] + sorted({o.name for o in outlines if o.name})
            close = difflib.get_close_matches(key, labels, n=5, cutoff=0.6)
            hint = f" Close matches: {', '.join(close)}." if close else ""
            msg = (f"No glacier {key!r} in outline file {str(path)!r} ({len(outlines)} outline(s); ids from "
                   f"{', '.join(ID_FIELDS[:4])}, names from {', '.join(NAME_FIELDS[:2])}).{hint}")
            raise UnknownNameError(msg)
        for o in hits:
            chosen.setdefault(o.glacier_id, o)
    return list(chosen.values())


def load_glaciers(path: str | os.PathLike, *, crs: CRS, scene_bounds: tuple[float, float, float, float],
                  selectors: Sequence[str] | None = None) -> list[GlacierOutline]:
    """The glaciers to map: the selected ones, or every one intersecting the scene.

    Args:
        path: outline file.
        crs: the scene CRS (outlines are reprojected to it).
        scene_bounds: the scene's bounds in ``crs``.
        selectors: RGI/GLIMS ids or glacier names; None or empty = all intersecting the scene.

    Raises:
        UnknownNameError: a selector matches nothing.
        RasterError: a selected glacier lies outside the scene, or no glacier intersects it.
    """
    import shapely

    scene_box = shapely.box(*scene_bounds)
    if selectors:
        glaciers = select_glaciers(read_glacier_outlines(path, crs=crs), selectors, path=path)
        outside = [g.label for g in glaciers if not shapely.geometry.shape(g.geometry).intersects(scene_box)]
        if outside:
            msg = (f"Glacier(s) {', '.join(outside)} of outline file {str(path)!r} lie outside the product "
                   f"(bounds {tuple(round(v) for v in scene_bounds)} in {crs.to_string()}).")
            raise RasterError(msg)
        return glaciers
    glaciers = [g for g in read_glacier_outlines(path, crs=crs, bounds=scene_bounds)
                if shapely.geometry.shape(g.geometry).intersects(scene_box)]
    if not glaciers:
        msg = (f"No outline of {str(path)!r} intersects the product (bounds {tuple(round(v) for v in scene_bounds)} in "
               f"{crs.to_string()}); check the outline file covers this scene.")
        raise RasterError(msg)
    return glaciers

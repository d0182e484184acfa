"""STAC items of Sentinel-2 L1C and Landsat Collection 2 Level-1 scenes (read with pystac).

The item is a local JSON file or a URL; its band assets are read where they are (local paths or
``http(s)://`` COGs through GDAL's ``/vsicurl/``, only the windows the mapper needs).

Asset keys, as the public catalogues name them (first match wins):

* common names (Earth Search ``sentinel-2-l1c`` / ``sentinel-2-l2a``, Planetary Computer and USGS
  ``landsat-c2-l1``): ``blue``, ``green``, ``red``, ``nir`` / ``nir08``, ``swir16``, ``swir22``;
* band names (Planetary Computer Sentinel-2, older Earth Search): ``B02`` ``B03`` ``B04`` ``B08``
  ``B11`` ``B12``; Landsat ``B2`` ... (``schema.SENSORS`` band numbers of the item's platform);
* otherwise an asset whose ``eo:bands`` entry has that ``common_name`` or ``name``.

Sensor: ``properties.platform`` (``sentinel-2a``, ``landsat-8``, ``LANDSAT_9``...).
Sun: ``view:sun_azimuth`` / ``view:sun_elevation`` (view extension), else Sentinel-2's
``s2:mean_solar_azimuth`` / ``s2:mean_solar_zenith``.

Radiometry, per asset: ``raster:bands[0].scale`` / ``offset`` (raster extension) when present
(DN * scale + offset); otherwise, for Sentinel-2, quantification 10,000 and the offset of
``s2:processing_baseline`` >= 04.00 (-1000), and for Landsat the item's MTL asset
(``mtl.json`` / ``MTL.json`` / ``mtl.txt``) read like a scene folder's.  Landsat values are then
divided by ``sin(sun elevation)`` (Collection 2 reflectance rescaling is not sun-corrected).
Nodata: ``raster:bands[0].nodata``, default 0.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.errors import RasterError, UnknownNameError
from facies_bench.products.product import (
    TARGET_RESOLUTION,
    BandSource,
    Product,
    check_sun,
    grid_at_resolution,
    open_band,
    require_bands,
    sensor_band_ids,
)

log = logging.getLogger(__name__)

#: Common-name asset keys of each band role (Earth Search / Planetary Computer / USGS).
COMMON_KEYS: dict[str, tuple[str, ...]] = {
    "blue": ("blue",), "green": ("green",), "red": ("red",), "nir": ("nir", "nir08"),
    "swir1": ("swir16", "swir1"), "swir2": ("swir22", "swir2"),
}
#: Asset keys of a Landsat MTL file.
MTL_KEYS = ("mtl.json", "MTL.json", "mtl_json", "mtl.txt", "MTL.txt", "mtl")
#: Sentinel-2 quantification value and the offset of processing baseline >= 04.00 (DN units).
S2_QUANTIFICATION = 10000.0
S2_BASELINE4_OFFSET = -1000.0


def is_stac_source(source: str | os.PathLike) -> bool:
    """Whether ``source`` is a URL or a ``.json`` file (a STAC item)."""
    text = str(source)
    return "://" in text or (Path(text).suffix.lower() == ".json" and Path(text).is_file())


def _load_item(source: str) -> Any:
    import pystac

    try:
        return pystac.Item.from_file(source)
    except FileNotFoundError:
        raise RasterError(f"STAC item {source!r} does not exist.") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RasterError(f"STAC item {source!r} cannot be read as a STAC Item: {first}.") from exc
    except Exception as exc:  # pystac raises its own errors (STACTypeError, urllib HTTPError...)
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RasterError(f"STAC item {source!r} cannot be read as a STAC Item: {first}.") from exc


def _sensor(item: Any, *, source: str) -> str:
    props = item.properties
    platform = str(props.get("platform") or props.get("constellation") or "")
    low = platform.lower().replace("_", "-")
    if low.startswith("sentinel-2"):
        return "Sentinel-2"
    m = re.match(r"landsat-?(\d+)", low)
    if m:
        name = f"Landsat {m.group(1)}"
        if name in schema.SENSOR_NAMES:
            return name
    valid = ", ".join(schema.SENSOR_NAMES)
    raise UnknownNameError(f"STAC item {source!r}: platform {platform!r} is not a supported sensor ({valid}).")


def _asset_for(item: Any, role: str, sensor: str) -> tuple[str, Any] | None:
    assets = item.assets
    idx = schema.OPTICAL_FEATURES.index(role)
    band_id = sensor_band_ids(sensor)[idx]
    names = [*COMMON_KEYS[role]]
    if sensor == "Sentinel-2":
        names += [f"B{int(band_id[1:]):02d}", band_id] if band_id[1:].isdigit() else [band_id]
    else:
        names += [band_id, band_id.lower()]
    lower = {k.lower(): k for k in assets}
    for key in names:
        if key in assets:
            return key, assets[key]
        if key.lower() in lower:
            return lower[key.lower()], assets[lower[key.lower()]]
    for key, asset in assets.items():
        for band in asset.extra_fields.get("eo:bands", []) or []:
            if band.get("common_name") in COMMON_KEYS[role] or band.get("name") in names:
                return key, asset
    return None


def _raster_band(asset: Any) -> dict[str, Any]:
    bands = asset.extra_fields.get("raster:bands") or []
    return bands[0] if bands and isinstance(bands[0], dict) else {}


def _s2_offset(props: dict[str, Any]) -> float:
    baseline = str(props.get("s2:processing_baseline") or "")
    try:
        major = int(baseline.split(".")[0])
    except ValueError:
        return 0.0
    return S2_BASELINE4_OFFSET if major >= 4 else 0.0


def _landsat_mtl(item: Any, *, source: str) -> dict[str, Any] | None:
    from facies_bench.products.landsat import read_mtl

    for key in MTL_KEYS:
        if key in item.assets:
            href = item.assets[key].get_absolute_href() or item.assets[key].href
            suffix = ".json" if "json" in key.lower() or href.lower().endswith(".json") else ".txt"
            if "://" in href:
                with tempfile.TemporaryDirectory(prefix="facies-bench-mtl-") as tmp:
                    local = Path(tmp) / f"item_MTL{suffix}"
                    try:
                        with urllib.request.urlopen(href, timeout=60) as resp:  # noqa: S310 (user-given product)
                            local.write_bytes(resp.read())
                    except OSError as exc:
                        raise RasterError(f"STAC item {source!r}: MTL asset {href!r} cannot be downloaded ({exc}).") from exc
                    return read_mtl(local)
            return read_mtl(href)
    return None


def read_stac_item(source: str | os.PathLike) -> Product:
    """Read a STAC item (path or URL) of a Sentinel-2 L1C or Landsat C2 L1 scene.

    Raises:
        RasterError: the item is unreadable, lacks a band asset, radiometric scaling or sun angles.
        UnknownNameError: the platform is not a supported sensor.
    """
    source = str(source)
    item = _load_item(source)
    sensor = _sensor(item, source=source)
    props = item.properties
    mtl = None if sensor == "Sentinel-2" else _landsat_mtl(item, source=source)
    image = (mtl or {}).get("IMAGE_ATTRIBUTES", {})
    azimuth = props.get("view:sun_azimuth", props.get("s2:mean_solar_azimuth", image.get("SUN_AZIMUTH")))
    elevation = props.get("view:sun_elevation", image.get("SUN_ELEVATION"))
    if elevation is None and props.get("s2:mean_solar_zenith") is not None:
        elevation = 90.0 - float(props["s2:mean_solar_zenith"])
    az, el = check_sun(None if azimuth is None else float(azimuth), None if elevation is None else float(elevation),
                       where=f"STAC item {source!r} (properties view:sun_azimuth / view:sun_elevation)")
    found: dict[str, BandSource] = {}
    for role in schema.OPTICAL_FEATURES:
        hit = _asset_for(item, role, sensor)
        if hit is None:
            continue
        key, asset = hit
        href = asset.get_absolute_href() or asset.href
        rb = _raster_band(asset)
        nodata = rb.get("nodata", 0)
        band_id = sensor_band_ids(sensor)[schema.OPTICAL_FEATURES.index(role)]
        if "scale" in rb or "offset" in rb:
            gain, offset = float(rb.get("scale", 1.0)), float(rb.get("offset", 0.0))
        elif sensor == "Sentinel-2":
            gain, offset = 1.0 / S2_QUANTIFICATION, _s2_offset(props) / S2_QUANTIFICATION
        else:
            n = int(band_id.lstrip("B"))
            resc = (mtl or {}).get("LEVEL1_RADIOMETRIC_RESCALING", {})
            if f"REFLECTANCE_MULT_BAND_{n}" not in resc:
                msg = (f"STAC item {source!r}: asset {key!r} has no raster:bands scale/offset and the item has no MTL "
                       f"asset with REFLECTANCE_MULT_BAND_{n}; the DNs cannot be turned into reflectance.")
                raise RasterError(msg)
            gain, offset = float(resc[f"REFLECTANCE_MULT_BAND_{n}"]), float(resc[f"REFLECTANCE_ADD_BAND_{n}"])
        found[role] = BandSource(name=role, href=href, band_id=key, gain=gain, offset=offset,
                                 nodata=() if nodata is None else (float(nodata),))
    looked = [f"asset {'/'.join(COMMON_KEYS[r])} or {b}" for r, b in zip(schema.OPTICAL_FEATURES, sensor_band_ids(sensor), strict=True)]
    bands = require_bands(found, where=f"STAC item {source!r}", looked_for=looked)
    finest = None
    for band in bands:
        with open_band(band.href, what=f"STAC item {source!r}") as src:
            if src.crs is None:
                raise RasterError(f"STAC item {source!r}: asset {band.href!r} has no CRS.")
            if finest is None or abs(src.transform.a) < abs(finest[0].a):
                finest = (src.transform, src.width, src.height, src.crs)
    if finest is None:  # require_bands returned at least one band
        raise RasterError(f"STAC item {source!r} has no optical bands.")
    grid = grid_at_resolution(*finest[:3], finest[3], resolution=min(TARGET_RESOLUTION, abs(finest[0].a)))
    acquired = item.datetime or dt.datetime.fromisoformat(str(props.get("start_datetime")).replace("Z", "+00:00"))
    acquired = acquired if acquired.tzinfo else acquired.replace(tzinfo=dt.UTC)
    meta = {"stac_item": source, "processing_baseline": str(props.get("s2:processing_baseline") or "")}
    return Product(product_id=item.id, sensor=sensor, acquired=acquired.astimezone(dt.UTC), grid=grid,
                   sun_azimuth=az, sun_elevation=el, bands=bands, sun_correction=sensor != "Sentinel-2",
                   source=source, metadata=meta)

"""Sentinel-2 Level-1C products in the SAFE layout.

A SAFE folder holds the product metadata ``MTD_MSIL1C.xml`` and one granule
``GRANULE/<granule>/`` with its metadata ``MTD_TL.xml`` and the band files
``IMG_DATA/<tile>_<datetime>_Bxx.jp2``.  What is read, by element name (namespaces ignored):

* ``MTD_MSIL1C.xml``: ``General_Info/Product_Info/PRODUCT_START_TIME``, ``PRODUCT_URI``,
  ``PROCESSING_BASELINE``, ``Datatake/SPACECRAFT_NAME``, ``Granule/IMAGE_FILE`` (band file paths
  without extension), ``Product_Image_Characteristics/QUANTIFICATION_VALUE``,
  ``Radiometric_Offset_List/RADIO_ADD_OFFSET[@band_id]`` and ``Special_Values``
  (``SPECIAL_VALUE_TEXT`` ``NODATA`` -> ``SPECIAL_VALUE_INDEX``).
* ``MTD_TL.xml``: ``Tile_Geocoding/HORIZONTAL_CS_CODE`` (EPSG), ``Size[@resolution=10]``
  (``NROWS``, ``NCOLS``), ``Geoposition[@resolution=10]`` (``ULX``, ``ULY``, ``XDIM``, ``YDIM``),
  ``Tile_Angles/Mean_Sun_Angle`` (``ZENITH_ANGLE``, ``AZIMUTH_ANGLE``; elevation = 90 - zenith),
  ``SENSING_TIME``.

TOA reflectance: ``(DN + RADIO_ADD_OFFSET) / QUANTIFICATION_VALUE``.  Processing baseline 04.00
(products since 25 January 2022) introduced ``RADIO_ADD_OFFSET = -1000``; earlier baselines have
no offset list and no offset.  A baseline >= 04.00 product without the list is refused rather
than read 0.1 too bright.  ``band_id`` counts the 13 bands in the order B01, B02, ..., B08, B8A,
B09, B10, B11, B12.  The grid is the 10 m one of ``MTD_TL.xml``; B11 and B12 (20 m) are resampled
to it (see :mod:`facies_bench.products.product`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from rasterio.crs import CRS
from rasterio.transform import Affine

from facies_bench.errors import RasterError
from facies_bench.products.product import BandSource, Product, check_sun, require_bands, sensor_band_ids
from facies_bench.raster import RasterGrid

log = logging.getLogger(__name__)

PRODUCT_METADATA = "MTD_MSIL1C.xml"
GRANULE_METADATA = "MTD_TL.xml"
#: The 13 MSI bands in ``band_id`` order (0..12) of the metadata.
MSI_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _iter(root: ET.Element, name: str) -> Iterator[ET.Element]:
    return (el for el in root.iter() if _local(el.tag) == name)


def _first(root: ET.Element, name: str) -> ET.Element | None:
    return next(_iter(root, name), None)


def _text(root: ET.Element, name: str) -> str | None:
    el = _first(root, name)
    return None if el is None or el.text is None else el.text.strip()


def _parse(path: Path) -> ET.Element:
    if not path.is_file():
        raise RasterError(f"Sentinel-2 metadata file {str(path)!r} does not exist; a SAFE folder needs it.")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise RasterError(f"Sentinel-2 metadata file {str(path)!r} is not valid XML: {exc}.") from exc


def _float(root: ET.Element, name: str, *, path: Path) -> float | None:
    value = _text(root, name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise RasterError(f"{str(path)!r}: element {name} holds {value!r}, not a number.") from None


def _baseline(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        major, minor = value.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return None


def is_safe(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Sentinel-2 L1C SAFE folder (has ``MTD_MSIL1C.xml``)."""
    return (Path(path) / PRODUCT_METADATA).is_file()


def _granule_dir(safe: Path) -> Path:
    granules = sorted(p for p in (safe / "GRANULE").glob("*") if (p / GRANULE_METADATA).is_file())
    if not granules:
        raise RasterError(f"Sentinel-2 product {str(safe)!r} has no GRANULE/*/{GRANULE_METADATA}; the SAFE folder is incomplete.")
    if len(granules) > 1:
        msg = (f"Sentinel-2 product {str(safe)!r} holds {len(granules)} granules; only single-tile products "
               "(the layout since December 2016) are supported.")
        raise RasterError(msg)
    return granules[0]


def _band_files(product_root: ET.Element, safe: Path, granule: Path) -> dict[str, Path]:
    """MSI band name -> JP2 file, from ``IMAGE_FILE`` entries, else the IMG_DATA folder."""
    files: dict[str, Path] = {}
    for el in _iter(product_root, "IMAGE_FILE"):
        rel = (el.text or "").strip()
        if rel:
            band = rel.rsplit("_", 1)[-1]
            files[band] = safe / f"{rel}.jp2"
    for jp2 in sorted((granule / "IMG_DATA").glob("*.jp2")):
        files.setdefault(jp2.stem.rsplit("_", 1)[-1], jp2)
    return files


def _offsets(root: ET.Element, *, path: Path, baseline: tuple[int, int] | None) -> dict[str, float]:
    offsets = {}
    for el in _iter(root, "RADIO_ADD_OFFSET"):
        try:
            offsets[MSI_BANDS[int(el.get("band_id", ""))]] = float((el.text or "").strip())
        except (ValueError, IndexError):
            raise RasterError(f"{str(path)!r}: RADIO_ADD_OFFSET band_id={el.get('band_id')!r} value {el.text!r} is not valid.") from None
    if not offsets and baseline is not None and baseline >= (4, 0):
        msg = (f"{str(path)!r} declares processing baseline {baseline[0]:02d}.{baseline[1]:02d} but has no "
               "Radiometric_Offset_List/RADIO_ADD_OFFSET; baselines from 04.00 on shift the DNs by an offset, "
               "so the file is incomplete.")
        raise RasterError(msg)
    return offsets


def _nodata(root: ET.Element) -> float:
    for el in _iter(root, "Special_Values"):
        if (_text(el, "SPECIAL_VALUE_TEXT") or "").upper() == "NODATA":
            try:
                return float(_text(el, "SPECIAL_VALUE_INDEX") or 0)
            except ValueError:
                return 0.0
    return 0.0


def _grid(tile_root: ET.Element, *, path: Path) -> RasterGrid:
    code = _text(tile_root, "HORIZONTAL_CS_CODE")
    size = next((el for el in _iter(tile_root, "Size") if el.get("resolution") == "10"), None)
    pos = next((el for el in _iter(tile_root, "Geoposition") if el.get("resolution") == "10"), None)
    if code is None or size is None or pos is None:
        raise RasterError(f"{str(path)!r} lacks Tile_Geocoding (HORIZONTAL_CS_CODE, Size and Geoposition at resolution 10).")
    try:
        # a missing element reads as "", which int() and float() reject like any non-number
        nrows, ncols = int(_text(size, "NROWS") or ""), int(_text(size, "NCOLS") or "")
        ulx, uly = float(_text(pos, "ULX") or ""), float(_text(pos, "ULY") or "")
        xdim, ydim = float(_text(pos, "XDIM") or ""), float(_text(pos, "YDIM") or "")
    except ValueError:
        raise RasterError(f"{str(path)!r}: the 10 m Size/Geoposition elements are incomplete or not numbers.") from None
    return RasterGrid(crs=CRS.from_user_input(code), transform=Affine(xdim, 0.0, ulx, 0.0, ydim, uly), width=ncols, height=nrows)


def _time(value: str | None, *, path: Path) -> dt.datetime:
    if not value:
        raise RasterError(f"{str(path)!r} has no PRODUCT_START_TIME / SENSING_TIME; the acquisition date is needed.")
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RasterError(f"{str(path)!r}: acquisition time {value!r} is not an ISO date-time.") from None
    return t.astimezone(dt.UTC) if t.tzinfo else t.replace(tzinfo=dt.UTC)


def read_sentinel2_safe(path: str | os.PathLike) -> Product:
    """Read a Sentinel-2 L1C SAFE folder.

    Args:
        path: the ``*.SAFE`` folder.

    Returns:
        A :class:`~facies_bench.products.product.Product` on the tile's 10 m grid.

    Raises:
        RasterError: missing or invalid metadata, a missing band file, missing sun angles.
    """
    safe = Path(path)
    product_xml = safe / PRODUCT_METADATA
    root = _parse(product_xml)
    granule = _granule_dir(safe)
    tile_xml = granule / GRANULE_METADATA
    tile = _parse(tile_xml)
    baseline_text = _text(root, "PROCESSING_BASELINE")
    baseline = _baseline(baseline_text)
    quant = _float(root, "QUANTIFICATION_VALUE", path=product_xml)
    if not quant:
        raise RasterError(f"{str(product_xml)!r} has no QUANTIFICATION_VALUE; it is needed to turn DNs into reflectance.")
    offsets = _offsets(root, path=product_xml, baseline=baseline)
    nodata = _nodata(root)
    mean_sun = _first(tile, "Mean_Sun_Angle")
    zenith = _float(mean_sun, "ZENITH_ANGLE", path=tile_xml) if mean_sun is not None else None
    azimuth = _float(mean_sun, "AZIMUTH_ANGLE", path=tile_xml) if mean_sun is not None else None
    az, el = check_sun(azimuth, None if zenith is None else 90.0 - zenith,
                       where=f"Sentinel-2 granule metadata {str(tile_xml)!r} (Tile_Angles/Mean_Sun_Angle)")
    grid = _grid(tile, path=tile_xml)
    files = _band_files(root, safe, granule)
    wanted = [b if len(b) == 3 else f"B{int(b[1:]):02d}" for b in sensor_band_ids("Sentinel-2")]
    found = {}
    for name, band in zip(("blue", "green", "red", "nir", "swir1", "swir2"), wanted, strict=True):
        f = files.get(band)
        if f is not None and f.is_file():
            found[name] = BandSource(name=name, href=str(f), band_id=band, gain=1.0 / quant,
                                     offset=offsets.get(band, 0.0) / quant, nodata=(nodata,))
    bands = require_bands(found, where=f"Sentinel-2 product {str(safe)!r}",
                          looked_for=[f"{b}: GRANULE/*/IMG_DATA/*_{b}.jp2" for b in wanted])
    product_id = (_text(root, "PRODUCT_URI") or safe.name).removesuffix(".SAFE")
    acquired = _time(_text(root, "PRODUCT_START_TIME") or _text(tile, "SENSING_TIME"), path=product_xml)
    meta = {"processing_baseline": baseline_text or "", "quantification_value": quant,
            "spacecraft": _text(root, "SPACECRAFT_NAME") or "", "tile_id": granule.name,
            "radio_add_offset": offsets.get("B02", 0.0)}
    log.info("Sentinel-2 %s: baseline %s, offset %s, sun az %.2f el %.2f", product_id, baseline_text,
             offsets.get("B02", 0.0), az, el)
    return Product(product_id=product_id, sensor="Sentinel-2", acquired=acquired, grid=grid, sun_azimuth=az,
                   sun_elevation=el, bands=bands, sun_correction=False, source=str(safe), metadata=meta)

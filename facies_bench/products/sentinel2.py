"""Sentinel-2 Level-1C products in the SAFE layout.

A SAFE folder holds the product metadata ``MTD_MSIL1C.xml`` and one granule
``GRANULE/<granule>/`` with its metadata ``MTD_TL.xml`` and the band files
``IMG_DATA/<tile>_<datetime>_Bxx.jp2``.  Products from before December 2016 hold several granules
(tiles, possibly in different UTM zones) and name their metadata ``*_MTD_SAFL1C_*.xml`` (product)
and ``*_MTD_L1C_TL_*.xml`` (granule), with the same elements: each granule is read as its own
product (:func:`read_sentinel2_granules`, or ``read_sentinel2_safe(path, granule=...)``, or the
granule folder itself as the path), with its own grid, sun angles and band files, and the tile id
appended to the product id.  What is read, by element name (namespaces ignored):

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
import re
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
#: Metadata file patterns of the multi-granule layout (before December 2016).
OLD_PRODUCT_METADATA = "*MTD_SAFL1C*.xml"
OLD_GRANULE_METADATA = "*MTD_L1C_TL*.xml"
_TILE_ID = re.compile(r"_(T\d{2}[A-Z]{3})(?:_|$)")
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


def _metadata(folder: Path, name: str, old_pattern: str) -> Path | None:
    """``folder/name``, else the first file matching the pre-2016 pattern, else None."""
    if (folder / name).is_file():
        return folder / name
    old = sorted(p for p in folder.glob(old_pattern) if p.is_file())
    return old[0] if old else None


def is_safe(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a Sentinel-2 L1C SAFE folder (has ``MTD_MSIL1C.xml`` or a pre-2016 ``*MTD_SAFL1C*.xml``)."""
    return Path(path).is_dir() and _metadata(Path(path), PRODUCT_METADATA, OLD_PRODUCT_METADATA) is not None


def granule_dirs(safe: str | os.PathLike) -> list[Path]:
    """The granule folders of a SAFE product (those with granule metadata), sorted by name."""
    folder = Path(safe) / "GRANULE"
    return sorted(p for p in folder.glob("*") if p.is_dir() and _metadata(p, GRANULE_METADATA, OLD_GRANULE_METADATA))


def is_granule_dir(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one granule folder ``<SAFE>/GRANULE/<granule>`` of a SAFE product."""
    path = Path(path)
    return (path.is_dir() and path.parent.name == "GRANULE" and is_safe(path.parent.parent)
            and _metadata(path, GRANULE_METADATA, OLD_GRANULE_METADATA) is not None)


def _granule_dir(safe: Path, granule: str | None) -> tuple[Path, int]:
    """The granule folder to read, and how many granules the product has."""
    granules = granule_dirs(safe)
    if not granules:
        msg = (f"Sentinel-2 product {str(safe)!r} has no GRANULE/*/{GRANULE_METADATA} (nor a pre-2016 "
               f"{OLD_GRANULE_METADATA}); the SAFE folder is incomplete.")
        raise RasterError(msg)
    if granule is not None:
        chosen = [g for g in granules if g.name == granule]
        if not chosen:
            raise RasterError(f"Sentinel-2 product {str(safe)!r} has no granule {granule!r}; it has "
                              f"{', '.join(g.name for g in granules)}.")
        return chosen[0], len(granules)
    if len(granules) > 1:
        msg = (f"Sentinel-2 product {str(safe)!r} holds {len(granules)} granules ({', '.join(g.name for g in granules)}); "
               "read each with read_sentinel2_granules / open_products, or give one granule folder.")
        raise RasterError(msg)
    return granules[0], 1


def _tile_id(granule: Path) -> str:
    match = _TILE_ID.search(granule.name)
    return match.group(1) if match else granule.name


def _band_files(product_root: ET.Element, safe: Path, granule: Path) -> dict[str, Path]:
    """MSI band name -> JP2 file of one granule, from ``IMAGE_FILE`` entries, else its IMG_DATA folder."""
    files: dict[str, Path] = {}
    for el in _iter(product_root, "IMAGE_FILE"):
        rel = (el.text or "").strip()
        if rel and rel.startswith(f"GRANULE/{granule.name}/"):
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


def read_sentinel2_safe(path: str | os.PathLike, *, granule: str | None = None) -> Product:
    """Read a Sentinel-2 L1C SAFE folder (one granule of it).

    Args:
        path: the ``*.SAFE`` folder, or one of its granule folders ``<SAFE>/GRANULE/<granule>``.
        granule: the granule folder name to read, for a multi-granule (pre-2016) product.

    Returns:
        A :class:`~facies_bench.products.product.Product` on the tile's 10 m grid.

    Raises:
        RasterError: missing or invalid metadata, a missing band file, missing sun angles, several
            granules and none chosen.
    """
    safe = Path(path)
    if granule is None and is_granule_dir(safe):
        safe, granule = safe.parent.parent, safe.name
    product_xml = _metadata(safe, PRODUCT_METADATA, OLD_PRODUCT_METADATA) or safe / PRODUCT_METADATA
    root = _parse(product_xml)
    granule_dir, n_granules = _granule_dir(safe, granule)
    tile_xml = _metadata(granule_dir, GRANULE_METADATA, OLD_GRANULE_METADATA) or granule_dir / GRANULE_METADATA
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
    files = _band_files(root, safe, granule_dir)
    wanted = [b if len(b) == 3 else f"B{int(b[1:]):02d}" for b in sensor_band_ids("Sentinel-2")]
    found = {}
    for name, band in zip(("blue", "green", "red", "nir", "swir1", "swir2"), wanted, strict=True):
        f = files.get(band)
        if f is not None and f.is_file():
            found[name] = BandSource(name=name, href=str(f), band_id=band, gain=1.0 / quant,
                                     offset=offsets.get(band, 0.0) / quant, nodata=(nodata,))
    where = f"Sentinel-2 product {str(safe)!r}" + (f" (granule {granule_dir.name})" if n_granules > 1 else "")
    bands = require_bands(found, where=where,
                          looked_for=[f"{b}: GRANULE/*/IMG_DATA/*_{b}.jp2" for b in wanted])
    product_id = (_text(root, "PRODUCT_URI") or safe.name).removesuffix(".SAFE")
    if n_granules > 1:
        product_id = f"{product_id}_{_tile_id(granule_dir)}"
    acquired = _time(_text(root, "PRODUCT_START_TIME") or _text(tile, "SENSING_TIME"), path=product_xml)
    meta = {"processing_baseline": baseline_text or "", "quantification_value": quant,
            "spacecraft": _text(root, "SPACECRAFT_NAME") or "", "tile_id": granule_dir.name,
            "radio_add_offset": offsets.get("B02", 0.0)}
    log.info("Sentinel-2 %s: baseline %s, offset %s, sun az %.2f el %.2f", product_id, baseline_text,
             offsets.get("B02", 0.0), az, el)
    return Product(product_id=product_id, sensor="Sentinel-2", acquired=acquired, grid=grid, sun_azimuth=az,
                   sun_elevation=el, bands=bands, sun_correction=False, source=str(safe), metadata=meta)


def read_sentinel2_granules(path: str | os.PathLike) -> list[Product]:
    """Every granule of a SAFE folder as its own product (one for products since December 2016)."""
    return [read_sentinel2_safe(path, granule=g.name) for g in granule_dirs(path)] or [read_sentinel2_safe(path)]

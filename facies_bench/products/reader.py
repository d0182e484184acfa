"""Which reader a product path or URL needs: :func:`open_product`."""

from __future__ import annotations

import os
from pathlib import Path

from facies_bench.errors import RasterError
from facies_bench.products.landsat import is_landsat_dir, read_landsat_scene
from facies_bench.products.product import Product
from facies_bench.products.sentinel2 import (
    granule_dirs,
    is_granule_dir,
    is_safe,
    read_sentinel2_granules,
    read_sentinel2_safe,
)
from facies_bench.products.stac import is_stac_source, read_stac_item


def open_product(source: str | os.PathLike | Product) -> Product:
    """Read a product: a Sentinel-2 SAFE folder, a Landsat C2 L1 folder (or its MTL file), or a STAC item.

    Args:
        source: ``*.SAFE`` folder (with ``MTD_MSIL1C.xml``; one granule folder of a multi-granule
            pre-2016 product), Landsat scene folder (with
            ``*_MTL.json`` / ``*_MTL.txt``) or MTL file, STAC item JSON file or URL; a
            :class:`Product` is returned as is.

    Raises:
        RasterError: the source is none of these, or its reader refuses it.
    """
    if isinstance(source, Product):
        return source
    text = str(source)
    path = Path(text)
    if "://" not in text:
        if not path.exists():
            raise RasterError(f"Product {text!r} does not exist.")
        if path.is_dir() and (is_safe(path) or is_granule_dir(path)):
            return read_sentinel2_safe(path)
        if path.is_dir() and is_landsat_dir(path):
            return read_landsat_scene(path)
        if path.is_file() and "MTL" in path.name.upper() and path.suffix.lower() in (".txt", ".json"):
            return read_landsat_scene(path)
    if is_stac_source(text):
        return read_stac_item(text)
    msg = (f"Product {text!r} is not a Sentinel-2 L1C SAFE folder (no MTD_MSIL1C.xml), a Landsat Collection 2 Level-1 "
           "folder (no *_MTL.json / *_MTL.txt) nor a STAC item (.json file or URL).")
    raise RasterError(msg)


def open_products(source: str | os.PathLike | Product) -> list[Product]:
    """The products of a source: one per granule for a multi-granule (pre-2016) SAFE folder, else one.

    Args:
        source: as for :func:`open_product`.

    Raises:
        RasterError: as for :func:`open_product`.
    """
    if not isinstance(source, Product) and "://" not in str(source):
        path = Path(source)
        if path.is_dir() and is_safe(path) and len(granule_dirs(path)) > 1:
            return read_sentinel2_granules(path)
    return [open_product(source)]

"""Satellite products in, TOA reflectance on a 10 m grid out: Sentinel-2 L1C, Landsat C2 L1, STAC items.

Public API::

    open_product, Product, BandSource, read_toa           (any product -> (6, h, w) TOA reflectance)
    open_products                                         (one product per granule of a pre-2016 SAFE)
    read_sentinel2_safe, read_sentinel2_granules, read_landsat_scene, read_stac_item, parse_mtl_text, read_mtl
    open_dem_tiles, read_dem                              (DEM tiles mosaicked and warped onto a window)
    GlacierOutline, read_glacier_outlines, select_glaciers, load_glaciers   (RGI / GLIMS outlines)
    write_product_table, read_product_tables, build_time_series, write_time_series

Mapping a product end to end (features, models, COGs, tables) is
:func:`facies_bench.mapping.products.map_product`.
"""

from facies_bench.products.dem import open_dem_tiles, read_dem
from facies_bench.products.landsat import parse_mtl_text, read_landsat_scene, read_mtl
from facies_bench.products.outlines import GlacierOutline, load_glaciers, read_glacier_outlines, select_glaciers
from facies_bench.products.product import BandSource, Product, read_toa
from facies_bench.products.reader import open_product, open_products
from facies_bench.products.sentinel2 import read_sentinel2_granules, read_sentinel2_safe
from facies_bench.products.stac import read_stac_item
from facies_bench.products.table import build_time_series, read_product_tables, write_product_table, write_time_series

__all__ = [
    "BandSource", "GlacierOutline", "Product", "build_time_series", "load_glaciers", "open_dem_tiles", "open_product",
    "open_products", "parse_mtl_text", "read_dem", "read_glacier_outlines", "read_landsat_scene", "read_mtl", "read_product_tables",
    "read_sentinel2_granules", "read_sentinel2_safe", "read_stac_item", "read_toa", "select_glaciers", "write_product_table", "write_time_series",
]

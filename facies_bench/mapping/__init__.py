"""Whole-scene facies maps: dense inference, calibrated confidence, GeoTIFF/PNG outputs.

Public API::

    map_scene, map_store_scene, SceneMap, score_scene_map, smooth_classes, remove_islands
    plan_scene, ScenePlan, DEFAULT_REFINE_MARGIN   (the configuration stage of map_scene)
    map_rasters, MapResult            (the file-to-file pipeline behind ``facies-bench map``)
    write_facies_map, write_confidence_map, write_quicklook, rasterise_outlines, RasterGrid
"""

from facies_bench.mapping.io import (
    NODATA_CLASS,
    rasterise_outlines,
    read_optical,
    write_confidence_map,
    write_facies_map,
)
from facies_bench.mapping.pipeline import MapResult, map_rasters
from facies_bench.mapping.predict_scene import (
    DEFAULT_REFINE_MARGIN,
    SceneMap,
    ScenePlan,
    map_scene,
    map_store_scene,
    plan_scene,
    remove_islands,
    score_scene_map,
    smooth_classes,
)
from facies_bench.mapping.quicklook import write_quicklook
from facies_bench.raster import RasterGrid

__all__ = [
    "DEFAULT_REFINE_MARGIN", "NODATA_CLASS", "MapResult", "RasterGrid", "SceneMap", "ScenePlan", "map_rasters",
    "map_scene", "map_store_scene", "plan_scene", "rasterise_outlines", "read_optical", "remove_islands", "score_scene_map", "smooth_classes",
    "write_confidence_map", "write_facies_map", "write_quicklook",
]

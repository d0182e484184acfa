"""Small fake satellite products in the official layouts, for the product tests and benchmark.

* :func:`write_fake_safe`: a Sentinel-2 L1C SAFE folder (``MTD_MSIL1C.xml``, ``GRANULE/<id>/MTD_TL.xml``,
  ``IMG_DATA/<tile>_<time>_Bxx.jp2``: JPEG 2000 through GDAL's JP2OpenJPEG driver, lossless; a
  GeoTIFF with the ``.jp2`` name is never written);
* :func:`write_fake_landsat`: a Landsat C2 L1 folder (``<id>_B<n>.TIF`` and ``<id>_MTL.txt`` and/or
  ``<id>_MTL.json``);
* :func:`write_fake_dem_tiles`: EPSG:4326 DEM tiles (like Copernicus GLO-30) of a terrain given as
  a function of UTM coordinates;
* :func:`write_fake_outlines`: RGI 7.0-like outlines (``rgi_id``, ``glac_name``) as a GeoPackage
  or shapefile in any CRS.

The band values are known functions of the map coordinates (DN = ``dn_fn(band, x, y)``) so tests
can compute TOA reflectance by hand.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from facies_bench import schema

CRS_UTM = "EPSG:32632"
#: Upper-left corner of the fake tiles (UTM 32N, in the Alps).
ORIGIN = (600000.0, 5100000.0)
S2_BANDS = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08", "swir1": "B11", "swir2": "B12"}
S2_RES = {"B02": 10, "B03": 10, "B04": 10, "B08": 10, "B11": 20, "B12": 20}
DnFn = Callable[[str, np.ndarray, np.ndarray], np.ndarray]


def default_dn(band: str, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """DNs that vary linearly in x and y (so bilinear resampling reproduces them exactly inside)."""
    k = schema.OPTICAL_FEATURES.index(band)
    return 3000.0 + 400.0 * k + 2.0 * (x - ORIGIN[0]) / 10.0 + 1.0 * (ORIGIN[1] - y) / 10.0


def _centres(res: float, n: int, origin: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    c = origin[0] + (np.arange(n) + 0.5) * res
    r = origin[1] - (np.arange(n) + 0.5) * res
    return np.meshgrid(c, r)


def _write_raster(path: Path, array: np.ndarray, *, res: float, origin: tuple[float, float], driver: str,
                  crs: str = CRS_UTM, nodata: float | None = None) -> Path:
    import rasterio
    from rasterio.transform import from_origin

    path.parent.mkdir(parents=True, exist_ok=True)
    opts = {"QUALITY": "100", "REVERSIBLE": "YES"} if driver == "JP2OpenJPEG" else {}
    with rasterio.open(path, "w", driver=driver, width=array.shape[1], height=array.shape[0], count=1,
                       dtype=array.dtype, crs=crs, transform=from_origin(origin[0], origin[1], res, res),
                       nodata=nodata, **opts) as dst:
        dst.write(array, 1)
    return path


def write_fake_safe(root: str | Path, *, size: int = 120, baseline: str = "04.00", dn_fn: DnFn = default_dn,
                    date: str = "2022-08-20T10:20:31.024Z", sun_zenith: float | None = 40.0,
                    sun_azimuth: float | None = 155.0, missing_band: str | None = None,
                    nodata_box: tuple[int, int, int, int] | None = None, origin: tuple[float, float] = ORIGIN,
                    tile: str = "T32TMS") -> Path:
    """A Sentinel-2 L1C SAFE folder with its XML files and JP2 bands; returns the ``.SAFE`` path.

    Args:
        root: parent folder.
        size: 10 m grid side (even; the 20 m bands are ``size // 2``).
        baseline: processing baseline; from ``04.00`` on, ``RADIO_ADD_OFFSET`` = -1000 is written.
        dn_fn: DN of a band at map coordinates (before the offset is added back).
        date: PRODUCT_START_TIME.
        sun_zenith: Mean_Sun_Angle zenith; None leaves the element out.
        sun_azimuth: Mean_Sun_Angle azimuth; None leaves the element out.
        missing_band: a band file not written (e.g. ``"B11"``).
        nodata_box: (row0, row1, col0, col1) of the 10 m grid written as DN 0 (nodata) in every band.
        origin: upper-left corner.
        tile: tile id used in file names.
    """
    stamp = dt.datetime.fromisoformat(date.replace("Z", "+00:00")).strftime("%Y%m%dT%H%M%S")
    name = f"S2A_MSIL1C_{stamp}_N{baseline.replace('.', '')}_R022_{tile}_{stamp}"
    safe = Path(root) / f"{name}.SAFE"
    granule_id = f"L1C_{tile}_A037000_{stamp}"
    granule = safe / "GRANULE" / granule_id
    offset = -1000 if int(baseline.split(".")[0]) >= 4 else 0
    image_files = []
    for band_name, band in S2_BANDS.items():
        rel = f"GRANULE/{granule_id}/IMG_DATA/{tile}_{stamp}_{band}"
        image_files.append(rel)
        if band != missing_band:
            _write_safe_band(safe / f"{rel}.jp2", band_name, size=size, dn_fn=dn_fn, offset=offset,
                             nodata_box=nodata_box, origin=origin)
    granule.mkdir(parents=True, exist_ok=True)
    (safe / "MTD_MSIL1C.xml").write_text(_safe_product_xml(name, granule_id, image_files, baseline=baseline, date=date,
                                                           stamp=stamp))
    (granule / "MTD_TL.xml").write_text(_safe_tile_xml(granule_id, size=size, date=date, sun_zenith=sun_zenith,
                                                       sun_azimuth=sun_azimuth, origin=origin))
    return safe


def _write_safe_band(path: Path, band_name: str, *, size: int, dn_fn: DnFn, offset: int,
                     nodata_box: tuple[int, int, int, int] | None, origin: tuple[float, float]) -> None:
    """One JP2 band of a fake SAFE: DNs of ``dn_fn`` with the radiometric offset added back, nodata box 0."""
    res = S2_RES[S2_BANDS[band_name]]
    x, y = _centres(res, size * 10 // res, origin)
    dn = np.clip(np.round(dn_fn(band_name, x, y) - offset), 1, 65535).astype(np.uint16)
    if nodata_box is not None:
        r0, r1, c0, c1 = (v * 10 // res for v in nodata_box)
        dn[r0:r1, c0:c1] = 0
    _write_raster(path, dn, res=res, origin=origin, driver="JP2OpenJPEG")


def _safe_product_xml(name: str, granule_id: str, image_files: list[str], *, baseline: str, date: str,
                      stamp: str) -> str:
    """``MTD_MSIL1C.xml`` of a fake SAFE (``image_files``: band paths without the ``.jp2`` suffix)."""
    image_list = "".join(f"<IMAGE_FILE>{rel}</IMAGE_FILE>" for rel in image_files)
    offsets = ""
    if int(baseline.split(".")[0]) >= 4:
        offsets = "<Radiometric_Offset_List>" + "".join(
            f'<RADIO_ADD_OFFSET band_id="{i}">-1000</RADIO_ADD_OFFSET>' for i in range(13)) + "</Radiometric_Offset_List>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-1C.xsd">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{date}</PRODUCT_START_TIME>
      <PRODUCT_URI>{name}.SAFE</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-1C</PROCESSING_LEVEL>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <Datatake datatakeIdentifier="GS2A_{stamp}_037000_N{baseline.replace('.', '')}">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
      </Datatake>
      <Product_Organisation><Granule_List><Granule granuleIdentifier="{granule_id}" imageFormat="JPEG2000">
        {image_list}
      </Granule></Granule_List></Product_Organisation>
    </Product_Info>
    <Product_Image_Characteristics>
      <Special_Values><SPECIAL_VALUE_TEXT>NODATA</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>0</SPECIAL_VALUE_INDEX></Special_Values>
      <Special_Values><SPECIAL_VALUE_TEXT>SATURATED</SPECIAL_VALUE_TEXT><SPECIAL_VALUE_INDEX>65535</SPECIAL_VALUE_INDEX></Special_Values>
      <QUANTIFICATION_VALUE unit="none">10000</QUANTIFICATION_VALUE>
      {offsets}
    </Product_Image_Characteristics>
  </n1:General_Info>
</n1:Level-1C_User_Product>
"""


def _safe_tile_xml(granule_id: str, *, size: int, date: str, sun_zenith: float | None, sun_azimuth: float | None,
                   origin: tuple[float, float]) -> str:
    """``GRANULE/<id>/MTD_TL.xml`` of a fake SAFE: geocoding of the three grids and the mean sun angle."""
    sun = ""
    if sun_zenith is not None or sun_azimuth is not None:
        sun = "<Mean_Sun_Angle>"
        sun += f'<ZENITH_ANGLE unit="deg">{sun_zenith}</ZENITH_ANGLE>' if sun_zenith is not None else ""
        sun += f'<AZIMUTH_ANGLE unit="deg">{sun_azimuth}</AZIMUTH_ANGLE>' if sun_azimuth is not None else ""
        sun += "</Mean_Sun_Angle>"
    sizes = "".join(f'<Size resolution="{r}"><NROWS>{size * 10 // r}</NROWS><NCOLS>{size * 10 // r}</NCOLS></Size>'
                    for r in (10, 20, 60))
    positions = "".join(f'<Geoposition resolution="{r}"><ULX>{origin[0]:.0f}</ULX><ULY>{origin[1]:.0f}</ULY>'
                        f'<XDIM>{r}</XDIM><YDIM>-{r}</YDIM></Geoposition>' for r in (10, 20, 60))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-1C_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-1C_Tile_Metadata.xsd">
  <n1:General_Info><TILE_ID>{granule_id}</TILE_ID><SENSING_TIME>{date}</SENSING_TIME></n1:General_Info>
  <n1:Geometric_Info>
    <Tile_Geocoding>
      <HORIZONTAL_CS_NAME>WGS84 / UTM zone 32N</HORIZONTAL_CS_NAME>
      <HORIZONTAL_CS_CODE>{CRS_UTM}</HORIZONTAL_CS_CODE>
      {sizes}{positions}
    </Tile_Geocoding>
    <Tile_Angles>{sun}</Tile_Angles>
  </n1:Geometric_Info>
</n1:Level-1C_Tile_ID>
"""


#: Reflectance rescaling written into the fake MTL files (the USGS values for OLI).
LANDSAT_MULT, LANDSAT_ADD = 2.0e-5, -0.1


def landsat_bands(sensor: str) -> list[int]:
    """Band numbers of blue..swir2 of a Landsat sensor (``schema.SENSORS``)."""
    return [int(b.lstrip("B")) for b in schema.SENSORS[schema.sensor_index(sensor)].band_ids]


def write_fake_landsat(root: str | Path, *, sensor: str = "Landsat 8", size: int = 40, mtl: Sequence[str] = ("txt",),
                       dn_fn: DnFn = default_dn, date: str = "2021-08-15", sun_elevation: float | None = 48.0,
                       sun_azimuth: float | None = 150.0, slc_off_rows: Sequence[int] = (), missing_band: int | None = None,
                       origin: tuple[float, float] = ORIGIN) -> Path:
    """A Landsat Collection 2 Level-1 scene folder; returns it.

    Args:
        root: parent folder.
        sensor: ``Landsat 5`` / ``7`` / ``8`` / ``9``.
        size: 30 m grid side.
        mtl: which metadata files to write: ``"txt"`` and/or ``"json"``.
        dn_fn: DN of a band at map coordinates.
        date: DATE_ACQUIRED.
        sun_elevation: SUN_ELEVATION; None leaves the key out.
        sun_azimuth: SUN_AZIMUTH; None leaves the key out.
        slc_off_rows: 30 m rows set to fill (0) in every band, like Landsat 7 SLC-off gaps.
        missing_band: a band number whose file is not written.
        origin: upper-left corner.
    """
    number = int(sensor.split()[-1])
    prefix = {5: "LT05", 7: "LE07", 8: "LC08", 9: "LC09"}[number]
    pid = f"{prefix}_L1TP_194028_{date.replace('-', '')}_{date.replace('-', '')}_02_T1"
    folder = Path(root) / pid
    folder.mkdir(parents=True, exist_ok=True)
    x, y = _centres(30.0, size, origin)
    contents = {"LANDSAT_PRODUCT_ID": pid, "COLLECTION_NUMBER": "02", "PROCESSING_LEVEL": "L1TP"}
    rescaling = {}
    for role, n in zip(schema.OPTICAL_FEATURES, landsat_bands(sensor), strict=True):
        fname = f"{pid}_B{n}.TIF"
        contents[f"FILE_NAME_BAND_{n}"] = fname
        rescaling[f"REFLECTANCE_MULT_BAND_{n}"] = f"{LANDSAT_MULT:.4E}"
        rescaling[f"REFLECTANCE_ADD_BAND_{n}"] = f"{LANDSAT_ADD:.6f}"
        dn = np.clip(np.round(dn_fn(role, x, y) * 2.5 + 5000), 1, 65535).astype(np.uint16)
        for r in slc_off_rows:
            dn[r] = 0
        if n != missing_band:
            _write_raster(folder / fname, dn, res=30.0, origin=origin, driver="GTiff", nodata=0)
    image = {"SPACECRAFT_ID": f"LANDSAT_{number}", "SENSOR_ID": "OLI_TIRS" if number >= 8 else ("ETM" if number == 7 else "TM"),
             "DATE_ACQUIRED": date, "SCENE_CENTER_TIME": "10:15:12.1234560Z"}
    if sun_azimuth is not None:
        image["SUN_AZIMUTH"] = f"{sun_azimuth:.8f}"
    if sun_elevation is not None:
        image["SUN_ELEVATION"] = f"{sun_elevation:.8f}"
    groups = {"PRODUCT_CONTENTS": contents, "IMAGE_ATTRIBUTES": image, "LEVEL1_RADIOMETRIC_RESCALING": rescaling,
              "PROJECTION_ATTRIBUTES": {"MAP_PROJECTION": "UTM", "UTM_ZONE": "32"}}
    if "json" in mtl:
        (folder / f"{pid}_MTL.json").write_text(json.dumps({"LANDSAT_METADATA_FILE": groups}, indent=2))
    if "txt" in mtl:
        lines = ["GROUP = LANDSAT_METADATA_FILE"]
        for g, values in groups.items():
            lines.append(f"  GROUP = {g}")
            for k, v in values.items():
                quoted = k.startswith(("FILE_NAME", "LANDSAT_PRODUCT", "SPACECRAFT", "SENSOR_ID", "SCENE_CENTER", "MAP_PROJ"))
                lines.append(f"    {k} = " + (f'"{v}"' if quoted else str(v)))
            lines.append(f"  END_GROUP = {g}")
        lines += ["END_GROUP = LANDSAT_METADATA_FILE", "END"]
        (folder / f"{pid}_MTL.txt").write_text("\n".join(lines) + "\n")
    return folder


def landsat_dn(role: str, x: np.ndarray, y: np.ndarray, dn_fn: DnFn = default_dn) -> np.ndarray:
    """The DN :func:`write_fake_landsat` writes for a band at (x, y) (before rounding)."""
    return dn_fn(role, x, y) * 2.5 + 5000


def default_terrain(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Elevation (m): a slope rising to the north-west from 2,000 m, with a ridge."""
    dx, dy = (x - ORIGIN[0]) / 1000.0, (ORIGIN[1] - y) / 1000.0
    return 3000.0 - 500.0 * dx - 400.0 * dy + 80.0 * np.sin(3.0 * dx) * np.cos(2.0 * dy)


def write_fake_dem_tiles(root: str | Path, *, bounds_utm: tuple[float, float, float, float],
                         terrain: Callable[[np.ndarray, np.ndarray], np.ndarray] = default_terrain,
                         n_tiles: int = 2, res_deg: float = 1.0 / 3600.0, pad_deg: float = 0.002) -> list[Path]:
    """EPSG:4326 DEM tiles covering ``bounds_utm`` (split west-east into ``n_tiles``)."""
    import rasterio.warp

    west, south, east, north = rasterio.warp.transform_bounds(CRS_UTM, "EPSG:4326", *bounds_utm)
    west, south, east, north = west - pad_deg, south - pad_deg, east + pad_deg, north + pad_deg
    west = np.floor(west / res_deg) * res_deg  # tiles on one pixel grid, as a real tile set
    edges = west + np.round(np.linspace(0.0, east - west, n_tiles + 1) / res_deg) * res_deg
    paths = []
    for i in range(n_tiles):
        w, e = edges[i], edges[i + 1] + (res_deg * 3 if i < n_tiles - 1 else 0.0)
        ncol, nrow = int(np.ceil((e - w) / res_deg)), int(np.ceil((north - south) / res_deg))
        lon = w + (np.arange(ncol) + 0.5) * res_deg
        lat = north - (np.arange(nrow) + 0.5) * res_deg
        glon, glat = np.meshgrid(lon, lat)
        xs, ys = rasterio.warp.transform("EPSG:4326", CRS_UTM, glon.ravel(), glat.ravel())
        z = terrain(np.asarray(xs).reshape(glon.shape), np.asarray(ys).reshape(glon.shape)).astype(np.float32)
        paths.append(_write_raster(Path(root) / f"Copernicus_DSM_COG_10_fake_{i}_DEM.tif", z, res=res_deg,
                                   origin=(w, north), driver="GTiff", crs="EPSG:4326", nodata=-32767.0))
    return paths


def write_fake_outlines(path: str | Path, polygons: dict[tuple[str, str], Sequence[tuple[float, float]]], *,
                        crs: str = "EPSG:4326", src_crs: str = CRS_UTM) -> Path:
    """RGI 7.0-like outlines: ``{(rgi_id, glac_name): [(x, y) in src_crs, ...]}`` written in ``crs``."""
    import rasterio.warp
    import shapely
    from pyogrio.raw import write

    geoms = []
    for ring in polygons.values():
        xs, ys = zip(*ring, strict=True)
        if crs != src_crs:
            xs, ys = rasterio.warp.transform(src_crs, crs, list(xs), list(ys))
        geoms.append(shapely.to_wkb(shapely.Polygon(list(zip(xs, ys, strict=True)))))
    ids = np.array([k[0] for k in polygons], dtype=object)
    names = np.array([k[1] for k in polygons], dtype=object)
    path = Path(path)
    driver = "ESRI Shapefile" if path.suffix.lower() == ".shp" else "GPKG"
    write(str(path), np.array(geoms, dtype=object), [ids, names], ["rgi_id", "glac_name"], driver=driver, crs=crs,
          geometry_type="Polygon")
    return path


def box_ring(col0: float, row0: float, col1: float, row1: float, *, res: float = 10.0,
             origin: tuple[float, float] = ORIGIN) -> list[tuple[float, float]]:
    """A rectangle given in 10 m pixel coordinates of the fake grid, as UTM vertices."""
    x0, x1 = origin[0] + col0 * res, origin[0] + col1 * res
    y0, y1 = origin[1] - row0 * res, origin[1] - row1 * res
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


#: Bounds of the 120 x 120 px (1.2 km) fake products the tests write.
FAKE_BOUNDS = (ORIGIN[0], ORIGIN[1] - 1200.0, ORIGIN[0] + 1200.0, ORIGIN[1])
#: Two glaciers in 10 m pixel coordinates (col0, row0, col1, row1): A high in the north-west, B low in the south-east.
FAKE_GLACIERS = {("RGI2000-v7.0-G-11-00001", "Glacier A"): box_ring(10, 10, 50, 60),
                 ("RGI2000-v7.0-G-11-00002", "Gebroulaz"): box_ring(65, 55, 110, 110)}

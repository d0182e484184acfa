"""The benchmark specification, defined once.

Classes, features, feature sets, regions, sensors and glaciers of the pan-European glacier facies
dataset (Maslov et al., preprint, doi:10.31223/X5QN1V), in the published order and spelling.
Nothing else in the package repeats these lists: import them from here.

Glacier facts (region, approximate location, elevation range, area, type) were copied from the
reference table that accompanies the paper; only the names and regions are from the paper, the
rest are rough public values meant to drive the synthetic simulator.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import dataclass

from facies_bench.errors import UnknownNameError

#: Version of the store / report layout written by this package.  Bump on incompatible change.
#: 2: the authors' feature conventions (shadow mask 1 = lit, hillshade cos(slope), proximity = distance / maximum).
SCHEMA_VERSION = 2
#: Version of the benchmark protocol (folds, validation rule, recipe).  Goes into every result.
PROTOCOL_VERSION = "1.0"

PATCH_SIZE = 33
PIXEL_SIZE_M = 10.0
N_FOLDS = 6

# --------------------------------------------------------------------------------------------
# Classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FaciesClass:
    """One of the eight classes, in the published order."""
    index: int
    name: str  #: published spelling, as in the release's file names
    key: str  #: identifier used in column names (``p_<key>``) and JSON keys
    is_facies: bool  #: glacier facies (True) or miscellaneous class (False)
    colour: tuple[int, int, int]  #: RGB used in maps and plots
    definition: str


CLASSES: tuple[FaciesClass, ...] = (
    FaciesClass(0, "ice", "ice", True, (102, 178, 230),
                "Exposed bare glacier ice free of snow cover; crevasse texture, NIR reflectance below ~0.40."),
    FaciesClass(1, "snow", "snow", True, (250, 250, 250),
                "Seasonal accumulation of the current hydrological year; NIR reflectance above ~0.55, mainly at high altitude."),
    FaciesClass(2, "debris", "debris", True, (140, 90, 50),
                "Supraglacial rock or sediment cover at termini and along medial moraines; reddish in SWIR-NIR-R composites."),
    FaciesClass(3, "firn", "firn", True, (235, 200, 90),
                "Snow that survived at least one ablation season and began densifying; NIR ~0.40-0.55, yellow-brown, between snow and ice."),
    FaciesClass(4, "shadow", "shadow", False, (60, 60, 60),
                "Areas affected by topographic shading; clear radiometric minimum following the topography."),
    FaciesClass(5, "refrozen-like", "refrozen", True, (30, 70, 200),
                "Refrozen meltwater forming a transparent ice layer on ice or firn (superimposed-ice indicator); bright blue in R-G-B, next to firn."),
    FaciesClass(6, "water", "water", False, (10, 20, 110),
                "Supraglacial and proglacial lakes; clear radiometric minimum."),
    FaciesClass(7, "cloud", "cloud", False, (230, 160, 230),
                "Any identifiable cloud cover, including semi-transparent cloud; bright in SWIR."),
)
CLASS_NAMES: tuple[str, ...] = tuple(c.name for c in CLASSES)
CLASS_KEYS: tuple[str, ...] = tuple(c.key for c in CLASSES)
N_CLASSES = len(CLASSES)
#: Column names of a predictions file, in class order.
PROBABILITY_COLUMNS: tuple[str, ...] = tuple(f"p_{k}" for k in CLASS_KEYS)
#: Classes that confident learning never prunes (paper, Section 3).
NEVER_PRUNED: tuple[str, ...] = ("shadow", "water", "cloud")
#: Label code of a sample pruned from a cleaned variant.
PRUNED = -1

# --------------------------------------------------------------------------------------------
# Features and feature sets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One of the eleven input features."""
    index: int
    name: str
    kind: str  #: "optical", "topographic" or "geometric"
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature(0, "blue", "optical", "Top-of-atmosphere reflectance, blue band."),
    Feature(1, "green", "optical", "Top-of-atmosphere reflectance, green band."),
    Feature(2, "red", "optical", "Top-of-atmosphere reflectance, red band."),
    Feature(3, "nir", "optical", "Top-of-atmosphere reflectance, near-infrared band."),
    Feature(4, "swir1", "optical", "Top-of-atmosphere reflectance, shortwave-infrared band near 1.6 um."),
    Feature(5, "swir2", "optical", "Top-of-atmosphere reflectance, shortwave-infrared band near 2.2 um."),
    Feature(6, "elevation", "topographic", "Copernicus DEM elevation normalised per glacier to [0, 1] over the glacier's range."),
    Feature(7, "slope", "topographic", "Terrain slope from the DEM, degrees."),
    Feature(8, "shadow_mask", "topographic", "In-sun mask as python-dem-shadows' project_shadows returns it (1 = lit, 0 = in the cast shadow of terrain), traced over the DEM along the scene's sun azimuth and elevation."),
    Feature(9, "hillshade", "topographic", "Hillshade as the authors' data carry it: the terrain lit from the zenith, cos(slope), in (0, 1] (inferred from the published models; see docs/published_models.md)."),
    Feature(10, "proximity", "geometric", "Distance to the glacier outline divided by the glacier's largest distance ([0, 1] inside, 0 outside), as the authors' apply.py does."),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
N_FEATURES = len(FEATURES)
OPTICAL_FEATURES: tuple[str, ...] = FEATURE_NAMES[:6]

#: The paper's four feature sets: id -> feature names (always a prefix of FEATURE_NAMES).
FEATURE_SETS: dict[int, tuple[str, ...]] = {
    1: FEATURE_NAMES[:6],
    2: FEATURE_NAMES[:8],
    3: FEATURE_NAMES[:10],
    4: FEATURE_NAMES[:11],
}
FEATURE_SET_DESCRIPTIONS: dict[int, str] = {
    1: "optical only",
    2: "optical + elevation + slope",
    3: "optical + elevation + slope + shadow mask + hillshade",
    4: "optical + elevation + slope + shadow mask + hillshade + proximity",
}

# --------------------------------------------------------------------------------------------
# Regions, sensors, glaciers
# --------------------------------------------------------------------------------------------

REGIONS: tuple[str, ...] = ("Pyrenees", "Alps", "Scandinavia", "Iceland", "Svalbard")


@dataclass(frozen=True)
class Sensor:
    """A satellite sensor and the dates it delivered scenes."""
    index: int
    name: str
    first_date: _dt.date
    last_date: _dt.date | None
    native_resolution_m: float
    #: band -> (centre um, low um, high um), for blue, green, red, nir, swir1, swir2
    bands: dict[str, tuple[float, float, float]]
    band_ids: tuple[str, ...]  #: the sensor's own band names, in FEATURE order


_TM_BANDS = {
    "blue": (0.485, 0.45, 0.52), "green": (0.56, 0.52, 0.60), "red": (0.66, 0.63, 0.69),
    "nir": (0.83, 0.76, 0.90), "swir1": (1.65, 1.55, 1.75), "swir2": (2.215, 2.08, 2.35),
}
_OLI_BANDS = {
    "blue": (0.482, 0.452, 0.512), "green": (0.561, 0.533, 0.590), "red": (0.655, 0.636, 0.673),
    "nir": (0.865, 0.851, 0.879), "swir1": (1.609, 1.566, 1.651), "swir2": (2.201, 2.107, 2.294),
}
_MSI_BANDS = {
    "blue": (0.490, 0.458, 0.523), "green": (0.560, 0.543, 0.578), "red": (0.665, 0.650, 0.680),
    "nir": (0.842, 0.785, 0.900), "swir1": (1.610, 1.565, 1.655), "swir2": (2.190, 2.100, 2.280),
}

SENSORS: tuple[Sensor, ...] = (
    Sensor(0, "Landsat 5", _dt.date(1984, 3, 1), _dt.date(2011, 11, 18), 30.0, _TM_BANDS,
           ("B1", "B2", "B3", "B4", "B5", "B7")),
    Sensor(1, "Landsat 7", _dt.date(1999, 4, 15), None, 30.0, _TM_BANDS,
           ("B1", "B2", "B3", "B4", "B5", "B7")),
    Sensor(2, "Landsat 8", _dt.date(2013, 4, 11), None, 30.0, _OLI_BANDS,
           ("B2", "B3", "B4", "B5", "B6", "B7")),
    Sensor(3, "Landsat 9", _dt.date(2021, 10, 31), None, 30.0, _OLI_BANDS,
           ("B2", "B3", "B4", "B5", "B6", "B7")),
    Sensor(4, "Sentinel-2", _dt.date(2015, 6, 23), None, 10.0, _MSI_BANDS,
           ("B2", "B3", "B4", "B8", "B11", "B12")),
)
SENSOR_NAMES: tuple[str, ...] = tuple(s.name for s in SENSORS)
#: Sensor name used when a release gives no scene table.
UNKNOWN_SENSOR = "unknown"
#: Landsat 7's scan-line corrector failed on 31 May 2003; later scenes have gaps.
LANDSAT7_SLC_OFF = _dt.date(2003, 5, 31)


@dataclass(frozen=True)
class Glacier:
    """One of the dataset's glaciers, as in the paper's Table 1."""
    index: int
    name: str  #: exactly as printed in the paper
    region: str
    country: str
    lat: float
    lon: float
    min_elev_m: float
    max_elev_m: float
    area_km2: float
    glacier_type: str  #: valley, cirque, ice cap outlet, plateau/ice cap, tidewater


_GLACIER_ROWS = (
    # name, region, country, lat, lon, min elev, max elev, area km2, type
    ("Gebroulaz", "Alps", "FR", 45.3, 6.64, 2650, 3550, 3.3, "valley"),
    ("Sex Rouge", "Alps", "CH", 46.33, 7.21, 2700, 2900, 0.3, "cirque"),
    ("Silvretta", "Alps", "CH", 46.85, 10.08, 2450, 3100, 2.7, "valley"),
    ("Midtre Lovenbreen", "Svalbard", "SJ", 78.88, 12.07, 50, 650, 5.0, "valley"),
    ("Engabreen", "Scandinavia", "NO", 66.66, 13.85, 100, 1590, 36, "ice cap outlet"),
    ("Maladeta", "Pyrenees", "ES", 42.65, 0.64, 2850, 3200, 0.3, "cirque"),
    ("Luppo", "Alps", "IT", 46.08, 10.02, 2430, 2760, 0.2, "cirque"),
    ("Corbassiere", "Alps", "CH", 45.98, 7.3, 2250, 4300, 15.5, "valley"),
    ("Goldberg K", "Alps", "AT", 47.04, 12.96, 2350, 3050, 1.2, "cirque"),
    ("Tsanfleuron", "Alps", "CH", 46.32, 7.24, 2450, 2950, 2.5, "plateau/ice cap"),
    ("Bruarjokull", "Iceland", "IS", 64.75, -16.1, 600, 1850, 1500, "ice cap outlet"),
    ("Schwarzberg", "Alps", "CH", 46.02, 7.93, 2650, 3600, 5.0, "valley"),
    ("Graasubreen", "Scandinavia", "NO", 61.65, 8.6, 1830, 2290, 2.1, "cirque"),
    ("Langjokull ice cap", "Iceland", "IS", 64.65, -20.1, 450, 1450, 870, "plateau/ice cap"),
    ("Austre Lovenbreen", "Svalbard", "SJ", 78.87, 12.15, 100, 550, 4.5, "valley"),
    ("Fridtjovbreen", "Svalbard", "SJ", 77.8, 14.6, 0, 1000, 48, "tidewater"),
    ("Storbreen", "Scandinavia", "NO", 61.57, 8.13, 1400, 2100, 5.1, "valley"),
    ("Kongsvegen", "Svalbard", "SJ", 78.8, 13.0, 0, 1050, 100, "tidewater"),
    ("Austre Okstindbreen", "Scandinavia", "NO", 66.01, 14.3, 730, 1750, 14, "ice cap outlet"),
    ("Kesselwand F", "Alps", "AT", 46.84, 10.79, 2750, 3500, 3.6, "valley"),
    ("Marmaglacieraeren", "Scandinavia", "SE", 68.09, 18.68, 1450, 1900, 3.9, "valley"),
    ("Argentiere", "Alps", "FR", 45.95, 7.0, 1600, 3500, 11, "valley"),
    ("Svelgjabreen", "Scandinavia", "NO", 59.98, 6.28, 830, 1640, 22, "ice cap outlet"),
    ("Waldemarbreen", "Svalbard", "SJ", 78.67, 11.95, 150, 500, 2.5, "valley"),
    ("Gietro", "Alps", "CH", 45.99, 7.38, 2600, 3800, 5.2, "valley"),
    ("Grosser Aletsch", "Alps", "CH", 46.5, 8.03, 1600, 4100, 78, "valley"),
    ("Adler", "Alps", "CH", 46.0, 7.86, 2900, 3900, 2.0, "valley"),
    ("Jamtal F", "Alps", "AT", 46.86, 10.17, 2400, 3100, 3.0, "valley"),
    ("Skeidararjokull", "Iceland", "IS", 64.1, -17.3, 100, 1750, 1350, "ice cap outlet"),
    ("Pasterze", "Alps", "AT", 47.09, 12.72, 2100, 3450, 16, "valley"),
    ("Kronebreen", "Svalbard", "SJ", 78.85, 12.7, 0, 1400, 700, "tidewater"),
)
GLACIERS: tuple[Glacier, ...] = tuple(Glacier(i, *row) for i, row in enumerate(_GLACIER_ROWS))
GLACIER_NAMES: tuple[str, ...] = tuple(g.name for g in GLACIERS)

# --------------------------------------------------------------------------------------------
# Look-ups
# --------------------------------------------------------------------------------------------


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _lookup(kind: str, name: str, names: tuple[str, ...], *aliases: tuple[str, ...]) -> int:
    """Index of ``name`` in ``names`` (case, space, dash and underscore insensitive)."""
    wanted = _normalise(str(name))
    for table in (names, *aliases):
        for i, candidate in enumerate(table):
            if _normalise(candidate) == wanted:
                return i
    msg = f"Unknown {kind} {name!r}. Valid: {', '.join(names)}."
    raise UnknownNameError(msg)


def class_index(name: str) -> int:
    """Index of a class given by name or key (``'refrozen-like'`` and ``'refrozen'`` both work)."""
    return _lookup("class", name, CLASS_NAMES, CLASS_KEYS)


def feature_index(name: str) -> int:
    """Index of a feature in :data:`FEATURE_NAMES`; unknown names raise :class:`UnknownNameError`."""
    return _lookup("feature", name, FEATURE_NAMES)


def region_index(name: str) -> int:
    """Index of a region in :data:`REGIONS`; unknown names raise :class:`UnknownNameError`."""
    return _lookup("region", name, REGIONS)


def sensor_index(name: str) -> int:
    """Index of a sensor in :data:`SENSOR_NAMES` (short forms ``L8``, ``S2`` accepted)."""
    aliases = tuple(n.replace("Landsat ", "L").replace("Sentinel-", "S") for n in SENSOR_NAMES)
    return _lookup("sensor", name, SENSOR_NAMES, aliases)


def glacier_index(name: str) -> int:
    """Index of a glacier in :data:`GLACIER_NAMES`; unknown names raise :class:`UnknownNameError`."""
    return _lookup("glacier", name, GLACIER_NAMES)


def glacier(name: str) -> Glacier:
    """The :class:`Glacier` named ``name``."""
    return GLACIERS[glacier_index(name)]


def glacier_region(name: str) -> str:
    """Region of the glacier named ``name``."""
    return glacier(name).region


def resolve_features(features: int | str | Sequence[str] | None) -> tuple[str, ...]:
    """Feature names for a feature set id (1-4), a comma-separated string or a list of names.

    ``None`` means all 11 features.  Names are returned in the schema's order.
    """
    if features is None:
        return FEATURE_NAMES
    if isinstance(features, int) or (isinstance(features, str) and features.strip().isdigit()):
        fs = int(features)
        if fs not in FEATURE_SETS:
            msg = f"Unknown feature set {fs}. Valid: {', '.join(map(str, FEATURE_SETS))}."
            raise UnknownNameError(msg)
        return FEATURE_SETS[fs]
    if isinstance(features, str):
        features = [f.strip() for f in features.split(",") if f.strip()]
    indices = sorted({feature_index(f) for f in features})
    if not indices:
        raise UnknownNameError("An empty feature list was given. Valid: " + ", ".join(FEATURE_NAMES))
    return tuple(FEATURE_NAMES[i] for i in indices)


def feature_set_id(features: Sequence[str]) -> int | None:
    """The paper's feature set id for these features, or None if they form no paper set."""
    for fs, names in FEATURE_SETS.items():
        if tuple(features) == names:
            return fs
    return None


def sensor_valid_on(sensor: str, date: _dt.date) -> bool:
    """Whether ``sensor`` delivered scenes on ``date``."""
    s = SENSORS[sensor_index(sensor)]
    return s.first_date <= date and (s.last_date is None or date <= s.last_date)


def validation_fold(test_fold: int) -> int:
    """The protocol's validation fold for a test fold: (k - 1) mod 6."""
    if not 0 <= int(test_fold) < N_FOLDS:
        msg = f"Unknown test fold {test_fold}. Valid: 0-{N_FOLDS - 1}."
        raise UnknownNameError(msg)
    return (int(test_fold) - 1) % N_FOLDS


def train_folds(test_fold: int) -> tuple[int, ...]:
    """The four training folds for a test fold."""
    val = validation_fold(test_fold)
    return tuple(k for k in range(N_FOLDS) if k not in (test_fold, val))


def slug(name: str) -> str:
    """A file-name-safe lowercase identifier (``'Goldberg K'`` -> ``'goldberg_k'``)."""
    out = "".join(ch if ch.isalnum() else "_" for ch in name.lower())
    return "_".join(part for part in out.split("_") if part)

"""Climate and surface mass balance of every synthetic glacier-year: a degree-day model.

The simulator's snowline and its mass-balance records come from one process, so that the
paper's Eq. 2 and Eq. 3 (SMB from facies-derived predictors) are tested on the synthetic data,
not built into it.  Per glacier-year (hydrological year 1 October - 30 September):

* winter accumulation ``c(z) = P f (1 + PRECIP_GRADIENT (z - ELA0))`` m w.e., at least 0, all
  on the glacier before melt starts (no summer snowfall: a simplification);
* daily mean air temperature
  ``T(z, d) = T0 + dT + dT_late w(d) - LAPSE_RATE (z - ELA0) + A (cos(2 pi (d - PEAK_DAY) / 365) - k)``,
  with ``k`` chosen so that ``T0`` is the June-August mean at ``ELA0`` in a normal year;
  ``w(d)`` ramps from 0 on 1 August to 1 on 31 August, so the weather after a late-summer
  acquisition is not fully known from the snowline on that date;
* melt ``DDF_SNOW * PDD`` while the winter snow lasts and ``DDF_ICE * PDD`` on the firn and ice
  beneath (positive degree-days summed from 1 April);
* annual balance ``b(z) = c(z) - melt(z, 30 Sep)``; glacier-wide balances are the means over the
  glacier's pixels (its true DEM); the equilibrium line is where ``b = 0``;
* the transient snowline on day ``d`` is the lowest elevation where winter snow remains.

Per glacier the reference climate is fixed once: the balanced-budget accumulation-area ratio
``AAR0 ~ U(0.50, 0.65)`` (Dyurgerov, Meier and Bahr 2009: 0.58 on average) puts the reference
equilibrium line ``ELA0`` on the glacier's hypsometry, ``P`` is the regional winter accumulation
at the equilibrium line and ``T0`` is solved so that ``b(ELA0) = 0`` in a normal year of
:data:`REFERENCE_YEAR` (1.8-4.5 deg C for the regional accumulations below; the empirical
summer-temperature / accumulation relation at the ELA of Ohmura, Kasser and Funk 1992 gives
0.2-4.6 deg C for the same accumulations).  Year to year, summer temperature anomalies ``dT`` (regional, shared by the region's
glaciers, plus a smaller glacier part), a warming trend, a late-summer anomaly and a winter
accumulation factor ``f`` (log-normal) drive everything.

Sources: degree-day factors for snow 4.1 mm w.e. K-1 d-1 (Braithwaite 2008, J. Glaciol. 54,
437-444) and ice 8.0 (about twice the snow factor, within the range compiled by Hock 2003,
J. Hydrol. 282, 104-115); lapse rate 6.5 K km-1 (standard atmosphere); regional winter
accumulation and annual temperature amplitude are rough climatological values (see the tables
below and docs/simulator.md), not fitted to any record.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np

from facies_bench import schema

#: Degree-day factors, m w.e. per positive degree-day (Braithwaite 2008 for snow; Hock 2003 range for ice).
DDF_SNOW = 4.1e-3
DDF_ICE = 8.0e-3
#: Air-temperature lapse rate, K per metre (standard atmosphere).
LAPSE_RATE = 6.5e-3
#: Relative increase of winter accumulation with elevation, per metre (6 % per 100 m).
PRECIP_GRADIENT = 6.0e-4
#: Day of year of the warmest day of the smooth annual cycle (about 19 July).
PEAK_DAY = 200
#: Melt is summed from this day of year (1 April) ...
MELT_START_DAY = 91
#: ... to the end of the hydrological year (30 September) for the annual balance.
YEAR_END_DAY = 273
#: Balanced-budget AAR of each glacier's reference climate (uniform draw), Dyurgerov et al. (2009): ~0.58.
AAR0_RANGE = (0.50, 0.65)
#: The reference climate balances the glacier in this year; summers warm by WARMING_K_PER_YEAR after it.
REFERENCE_YEAR = 1990
WARMING_K_PER_YEAR = 0.03
#: Interannual summer temperature anomaly, K: regional part, glacier part, late-summer part.
SUMMER_T_SD = (0.8, 0.25, 0.6)
#: Log-normal winter accumulation factor, standard deviation of log: regional part, glacier part.
WINTER_P_SD = (0.2, 0.08)
#: Winter accumulation at the equilibrium line (m w.e.) and half the annual range of daily mean
#: temperature (K) per region: maritime Norway and southern Iceland wettest, Svalbard driest.
REGION_CLIMATE = {
    "Pyrenees": (1.3, 8.0), "Alps": (1.4, 9.0), "Scandinavia": (2.0, 8.0), "Iceland": (2.2, 6.0), "Svalbard": (0.7, 9.0),
}
_STREAM_REGION, _STREAM_GLACIER, _STREAM_REFERENCE = 41, 42, 43
_DAYS = np.arange(MELT_START_DAY, 300)
_JJA = np.arange(152, 244)
_K_JJA = float(np.cos(2 * np.pi * (_JJA - PEAK_DAY) / 365).mean())


@dataclass(frozen=True)
class GlacierClimate:
    """The reference climate of one glacier (fixed over the years)."""

    glacier: str
    region: str
    z_min: float  #: lowest glacier elevation, m (of the hypsometry the climate is set on)
    z_max: float  #: highest glacier elevation, m
    aar0: float  #: balanced-budget accumulation-area ratio
    ela0: float  #: reference equilibrium-line altitude, m
    winter_p: float  #: winter accumulation at ELA0 in a normal year, m w.e.
    amplitude: float  #: half the annual range of daily mean temperature, K
    t0: float  #: June-August mean air temperature at ELA0 in the reference year, deg C


@dataclass(frozen=True)
class GlacierYear:
    """The weather and mass balance of one glacier in one hydrological year."""

    glacier: str
    year: int
    d_temp: float  #: summer temperature anomaly incl. the trend, K
    d_temp_late: float  #: extra late-summer (August onwards) anomaly, K
    precip_factor: float  #: winter accumulation factor
    annual: float  #: glacier-wide annual balance, m w.e.
    winter: float  #: glacier-wide winter balance, m w.e.
    summer: float  #: glacier-wide summer balance (annual - winter), m w.e.
    ela: float  #: equilibrium-line altitude, m (may lie off the glacier)
    aar: float  #: accumulation-area ratio (share of glacier pixels with b > 0)
    band_split_m: float  #: elevation splitting the glacier into a lower and an upper band, m
    annual_lower: float  #: mean annual balance of the pixels below ``band_split_m``, m w.e. (NaN if none)
    annual_upper: float  #: mean annual balance of the pixels at or above ``band_split_m``, m w.e.

    def to_dict(self) -> dict:
        """JSON-ready (floats rounded to 1e-5, NaN as None)."""
        return {k: ((None if np.isnan(v) else round(v, 5)) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _rng(seed: int, stream: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), stream, *(int(k) for k in keys)]))


def _late_weight(days: np.ndarray) -> np.ndarray:
    return np.clip((days - 213) / 30.0, 0.0, 1.0)


def _pdd(climate: GlacierClimate, z: np.ndarray, d_temp: float, d_temp_late: float, last_day: int) -> np.ndarray:
    """Positive degree-days at elevations ``z`` summed from 1 April to ``last_day`` (inclusive)."""
    days = _DAYS[_DAYS <= last_day]
    if days.size == 0:
        return np.zeros(np.shape(z))
    cycle = climate.amplitude * (np.cos(2 * np.pi * (days - PEAK_DAY) / 365) - _K_JJA) + d_temp_late * _late_weight(days)
    temp = (climate.t0 + d_temp - LAPSE_RATE * (np.asarray(z, float)[..., None] - climate.ela0)) + cycle
    return np.clip(temp, 0.0, None).sum(axis=-1)


def _accumulation(climate: GlacierClimate, z: np.ndarray, precip_factor: float) -> np.ndarray:
    factor = np.clip(1 + PRECIP_GRADIENT * (np.asarray(z, float) - climate.ela0), 0.0, None)
    return climate.winter_p * precip_factor * factor


def point_balance(climate: GlacierClimate, z: np.ndarray, *, d_temp: float = 0.0, d_temp_late: float = 0.0,
                  precip_factor: float = 1.0, last_day: int = YEAR_END_DAY) -> np.ndarray:
    """Balance (m w.e.) at elevations ``z`` from 1 October to ``last_day``: snow first, then firn/ice melt."""
    acc = _accumulation(climate, z, precip_factor)
    pdd = _pdd(climate, z, d_temp, d_temp_late, last_day)
    snow_pdd = acc / DDF_SNOW  # degree-days that melt the winter snow
    return np.where(pdd <= snow_pdd, acc - DDF_SNOW * pdd, -DDF_ICE * (pdd - snow_pdd))


def glacier_climate(glacier: schema.Glacier, elevations: np.ndarray, *, seed: int) -> GlacierClimate:
    """Reference climate of a glacier from its hypsometry (the elevations of its pixels, m)."""
    z = np.asarray(elevations, float)
    z = z[np.isfinite(z)]
    if z.size == 0:
        raise ValueError(f"Glacier {glacier.name!r} has no finite elevation; its climate needs the glacier's hypsometry.")
    rng = _rng(seed, _STREAM_REFERENCE, glacier.index)
    aar0 = float(rng.uniform(*AAR0_RANGE))
    ela0 = float(np.quantile(z, 1.0 - aar0))
    winter_p, amplitude = REGION_CLIMATE[glacier.region]
    base = GlacierClimate(glacier.name, glacier.region, float(z.min()), float(z.max()), aar0, ela0, winter_p, amplitude, 0.0)
    # T0 such that the reference year balances at ELA0: DDF_SNOW * PDD(ELA0) = P (bisection, PDD rises with T0)
    lo, hi = -15.0, 20.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        trial = GlacierClimate(**{**asdict(base), "t0": mid})
        if DDF_SNOW * _pdd(trial, np.array([ela0]), 0.0, 0.0, YEAR_END_DAY)[0] > winter_p:
            hi = mid
        else:
            lo = mid
    return GlacierClimate(**{**asdict(base), "t0": 0.5 * (lo + hi)})


def year_weather(glacier: schema.Glacier, year: int, *, seed: int) -> tuple[float, float, float]:
    """(summer anomaly incl. trend K, late-summer anomaly K, winter factor) of a glacier-year.

    The regional parts are drawn from ``(seed, region, year)`` so all glaciers of a region share
    a year's weather; the glacier parts from ``(seed, glacier, year)``.
    """
    region = _rng(seed, _STREAM_REGION, schema.region_index(glacier.region), year)
    local = _rng(seed, _STREAM_GLACIER, glacier.index, year)
    t_region, p_region = region.normal(0.0, SUMMER_T_SD[0]), region.normal(0.0, WINTER_P_SD[0])
    t_local, late, p_local = local.normal(0.0, SUMMER_T_SD[1]), local.normal(0.0, SUMMER_T_SD[2]), local.normal(0.0, WINTER_P_SD[1])
    d_temp = WARMING_K_PER_YEAR * (year - REFERENCE_YEAR) + t_region + t_local
    return float(d_temp), float(late), float(np.exp(p_region + p_local))


def band_split(glacier: schema.Glacier) -> float:
    """Elevation (m) splitting a glacier's published range into two WGMS-style bands (nearest 100 m)."""
    return float(round((glacier.min_elev_m + glacier.max_elev_m) / 2 / 100) * 100)


def glacier_year(climate: GlacierClimate, glacier: schema.Glacier, year: int, elevations: np.ndarray, *,
                 seed: int) -> GlacierYear:
    """Mass balance of one glacier-year over the glacier's pixels (``elevations``, m)."""
    z = np.asarray(elevations, float)
    z = z[np.isfinite(z)]
    d_temp, late, factor = year_weather(glacier, year, seed=seed)
    # the balance profile on a 1-m grid over the glacier's range, then averaged over its pixels
    grid = np.arange(np.floor(z.min()), np.ceil(z.max()) + 1.0)
    annual_profile = point_balance(climate, grid, d_temp=d_temp, d_temp_late=late, precip_factor=factor)
    winter_profile = _accumulation(climate, grid, factor)
    idx = np.clip(np.round(z - grid[0]).astype(int), 0, grid.size - 1)
    b = annual_profile[idx]
    annual = float(b.mean())
    winter = float(winter_profile[idx].mean())
    split = band_split(glacier)
    lower, upper = b[z < split], b[z >= split]
    return GlacierYear(glacier.name, int(year), d_temp, late, factor, annual, winter, annual - winter,
                       _equilibrium_line(climate, d_temp, late, factor), float((b > 0).mean()), split,
                       float(lower.mean()) if lower.size else float("nan"), float(upper.mean()) if upper.size else float("nan"))


def _first_positive(climate: GlacierClimate, d_temp: float, late: float, factor: float, last_day: int) -> float:
    """Lowest elevation (m) whose balance up to ``last_day`` is still positive (snow left)."""
    grid = np.arange(climate.z_min - 1500.0, climate.z_max + 1500.0, 1.0)
    b = point_balance(climate, grid, d_temp=d_temp, d_temp_late=late, precip_factor=factor, last_day=last_day)
    positive = np.flatnonzero(b > 0)
    if positive.size == 0:
        return float(grid[-1])
    return float(grid[positive[0]])


def _equilibrium_line(climate: GlacierClimate, d_temp: float, late: float, factor: float) -> float:
    return _first_positive(climate, d_temp, late, factor, YEAR_END_DAY)


def transient_snowline(climate: GlacierClimate, glacier: schema.Glacier, date: dt.date, *, seed: int) -> float:
    """Elevation (m) of the transient snowline on ``date``: the lowest elevation with winter snow left."""
    d_temp, late, factor = year_weather(glacier, date.year, seed=seed)
    day = min(date.timetuple().tm_yday, int(_DAYS[-1]))  # early-October scenes: this year's melt season
    return _first_positive(climate, d_temp, late, factor, day)


def normalised_elevation(climate: GlacierClimate, z: float) -> float:
    """``(z - z_min) / (z_max - z_min)`` on the glacier's true hypsometry."""
    span = climate.z_max - climate.z_min
    return float((z - climate.z_min) / span) if span > 0 else 0.0

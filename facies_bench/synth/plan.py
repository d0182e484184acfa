"""The acquisition plan of the synthetic dataset: which scenes exist, when, with which sensor.

Modelling choices and sources:

* 92 scenes over 1986-2024 (paper, Section 2).  Every glacier has at least one scene; the other
  scenes go to glaciers in proportion to the square root of their label share (big glaciers
  were imaged more often), at most 8 per glacier.  Kongsvegen and Midtre Lovenbreen get the
  years the paper uses for their glacier-specific SMB models (smb_glacier_years.csv).
* "Most acquisitions from the end of the ablation season" (paper): 75 % of dates fall between
  5 August and 20 September, the rest between 10 July and 5 October.
* Sensors are valid for their dates (``schema.sensor_valid_on``).  Scenes are given sensors
  greedily, largest expected label count first, towards the per-sensor shares of the raw labels:
  Table 6 of the paper counts the labels left after cleaning, so each class count is divided by
  (1 - its Table 3 pruning rate) first (Landsat 5 19.5 %, Landsat 7 6.7 %, Landsat 8 29.7 %,
  Landsat 9 0.013 %, Sentinel-2 44.1 %).  Landsat 9 has 15 ice-only labels in Table 6 and Pyrenees 53 ice-only
  labels in Table 5, so the one Landsat 9 scene is a small Maladeta scene with ice labels only.
* Two scenes mirror the failure cases of the paper's Fig. 6: Adler 2011 after fresh snowfall
  (all surfaces look alike) and Langjokull 2000 with unusually dark (dusty) snow.
* Acquisition time is 10:30 local solar time (the sun-synchronous Landsat and Sentinel-2
  descending nodes), from which :func:`facies_bench.features.solar_position` gives the sun.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

from facies_bench import schema
from facies_bench.features import solar_position
from facies_bench.synth.folds import N_LABELS, SYNTHETIC_FOLDS, glacier_label_shares, restore_raw_counts

N_SCENES = 92
YEAR_MIN, YEAR_MAX = 1986, 2024
MAX_SCENES_PER_GLACIER = 8
#: Labels per sensor and class after cleaning, Table 6 of the paper (class order of ``schema.CLASSES``).
SENSOR_CLASS_TABLE6 = {
    "Landsat 5": [8443, 4919, 4033, 2716, 1542, 282, 3, 264],
    "Landsat 7": [2898, 1393, 375, 2756, 126, 50, 29, 18],
    "Landsat 8": [13600, 6179, 5540, 4303, 3372, 722, 207, 250],
    "Landsat 9": [15, 0, 0, 0, 0, 0, 0, 0],
    "Sentinel-2": [19258, 11955, 6246, 7338, 4886, 738, 408, 90],
}
#: Raw (pre-cleaning) labels per sensor: Table 6's class counts restored with Table 3's pruning rates.
SENSOR_LABEL_SHARE = {s: float(restore_raw_counts(c).sum()) for s, c in SENSOR_CLASS_TABLE6.items()}
#: Scene years of the glacier-specific SMB glaciers (paper, smb_glacier_years.csv).
FIXED_YEARS = {"Kongsvegen": (1995, 2013, 2015, 2020, 2021), "Midtre Lovenbreen": (1995, 2013, 2015, 2020)}
#: Scenes that reproduce the paper's failure cases (Fig. 6k, 6l).
SPECIAL_SCENES = {("Adler", 2011): "fresh_snow", ("Langjokull ice cap", 2000): "dusty_snow"}
#: Landsat 9's single, tiny ice-only scene (Table 6) is on this glacier.
LANDSAT9_GLACIER = "Maladeta"


@dataclass(frozen=True)
class ScenePlan:
    """One planned acquisition."""

    scene_id: str
    glacier: str
    region: str
    fold: int
    sensor: str
    date: dt.date
    sun_azimuth: float
    sun_elevation: float
    weight: float  #: share of all labels planned for this scene (sums to 1 over scenes)
    condition: str = "normal"  #: "normal", "fresh_snow", "dusty_snow" or "ice_only"
    index: int = 0  #: position in the plan (rows are written in this order)
    extra: dict = field(default_factory=dict)


def scene_counts() -> dict[str, int]:
    """Scenes per glacier (sums to 92)."""
    shares = glacier_label_shares()
    counts = {name: len(FIXED_YEARS.get(name, ())) or 1 for name in shares}
    counts[LANDSAT9_GLACIER] = max(counts[LANDSAT9_GLACIER], 2)
    free = [n for n in shares if n not in FIXED_YEARS and n != LANDSAT9_GLACIER]
    remaining = N_SCENES - sum(counts.values())
    weights = {n: np.sqrt(shares[n]) for n in free}
    while remaining > 0:
        # largest weight per scene already given gets the next scene
        name = max((n for n in free if counts[n] < MAX_SCENES_PER_GLACIER), key=lambda n: (weights[n] / counts[n], n))
        counts[name] += 1
        remaining -= 1
    return counts


def _random_date(rng: np.random.Generator, year: int) -> dt.date:
    if rng.random() < 0.75:
        start, span = dt.date(year, 8, 5), 46
    else:
        start, span = dt.date(year, 7, 10), 87
    return start + dt.timedelta(days=int(rng.integers(0, span)))


def _valid_years(sensor: str) -> list[int]:
    s = schema.SENSORS[schema.sensor_index(sensor)]
    first = max(YEAR_MIN, s.first_date.year + (1 if s.first_date.month > 7 else 0))
    last = min(YEAR_MAX, s.last_date.year if s.last_date else YEAR_MAX)
    return list(range(first, last + 1))


def _sensor_for_year(rng: np.random.Generator, year: int, deficits: dict[str, float]) -> str:
    date = dt.date(year, 8, 20)
    valid = [s for s in deficits if s != "Landsat 9" and schema.sensor_valid_on(s, date)]
    return max(valid, key=lambda s: (deficits[s], rng.random()))


def make_plan(seed: int = 0) -> list[ScenePlan]:
    """The 92 planned scenes, sorted by fold, glacier (schema order) and date.

    Args:
        seed: random seed (dates and sensors vary with the seed, the structure does not).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    shares = glacier_label_shares()
    counts = scene_counts()
    total_sensor = sum(SENSOR_LABEL_SHARE.values())
    deficits = {s: n / total_sensor for s, n in SENSOR_LABEL_SHARE.items()}
    # (glacier, weight, fixed year or None, condition)
    slots: list[tuple[str, float, int | None, str]] = []
    for name, n in counts.items():
        w = rng.uniform(0.6, 1.4, size=n)
        w = w / w.sum() * shares[name]
        years: list[int | None] = list(FIXED_YEARS.get(name, [None] * n))
        conditions = ["normal"] * n
        for (special, year), cond in SPECIAL_SCENES.items():
            if special == name:
                years[0], conditions[0] = year, cond
        if name == LANDSAT9_GLACIER:
            l9 = SENSOR_LABEL_SHARE["Landsat 9"] / total_sensor
            w = np.array([shares[name] - l9, l9])
            conditions = ["ice_only"] * n
        slots.extend((name, float(wi), y, c) for wi, y, c in zip(w, years, conditions, strict=False))
    plans: dict[tuple[str, int], tuple[str, dt.date, float, str]] = {}
    used_years: dict[str, set[int]] = {}
    # Landsat 9 first (fixed), then fixed-year scenes, then the rest, largest first
    l9_weight = min(x[1] for x in slots if x[0] == LANDSAT9_GLACIER)
    l9_slot = next(i for i, s in enumerate(slots) if s[0] == LANDSAT9_GLACIER and s[1] == l9_weight)
    order = [l9_slot] + sorted((i for i in range(len(slots)) if i != l9_slot),
                               key=lambda i: (slots[i][2] is None, -slots[i][1], slots[i][0]))
    for i in order:
        name, weight, fixed_year, cond = slots[i]
        taken = used_years.setdefault(name, set())
        if i == l9_slot:
            sensor = "Landsat 9"
            year = int(rng.choice([y for y in _valid_years(sensor) if y not in taken]))
        elif fixed_year is not None:
            year = fixed_year
            sensor = _sensor_for_year(rng, year, deficits)
        else:
            candidates = [s for s in deficits if s != "Landsat 9"]
            sensor = max(candidates, key=lambda s: (deficits[s], rng.random()))
            if sensor == "Landsat 7" and rng.random() < 0.5:
                choices = [y for y in range(1999, 2004) if y not in taken]  # before the SLC failure
            else:
                choices = [y for y in _valid_years(sensor) if y not in taken]
            year = int(rng.choice(choices))
        taken.add(year)
        date = _random_date(rng, year)
        if cond == "fresh_snow":
            date = dt.date(year, 9, 24)
        while not schema.sensor_valid_on(sensor, date):
            date = _random_date(rng, year)
        deficits[sensor] -= weight
        plans[(name, i)] = (sensor, date, weight, cond)
    out: list[ScenePlan] = []
    for (name, _), (sensor, date, weight, cond) in plans.items():
        g = schema.glacier(name)
        local_solar = dt.datetime.combine(date, dt.time(10, 30))
        utc = local_solar - dt.timedelta(hours=g.lon / 15.0)
        azimuth, elevation = solar_position(g.lat, g.lon, utc)
        scene_id = f"{schema.slug(name)}_{date:%Y%m%d}_{schema.slug(sensor)}"
        out.append(ScenePlan(scene_id=scene_id, glacier=name, region=g.region, fold=SYNTHETIC_FOLDS[name], sensor=sensor,
                             date=date, sun_azimuth=round(azimuth, 3), sun_elevation=round(elevation, 3),
                             weight=weight, condition=cond))
    out.sort(key=lambda p: (p.fold, schema.glacier_index(p.glacier), p.date))
    return [ScenePlan(**{**p.__dict__, "index": i}) for i, p in enumerate(out)]


def scene_label_counts(plan: list[ScenePlan], scale: float) -> np.ndarray:
    """Labels per scene for a scale: ``round(137,592 * scale)`` split by weight, at least one each."""
    total = max(len(plan), int(round(N_LABELS * scale)))
    w = np.array([p.weight for p in plan], dtype=float)
    raw = w / w.sum() * (total - len(plan))
    counts = np.floor(raw).astype(int)
    rest = total - len(plan) - counts.sum()
    counts[np.argsort(-(raw - counts), kind="stable")[:rest]] += 1
    return counts + 1

"""The benchmark specification as plain data (``facies-bench spec``), for tools in any language."""

from __future__ import annotations

from typing import Any

from facies_bench import __version__, schema
from facies_bench.evaluation.metric_table import (
    MAIN_METRIC,
    SUMMARY_VERSION,
    describe_metrics,
    interval_metrics,
    per_class_metrics,
)

#: Sections of every evaluation report besides the metrics of the metric table.
REPORT_SECTIONS: dict[str, str] = {
    "per_class": (f"Per-class {', '.join(m.per_class_title or m.title for m in per_class_metrics())} and support "
                  "(null where the class is absent)."),
    "confusion": "Confusion matrix as counts and row-normalised.",
    "by_region / by_sensor": ("Every confusion-matrix metric and per-class score per region and per sensor, with n per "
                              "class (paper Tables 5 and 6)."),
    "by_fold": "Every confusion-matrix metric per test fold, with ECE_100 per fold.",
    "glacier_wise": "Every confusion-matrix metric per glacier; mean and standard deviation of macro-F1 across glaciers.",
    "bootstrap": f"95 % confidence intervals of {', '.join(m.title for m in interval_metrics())}, resampling whole glaciers.",
    "spearman": "Spearman correlation between sample size and F1 across region x class and sensor x class cells.",
    "calibration": "Reliability curves and ECE_100 per fold and predicted class, before and after calibration.",
}


def _folds() -> dict[str, list[str]]:
    from facies_bench.synth.folds import SYNTHETIC_FOLDS

    folds: dict[str, list[str]] = {str(k): [] for k in range(schema.N_FOLDS)}
    for name in schema.GLACIER_NAMES:
        folds[str(SYNTHETIC_FOLDS[name])].append(name)
    return folds


def benchmark_spec() -> dict[str, Any]:
    """The whole specification as JSON-serialisable data."""
    return {
        "package_version": __version__,
        "schema_version": schema.SCHEMA_VERSION,
        "protocol_version": schema.PROTOCOL_VERSION,
        "patch_size_px": schema.PATCH_SIZE,
        "pixel_size_m": schema.PIXEL_SIZE_M,
        "classes": [{"index": c.index, "name": c.name, "key": c.key, "facies": c.is_facies,
                     "colour": list(c.colour), "definition": c.definition} for c in schema.CLASSES],
        "prediction_columns": ["sample_id", *schema.PROBABILITY_COLUMNS],
        "never_pruned": list(schema.NEVER_PRUNED),
        "features": [{"index": f.index, "name": f.name, "kind": f.kind, "description": f.description,
                      "bands_um": {s.name: list(s.bands[f.name]) for s in schema.SENSORS} if f.kind == "optical" else None,
                      "band_ids": {s.name: s.band_ids[f.index] for s in schema.SENSORS} if f.kind == "optical" else None}
                     for f in schema.FEATURES],
        "feature_sets": {str(k): {"features": list(v), "n_channels": len(v), "description": schema.FEATURE_SET_DESCRIPTIONS[k]}
                         for k, v in schema.FEATURE_SETS.items()},
        "regions": list(schema.REGIONS),
        "sensors": [{"name": s.name, "first_date": s.first_date.isoformat(),
                     "last_date": s.last_date.isoformat() if s.last_date else None,
                     "native_resolution_m": s.native_resolution_m} for s in schema.SENSORS],
        "glaciers": [{"name": g.name, "region": g.region, "country": g.country, "type": g.glacier_type}
                     for g in schema.GLACIERS],
        "folds": {
            "n_folds": schema.N_FOLDS,
            "rule": "test fold k; validation fold (k - 1) mod 6; the other four folds train",
            "synthetic_assignment": _folds(),
            "real_release": "taken from the release's file names ({fold}_{glacier}_...)",
        },
        "metrics": describe_metrics(),
        "summary_version": SUMMARY_VERSION,
        "report_sections": REPORT_SECTIONS,
        "protocol": {
            "version": schema.PROTOCOL_VERSION,
            "splits": {str(k): {"test": k, "validation": schema.validation_fold(k), "train": list(schema.train_folds(k))}
                       for k in range(schema.N_FOLDS)},
            "label_variants": "raw, or a cleaned variant (training/validation use it; test predictions cover all samples)",
            "main_metric": f"{MAIN_METRIC} on the unpruned (raw) test labels",
        },
    }


def format_spec(spec: dict[str, Any]) -> str:
    """A human-readable rendering of :func:`benchmark_spec`."""
    lines = [f"facies-bench {spec['package_version']} - schema v{spec['schema_version']}, protocol v{spec['protocol_version']}",
             f"Patches: {spec['patch_size_px']}x{spec['patch_size_px']} px at {spec['pixel_size_m']:g} m", "", "Classes:"]
    for c in spec["classes"]:
        lines.append(f"  {c['index']} {c['name']:<14} {'facies' if c['facies'] else 'misc.  '}  {c['definition']}")
    lines += ["", "Features:"]
    for f in spec["features"]:
        bands = ""
        if f["bands_um"]:
            bands = "  [" + "; ".join(f"{s}: {b[1]:.3f}-{b[2]:.3f} um" for s, b in f["bands_um"].items()) + "]"
        lines.append(f"  {f['index']:>2} {f['name']:<12} {f['description']}{bands}")
    lines += ["", "Feature sets:"]
    for k, v in spec["feature_sets"].items():
        lines.append(f"  {k}: {v['n_channels']:>2} channels - {v['description']}")
    lines += ["", f"Folds ({spec['folds']['rule']}), synthetic assignment:"]
    for k, names in spec["folds"]["synthetic_assignment"].items():
        lines.append(f"  fold {k}: {', '.join(names)}")
    lines += ["", "Sensors: " + ", ".join(f"{s['name']} ({s['first_date'][:4]}-{s['last_date'][:4] if s['last_date'] else 'today'})" for s in spec["sensors"]),
              "Regions: " + ", ".join(spec["regions"]), "", "Metrics:"]
    for k, v in spec["metrics"].items():
        direction = "higher is better" if v["higher_is_better"] else "lower is better"
        extra = f"; 95 % interval {v['interval']}" if v["interval"] else ""
        lines.append(f"  {k} ({v['title']}, {direction}{extra}): {v['description']}")
    lines += ["", "Report sections:"]
    for k, v in spec["report_sections"].items():
        lines.append(f"  {k}: {v}")
    lines += ["", f"Main metric: {spec['protocol']['main_metric']}"]
    return "\n".join(lines)

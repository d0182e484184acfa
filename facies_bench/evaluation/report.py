"""The evaluation report: ``report.json`` content, Markdown tables in the paper's layouts, files.

:class:`EvaluationReport` wraps the JSON-ready dict built by
:func:`~facies_bench.evaluation.evaluate.evaluate_frame`.  Fractions are stored in [0, 1]; the
Markdown tables show percentages with one decimal, and an empty cell wherever a class is absent
from a group (never a silent 0), as in the paper's Tables 2-6.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.errors import FaciesBenchError
from facies_bench.evaluation.metric_table import headline_metrics, interval_metrics, per_class_metrics, summarise

#: Value of the ``format`` key of report.json.
REPORT_FORMAT = "facies-bench-evaluation"
#: Files a report directory holds.
REPORT_FILES = ("report.json", "report.md", "confusion_matrix.png", "reliability.png")


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def _class_header(first: str, last: str) -> list[str]:
    return [first, *schema.CLASS_NAMES, last]


class EvaluationReport:
    """The result of scoring one predictions file.

    Attributes:
        calibrators: ``{test fold: Calibrator}`` fitted from the validation predictions (empty when
            calibration was not run).
    """

    SCHEMA_VERSION = 1

    def __init__(self, data: dict[str, Any], *, calibrators: dict | None = None):
        self._data = data
        self.calibrators = dict(calibrators or {})

    # ---- access --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The report.json content (a deep copy; fractions in [0, 1], null where undefined)."""
        return copy.deepcopy(self._data)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        """Rebuild a report from ``report.json``; other formats or schema versions raise :class:`FaciesBenchError`."""
        if data.get("format") != REPORT_FORMAT or data.get("schema_version") != cls.SCHEMA_VERSION:
            msg = (f"Not a facies-bench evaluation report of schema version {cls.SCHEMA_VERSION}: format "
                   f"{data.get('format')!r}, schema_version {data.get('schema_version')!r}.")
            raise FaciesBenchError(msg)
        return cls(copy.deepcopy(data))

    def summary(self, *, version: int | None = None) -> dict[str, Any]:
        """The headline numbers a protocol run records per seed (``result.json`` ``summary``).

        One key per summary metric of :mod:`~facies_bench.evaluation.metric_table` (plus
        ``<key>_ci`` for those with a bootstrap interval), of summary ``version`` (default: the
        current one; pass an older one for a report written by an older facies-bench).
        """
        return summarise(self._data, version=version)

    # ---- Markdown ------------------------------------------------------------------------
    def _class_metric_table(self, block: dict[str, Any]) -> list[str]:
        rows = []
        for m in per_class_metrics():
            values = [_pct(block["per_class"][c][m.per_class]) for c in schema.CLASS_KEYS]
            rows.append([m.per_class_title or m.title, *values, _pct(block[m.key])])
        support = [str(block["per_class"][c]["support"]) for c in schema.CLASS_KEYS]
        rows.append(["n", *support, str(block["n"])])
        return _table(_class_header("", "Average / total"), rows)

    def _grouped_tables(self, groups: dict[str, dict[str, Any]], label: str) -> list[str]:
        lines: list[str] = []
        for m in per_class_metrics():
            lines.append(f"**{m.per_class_title} (%)**")
            lines.append("")
            rows = [[name, *(_pct(g["per_class"][c][m.per_class]) for c in schema.CLASS_KEYS), _pct(g[m.key])]
                    for name, g in groups.items()]
            lines += _table(_class_header(label, "Avg"), rows)
        lines.append("**n (labels)**")
        lines.append("")
        rows = [[name, *(str(g["per_class"][c]["support"]) for c in schema.CLASS_KEYS), str(g["n"])] for name, g in groups.items()]
        lines += _table(_class_header(label, "Overall"), rows)
        return lines

    def to_markdown(self) -> str:
        """report.md: the paper's table layouts plus glacier-wise, fold, bootstrap and calibration sections."""
        d = self._data
        prov = d["provenance"]
        store = prov["store"]
        overall = d["overall"]
        boot = d["bootstrap"]
        lines = ["# Evaluation report", ""]
        lines.append(f"- Store: {store.get('name')} {store.get('version')} (`{store.get('content_hash')}`)")
        lines.append(f"- Label variant: `{prov['variant']}`; {d['coverage']['n_scored']} samples scored"
                     + (f", {d['coverage']['n_ignored_pruned']} predictions of pruned samples ignored" if d["coverage"]["n_ignored_pruned"] else ""))
        pred = prov["predictions"]
        lines.append(f"- Predictions: {pred['path'] or '(in memory)'} (sha256 `{pred['sha256']}`, {pred['n_rows']} rows)")
        lines.append(f"- facies-bench {d['package_version']}, report schema {d['schema_version']}, created {d['created']}")
        if d["coverage"]["note"]:
            lines.append(f"- **Coverage:** {d['coverage']['note']}")
        lines += ["", "Percentages. Averages are macro averages over the classes present; an empty cell means the class is absent.", ""]
        lines += ["## Overall", ""]
        headline = [m for m in headline_metrics() if m.from_confusion is not None]
        lines.append("Overall " + ", ".join(f"{m.title} {_pct(overall[m.key])} %" for m in headline) + ".")
        if boot["n_resamples"]:
            intervals = ", ".join(f"{m.title} [{_pct(boot[m.key]['low'])}, {_pct(boot[m.key]['high'])}]"
                                  for m in interval_metrics() if m.key in boot)
            lines.append(f"{100 * boot['confidence']:.0f} % bootstrap intervals ({boot['n_resamples']} resamples of whole glaciers, "
                         f"seed {boot['seed']}): {intervals}.")
        lines.append("")
        lines += self._class_metric_table(overall)
        lines += ["## Per region", ""] + self._grouped_tables(d["by_region"], "Region")
        lines += ["## Per sensor", ""] + self._grouped_tables(d["by_sensor"], "Platform")
        for name, key in (("region", "region"), ("sensor", "sensor")):
            sp = d["spearman_n_f1"][key]
            if sp["rho"] is None:
                lines.append(f"Spearman correlation of n and F1 across {name} x class cells: undefined ({sp['n_cells']} cells).")
            else:
                lines.append(f"Spearman correlation of n and F1 across {name} x class cells: r_s = {sp['rho']:.3f}, "
                             f"p = {sp['p_value']:.3g} ({sp['n_cells']} cells).")
        lines.append("")
        lines += ["## Per test fold", ""]
        cal = d["calibration"]
        rows = []
        for k, block in d["by_fold"].items():
            ece = cal["per_fold"].get(k, {})
            rows.append([k, str(block["n"]), *(_pct(block.get(m.key)) for m in headline),
                         _pct(ece.get("ece_100")), _pct(ece.get("ece_100_calibrated"))])
        lines += _table(["Fold", "n", *(m.title for m in headline), "ECE_100", "ECE_100 calibrated"], rows)
        gw = d["glacier_wise"]
        lines += ["## Glacier-wise", ""]
        lines.append(f"Macro-F1 across {gw['n_glaciers']} glaciers: {_pct(gw['mean_f1'])} ± {_pct(gw['std_f1'])} % (mean ± standard deviation).")
        lines.append("")
        rows = [[name, g["region"], str(g["fold"]), str(g["n"]), *(_pct(g.get(m.key)) for m in headline)]
                for name, g in gw["per_glacier"].items()]
        lines += _table(["Glacier", "Region", "Fold", "n", *(m.title for m in headline)], rows)
        lines += ["## Calibration", ""]
        if not cal["calibrated"]:
            lines.append(f"ECE_100 (max-softmax confidence, {cal['n_bins']} bins): {_pct(cal['ece_100'])} %. {cal['note']}")
            lines.append("")
        else:
            lines.append(f"ECE_100 before calibration {_pct(cal['ece_100'])} %, after {_pct(cal['ece_100_calibrated'])} % "
                         f"(validation folds: {_pct(cal['validation']['ece_100'])} % → {_pct(cal['validation']['ece_100_calibrated'])} %).")
            lines.append(f"Method: {cal['method']}.")
            lines.append("")
        rows = [[schema.CLASS_NAMES[i], str(v["n_predicted"]), _pct(v["ece_100"]), _pct(v["ece_100_calibrated"])]
                for i, v in enumerate(cal["per_class"].values())]
        lines += _table(["Predicted class", "n", "ECE_100", "ECE_100 calibrated"], rows)
        return "\n".join(lines)

    # ---- files ---------------------------------------------------------------------------
    def write(self, outdir: str | os.PathLike) -> Path:
        """Write report.json, report.md, confusion_matrix.png and reliability.png into ``outdir``.

        Everything is rendered into a temporary sibling directory first; only when all files exist
        are they moved into ``outdir`` (created if needed), so a failure leaves no partial report.
        Files other than these four in ``outdir`` are left alone.
        """
        from facies_bench.evaluation.plots import plot_confusion_matrix, plot_reliability

        outdir = Path(outdir)
        outdir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.tmp-", dir=outdir.parent))
        try:
            (tmp / "report.json").write_text(json.dumps(self._data, indent=1, allow_nan=False))
            (tmp / "report.md").write_text(self.to_markdown())
            plot_confusion_matrix(self._data, tmp / "confusion_matrix.png")
            plot_reliability(self._data, tmp / "reliability.png")
            if not outdir.exists():
                os.replace(tmp, outdir)
                return outdir
            for name in REPORT_FILES:
                os.replace(tmp / name, outdir / name)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return outdir


def load_report(path: str | os.PathLike) -> EvaluationReport:
    """Read a report.json (or a directory holding one) back into an :class:`EvaluationReport`.

    Raises:
        FaciesBenchError: the file is missing, not JSON, or not an evaluation report of this schema.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "report.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FaciesBenchError(f"Cannot read an evaluation report from {str(path)!r}: {exc}. Write one with `facies-bench score`.") from exc
    return EvaluationReport.from_dict(data)

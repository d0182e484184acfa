"""The SMB analysis report: JSON for machines, markdown for people, and the two Fig. 8 scatter plots."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from facies_bench.atomic import atomic_path
from facies_bench.smb.regression import ModelResult

#: The paper's figures (Section 4 and reference/paper/dataset_stats.csv: smb_*).
PAPER_SCORES = {"global": {"r": 0.65, "rmse": 0.60}, "glacier_specific": {"r": 0.79, "rmse": 0.28, "n": 9}}
REPORT_FORMAT = "facies-bench-smb-report"
REPORT_VERSION = 1
FILES = {"json": "smb_report.json", "markdown": "smb_report.md", "features": "smb_features.csv",
         "global_png": "smb_global.png", "specific_png": "smb_glacier_specific.png"}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if value is pd.NA:
        return None
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [_clean(r) for r in frame.to_dict(orient="records")]


def _atomic_write(path: Path, write) -> Path:
    with atomic_path(path, suffix=path.suffix) as tmp:
        write(tmp)
    return path


@dataclass
class SMBReport:
    """Result of :func:`facies_bench.smb.run_smb`."""

    settings: dict
    source: dict
    features: pd.DataFrame  #: one row per glacier-year with a record and a scene: predictors + smb
    global_model: ModelResult
    specific_model: ModelResult
    hypsometry: dict  #: glacier -> Hypsometry.to_dict()
    albedo_coefficients: dict  #: sensor -> source text
    left_out: list[dict] = field(default_factory=list)  #: {glacier, year, scene_id, stage, reason}

    # ---- machine-readable ----------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dict of the report."""
        def model(m: ModelResult) -> dict:
            return {"scores": _clean(m.scores), "per_glacier": _records(m.per_glacier),
                    "coefficients": _clean(m.coefficients), "predictions": _records(m.predictions)}

        return _clean({
            "format": REPORT_FORMAT, "version": REPORT_VERSION, "settings": self.settings, "source": self.source,
            "global": model(self.global_model), "glacier_specific": model(self.specific_model),
            "paper": PAPER_SCORES, "features": _records(self.features), "hypsometry": self.hypsometry,
            "albedo_coefficients": self.albedo_coefficients, "left_out": self.left_out,
        })

    # ---- human-readable ------------------------------------------------------------------
    def to_markdown(self) -> str:
        """The report as Markdown tables."""
        def fmt(v, digits=2):
            return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else f"{v:.{digits}f}"

        g, s = self.global_model.scores, self.specific_model.scores
        lines = ["# Glacier-wide SMB from facies maps (Eq. 2 and Eq. 3)", ""]
        src = self.source
        lines.append(f"Facies source: {src.get('kind')} ({src.get('facies', src.get('maps', ''))}); "
                     f"window ±{self.settings['window_days']} days around {self.settings['center']}; "
                     f"ridge alpha {self.settings['alpha']}.")
        lines += ["", "| model | validation | n | Pearson r | RMSE (m w.e.) | paper r | paper RMSE |", "|---|---|---|---|---|---|---|",
                  f"| global (Eq. 2) | glacier folds | {g['n']} | {fmt(g['r'])} | {fmt(g['rmse'])} | 0.65 | 0.60 |",
                  f"| glacier-specific (Eq. 3) | leave-one-year-out | {s['n']} | {fmt(s['r'])} | {fmt(s['rmse'])} | 0.79 | 0.28 |", ""]
        if self.global_model.coefficients:
            c = self.global_model.coefficients
            lines += ["Global coefficients (all records): " + ", ".join(f"{k} {v:+.3f}" for k, v in c.items()), ""]
        for title, m in (("Global model per glacier", self.global_model), ("Glacier-specific models", self.specific_model)):
            lines += [f"## {title}", "", "| glacier | n | r | RMSE | bias |", "|---|---|---|---|---|"]
            for row in m.per_glacier.itertuples():
                lines.append(f"| {row.glacier} | {row.n} | {fmt(row.r)} | {fmt(row.rmse)} | {fmt(row.bias)} |")
            if m.per_glacier.empty:
                lines.append("| (none) | | | | |")
            lines.append("")
        lines += ["## Left out", ""]
        if not self.left_out:
            lines.append("Nothing was left out.")
        else:
            lines += ["| glacier | year | scene | stage | reason |", "|---|---|---|---|---|"]
            for item in self.left_out:
                lines.append(f"| {item.get('glacier') or '–'} | {item.get('year') or '–'} | {item.get('scene_id') or '–'} | "
                             f"{item['stage']} | {item['reason']} |")
        lines += ["", "## Albedo conversion", ""]
        lines += [f"* {sensor}: {text}" for sensor, text in self.albedo_coefficients.items()]
        return "\n".join(lines) + "\n"

    # ---- files ---------------------------------------------------------------------------
    def write(self, outdir: str | os.PathLike) -> dict[str, Path]:
        """Write JSON, markdown, the feature table and the two scatter plots; returns the paths."""
        outdir = Path(outdir)
        paths = {k: outdir / v for k, v in FILES.items()}
        _atomic_write(paths["json"], lambda p: p.write_text(json.dumps(self.to_dict(), indent=2) + "\n"))
        _atomic_write(paths["markdown"], lambda p: p.write_text(self.to_markdown()))
        _atomic_write(paths["features"], lambda p: self.features.to_csv(p, index=False))
        _atomic_write(paths["global_png"], lambda p: plot_scatter(self.global_model, p, title="(a) Global model, glacier-fold CV"))
        _atomic_write(paths["specific_png"], lambda p: plot_scatter(self.specific_model, p, title="(b) Glacier-specific models, leave-one-year-out"))
        return paths


def plot_scatter(result: ModelResult, path: str | os.PathLike, *, title: str) -> None:
    """Predicted vs observed SMB, coloured by glacier, with the 1:1 line (paper Fig. 8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=120)
    pred = result.predictions
    if pred.empty:
        ax.text(0.5, 0.5, "no out-of-sample predictions", ha="center", va="center", transform=ax.transAxes)
        lo, hi = -1.0, 1.0
    else:
        glaciers = sorted(pred["glacier"].unique())
        cmap = plt.get_cmap("tab20", max(len(glaciers), 1))
        for i, glacier in enumerate(glaciers):
            part = pred.loc[pred["glacier"] == glacier]
            ax.scatter(part["smb"], part["predicted"], s=28, color=cmap(i), label=glacier, edgecolor="k", linewidth=0.3)
        values = np.concatenate([pred["smb"].to_numpy(float), pred["predicted"].to_numpy(float)])
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo or 1.0)
        lo, hi = lo - pad, hi + pad
        if len(glaciers) <= 20:
            ax.legend(fontsize=6, loc="upper left", frameon=False, ncol=2 if len(glaciers) > 10 else 1)
    ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal")
    s = result.scores
    r = "–" if s["r"] is None else f"{s['r']:.2f}"
    rmse = "–" if s["rmse"] is None else f"{s['rmse']:.2f}"
    ax.text(0.98, 0.02, f"r = {r}\nRMSE = {rmse} m w.e.\nn = {s['n']}", ha="right", va="bottom", transform=ax.transAxes, fontsize=8)
    ax.set_xlabel("Observed SMB (m w.e.)")
    ax.set_ylabel("Predicted SMB (m w.e.)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)

"""``leaderboard/index.html``: one self-contained static page.

CSS, JavaScript and plots (PNG data URIs drawn with matplotlib from the stored evaluator reports)
are inline, so the page makes no request at all and works from ``file://`` and any static host.
The ranked tables are rendered server-side (readable without JavaScript); the script adds sorting
by any column, the feature-set and label-variant filters, and the per-model detail view.
"""

from __future__ import annotations

import base64
import html
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from facies_bench import schema
from facies_bench.evaluation.metric_table import headline_metrics, per_class_metrics
from facies_bench.leaderboard.render_md import SUBMIT_STEPS
from facies_bench.leaderboard.results import Board, Entry
from facies_bench.leaderboard.scoring import RankedEntry, rank_entries
from facies_bench.leaderboard.table import (
    COLUMNS,
    MAIN_COLUMNS,
    Cell,
    Column,
    board_rows,
    class_breakdown,
    feature_label,
    format_count,
    group_breakdown,
    pct,
)

_CSS = """
:root{--fg:#1d2630;--muted:#5b6773;--line:#d9e0e6;--bg:#f6f8fa;--accent:#1f5f99;--ice:#66b2e6}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:#fff}
header{background:linear-gradient(120deg,#0f3057,#1f5f99 60%,#66b2e6);color:#fff;padding:22px 28px}
header h1{margin:0 0 4px;font-size:26px}
header p{margin:2px 0;opacity:.92}
header code{background:rgba(255,255,255,.15);padding:1px 5px;border-radius:4px}
main{padding:8px 28px 40px;max-width:1500px}
.controls{display:flex;gap:18px;align-items:center;flex-wrap:wrap;margin:16px 0;padding:10px 14px;background:var(--bg);border:1px solid var(--line);border-radius:8px}
.controls label{font-weight:600}
.controls select{margin-left:6px;padding:3px 6px;font-size:14px}
.board{margin:26px 0}
.board h2{margin:0 0 4px;font-size:20px}
.meta{color:var(--muted);font-size:13px;margin:0 0 10px}
.scroll{overflow-x:auto;border:1px solid var(--line);border-radius:8px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);white-space:nowrap;text-align:right}
th.text,td.text{text-align:left}
thead th{background:var(--bg);position:sticky;top:0;cursor:pointer;user-select:none;font-size:13px}
thead th:hover{background:#e8eef4}
thead th[aria-sort=ascending]::after{content:" \\25B2";font-size:10px}
thead th[aria-sort=descending]::after{content:" \\25BC";font-size:10px}
tbody tr:nth-child(even){background:#fbfcfd}
tbody tr:hover{background:#eef5fb}
td.rank{font-weight:700;text-align:left}
td.rank.tied{color:var(--accent)}
td.main{font-weight:600}
.ci{color:var(--muted);font-size:12px}
button.model-link{background:none;border:0;padding:0;color:var(--accent);font:inherit;font-weight:600;cursor:pointer;text-decoration:underline dotted}
.empty{color:var(--muted);padding:10px}
#overlay{position:fixed;inset:0;background:rgba(15,30,45,.45);display:none;align-items:flex-start;justify-content:center;overflow-y:auto;padding:30px 10px}
#overlay.open{display:flex}
.detail{display:none;background:#fff;border-radius:10px;max-width:1100px;width:100%;padding:20px 24px;box-shadow:0 10px 40px rgba(0,0,0,.3)}
.detail.open{display:block}
.detail h3{margin:0 0 4px;font-size:21px}
.detail h4{margin:18px 0 6px}
.detail .scroll{display:inline-block;max-width:100%}
.detail table{width:auto}
.detail .close{float:right;font-size:15px;padding:4px 12px;cursor:pointer}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;font-size:13px;margin:10px 0}
.facts dt{color:var(--muted)}
.facts dd{margin:0;word-break:break-all}
.plots{display:flex;flex-wrap:wrap;gap:16px}
.plots figure{margin:0}
.plots img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:6px}
.plots figcaption{font-size:12px;color:var(--muted)}
section.howto{margin-top:34px;padding:14px 18px;background:var(--bg);border:1px solid var(--line);border-radius:8px}
section.howto code{background:#e8eef4;padding:1px 4px;border-radius:4px}
footer{color:var(--muted);font-size:12px;padding:0 28px 24px}
"""

_JS = r"""
(function(){
  function value(td){var v=td.getAttribute('data-sort');if(v===null||v==='')return null;var n=Number(v);return isNaN(n)?v.toLowerCase():n;}
  function sortTable(table,index,dir){
    var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows);
    rows.sort(function(a,b){var x=value(a.cells[index]),y=value(b.cells[index]);
      if(x===null&&y===null)return 0;if(x===null)return 1;if(y===null)return -1;
      if(x<y)return dir==='ascending'?-1:1;if(x>y)return dir==='ascending'?1:-1;return 0;});
    rows.forEach(function(r){body.appendChild(r);});
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
      if(i===index)th.setAttribute('aria-sort',dir);else th.removeAttribute('aria-sort');});
  }
  document.querySelectorAll('table.lb').forEach(function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
      th.addEventListener('click',function(){
        var cur=th.getAttribute('aria-sort');
        var dir=cur?(cur==='ascending'?'descending':'ascending'):th.getAttribute('data-first');
        sortTable(table,i,dir);});
    });
  });
  function applyFilters(){
    var variant=document.getElementById('filter-variant').value;
    var fs=document.getElementById('filter-fs').value;
    document.querySelectorAll('section.board').forEach(function(sec){
      var show=(variant==='all'||sec.getAttribute('data-variant')===variant);
      sec.style.display=show?'':'none';
      var visible=0;
      sec.querySelectorAll('tbody tr').forEach(function(tr){
        var ok=(fs==='all'||tr.getAttribute('data-fs')===fs);
        tr.style.display=ok?'':'none';if(ok)visible++;});
      var empty=sec.querySelector('.empty');if(empty)empty.style.display=visible?'none':'';
    });
  }
  document.getElementById('filter-variant').addEventListener('change',applyFilters);
  document.getElementById('filter-fs').addEventListener('change',applyFilters);
  var overlay=document.getElementById('overlay');
  function closeDetail(){overlay.classList.remove('open');
    overlay.querySelectorAll('.detail.open').forEach(function(d){d.classList.remove('open');});
    if(location.hash)history.replaceState(null,'',location.pathname+location.search);}
  function openDetail(id){var d=document.getElementById(id);if(!d)return;closeDetail();
    d.classList.add('open');overlay.classList.add('open');overlay.scrollTop=0;d.querySelector('.close').focus();}
  document.querySelectorAll('button.model-link').forEach(function(b){
    b.addEventListener('click',function(){openDetail(b.getAttribute('data-detail'));
      history.replaceState(null,'','#'+b.getAttribute('data-detail'));});});
  overlay.addEventListener('click',function(e){if(e.target===overlay)closeDetail();});
  overlay.querySelectorAll('.close').forEach(function(b){b.addEventListener('click',closeDetail);});
  document.addEventListener('keydown',function(e){if(e.key==='Escape')closeDetail();});
  function fromHash(){if(location.hash.length>1)openDetail(decodeURIComponent(location.hash.slice(1)));}
  window.addEventListener('hashchange',fromHash);
  fromHash();
  applyFilters();
})();
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _png_data_uri(draw: Callable[[dict[str, Any], Path], None], report: dict[str, Any]) -> str | None:
    """Draw a report figure with the evaluator's plotting function and return it as a data URI."""
    with tempfile.TemporaryDirectory(prefix="facies-bench-plot-") as tmp:
        path = Path(tmp) / "figure.png"
        try:
            draw(report, path)
        except (KeyError, TypeError, ValueError):  # a report without the data for this figure
            return None
        return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def detail_id(entry: Entry) -> str:
    """HTML id of an entry's detail block."""
    return f"detail-{entry.board}-{entry.entry_id}"


def _cell_html(column: Column, cell: Cell, ranked: RankedEntry) -> str:
    column_key = column.key
    classes = ["text"] if not column.numeric or column_key == "rank" else []
    if column_key == "rank":
        classes.append("rank" + (" tied" if ranked.tied else ""))
    if column.main:
        classes.append("main")
    sort = "" if cell.sort is None else _e(cell.sort)
    text = _e(cell.text)
    if column_key in MAIN_COLUMNS and "[" in cell.text:
        head, _, tail = cell.text.partition("[")
        text = f"{_e(head.strip())} <span class=\"ci\">[{_e(tail)}</span>"
    if column_key == "model":
        text = f"<button type=\"button\" class=\"model-link\" data-detail=\"{_e(detail_id(ranked.entry))}\">{text}</button>"
    if column_key == "rank" and ranked.tied:
        title = "95 % interval overlaps a neighbour's: statistically tied"
        return f"<td class=\"{' '.join(classes)}\" data-sort=\"{sort}\" title=\"{title}\">{text}</td>"
    return f"<td class=\"{' '.join(classes)}\" data-sort=\"{sort}\">{text}</td>"


def _board_table(board: Board, ranked: list[RankedEntry]) -> str:
    head = "".join(
        f"<th class=\"{'text' if not c.numeric or c.key == 'rank' else ''}\" data-key=\"{c.key}\" title=\"{_e(c.help)}\" "
        f"data-first=\"{'ascending' if c.ascending_first else 'descending'}\">{_e(c.title)}</th>" for c in COLUMNS)
    body = []
    for ranked_entry, row in zip(ranked, board_rows(ranked), strict=True):
        entry = ranked_entry.entry
        cells = "".join(_cell_html(c, row[c.key], ranked_entry) for c in COLUMNS)
        body.append(f"<tr data-entry=\"{_e(entry.entry_id)}\" data-fs=\"{_e(entry.feature_set or 'custom')}\">{cells}</tr>")
    return (f"<div class=\"scroll\"><table class=\"lb\" id=\"table-{_e(board.board_id)}\"><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table><div class=\"empty\" style=\"display:none\">No entry matches the filters."
            "</div></div>")


def _simple_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, text_columns: int = 1) -> str:
    head = "".join(f"<th class=\"{'text' if i < text_columns else ''}\">{_e(h)}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td class=\"{'text' if i < text_columns else ''}\">{_e(c)}</td>" for i, c in enumerate(row))
                   + "</tr>" for row in rows)
    return f"<div class=\"scroll\"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _detail(ranked: RankedEntry, board: Board, *, plots: bool = True) -> str:
    from facies_bench.evaluation.plots import plot_confusion_matrix, plot_reliability

    entry = ranked.entry
    info = entry.info
    model = info["model"]
    facts = [
        ("Board", board.title), ("Rank", ranked.rank_label), ("Model kind", model.get("kind")),
        ("Parameters", format_count(entry.n_parameters)), ("Features", f"{feature_label(entry)}: {', '.join(info.get('features', []))}"),
        ("Seeds", ", ".join(map(str, entry.seeds))), ("Epochs", info.get("epochs")),
        ("Cleaned scores against", info.get("cleaned_variant") or "–"), ("Run created", info.get("created")),
        ("Added", info.get("added")), ("facies-bench", info.get("package_version")),
        ("Protocol", info.get("protocol_version")), ("Submission", f"{model.get('submission')} (sha256 {model.get('submission_sha256')})"),
        ("Hardware", (info.get("hardware") or {}).get("cpu_model", "–")), ("Entry", entry.entry_id),
    ]
    facts_html = "".join(f"<dt>{_e(k)}</dt><dd>{_e('–' if v is None else v)}</dd>" for k, v in facts)
    parts = [f"<div class=\"detail\" id=\"{_e(detail_id(entry))}\" role=\"dialog\" aria-label=\"{_e(entry.model_name)}\">",
             "<button type=\"button\" class=\"close\">Close ✕</button>",
             f"<h3>{_e(entry.model_name)} <span class=\"ci\">{_e(feature_label(entry))}</span></h3>",
             f"<dl class=\"facts\">{facts_html}</dl>"]
    classes = class_breakdown(entry)
    parts.append("<h4>Per class (unpruned, mean over seeds, %)</h4>")
    scores = [m for m in per_class_metrics() if m.per_class]
    parts.append(_simple_table(["Class", *(m.per_class_title or m.title for m in scores), "n"],
                               [[c["class"], *(pct(c.get(m.per_class or "")) for m in scores),
                                 "–" if c["support"] is None else str(c["support"])] for c in classes]))
    for group, title in (("by_region", "Per region"), ("by_sensor", "Per sensor")):
        cells = group_breakdown(entry, group)
        if not cells:
            continue
        parts.append(f"<h4>{title} (unpruned, %; empty cell: class absent)</h4>")
        averaged = [m for m in headline_metrics() if m.from_confusion is not None]
        rows = [[c["name"], "–" if c["n"] is None else str(c["n"]), *(pct(c[m.key]) for m in averaged)]
                + [pct(c["per_class_f1"][name]) if c["per_class_f1"][name] is not None else "" for name in schema.CLASS_NAMES]
                for c in cells]
        parts.append(_simple_table([title.split()[1].capitalize(), "n", *(m.title for m in averaged),
                                    *(f"F1 {n}" for n in schema.CLASS_NAMES)], rows))
    reports = entry.reports.get("unpruned") or []
    if reports and plots:
        seed = entry.seeds[0]
        figures = [(_png_data_uri(plot_confusion_matrix, reports[0]), "Row-normalised confusion matrix"),
                   (_png_data_uri(plot_reliability, reports[0]), "Reliability before and after calibration")]
        figs = "".join(f"<figure><img alt=\"{_e(cap)}\" src=\"{uri}\"><figcaption>{_e(cap)}, seed {seed}, unpruned"
                       f"</figcaption></figure>" for uri, cap in figures if uri)
        if figs:
            parts.append(f"<h4>Plots</h4><div class=\"plots\">{figs}</div>")
    parts.append("</div>")
    return "".join(parts)


def render_html(boards: Sequence[Board], *, generated: str, title: str = "Glacier facies leaderboard",
                plots: bool = True) -> str:
    """The whole ``index.html``.

    Args:
        boards: boards to show, in order.
        generated: build timestamp shown on the page.
        title: page title.
        plots: draw the confusion-matrix and reliability figures of every entry (about a second each).
    """
    variants = sorted({b.variant for b in boards}, key=lambda v: (v != "raw", v))
    feature_sets = sorted({str(e.feature_set or "custom") for b in boards for e in b.entries})
    datasets = sorted({f"{b.dataset} {b.dataset_version}" for b in boards})
    variant_opts = "".join(f"<option value=\"{_e(v)}\">{_e(v)}</option>" for v in variants)
    fs_opts = "".join(f"<option value=\"{_e(f)}\">{_e('FS' + f if f != 'custom' else f)}</option>" for f in feature_sets)
    sections, details = [], []
    for board in boards:
        ranked = rank_entries(board.entries)
        kind = "synthetic" if board.is_synthetic else "real"
        sections.append(
            f"<section class=\"board\" data-variant=\"{_e(board.variant)}\" id=\"board-{_e(board.board_id)}\">"
            f"<h2>{_e(board.dataset)} {_e(board.dataset_version)} · trained on <code>{_e(board.variant)}</code> labels</h2>"
            f"<p class=\"meta\">{kind} dataset · content hash <code>{_e(board.content_hash)}</code> · {len(board.entries)} "
            f"entr{'y' if len(board.entries) == 1 else 'ies'} · click a column to sort, a model for details</p>"
            + _board_table(board, ranked) + "</section>")
        details += [_detail(r, board, plots=plots) for r in ranked]
    if not sections:
        sections.append("<p class=\"empty\">No entries yet — see how to submit below.</p>")
    steps = "".join(f"<li>{_md_code(step)}</li>" for step in SUBMIT_STEPS)
    legend = "".join(f"<li><b>{_e(c.title)}</b>: {_e(c.help)}</li>" for c in COLUMNS)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body>
<header><h1>{_e(title)}</h1>
<p>Glacier facies classification on the pan-European glacier facies dataset (Maslov et al.): 8 classes, 6 glacier-wise folds.</p>
<p>Protocol version <code>{_e(schema.PROTOCOL_VERSION)}</code> · dataset{'s' if len(datasets) != 1 else ''}: {_e(', '.join(datasets) or 'none yet')} · generated {_e(generated)}</p>
<p>Ranked by macro-F1 on the unpruned test labels; every metric recomputed from the submitted predictions; <b>=</b> marks overlapping 95 % glacier-bootstrap intervals.</p>
</header>
<main>
<div class="controls" role="search">
<label for="filter-variant">Label variant<select id="filter-variant"><option value="all">all</option>{variant_opts}</select></label>
<label for="filter-fs">Feature set<select id="filter-fs"><option value="all">all</option>{fs_opts}</select></label>
<a href="#how-to-submit">How to submit</a>
</div>
{''.join(sections)}
<section class="howto" id="how-to-submit"><h2>How to submit</h2><ol>{steps}</ol>
<p>A run must use protocol version <code>{_e(schema.PROTOCOL_VERSION)}</code>, all six folds and the board's exact dataset
(name, version and content hash). Submitted numbers are never trusted: the leaderboard recomputes every metric from the
predictions with the standard evaluator and rejects a run whose numbers differ.</p>
<h3>Columns</h3><ul>{legend}</ul></section>
</main>
<div id="overlay">{''.join(details)}</div>
<footer>Built by <code>facies-bench leaderboard build</code>. Self-contained page: no external requests.</footer>
<script>{_JS}</script>
</body></html>
"""


def _md_code(text: str) -> str:
    """Escape ``text`` and turn Markdown back-ticks into <code>."""
    parts = _e(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))

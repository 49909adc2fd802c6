"""Reconciliation reports: a self-contained HTML page for the named owner, and CSV and JSON for tools.

Every format opens with the summary by kind, then lists the records worst first
(missing, duplicate, mismatch by size of the drift, orphan), with both values of
every differing field. The HTML page has no external assets: its drift chart over
past runs is inline SVG.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jinja2 import Environment

from doohickey.reconcile.diff import Discrepancy, Kind
from doohickey.reconcile.history import RunSummary
from doohickey.reconcile.reconciler import ReconcileRun

HTML_ROWS = 500
KIND_COLOURS = {"missing": "#c0392b", "duplicate": "#8e44ad", "mismatch": "#d68910", "orphan": "#2471a3"}
KIND_MEANING = {
    "missing": "in the owner, not in the other system (older than the grace period)",
    "duplicate": "two records stand for one owner record",
    "mismatch": "both hold it, compared fields differ",
    "orphan": "in the other system with no owner record",
}


def run_to_dict(run: ReconcileRun) -> dict[str, Any]:
    """The JSON-ready form of a run: summary first, then the records worst first."""
    result = run.found
    return {
        "name": run.spec.name,
        "entity": run.spec.entity,
        "owner_system": run.spec.owner,
        "other_system": run.spec.other,
        "person": run.spec.person,
        "run_id": run.run_id,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat(),
        "status": run.status,
        "summary": {**result.counts, "total": result.total, "owner_rows": result.owner_rows,
                    "other_rows": result.other_rows, "matched": result.matched, "pending": result.pending,
                    "owner_without_key": result.unkeyed,
                    "repaired": len(run.repaired), "remaining": run.result.total, "truncated": result.truncated},
        "records": [d.to_dict() for d in result.discrepancies],
    }


def render_json(run: ReconcileRun) -> str:
    """The run as one JSON document."""
    return json.dumps(run_to_dict(run), indent=2, default=str)


CSV_COLUMNS = ("kind", "key", "owner_id", "other_ids", "field", "owner_value", "other_value", "delta", "note")


def render_csv(run: ReconcileRun) -> str:
    """One row per differing field (one per record for other kinds), after ``#`` summary lines."""
    out = io.StringIO()
    result = run.found
    out.write(f"# {run.spec.name}: {run.spec.entity} {run.spec.owner} -> {run.spec.other}, "
              f"{run.started_at.isoformat()}, status {run.status}\n")
    out.write("# " + ", ".join(f"{k}={v}" for k, v in result.counts.items()) + f", total={result.total}\n")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for d in result.discrepancies:
        base = [str(d.kind), d.key, d.owner_id or "", " ".join(d.other_ids)]
        if d.fields:
            for f in d.fields:
                writer.writerow([*base, f.name, _text(f.owner), _text(f.other), _text(f.delta), d.note])
        else:
            writer.writerow([*base, "", "", "", "", d.note])
    return out.getvalue()


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def drift_svg(history: Sequence[RunSummary], width: int = 560, height: int = 140) -> str:
    """A small stacked-bar chart of discrepancies by kind over past runs, as inline SVG."""
    if not history:
        return ""
    pad, top = 28, 12
    peak = max(max(h.total for h in history), 1)
    slot = (width - pad - 8) / len(history)
    bar = max(2.0, slot * 0.7)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="discrepancies per run">',
             f'<line x1="{pad}" y1="{height - 18}" x2="{width - 4}" y2="{height - 18}" stroke="#999"/>',
             f'<text x="2" y="{top + 8}" font-size="10" fill="#555">{peak}</text>',
             f'<text x="2" y="{height - 20}" font-size="10" fill="#555">0</text>']
    scale = (height - 18 - top) / peak
    for i, h in enumerate(history):
        x = pad + i * slot
        y = height - 18
        for kind in Kind:
            n = h.counts.get(str(kind), 0)
            if n:
                parts.append(f'<rect x="{x:.1f}" y="{y - n * scale:.1f}" width="{bar:.1f}" height="{n * scale:.1f}" '
                             f'fill="{KIND_COLOURS[str(kind)]}"><title>{h.started_at:%Y-%m-%d %H:%M}: '
                             f'{n} {kind}</title></rect>')
                y -= n * scale
        if h.total == 0:
            parts.append(f'<rect x="{x:.1f}" y="{height - 20}" width="{bar:.1f}" height="2" fill="#27ae60">'
                         f'<title>{h.started_at:%Y-%m-%d %H:%M}: clean</title></rect>')
    first, last = history[0].started_at, history[-1].started_at
    parts.append(f'<text x="{pad}" y="{height - 4}" font-size="10" fill="#555">{first:%Y-%m-%d %H:%M}</text>')
    parts.append(f'<text x="{width - 4}" y="{height - 4}" font-size="10" fill="#555" text-anchor="end">'
                 f'{last:%Y-%m-%d %H:%M}</text>')
    parts.append("</svg>")
    return "".join(parts)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Reconciliation {{ r.name }}: {{ r.status }}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222;max-width:1100px}
h1{font-size:1.4rem;margin-bottom:.2rem} .sub{color:#555;margin-top:0}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;color:#fff;font-weight:600}
.clean{background:#27ae60}.repaired{background:#2471a3}.drift{background:#c0392b}
table{border-collapse:collapse;margin:.8rem 0}td,th{border-bottom:1px solid #ddd;padding:.3rem .6rem;text-align:left;
vertical-align:top}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.k{font-weight:600}.old{color:#555}.new{color:#000;font-weight:600}.note{color:#777}
</style></head><body>
<h1>{{ r.entity }} reconciliation <span class="badge {{ r.status }}">{{ r.status }}</span></h1>
<p class="sub">{{ r.name }}: owner <b>{{ r.owner_system }}</b> compared with <b>{{ r.other_system }}</b>
{% if r.person %}&middot; responsible: <b>{{ r.person }}</b>{% endif %}
&middot; {{ when }}{% if r.run_id %} &middot; run #{{ r.run_id }}{% endif %}</p>
<h2>Summary</h2>
<table><tr><th>kind</th><th>count</th><th>meaning</th></tr>
{% for kind in kinds %}<tr><td class="k" style="color:{{ colours[kind] }}">{{ kind }}</td>
<td class="n">{{ "{:,}".format(s[kind]) }}</td><td>{{ meaning[kind] }}</td></tr>{% endfor %}
<tr><td class="k">total</td><td class="n">{{ "{:,}".format(s.total) }}</td><td>
{{ "{:,}".format(s.owner_rows) }} owner records, {{ "{:,}".format(s.other_rows) }} in {{ r.other_system }},
{{ "{:,}".format(s.matched) }} identical{% if s.pending %}, {{ s.pending }} too recent to judge{% endif %}
{% if s.owner_without_key %}, {{ s.owner_without_key }} owner records without a key (not compared){% endif %}
{% if s.repaired %}; {{ s.repaired }} repaired from {{ r.owner_system }}, {{ s.remaining }} left{% endif %}
</td></tr></table>
{% if chart %}<h2>Drift over the last {{ runs }} runs</h2>{{ chart|safe }}
<p class="note">{% for kind in kinds %}<span style="color:{{ colours[kind] }}">&#9632;</span> {{ kind }} {% endfor %}
</p>{% endif %}
<h2>Records, worst first</h2>
{% if not records %}<p>Nothing differs.</p>{% else %}
<table><tr><th>kind</th><th>key</th><th>{{ r.owner_system }} id</th><th>{{ r.other_system }} id(s)</th>
<th>field: {{ r.owner_system }} &rarr; {{ r.other_system }}</th><th>note</th></tr>
{% for d in records %}<tr><td class="k" style="color:{{ colours[d.kind] }}">{{ d.kind }}</td><td>{{ d.key }}</td>
<td>{{ d.owner_id or "" }}</td><td>{{ d.other_ids|join(", ") }}</td><td>
{% for f in d.fields %}<div>{{ f.name }}: <span class="old">{{ f.owner }}</span> &rarr;
<span class="new">{{ f.other }}</span>{% if f.delta is not none %} ({{ signed(f.delta) }}){% endif %}</div>{% endfor %}
</td><td class="note">{{ d.note }}</td></tr>{% endfor %}
</table>{% if more %}<p class="note">{{ "{:,}".format(more) }} more in the CSV or JSON report.</p>{% endif %}
{% endif %}
</body></html>
"""


def render_html(run: ReconcileRun, history: Sequence[RunSummary] = ()) -> str:
    """A self-contained page: status, counts by kind, the drift chart over ``history``, the worst records."""
    data = run_to_dict(run)
    records = data["records"][:HTML_ROWS]
    env = Environment(autoescape=True)
    chart = drift_svg(history)
    return env.from_string(_PAGE).render(
        r=data, s=data["summary"], kinds=[str(k) for k in Kind], colours=KIND_COLOURS, meaning=KIND_MEANING,
        chart=chart, runs=len(history), records=records, more=max(0, len(data["records"]) - HTML_ROWS),
        when=run.started_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), signed=_signed)


def _signed(value: Any) -> str:
    text = str(value)
    return text if text.startswith("-") or text in ("0", "0.00") else f"+{text}"


def write_report(run: ReconcileRun, path: str | Path, history: Sequence[RunSummary] = ()) -> Path:
    """Write the report in the format its suffix names (.html, .csv, .json)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix in (".html", ".htm"):
        text = render_html(run, history)
    elif suffix == ".csv":
        text = render_csv(run)
    elif suffix == ".json":
        text = render_json(run)
    else:
        from doohickey.reconcile.diff import ReconcileError

        raise ReconcileError(f"report {target}: unknown format {suffix or '(none)'}; use .html, .csv or .json")
    target.write_text(text, encoding="utf-8")
    return target


__all__ = ["Discrepancy", "render_csv", "render_html", "render_json", "run_to_dict", "write_report"]

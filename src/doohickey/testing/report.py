"""Reports of a test run: JUnit XML for CI and one self-contained HTML page a project manager can read.

JUnit: one ``<testsuite>`` per plan, one ``<testcase>`` per test case (``classname`` is its
business use case), a ``<failure>`` whose message is the first failed check and whose text
lists them all; every check and measurement goes to ``<system-out>``.

HTML: the verdict per business use case first (which test cases prove it, pass/fail, lag
against its promise), then each test case with what it proves and every check it made,
failures first. No scripts, no external files: it can be mailed or attached to a ticket.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from jinja2 import Environment

from doohickey.testing.runner import TestRun


def fmt_s(value: Any) -> str:
    """Seconds for a person (``0.42 s``), or a dash."""
    if value is None:
        return "–"
    return f"{value:.2f} s" if value < 100 else f"{value / 60:.1f} min"


def junit_xml(run: TestRun) -> str:
    """The run as JUnit XML."""
    failures = sum(1 for r in run.results if r.status == "failed")
    skipped = sum(1 for r in run.results if r.status == "skipped")
    suite = ET.Element("testsuite", name=f"doohickey test {run.plan}", tests=str(len(run.results)),
                       failures=str(failures), errors="0", skipped=str(skipped), time=f"{run.seconds:.2f}",
                       timestamp=run.started_at.strftime("%Y-%m-%dT%H:%M:%S"))
    for result in run.results:
        case = ET.SubElement(suite, "testcase", classname=result.use_case, name=result.name,
                             time=f"{result.seconds:.2f}")
        if result.status == "failed":
            problems = result.failures
            failure = ET.SubElement(case, "failure", message=problems[0][:500], type="ScenarioFailed")
            failure.text = "\n".join(problems)
        elif result.status == "skipped":
            ET.SubElement(case, "skipped", message=result.skipped or "")
        out = ET.SubElement(case, "system-out")
        lines = [f"scenario {result.scenario}: {result.summary}"]
        lines += [("PASS " if c.passed else "FAIL ") + c.message() for c in result.checks]
        if result.metrics:
            lines.append("metrics: " + json.dumps(result.metrics, default=str, sort_keys=True))
        out.text = "\n".join(lines)
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Test report: {{ run.plan }}</title>
<style>
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1200px;color:#1d2733;
line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e4e8ee;padding-bottom:.3rem}
.sub{color:#5b6b7c;margin-top:0}
.banner{padding:1rem 1.2rem;border-radius:8px;font-size:1.25rem;font-weight:600;margin:1.2rem 0}
.ok{background:#e6f6ec;color:#15603a}.bad{background:#fdecec;color:#9b1c1c}.skip{background:#f3f4f6;color:#4b5563}
table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.45rem .6rem;
border-bottom:1px solid #e4e8ee;vertical-align:top}th{background:#f6f8fa;font-weight:600}
.pill{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.85rem;font-weight:600}
.pill.passed{background:#d3f2de;color:#15603a}.pill.failed{background:#fbd5d5;color:#9b1c1c}
.pill.skipped{background:#e5e7eb;color:#4b5563}
.case{border:1px solid #e4e8ee;border-radius:8px;padding:.8rem 1rem;margin:1rem 0}
.case h3{margin:.1rem 0 .3rem 0}.why{color:#5b6b7c;margin:.2rem 0 .6rem 0}
.fail{color:#9b1c1c}.pass{color:#15603a}.num{font-variant-numeric:tabular-nums}
.metrics{font-size:.9rem;color:#3b4b5c}small{color:#5b6b7c}
</style></head><body>
<h1>Test report: {{ run.plan }}</h1>
<p class="sub">{{ run.path }} · environment <b>{{ run.env }}</b> · {{ run.started_at.strftime("%Y-%m-%d %H:%M UTC") }}
 · {{ run.results|length }} test case(s) in {{ fmt_s(run.seconds) }}</p>
<div class="banner {{ 'ok' if run.passed else 'bad' }}">
{% if run.passed %}Every business promise tested holds.{% else %}{{ failed }} of {{ run.results|length }} test case(s)
failed: the promises marked below do not hold yet.{% endif %}</div>

<h2>Business use cases</h2>
<table><tr><th>Use case</th><th>Verdict</th><th>Proved by</th><th>Lag (p50 / p95 / worst) against the promise</th></tr>
{% for v in verdicts %}<tr><td>{{ v.use_case }}</td><td><span class="pill {{ v.status }}">{{ v.status }}</span></td>
<td>{{ v.cases|join(", ") }}</td><td class="num">{% for lag in v.lags %}{{ lag.flow }}: {{ fmt_s(lag.p50_s) }} /
{{ fmt_s(lag.p95_s) }} / {{ fmt_s(lag.max_s) }}{% if lag.promise %} against {{ lag.promise }}
({{ fmt_s(lag.within_s) }} in this run){% if lag.met %} <span class="pass">met</span>{% else %}
<span class="fail">not met</span>{% endif %}{% endif %}<br>{% else %}–{% endfor %}</td></tr>{% endfor %}
</table>
<p><small>Time is compressed in the sandbox (time scale shown per test case): poll intervals, retry waits and the
promises shrink by the same factor, so "15 minutes" is checked as 18 seconds at 1/50.</small></p>

<h2>Test cases</h2>
{% for r in results %}<div class="case"><h3>{{ r.name }} <span class="pill {{ r.status }}">{{ r.status }}</span>
<small>scenario {{ r.scenario }} · {{ fmt_s(r.seconds) }}{% if r.orders %} · orders {{ r.orders[:6]|join(", ") }}
{% if r.orders|length > 6 %}… ({{ r.orders|length }}){% endif %}{% endif %}</small></h3>
<p class="why">{{ r.use_case }}: {{ r.summary }}</p>
{% if r.skipped %}<p>Skipped: {{ r.skipped }}</p>{% endif %}
{% if r.error %}<p class="fail"><b>{{ r.error }}</b></p>{% endif %}
{% if r.checks %}<table><tr><th style="width:55%">Checked</th><th>Expected</th><th>Actual</th></tr>
{% for c in r.checks|sort(attribute="passed") %}<tr><td class="{{ 'pass' if c.passed else 'fail' }}">
{{ '✔' if c.passed else '✘' }} {{ c.what }}</td><td class="num">{{ c.expected }}</td>
<td class="num">{{ c.actual }}{% if c.note %}<br><small>{{ c.note }}</small>{% endif %}</td></tr>{% endfor %}
</table>{% endif %}
{% if r.metrics.black_friday %}{% set b = r.metrics.black_friday %}<p class="metrics">Load:
{{ b.orders_placed }} orders offered at {{ b.offered_per_minute|round(1) }}/min for {{ b.minutes }} min;
achieved <b>{{ b.achieved_per_minute }}</b> orders/min; lag p50 {{ fmt_s(b.lag_p50_s) }}, p95 {{ fmt_s(b.lag_p95_s) }},
p99 {{ fmt_s(b.lag_p99_s) }}; lost {{ b.lost }}, doubled {{ b.doubled }}.</p>{% endif %}
{% if r.metrics.faults %}<p class="metrics">Faults injected:
{% for system, kinds in r.metrics.faults.items() %}{{ system }} {% for k, n in kinds.items() %}{{ k }}×{{ n }}
{% endfor %}{% if not loop.last %}; {% endif %}{% endfor %}</p>{% endif %}
</div>{% endfor %}
</body></html>
"""


def html(run: TestRun) -> str:
    """The run as one self-contained HTML page."""
    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    results = sorted(run.results, key=lambda r: {"failed": 0, "skipped": 2}.get(r.status, 1))
    return env.from_string(TEMPLATE).render(
        run=run, verdicts=run.verdicts(), results=results, fmt_s=fmt_s,
        failed=sum(1 for r in run.results if r.status == "failed"))


def write_reports(run: TestRun, *, junit: Path | None = None, html_path: Path | None = None) -> list[Path]:
    """Write the JUnit and/or HTML report; returns the files written."""
    written = []
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write_text(junit_xml(run), encoding="utf-8")
        written.append(junit)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(html(run), encoding="utf-8")
        written.append(html_path)
    return written

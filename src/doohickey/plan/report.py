"""The stakeholder report of a plan: one self-contained HTML file, a Markdown twin, the system map as SVG.

:func:`report_context` turns a checked plan into plain rows (the entity table,
sync rules, conflict rules, failure handling, reconciliation, SLAs, test cases,
findings); :func:`system_map_svg` draws systems as boxes coloured by kind and
flows as labelled arrows (entity, direction, timing, trigger), marking the
flows and systems that carry risk findings; :func:`write_report` renders the
Jinja2 templates in ``plan/templates/``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from doohickey.plan.check import CheckResult, Finding, Severity, format_duration
from doohickey.plan.model import Flow, Plan

TEMPLATES = Path(__file__).parent / "templates"

KIND_COLOURS = {  # fill, border
    "storefront": ("#e8f1fb", "#2f6db5"), "erp": ("#eaf6ec", "#2e8540"), "wms": ("#fdf3e3", "#c27c0e"),
    "crm": ("#f3ecfa", "#7b4fb0"), "carrier": ("#e6f6f6", "#1f8a8a"), "marketing": ("#fbeaf1", "#b03a6f"),
    "payments": ("#f0f0f0", "#555555"),
}
BOX_W, BOX_H = 190, 70


# --- rows ------------------------------------------------------------------------------------------------------


def trigger_text(flow: Flow) -> str:
    """``webhook orders/create, orders/paid + poll every 2m`` in words."""
    parts = []
    if flow.trigger.webhook:
        parts.append("webhook " + ", ".join(flow.trigger.webhook))
    if flow.trigger.poll:
        parts.append(f"poll every {format_duration(flow.trigger.poll)}")
    if flow.trigger.schedule:
        parts.append(f"schedule {flow.trigger.schedule}")
    return " + ".join(parts)


def short_trigger(flow: Flow) -> str:
    """A compact trigger for the map: ``webhook + 2m poll``."""
    parts = ["webhook"] if flow.trigger.webhook else []
    if flow.trigger.poll:
        parts.append(f"{format_duration(flow.trigger.poll)} poll")
    if flow.trigger.schedule:
        parts.append("scheduled")
    return " + ".join(parts)


def failure_text(flow: Flow) -> str:
    """What happens when the flow fails, in words."""
    policy = flow.on_failure
    if policy is None:
        return "not decided: no retries, no alert, no owner"
    parts = [f"{policy.retries} retries ({policy.backoff})" if policy.retries else "no retries"]
    parts.append("dead letter" if policy.dead_letter else "dropped")
    parts.append(f"alert {policy.alert}" if policy.alert else "no alert")
    parts.append(f"owner: {policy.owner}" if policy.owner else "no owner")
    return "; ".join(parts)


def owners_text(plan: Plan, entity: str) -> str:
    """``shop (status: erp; fulfillment_status: wms)``."""
    default = plan.ownership.get(entity)
    base = " and ".join(default) if isinstance(default, list) else (default or "nobody")
    fields = [f"{key.split('.', 1)[1]}: {' and '.join(v) if isinstance(v, list) else v}"
              for key, v in plan.ownership.items() if key.startswith(f"{entity}.")]
    return base + (f" ({'; '.join(fields)})" if fields else "")


def _risky(findings: list[Finding], prefix: str) -> list[Finding]:
    return [f for f in findings if f.severity is not Severity.INFO
            and (f.field == prefix or f.field.startswith(prefix + "."))]


def report_context(result: CheckResult) -> dict[str, Any]:
    """Everything the report templates show, as plain strings and lists."""
    plan = result.plan
    assert plan is not None, "a plan that does not load has no report"
    findings = result.findings
    entity_rows, sync_rows, failure_rows, conflict_rows = [], [], [], []
    for name, flow in sorted(plan.flows.items(), key=lambda kv: (kv[1].entity, kv[0])):
        arrow = "⇄" if flow.direction == "two-way" else "→"
        risks = _risky(findings, f"flows.{name}")
        entity_rows.append({"entity": flow.entity, "owner": owners_text(plan, flow.entity),
                            "goes": f"{flow.source} {arrow} {flow.target}", "flow": name,
                            "trigger": trigger_text(flow), "fails": failure_text(flow), "risk": len(risks)})
        status = ", ".join(f"{k} → {v}" for k, v in flow.status.values.items()) if flow.status else ""
        if flow.status and flow.status.default:
            status += f", anything else → {flow.status.default}"
        fmap = ""
        if flow.map is not None:
            fmap = f"{len(flow.map.rows)} row(s)" + (" + unchanged fields" if flow.map.passthrough else "")
            if flow.map.file:
                fmap += f" ({flow.map.file.name})"
        sync_rows.append({
            "flow": name, "use_case": flow.use_case or flow.description or "", "entity": flow.entity,
            "direction": str(flow.direction), "timing": str(flow.timing),
            "lag": format_duration(flow.acceptable_lag) if flow.acceptable_lag else "",
            "only": "; ".join(f"{k} in {', '.join(v)}" for k, v in flow.when.items()),
            "coalesce": "latest only" if flow.coalesce == "latest" else "",
            "map": fmap or "same fields (identity)",
            "status": (f"{flow.status.source} → {flow.status.target}: {status}" if flow.status else "")})
        policy = flow.on_failure
        failure_rows.append({
            "flow": name, "retries": f"{policy.retries}, {policy.backoff}" if policy else "none",
            "dead_letter": ("yes" if policy.dead_letter else "no") if policy else "no",
            "alert": (policy.alert or "none") if policy else "none",
            "owner": (policy.owner or "NOT NAMED") if policy else "NOT NAMED",
            "fallback": (policy.fallback or "") if policy else ""})
        if flow.conflict or flow.direction == "two-way":
            conflict = flow.conflict
            rule = str(conflict.rule) if conflict else "NOT DECIDED"
            detail = []
            if conflict and conflict.fields:
                detail.append("fields " + ", ".join(conflict.fields))
            if conflict and conflict.trusted_timestamp:
                detail.append(f"timestamp {conflict.trusted_timestamp}")
            if conflict and conflict.protect_manual_edits:
                detail.append(f"hand edits win for {format_duration(conflict.protect_manual_edits)}")
            conflict_rows.append({"flow": name, "direction": str(flow.direction), "rule": rule,
                                  "detail": "; ".join(detail)})
    ownership_rows = [{"what": key, "owner": " and ".join(v) if isinstance(v, list) else v,
                       "disputed": isinstance(v, list) and len(set(v)) > 1} for key, v in plan.ownership.items()]
    reconcile_rows = [{
        "name": key, "entity": plan.reconcile_entity(key), "between": " ↔ ".join(rec.between),
        "every": format_duration(rec.every) if rec.every else "NOT SCHEDULED", "owner": rec.owner or "NOT NAMED",
        "tolerance": str(rec.tolerance), "repair": "report only" if rec.repair == "report" else "push from owner",
        "alert": rec.alert or ""} for key, rec in plan.reconcile.items()]
    sla_rows = []
    for key, sla in plan.slas.items():
        risks = _risky(findings, f"slas.{key}")
        sla_rows.append({"name": key, "use_case": sla.use_case, "flow": sla.flow or "NO FLOW",
                         "within": format_duration(sla.within), "target": f"{sla.target:.0%}" if sla.target < 1
                         else "every record", "owner": sla.owner or "", "alert": sla.alert or "",
                         "risk": "; ".join(f.title for f in risks)})
    matching_rows = [{"entity": entity, "rules": ", ".join(
        f"fuzzy {'+'.join(r.fields)} ≥ {r.threshold}" if r.key == "fuzzy" else
        (f"{r.key} ({r.region})" if r.region else r.key) for r in rules)} for entity, rules in plan.matching.items()]
    test_rows = [{"name": t.name, "use_case": t.use_case or "", "flow": t.flow or ""} for t in plan.tests]
    window = plan.deploy_window
    return {
        "plan": plan, "name": plan.name, "description": plan.description.strip(), "verdict": str(result.verdict),
        "verdict_class": {"ready to build": "ready", "discovery-level": "discovery"}.get(str(result.verdict), "errors"),
        "open_decisions": result.open_decisions, "findings": findings,
        "systems": [{"name": n, "kind": str(s.kind), "connector": s.connector, "owner": s.owner or "",
                     "description": s.description} for n, s in plan.systems.items()],
        "entity_rows": entity_rows, "sync_rows": sync_rows, "failure_rows": failure_rows,
        "conflict_rows": conflict_rows, "ownership_rows": ownership_rows, "reconcile_rows": reconcile_rows,
        "sla_rows": sla_rows, "matching_rows": matching_rows, "test_rows": test_rows,
        "deploy_window": (f"{', '.join(window.days) or 'any day'} {window.start}–{window.end} {window.timezone}"
                          if window else ""),
        "alerts": [{"name": n, "to": ", ".join([*a.email, *([a.webhook] if a.webhook else [])]),
                    "owner": a.owner or ""} for n, a in plan.alerts.items()],
        "map_lines": map_lines(plan, findings),
        "counts": {str(s): sum(1 for f in findings if f.severity is s) for s in Severity},
    }


def map_lines(plan: Plan, findings: list[Finding]) -> list[str]:
    """The system map in words (for the Markdown twin and screen readers)."""
    lines = []
    for name, flow in plan.flows.items():
        arrow = "⇄" if flow.direction == "two-way" else "→"
        risk = " ⚠" if _risky(findings, f"flows.{name}") else ""
        lines.append(f"{flow.source} {arrow} {flow.target}: {flow.entity} ({name}, {flow.timing}, "
                     f"{short_trigger(flow)}){risk}")
    return lines


# --- the system map --------------------------------------------------------------------------------------------


@dataclass
class Box:
    """A system's box on the map."""

    name: str
    x: float
    y: float

    def edge(self, tx: float, ty: float) -> tuple[float, float]:
        """Where the line from this box's centre towards (tx, ty) leaves the box."""
        dx, dy = tx - self.x, ty - self.y
        if dx == 0 and dy == 0:
            return self.x, self.y
        scale = min((BOX_W / 2 + 6) / abs(dx) if dx else math.inf, (BOX_H / 2 + 6) / abs(dy) if dy else math.inf)
        return self.x + dx * scale, self.y + dy * scale


def _layout(plan: Plan, width: int, height: int) -> dict[str, Box]:
    """Storefronts on the left, the rest on an arc to the right, in kind order, so arrows rarely cross."""
    order = ["storefront", "marketing", "crm", "payments", "erp", "wms", "carrier"]
    names = sorted(plan.systems, key=lambda n: (order.index(str(plan.systems[n].kind)), n))
    cx, cy = width / 2, height / 2
    if len(names) == 1:
        return {names[0]: Box(names[0], cx, cy)}
    if len(names) == 2:
        return {names[0]: Box(names[0], BOX_W / 2 + 20, cy), names[1]: Box(names[1], width - BOX_W / 2 - 20, cy)}
    angles = {name: math.pi + 2 * math.pi * i / len(names) for i, name in enumerate(names)}
    points = {name: (math.cos(angle), -math.sin(angle)) for name, angle in angles.items()}
    # Stretch the ring to the canvas so the map uses its whole width and height.
    xs, ys = [p[0] for p in points.values()], [p[1] for p in points.values()]
    left, top = BOX_W / 2 + 20, BOX_H / 2 + 20
    span_x, span_y = width - 2 * left, height - 2 * top - 20
    return {name: Box(name, left + (x - min(xs)) / ((max(xs) - min(xs)) or 1) * span_x,
                      top + (y - min(ys)) / ((max(ys) - min(ys)) or 1) * span_y) for name, (x, y) in points.items()}


def system_map_svg(plan: Plan, findings: list[Finding] | None = None, width: int = 1100, height: int = 640) -> str:
    """The plan's system map as an inline SVG: boxes by kind, labelled flow arrows, risks marked with ⚠."""
    findings = findings or []
    boxes = _layout(plan, width, height)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
           f'role="img" aria-label="System map of {escape(plan.name)}" font-family="Helvetica, Arial, sans-serif">',
           "<defs>"]
    for colour, key in (("#44546a", "ok"), ("#c0392b", "risk")):
        out.append(f'<marker id="arrow-{key}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
                   f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/>'
                   "</marker>")
    out.append("</defs>")
    groups: dict[tuple[str, str], list[tuple[str, Flow]]] = defaultdict(list)
    for name, flow in plan.flows.items():
        groups[(flow.source, flow.target)].append((name, flow))
    pending: list[Any] = []
    for (source, target), flows in groups.items():
        a, b = boxes[source], boxes[target]
        both = (target, source) in groups
        dx, dy = b.x - a.x, b.y - a.y
        length = math.hypot(dx, dy) or 1
        nx, ny = -dy / length, dx / length  # left normal of a -> b
        offset = 9 if both else 0
        ax, ay = a.edge(b.x + nx * offset, b.y + ny * offset)
        bx, by = b.edge(a.x + nx * offset, a.y + ny * offset)
        ax, ay, bx, by = ax + nx * offset, ay + ny * offset, bx + nx * offset, by + ny * offset
        risky = any(_risky(findings, f"flows.{n}") for n, _ in flows)
        key = "risk" if risky else "ok"
        two_way = any(f.direction == "two-way" for _, f in flows)
        start = f' marker-start="url(#arrow-{key})"' if two_way else ""
        dashed = ' stroke-dasharray="6 4"' if all(not f.trigger.webhook for _, f in flows) else ""
        colour = "#c0392b" if risky else "#44546a"
        out.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{bx:.1f}" y2="{by:.1f}" stroke="{colour}" '
                   f'stroke-width="2"{start} marker-end="url(#arrow-{key})"{dashed}/>')
        lines = _label_lines(flows, findings)
        size = (max(len(t) for t, _, _ in lines) * 6.4 + 16, len(lines) * 16 + 8)
        pending.append(((ax, ay, bx, by), (nx, ny), both, size, lines))
    # Place the biggest labels first, each where it overlaps the boxes and earlier labels least.
    taken: list[Rect] = [(b.x - BOX_W / 2 - 4, b.y - BOX_H / 2 - 4, b.x + BOX_W / 2 + 4, b.y + BOX_H / 2 + 4)
                         for b in boxes.values()]
    for segment, normal, both, size, lines in sorted(pending, key=lambda p: -p[3][0] * p[3][1]):
        rect = _place(segment, normal, both, size, taken, (width, height))
        taken.append(rect)
        out.append(_label_svg(lines, rect))
    for name, box in boxes.items():
        out.append(_box(plan, name, box, findings))
    out.append(_legend(height))
    out.append("</svg>")
    return "\n".join(out)


Rect = tuple[float, float, float, float]  # x0, y0, x1, y1


def _label_lines(flows: list[tuple[str, Flow]], findings: list[Finding]) -> list[tuple[str, bool, str]]:
    lines = []
    for name, flow in flows:
        arrow = "⇄ " if flow.direction == "two-way" else ""
        mark = "⚠ " if _risky(findings, f"flows.{name}") else ""
        lines.append((f"{mark}{arrow}{flow.entity} · {flow.timing} · {short_trigger(flow)}", bool(mark), name))
    return lines


def _overlap(a: Rect, b: Rect) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _place(segment: tuple[float, float, float, float], normal: tuple[float, float], both: bool, size: tuple[float,
           float], taken: list[Rect], bounds: tuple[float, float]) -> Rect:
    """The label rectangle along its arrow that overlaps other labels and boxes least (middle first)."""
    ax, ay, bx, by = segment
    w, h = size
    push = (h / 2 + 8) if both else 0.0
    best: tuple[float, Rect] | None = None
    for t in (0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82):
        cx = ax + (bx - ax) * t + normal[0] * push
        cy = ay + (by - ay) * t + normal[1] * push
        cx = min(max(cx, w / 2 + 2), bounds[0] - w / 2 - 2)
        cy = min(max(cy, h / 2 + 2), bounds[1] - h / 2 - 24)
        rect = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
        cost = sum(_overlap(rect, other) for other in taken)
        if best is None or cost < best[0]:
            best = (cost, rect)
        if cost == 0:
            break
    assert best is not None
    return best[1]


def _label_svg(lines: list[tuple[str, bool, str]], rect: Rect) -> str:
    x0, y0, x1, y1 = rect
    cx = (x0 + x1) / 2
    parts = [f'<g class="flow-label"><rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
             'rx="4" fill="#ffffff" fill-opacity="0.95" stroke="#d0d7de"/>']
    for i, (text, risky, name) in enumerate(lines):
        parts.append(f'<text x="{cx:.1f}" y="{y0 + 18 + i * 16:.1f}" text-anchor="middle" font-size="12" '
                     f'fill="{"#c0392b" if risky else "#1f2933"}" data-flow="{escape(name)}">'
                     f"<title>{escape(name)}</title>{escape(text)}</text>")
    parts.append("</g>")
    return "".join(parts)


def _box(plan: Plan, name: str, box: Box, findings: list[Finding]) -> str:
    system = plan.systems[name]
    fill, border = KIND_COLOURS.get(str(system.kind), ("#f5f5f5", "#666"))
    risky = bool(_risky(findings, f"systems.{name}"))
    x, y = box.x - BOX_W / 2, box.y - BOX_H / 2
    mark = (f'<text x="{x + BOX_W - 12:.1f}" y="{y + 20:.1f}" font-size="15" fill="#c0392b" '
            'text-anchor="middle">⚠</text>') if risky else ""
    return (f'<g class="system" data-system="{escape(name)}"><rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" '
            f'height="{BOX_H}" rx="10" fill="{fill}" stroke="{border}" stroke-width="2"/>'
            f'<text x="{box.x:.1f}" y="{y + 28:.1f}" text-anchor="middle" font-size="17" font-weight="bold" '
            f'fill="#1f2933">{escape(name)}</text>'
            f'<text x="{box.x:.1f}" y="{y + 50:.1f}" text-anchor="middle" font-size="12" fill="{border}">'
            f"{escape(str(system.kind))} · {escape(system.connector)}</text>{mark}</g>")


def _legend(height: int) -> str:
    y = height - 14
    return (f'<g class="legend" font-size="11" fill="#52606d"><line x1="10" y1="{y - 4}" x2="40" y2="{y - 4}" '
            f'stroke="#44546a" stroke-width="2"/><text x="46" y="{y}">webhook-driven</text>'
            f'<line x1="150" y1="{y - 4}" x2="180" y2="{y - 4}" stroke="#44546a" stroke-width="2" '
            f'stroke-dasharray="6 4"/><text x="186" y="{y}">polled / scheduled</text>'
            f'<text x="320" y="{y}" fill="#c0392b">⚠ risk found by plan check</text>'
            f'<text x="500" y="{y}">⇄ two-way</text></g>')


# --- writing ---------------------------------------------------------------------------------------------------


def render_report(result: CheckResult) -> tuple[str, str, str]:
    """The HTML report, its Markdown twin and the SVG system map, as text."""
    assert result.plan is not None
    svg = system_map_svg(result.plan, result.findings)
    context = report_context(result)
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]),
                      trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("report.html.j2").render(**context, svg=Markup(svg))
    md_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True,
                         lstrip_blocks=True)
    md_env.filters["cell"] = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    markdown = md_env.get_template("report.md.j2").render(**context)
    return html, markdown, svg


def write_report(result: CheckResult, out: Path) -> tuple[Path, Path]:
    """Write ``report.html``, ``report.md`` and ``system-map.svg`` into ``out``; return the first two."""
    html, markdown, svg = render_report(result)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.html").write_text(html, encoding="utf-8")
    (out / "report.md").write_text(markdown, encoding="utf-8")
    (out / "system-map.svg").write_text(svg, encoding="utf-8")
    return out / "report.html", out / "report.md"

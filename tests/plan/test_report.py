"""plan report: the system map shows every system and flow; the tables hold the plan's own values."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.plan.check import check_plan
from doohickey.plan.report import render_report, system_map_svg

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXAMPLE = EXAMPLES / "shopify-erp-wms" / "integration.yaml"
RISKY = EXAMPLES / "risky" / "integration.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def test_svg_holds_every_system_and_flow() -> None:
    result = check_plan(EXAMPLE)
    root = ET.fromstring(system_map_svg(result.plan, result.findings))
    systems = {g.get("data-system") for g in root.iter(f"{SVG}g") if g.get("data-system")}
    assert systems == set(result.plan.systems)
    labels = {t.get("data-flow"): "".join(t.itertext()) for t in root.iter(f"{SVG}text") if t.get("data-flow")}
    assert set(labels) == set(result.plan.flows)
    assert "order · real-time · webhook + 2m poll" in labels["orders-to-erp"]
    assert "stock · near-real-time · 1m poll" in labels["stock-to-shop"]
    kinds = {"".join(g.itertext()) for g in root.iter(f"{SVG}g") if g.get("data-system")}
    assert "shopstorefront · shopify" in kinds and "wmswms · wms" in kinds
    assert len(list(root.iter(f"{SVG}line"))) >= 4  # one arrow per (from, to) pair, plus the legend


def test_risky_flows_are_marked_on_the_map() -> None:
    result = check_plan(RISKY)
    svg = system_map_svg(result.plan, result.findings)
    assert "⚠ stock · near-real-time · 15m poll" in svg
    assert "⚠ ⇄ customer" in svg and 'marker-start="url(#arrow-risk)"' in svg  # two-way arrow


def test_tables_hold_the_plans_values() -> None:
    html, markdown, _ = render_report(check_plan(EXAMPLE))
    assert "<svg" in html and "<style>" in html  # self-contained: no scripts, no external files
    assert "<script" not in html and "<link" not in html and 'src="' not in html
    for text in ("Order desk (Sam Rivera)", "shop → erp", "webhook orders/create, orders/updated, orders/cancelled "
                 "+ poll every 2m", "Key the order into the ERP by hand", "Every new order is in the ERP within 15 "
                 "minutes", "push from owner", "shop (status: erp; fulfillment_status: wms)", "manual-reconciliation",
                 "financial_status → status: pending → draft", "Verdict: ready to build", "tue, wed 02:00–05:00"):
        assert text in html, text
    row = next(line for line in markdown.splitlines() if line.startswith("| order (orders-to-erp)"))
    assert row == ("| order (orders-to-erp) | shop (status: erp; fulfillment_status: wms) | shop → erp | webhook "
                   "orders/create, orders/updated, orders/cancelled + poll every 2m | 8 retries (exponential); dead "
                   "letter; alert ops; owner: Order desk (Sam Rivera) |")
    assert "| Entity | Who owns it | Where it goes | What triggers it | If it fails |" in markdown


def test_risky_report_lists_open_decisions_and_findings() -> None:
    html, markdown, _ = render_report(check_plan(RISKY))
    assert "Verdict: discovery-level" in html and "27 open decision(s)" in html
    assert "NOT NAMED" in html and "NOT SCHEDULED" in html and "NOT DECIDED" in html
    assert "erp and shop (disputed)" in html
    assert "| warning | Flow stock-to-shop cannot meet its acceptable lag of 2m (`inventory-drift`)" in markdown


def test_cli_writes_html_markdown_and_svg(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plan", "report", str(EXAMPLE), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.html", "report.md", "system-map.svg"}
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: x\nsystems: {}\nflows: [\n")
    result = CliRunner().invoke(app, ["plan", "report", str(broken), "--out", str(tmp_path / "b")])
    assert result.exit_code == 2 and "invalid YAML" in result.output and not (tmp_path / "b").exists()

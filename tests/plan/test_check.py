"""plan check: the risky example reports every classic risk at its place; good plans are ready to build."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.plan.check import REQUIRED_TESTS, Severity, Verdict, check_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RISKY = EXAMPLES / "risky" / "integration.yaml"
RISKY_LINES = RISKY.read_text().splitlines()


def line_of(fragment: str, occurrence: int = 1) -> int:
    """The 1-based line of the n-th line of the risky plan containing ``fragment``."""
    hits = [i + 1 for i, line in enumerate(RISKY_LINES) if fragment in line]
    return hits[occurrence - 1]


@pytest.fixture(scope="module")
def risky():
    return check_plan(RISKY)


# (finding id, field, the line's text in the risky plan, words the title must hold)
EXPECTED = [
    ("ownership-disputed", "ownership.order.status", "order.status: [erp, shop]", "order.status has two owners"),
    ("ownership-disputed", "ownership.customer.email", ("customer.email: crm", 1), "written twice"),
    ("ownership-missing", "flows.refunds-to-erp.entity", "entity: refund ", "refund has no owner"),
    ("ownership-missing", "flows.customers-two-way.entity", "entity: customer", "customer fields"),
    ("flow-into-owner", "flows.products-to-erp.to", "the ERP owns products", "writes product into its owner erp"),
    ("two-way-no-conflict", "flows.customers-two-way.direction", "direction: two-way", "customers-two-way"),
    ("webhook-no-retry", "flows.orders-to-erp.trigger", "trigger: {webhook: orders/create}", "orders-to-erp"),
    ("webhook-no-alert", "flows.orders-to-erp.trigger", "trigger: {webhook: orders/create}", "orders-to-erp"),
    ("webhook-no-alert", "flows.customers-two-way.on_failure", "on_failure: {retries: 5}", "customers-two-way"),
    ("webhook-no-poll", "flows.orders-to-erp.trigger", "trigger: {webhook: orders/create}", "safety net"),
    ("reconcile-missing", "flows.stock-to-shop.entity", "entity: stock", "stock is synced but never reconciled"),
    ("reconcile-missing", "flows.customers-two-way.entity", "entity: customer", "customer is synced"),
    ("reconcile-no-owner", "reconcile.orders", "orders: {between: [shop, erp]}", "has no owner"),
    ("reconcile-no-schedule", "reconcile.orders", "orders: {between: [shop, erp]}", "has no schedule"),
    ("status-mismatch", "flows.orders-to-erp.status", "    status:", "financial_status pending, authorized"),
    ("inventory-drift", "flows.stock-to-shop.acceptable_lag", "acceptable_lag: 2m", "acceptable lag of 2m"),
    ("duplicate-customers", "flows.customers-two-way.entity", "entity: customer", "no matching rules"),
    ("failure-no-owner", "flows.customers-two-way.on_failure", "on_failure: {retries: 5}", "no named owner"),
    ("failure-no-owner", "flows.refunds-to-erp", "  refunds-to-erp:", "no failure policy"),
    ("sla-unreachable", "flows.refunds-to-erp.sla", "sla: Every refund", "(1h) cannot be met"),
    ("sla-no-flow", "slas.stock-promise", "stock-promise:", "fed by no flow"),
]


@pytest.mark.parametrize(("finding_id", "field", "line_text", "words"), EXPECTED,
                         ids=[f"{e[0]}@{e[1]}" for e in EXPECTED])
def test_risky_plan_reports_each_risk_at_its_place(risky, finding_id, field, line_text, words) -> None:
    text, occurrence = line_text if isinstance(line_text, tuple) else (line_text, 1)
    matches = [f for f in risky.by_id(finding_id) if f.field == field]
    assert matches, f"no {finding_id} at {field}; found {[(f.id, f.field) for f in risky.findings]}"
    finding = matches[0]
    assert finding.position.line == line_of(text, occurrence)
    assert finding.position.file.endswith("risky/integration.yaml")
    assert words in finding.title
    assert finding.severity is Severity.WARNING and finding.why and finding.fix


def test_duplicate_ownership_key_points_at_the_second_key(risky) -> None:
    (finding,) = [f for f in risky.by_id("ownership-disputed") if "email" in f.field]
    assert finding.position.line == line_of("customer.email: crm")
    assert finding.position.line != line_of("customer.email: shop")


def test_every_missing_named_test_case_is_reported(risky) -> None:
    missing = {f.title.removeprefix("No test case named ") for f in risky.by_id("test-missing")}
    assert missing == set(REQUIRED_TESTS) - {"happy-path", "refund"}
    assert all(f.field == "tests" and f.position.line == line_of("tests: [happy-path") for f in
               risky.by_id("test-missing"))


def test_risky_verdict_lists_the_open_decisions(risky) -> None:
    assert risky.verdict is Verdict.DISCOVERY and risky.exit_code == 1
    assert len(risky.open_decisions) == len([f for f in risky.findings if f.severity is Severity.WARNING]) == 27
    assert "order.status has two owners: erp and shop" in risky.open_decisions[0].title


@pytest.mark.parametrize("name", ["shopify-erp-wms", "shopify-tryton"])
def test_bundled_examples_are_ready_to_build(name: str) -> None:
    result = check_plan(EXAMPLES / name / "integration.yaml")
    assert result.verdict is Verdict.READY, [f"{f.id}: {f.title}" for f in result.findings]
    assert result.exit_code == 0


def test_inline_secret_is_an_error_finding_with_exit_2() -> None:
    result = check_plan(EXAMPLES / "risky" / "inline-secret.yaml")
    (finding,) = result.findings
    assert finding.id == "secret-inline" and finding.severity is Severity.ERROR
    assert finding.field == "systems.shop.production.token" and finding.position.line == 10
    assert result.verdict is Verdict.ERRORS and result.exit_code == 2
    assert "shpat_" not in json.dumps(result.to_dict())


def test_unknown_transform_is_an_error_with_did_you_mean(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "shopify-erp-wms", tmp_path / "plan")
    map_file = tmp_path / "plan" / "maps" / "shopify-order-to-erp-sale.yaml"
    map_file.write_text(map_file.read_text().replace("| strip | lower", "| strip | lowr"))
    result = check_plan(tmp_path / "plan" / "integration.yaml")
    (finding,) = result.by_id("transform-unknown")
    assert "did you mean 'lower'" in finding.title and "email -> email" in finding.title
    assert finding.position.file.endswith("shopify-order-to-erp-sale.yaml") and finding.position.line == 5
    assert result.exit_code == 2


def test_status_table_with_default_is_not_a_mismatch(tmp_path: Path) -> None:
    text = RISKY.read_text().replace("values: {paid: confirmed, refunded: cancelled}",
                                     "values: {paid: confirmed, refunded: cancelled}\n      default: draft")
    (tmp_path / "integration.yaml").write_text(text)
    assert not check_plan(tmp_path / "integration.yaml").by_id("status-mismatch")


runner = CliRunner()


def test_cli_check_exit_codes_and_output() -> None:
    ready = runner.invoke(app, ["plan", "check", str(EXAMPLES / "shopify-erp-wms" / "integration.yaml")])
    assert ready.exit_code == 0 and "verdict: ready to build" in ready.output
    risky = runner.invoke(app, ["plan", "check", str(RISKY)])
    assert risky.exit_code == 1
    assert "verdict: discovery-level: 27 open decision(s)" in risky.output
    assert "inventory-drift" in risky.output and "why:" in risky.output and "fix:" in risky.output


def test_cli_check_json_is_stable() -> None:
    result = runner.invoke(app, ["plan", "check", "--json", str(RISKY)])
    doc = json.loads(result.output)
    assert result.exit_code == 1
    assert set(doc) == {"plan", "verdict", "exit_code", "counts", "open_decisions", "findings"}
    assert doc["verdict"] == "discovery-level" and doc["counts"]["warning"] == 27
    assert set(doc["findings"][0]) == {"id", "severity", "title", "field", "file", "line", "column", "why", "fix"}


def test_cli_load_errors_print_file_line_column_without_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "integration.yaml"
    bad.write_text("name: x\nsystems:\n  shop: {kind: storefrnt, connector: shopify}\nflowz: {}\n")
    result = runner.invoke(app, ["plan", "check", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{bad}:3:16: systems.shop.kind: 'storefrnt' is not allowed" in result.output
    assert f"{bad}:4:1: flowz: unknown key 'flowz' (did you mean 'flows'?" in result.output
    assert "allowed: alerts, deploy_window, description, flows" in result.output

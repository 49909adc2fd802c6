"""`doohickey test` on the command line, YAML-only test cases and expectations, reports and the pytest plugin."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from doohickey.cli import app
from doohickey.plan import load_plan
from doohickey.plan.model import TestCase
from doohickey.testing.expect import Checks, parse_target, satisfies
from doohickey.testing.runner import run_case

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def _plan_with_tests(tmp_path: Path, tests: list, *, drop_flows: tuple[str, ...] = ()) -> Path:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["tests"] = tests
    for flow in drop_flows:
        del data["flows"][flow]
    target = tmp_path / "integration.yaml"
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    (tmp_path / "maps").mkdir()
    for source in (EXAMPLE.parent / "maps").iterdir():
        (tmp_path / "maps" / source.name).write_text(source.read_text())
    return target


def test_unknown_test_case_is_a_clear_error_with_did_you_mean(tmp_path: Path) -> None:
    path = _plan_with_tests(tmp_path, [{"name": "happy-pth", "use_case": "Sync orders"}])
    result = CliRunner().invoke(app, ["test", str(path)])
    assert result.exit_code == 2
    assert "test case 'happy-pth': no scenario named 'happy-pth'" in result.output
    assert "did you mean 'happy-path'?" in result.output
    assert "Traceback" not in result.output


def test_cli_runs_a_scenario_and_writes_junit_and_html(tmp_path: Path) -> None:
    junit, html = tmp_path / "junit.xml", tmp_path / "report.html"
    result = CliRunner().invoke(app, ["test", str(EXAMPLE), "--scenario", "manual-reconciliation",
                                      "--junit", str(junit), "--html", str(html)])
    assert result.exit_code == 0, result.output
    assert "1 of 1 test case(s) passed" in result.output
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == "1" and suite.get("failures") == "0"
    case = suite.find("testcase")
    assert case.get("name") == "manual-reconciliation"
    assert case.get("classname") == "Show sellable stock in the storefront"
    page = html.read_text()
    assert "Every business promise tested holds." in page and "<script" not in page
    assert "reconcile stock: shop stock" in page


def test_yaml_test_case_with_data_faults_and_expectations(tmp_path: Path) -> None:
    path = _plan_with_tests(tmp_path, [{
        "name": "half-price-then-cancelled", "use_case": "Sync orders from Shopify to the ERP",
        "faults": [{"system": "erp", "kind": "outage", "start": 0, "end": 1.0, "seconds": 0.5}],
        "data": {"orders": [{"number": "#5001", "lines": [{"sku": "@1", "quantity": 2, "price": "100.00"}],
                             "discount_percent": 50, "shipping": "10.00", "tax_rate": "0.10"}],
                 "then": [{"wait": 1.1}, {"cancel": "#5001"}]},
        "expect": {"erp.orders": 1, "erp.order[#5001].total": "121.00", "erp.order[#5001].discount_total": "100",
                   "erp.order[#5001].lines[0].quantity": 2, "erp.order[#5001].status": "cancelled",
                   "deadletters": 0, "alerts.ops": "<=1",
                   "sla.order-in-erp": "met"}}],
        drop_flows=("orders-to-wms", "shipments-to-shop"))  # an ERP case: the warehouse would ship it first
    loaded = load_plan(path)
    result = asyncio.run(run_case(loaded, loaded.tests[0]))
    assert result.status == "passed", "\n".join(result.failures)
    assert result.scenario == "custom"
    assert result.metrics["lags"]["orders-to-erp"]["count"] >= 1


def test_yaml_expectation_failure_names_record_field_expected_actual() -> None:
    loaded = load_plan(EXAMPLE)
    case = TestCase(name="happy-path", expect={"erp.order[#1001].total": "1.00", "erp.order[#9999]": "present"})
    result = asyncio.run(run_case(loaded, case))
    assert result.status == "failed"
    assert any(f.startswith("erp order #1001: total: expected 1.00, actual ") for f in result.failures)
    assert "erp order #9999: expected present, actual absent" in result.failures


def test_yaml_mistakes_are_reported_not_raised() -> None:
    loaded = load_plan(EXAMPLE)
    bad = TestCase(name="mine", data={"orders": [{"lines": [{"sku": "@1"}], "colour": "red"}]}, expect={"x": 1})
    result = asyncio.run(run_case(loaded, bad))
    assert result.status == "failed"
    assert "data.orders[0]: unknown key(s) colour" in result.error
    wrong_fault = TestCase(name="mine2", faults=[{"system": "nowhere", "kind": "outage"}], expect={"deadletters": 0})
    result = asyncio.run(run_case(loaded, wrong_fault))
    assert "faults[0]: 'system' must name a System of the plan" in result.error


def test_expectation_language() -> None:
    assert satisfies(">=1", 2) and not satisfies(">=1", 0) and satisfies("<5", "4")
    assert satisfies("9.9", "9.90") and satisfies("!=draft", "confirmed") and satisfies("~Sam", "Owner: Sam R")
    assert satisfies("present", True) and satisfies("absent", False) and not satisfies("absent", True)
    target = parse_target("erp.order[#1001].lines[DH-1].discount")
    assert (target.system, target.entity, target.key, target.path) == ("erp", "order", "#1001",
                                                                       ("lines", "DH-1", "discount"))
    assert parse_target("shop.fulfilments[#1001]").plural
    checks = Checks()
    checks.equal("erp order #1001: total", "374.27", "384.27")
    assert checks.failures[0].message() == "erp order #1001: total: expected 374.27, actual 384.27"


def test_pytest_plugin_runs_a_scenario_by_name(doohickey_scenario) -> None:
    result = doohickey_scenario("manual-reconciliation", plan=EXAMPLE)
    assert result.passed and result.metrics["reconcile"]["status"] == "repaired"


@pytest.mark.doohickey_scenario("happy-path", plan=str(EXAMPLE))
def test_pytest_plugin_marker(doohickey_result) -> None:
    assert doohickey_result.passed and doohickey_result.orders == ["#1001"]

"""Every library scenario against the bundled example plan, and each one broken on purpose.

The passing runs prove the business outcomes hold on the example plan over loopback HTTP
(twins, engine, webhooks, polling). The broken runs prove each scenario notices a real mistake
in a plan (a FieldMap that drops the discount, a status table missing a value, no safety-net
poll, no retries ...) and says which record, which field, expected and actual.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from doohickey.plan import load_plan
from doohickey.plan.model import FieldMapSpec, MapRow, Plan, TestCase
from doohickey.testing.runner import CaseResult, run_case
from doohickey.testing.scenarios import LIBRARY

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"
def plan() -> Plan:
    """A fresh copy of the example plan (tests edit it to break scenarios)."""
    return load_plan(EXAMPLE)


def run(loaded: Plan, name: str, **data) -> CaseResult:
    """Run one scenario of the library on ``loaded``."""
    return asyncio.run(run_case(loaded, TestCase(name=name, data=data)))


def failing(result: CaseResult, *fragments: str) -> str:
    """The failure sentence holding every fragment (the test fails, showing all sentences, when none does)."""
    assert result.status == "failed", f"{result.name} should fail but {result.status}: {result.failures}"
    for sentence in result.failures:
        if all(f in sentence for f in fragments):
            return sentence
    raise AssertionError(f"no failure mentions {fragments}; failures were:\n" + "\n".join(result.failures))


FAST = [n for n in LIBRARY if n not in ("custom", "black-friday")]


@pytest.mark.parametrize("name", FAST)
def test_library_scenario_passes_on_the_example_plan(name: str) -> None:
    result = run(plan(), name)
    assert result.status == "passed", "\n".join(result.failures)
    assert all(c.passed for c in result.checks) and len(result.checks) >= 4


def test_black_friday_reports_throughput_lag_and_nothing_lost_or_doubled() -> None:
    result = run(plan(), "black-friday")
    assert result.status == "passed", "\n".join(result.failures)
    figures = result.metrics["black_friday"]
    assert figures["orders_placed"] >= 40 and figures["lost"] == 0 and figures["doubled"] == 0
    assert figures["achieved_per_minute"] > 100
    assert figures["lag_p95_s"] is not None and result.metrics["lags"]["orders-to-erp"]["met"]


# --- broken on purpose ---------------------------------------------------------------------------------


def _drop_discount_and_total(loaded: Plan) -> None:
    loaded.flows["orders-to-erp"].map = FieldMapSpec(passthrough=True, rows=[
        MapRow.model_validate("lines[].discount -> lines[].forgotten_discount"),
        MapRow.model_validate("total -> original_total")])


def test_happy_path_fails_when_the_fieldmap_drops_the_discount() -> None:
    loaded = plan()
    _drop_discount_and_total(loaded)
    result = run(loaded, "happy-path")
    sentence = failing(result, "erp order #1001: line", "discount: expected")
    assert "actual 0" in sentence
    assert "erp order #1001: total: expected 84.73, actual" in failing(result, ": total: expected")


def test_black_friday_fails_when_totals_are_wrong() -> None:
    loaded = plan()
    _drop_discount_and_total(loaded)
    result = run(loaded, "black-friday", minutes=0.05)
    assert "expected 0, actual" in failing(result, "orders whose total differs from the storefront's")


def test_duplicate_event_fails_when_the_fieldmap_drops_shipping() -> None:
    loaded = plan()
    loaded.flows["orders-to-erp"].map = FieldMapSpec(passthrough=True, rows=[
        MapRow.model_validate("shipping_lines -> dropped_shipping"), MapRow.model_validate("total -> was_total")])
    result = run(loaded, "duplicate-event")
    assert "expected 4.99, actual 0" in failing(result, "erp order #100", "shipping_total")


def test_delayed_sync_fails_when_the_status_table_misses_a_value() -> None:
    loaded = plan()
    del loaded.flows["orders-to-erp"].status.values["paid"]
    result = run(loaded, "delayed-sync")
    sentence = failing(result, "dead letters: expected 0, actual")  # one per version of the order that arrived
    assert "orders-to-erp #1001" in sentence and "no value for financial_status='paid'" in sentence


def test_failed_webhook_fails_without_the_polling_safety_net() -> None:
    loaded = plan()
    loaded.flows["orders-to-erp"].trigger.poll = None
    result = run(loaded, "failed-webhook")
    failing(result, "orders-to-erp polls its source", "expected a poll interval, actual none")
    failing(result, "erp order #1001: copies in erp: expected 1, actual 0")


def test_out_of_order_fails_when_the_status_table_says_draft_for_paid() -> None:
    loaded = plan()
    loaded.flows["orders-to-erp"].status.values["paid"] = "draft"
    result = run(loaded, "out-of-order")
    sentence = failing(result, "erp order #100", ": status: expected open, actual confirmed")
    assert "status table: financial_status paid -> draft" in sentence


def test_cancellation_fails_when_nobody_is_alerted() -> None:
    loaded = plan()
    loaded.flows["orders-to-erp"].on_failure.alert = None
    result = run(loaded, "cancellation")
    failing(result, "orders-to-erp: alert: expected an alert channel in on_failure, actual none in the plan")


def test_partial_shipment_fails_when_the_fieldmap_loses_the_tracking_number() -> None:
    loaded = plan()
    loaded.flows["shipments-to-shop"].map = FieldMapSpec(passthrough=True, rows=[
        MapRow.model_validate("tracking_number -> forgotten_tracking")])
    result = run(loaded, "partial-shipment")
    sentence = failing(result, "shop order #1001: parcel 1 tracking number: expected ")
    assert sentence.endswith("actual none")


def test_manual_reconciliation_fails_when_repair_only_reports() -> None:
    loaded = plan()
    loaded.reconcile["stock"].repair = "report"
    result = run(loaded, "manual-reconciliation")
    sentence = failing(result, "shop stock", "available after repair from erp: expected")
    expected, actual = sentence.split("expected ")[1].split(", actual ")
    assert int(actual) == int(expected) + 7


@pytest.mark.parametrize("name", ["outage", "maintenance-window", "rate-limit-storm"])
def test_trouble_scenarios_fail_without_retries(name: str) -> None:
    loaded = plan()
    loaded.flows["orders-to-erp"].on_failure.retries = 0
    result = run(loaded, name, systems=["erp"], window_seconds=1.5)
    sentence = failing(result, "dead letters: expected 0, actual")
    assert "orders-to-erp #100" in sentence

"""`doohickey test` on the Shopify + Tryton plan: the named cases run against a real Tryton started for each case."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from doohickey.connectors.tryton.server import tryton_available
from doohickey.plan import load_plan
from doohickey.plan.model import TestCase
from doohickey.testing.runner import run_case

pytestmark = [pytest.mark.tryton,
              pytest.mark.skipif(not tryton_available(), reason="Tryton is not installed: pip install -e '.[tryton]'")]
PLAN = Path(__file__).resolve().parents[2] / "examples" / "shopify-tryton" / "integration.yaml"


def test_happy_path_reaches_a_real_tryton_with_the_right_lines_and_total() -> None:
    result = asyncio.run(run_case(load_plan(PLAN), TestCase(name="happy-path")))
    assert result.status != "skipped" and result.error is None, result.failures
    held = {c.what: c for c in result.checks}
    assert held["erp order #1001: copies in erp"].passed
    assert held["erp order #1001: total"].passed, held["erp order #1001: total"].message()
    assert all(c.passed for w, c in held.items() if " line " in w), result.failures
    # Tryton confirms and then processes a sale at once: the plan's table says "confirmed", Tryton says "processing".
    status = held["erp order #1001: status"]
    assert status.expected == "confirmed" and status.actual in ("confirmed", "processing")


def test_scenarios_tryton_cannot_show_are_skipped_with_the_reason() -> None:
    result = asyncio.run(run_case(load_plan(PLAN), TestCase(name="partial-shipment")))
    assert result.status == "skipped"
    assert "no fulfilment flow (wms -> storefront)" in result.skipped

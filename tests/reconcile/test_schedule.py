"""Scheduled reconciliation from a plan: runs when due, alerts its owner on drift, repairs when the plan says so."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from doohickey.clock import ManualClock
from doohickey.plan import load_plan
from doohickey.reconcile.history import History
from doohickey.reconcile.reconciler import Source
from doohickey.reconcile.schedule import run_due

from .memory import DirectRepair, MemoryClient

PLAN = """
name: scheduled
systems:
  erp: {kind: erp, connector: erp}
  shop: {kind: storefront, connector: shopify}
ownership:
  stock: erp
reconcile:
  stock: {between: [erp, shop], every: 5m, owner: "Stock desk (Ana)", tolerance: 0, repair: report}
  orders: {between: [shop, erp], every: 15m, owner: "Finance (Maria)", repair: push-owner, fields: [total]}
"""


@pytest.mark.anyio
async def test_due_entries_run_alert_the_owner_and_repair_only_when_the_plan_says(tmp_path: Path) -> None:
    path = tmp_path / "integration.yaml"
    path.write_text(PLAN)
    plan = load_plan(path)
    clock = ManualClock(dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    erp = MemoryClient("erp", {"stock": {"e1": {"sku": "A", "location": "WH", "available": 5}},
                               "order": {"SO-1": {"number": "#1001", "total": "10.00"}}})
    shop = MemoryClient("shop", {"stock": {"s1": {"sku": "A", "location": "WH", "available": 2}},
                                 "order": {"1": {"number": "#1001", "total": "12.00"}}})
    clients = {"erp": erp, "shop": shop}
    alerts: list[tuple[str, str]] = []

    async def alert(spec, message: str) -> None:
        alerts.append((spec.name, message))

    history = History(f"sqlite:///{tmp_path / 'h.sqlite'}")
    kw = dict(sources=lambda s: Source(s, clients[s]), history=history, alert=alert, clock=clock,
              repair_for=lambda spec: DirectRepair(clients[spec.other]))
    runs = await run_due(plan, **kw)
    assert {r.spec.name: r.status for r in runs} == {"stock": "drift", "orders": "repaired"}
    assert erp.data["order"]["SO-1"]["total"] == "12.00" and shop.data["stock"]["s1"]["available"] == 2
    assert [(name, "Stock desk (Ana)" in msg, "available 5->2" in msg) for name, msg in alerts] == [
        ("stock", True, True)]

    clock.advance(60)
    assert await run_due(plan, **kw) == []
    clock.advance(5 * 60)
    assert [r.spec.name for r in await run_due(plan, **kw)] == ["stock"]
    assert len(alerts) == 2 and shop.writes == []

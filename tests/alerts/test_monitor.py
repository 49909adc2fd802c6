"""The running engine tells the named owner: a dead letter alerts the flow's channel, grouped, with its reason."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert

from doohickey.clock import ManualClock
from doohickey.engine.alerts import Alerter, Channel
from doohickey.engine.monitor import Monitor
from doohickey.engine.store import Store, dead_letters
from doohickey.plan import load_plan

pytestmark = pytest.mark.anyio
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def dead(store: Store, n: int, order: str, at: dt.datetime) -> None:
    with store.begin() as conn:
        conn.execute(insert(dead_letters).values(
            event_id=n, flow="orders-to-erp", system="shop", entity="order", external_id=order, version="1",
            record={"number": order}, reason=f"erp rejected order {order}: product code SKU-123 does not exist",
            error_kind="RejectedError", attempts=1, owner="Order desk (Sam Rivera)", created_at=at, status="open"))


async def test_new_dead_letters_alert_the_flows_owner_once_and_recovery_is_announced(tmp_path: Path) -> None:
    plan = load_plan(EXAMPLE)
    plan.reconcile.clear()  # no systems connected in this test
    store = Store.open(f"sqlite:///{tmp_path / 'state.sqlite'}")
    clock = ManualClock(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))
    alerter = Alerter({"ops": Channel("ops", email=("ops@acme.example",)),
                       "finance": Channel("finance", email=("finance@acme.example",))}, clock=clock)
    monitor = Monitor(plan, store, {}, {}, alerter, clock=clock)
    dead(store, 1, "#1001", clock.now())
    await monitor.dead_letters()
    await monitor.dead_letters()  # nothing new: no second message
    (message,) = alerter.sent
    assert message.channel == "ops" and "Owner: Order desk (Sam Rivera)" in message.text
    assert "  - #1001" in message.text and "product code SKU-123 does not exist" in message.text
    assert "doohickey deadletters replay --flow orders-to-erp" in message.text
    with store.begin() as conn:
        conn.execute(dead_letters.update().values(status="replayed"))
    await monitor.dead_letters()
    assert alerter.sent[-1].recovery and alerter.sent[-1].subject.startswith("[doohickey] Resolved:")

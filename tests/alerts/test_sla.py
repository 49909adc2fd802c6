"""SLA monitors: a business promise is measured from the store, and a breach alerts its owner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import insert

from doohickey.clock import ManualClock
from doohickey.engine.alerts import Alerter, Channel
from doohickey.engine.sla import measure, monitor_once
from doohickey.engine.store import Store, events
from doohickey.plan import load_plan

pytestmark = pytest.mark.anyio
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shopify-erp-wms" / "integration.yaml"


def add_event(store: Store, order: str, received: dt.datetime, *, finished: dt.datetime | None = None) -> None:
    with store.begin() as conn:
        conn.execute(insert(events).values(
            idempotency_key=f"orders-to-erp:{order}", flow="orders-to-erp", system="shop", entity="order",
            external_id=order, version="1", record_key=f"shop:order:{order}", data={}, fingerprint="f",
            received_via="webhook", received_at=received, source_time=received,
            status="done" if finished else "pending", next_attempt_at=received, finished_at=finished))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'state.sqlite'}")


async def test_sla_met_then_breached_when_time_moves_on_and_the_owner_is_told(store: Store) -> None:
    plan = load_plan(EXAMPLE)
    clock = ManualClock(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))
    start = clock.now()
    for n in range(10):
        add_event(store, f"#10{n:02d}", start, finished=start + dt.timedelta(seconds=30 + n))
    add_event(store, "#2001", start)  # received, never written
    alerter = Alerter({"ops": Channel("ops", email=("ops@acme.example",))}, clock=clock)

    (state, *_) = await monitor_once(plan, store, alerter, clock=clock)
    assert (state.name, state.verdict) == ("order-in-erp", "met")
    assert state.p50_lag_s == pytest.approx(35, abs=1) and alerter.sent == []

    clock.advance(8 * 60)
    assert measure(plan, store, clock=clock)[0].verdict == "at risk"

    clock.advance(8 * 60)  # 16 minutes: the waiting order broke the 15-minute promise
    (state, *_) = await monitor_once(plan, store, alerter, clock=clock)
    assert state.verdict == "breached" and state.late == ("#2001",)
    (mail,) = alerter.sent
    assert mail.subject == "[doohickey] SLA broken: Every new order is in the ERP within 15 minutes"
    assert "Owner: Order desk (Sam Rivera)" in mail.text and "  - #2001" in mail.text


async def test_a_late_order_counts_against_the_promise_until_enough_go_through_on_time(store: Store) -> None:
    plan = load_plan(EXAMPLE)
    clock = ManualClock(dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC))
    add_event(store, "#3001", clock.now())
    alerter = Alerter({"ops": Channel("ops", email=("ops@acme.example",))}, clock=clock)
    clock.advance(20 * 60)
    await monitor_once(plan, store, alerter, clock=clock)
    with store.begin() as conn:
        conn.execute(events.update().values(status="done", finished_at=clock.now()))
    (state, *_) = await monitor_once(plan, store, alerter, clock=clock)
    assert state.verdict == "breached" and state.on_time_share == 0  # written, but 20 minutes late
    for n in range(150):
        add_event(store, f"#4{n:03d}", clock.now(), finished=clock.now() + dt.timedelta(seconds=40))
    (state, *_) = await monitor_once(plan, store, alerter, clock=clock)
    assert state.verdict == "met" and state.on_time_share == pytest.approx(150 / 151)
    assert [m.recovery for m in alerter.sent] == [False, True]
    assert alerter.sent[1].subject.startswith("[doohickey] Resolved: SLA broken")

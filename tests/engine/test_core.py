"""Core engine behaviour on both stores, with in-memory fake Systems (fast; the twin tests go over HTTP)."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import func, select
from tests.engine import fakes

from doohickey.clock import SYSTEM_CLOCK
from doohickey.connectors.spec import Record
from doohickey.engine import audit, deadletter
from doohickey.engine import events as ev
from doohickey.engine.intake import Intake
from doohickey.engine.loop import Engine
from doohickey.engine.store import LATEST, Store, events

pytestmark = pytest.mark.anyio


def build(store: Store, plan=None, **kw):
    plan = plan or fakes.plan()
    shop, erp = fakes.FakeSystem("shop"), fakes.FakeSystem("erp")
    connectors = {"shop": fakes.connector("shop"), "erp": fakes.connector("erp")}
    engine = Engine(plan, store, {"shop": shop, "erp": erp}, connectors, retry_scale=0.02, seed=1, **kw)
    intake = Intake(plan, store, connectors, secrets={"shop": fakes.SECRET}, on_recorded=engine.wake.set)
    return engine, intake, shop, erp


def record_order(store: Store, order_id: str, version: str, **data) -> list[int]:
    body = {"number": f"#{order_id}", "email": "a@example.com", "lines": [{"sku": "A", "quantity": 1}],
            "customer": {"id": "C1", "email": "a@example.com"}, **data}
    with store.begin() as conn:
        return ev.record(store, conn, [ev.Incoming("orders", Record("shop", "order", order_id, body, version),
                                                   "webhook")], SYSTEM_CLOCK.now())


def seed_customer(erp: fakes.FakeSystem) -> None:
    erp.put("customer", "ERP-C1", {"email": "a@example.com"}, "2026-01-01T00:00:00+00:00")


async def test_store_schema_is_versioned(store: Store) -> None:
    assert store.version() == LATEST
    assert store.upgrade() == []


async def test_duplicate_event_is_recorded_once(store: Store) -> None:
    first = record_order(store, "1", "v1")
    second = record_order(store, "1", "v1")
    assert len(first) == 1 and second == []
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1
    actions = [e.action for e in audit.trace(store, "shop", "order", "1")]
    assert actions == ["received", "duplicate"]


async def test_order_is_written_once_and_bound(store: Store) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    record_order(store, "1", "2026-01-01T10:00:00")
    assert await engine.drain(timeout=10)
    creates = [w for w in erp.writes if w.entity == "order"]
    assert len(creates) == 1 and creates[0].idempotency_key
    binding = engine.idmap.get("shop", "order", "1", "erp")
    assert binding and binding.target_id in erp.records["order"]
    # the same content again under a new version is not written a second time
    record_order(store, "1", "2026-01-01T10:00:05")
    assert await engine.drain(timeout=10)
    assert len([w for w in erp.writes if w.entity == "order"]) == 1


async def test_stale_version_never_overwrites_newer(store: Store) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    record_order(store, "1", "2026-01-01T10:00:05", cancelled_at="2026-01-01T10:00:05Z")
    assert await engine.drain(timeout=10)
    record_order(store, "1", "2026-01-01T10:00:00")
    assert await engine.drain(timeout=10)
    # the newest version (cancelled) is applied: created, then cancelled; the stale one changes nothing
    assert [w.action for w in erp.writes] == ["create", "cancel"]
    trail = audit.trace(store, "shop", "order", "1")
    assert any(e.action == "skipped" and e.detail.startswith("stale") for e in trail)


async def test_fields_the_source_does_not_own_are_not_written(store: Store) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    record_order(store, "1", "v1", status="shipped")
    assert await engine.drain(timeout=10)
    assert "status" not in erp.writes[0].data


async def test_transient_failures_are_retried_then_written(store: Store) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    erp.faults = [fakes.outage(), fakes.rate_limited(0.05)]
    record_order(store, "1", "v1")
    for _ in range(50):
        await engine.drain(timeout=5)
        if erp.writes:
            break
        await asyncio.sleep(0.05)
    assert len(erp.writes) == 1
    actions = [e.action for e in audit.trace(store, "shop", "order", "1")]
    assert actions.count("retry") == 2 and "written" in actions


async def test_rejected_order_is_dead_lettered_in_words_and_replays_once(store: Store) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    erp.reject_skus = {"SKU-123"}
    record_order(store, "1", "v1", lines=[{"sku": "SKU-123", "quantity": 1}])
    assert await engine.drain(timeout=10)
    letters = deadletter.list_open(store)
    assert len(letters) == 1
    assert letters[0].reason == "erp rejected order #1: product code SKU-123 does not exist"
    assert letters[0].record["lines"][0]["sku"] == "SKU-123" and letters[0].owner == "Sam"
    erp.reject_skus = set()
    deadletter.replay(store, letters[0].id, SYSTEM_CLOCK.now())
    assert await engine.drain(timeout=10)
    # replaying twice is refused
    with pytest.raises(ValueError):
        deadletter.replay(store, letters[0].id, SYSTEM_CLOCK.now())
    assert len([w for w in erp.writes if w.entity == "order"]) == 1
    assert deadletter.list_open(store) == []


async def test_order_waits_for_its_customer(store: Store) -> None:
    engine, _, _, erp = build(store)
    record_order(store, "1", "v1")
    for _ in range(100):
        await engine.drain(timeout=5)
        if any(w.entity == "order" for w in erp.writes):
            break
        await asyncio.sleep(0.05)
    entities = [w.entity for w in erp.writes]
    assert entities == ["customer", "order"]
    assert deadletter.list_open(store) == []


async def test_coalesce_sends_only_latest_stock(store: Store) -> None:
    engine, _, shop, _ = build(store)
    with store.begin() as conn:
        ev.record(store, conn, [ev.Incoming("stock", Record("erp", "stock", "A", {"sku": "A", "available": n},
                                                            f"2026-01-01T00:00:0{n}"), "poll") for n in range(5)],
                  SYSTEM_CLOCK.now())
    assert await engine.drain(timeout=10)
    assert [w.data["available"] for w in shop.writes] == [4]


async def test_crash_between_write_and_bind_does_not_write_twice(store: Store) -> None:
    _engine, _, _, erp = build(store)
    seed_customer(erp)
    record_order(store, "1", "v1")
    # A previous run wrote the order, then died before binding it: the event is still "running".
    erp.put("order", "ERP-9", {"number": "#1"}, "2026-01-01T00:00:00+00:00")
    with store.begin() as conn:
        conn.execute(events.update().values(status="running"))
    engine2, _, _, _ = build(store)
    engine2.ctx.clients["erp"] = erp
    assert await engine2.drain(timeout=10)
    assert erp.writes == []
    assert engine2.idmap.get("shop", "order", "1", "erp").target_id == "ERP-9"


async def test_webhook_intake_verifies_dedupes_and_refuses(store: Store) -> None:
    _, intake, _, _ = build(store)
    doc = {"topic": "orders/create", "delivery_id": "d1", "entity": "order", "id": "7", "version": "v1",
           "data": {"number": "#7"}}
    body = json.dumps(doc).encode()
    ok = intake.receive("shop", {"X-Fake-Signature": fakes.sign(body)}, body)
    again = intake.receive("shop", {"X-Fake-Signature": fakes.sign(body)}, body)
    forged = intake.receive("shop", {"X-Fake-Signature": "0" * 64}, body)
    broken = intake.receive("shop", {"X-Fake-Signature": fakes.sign(b"{not json")}, b"{not json")
    stale_doc = {**doc, "delivery_id": "d2", "at": "2020-01-01T00:00:00+00:00"}
    stale_body = json.dumps(stale_doc).encode()
    stale = intake.receive("shop", {"X-Fake-Signature": fakes.sign(stale_body)}, stale_body)
    assert (ok.status, again.status, forged.status, broken.status, stale.status) == (200, 200, 401, 400, 400)
    assert again.body["status"] == "duplicate"
    from doohickey.engine.store import deliveries

    with store.begin() as conn:
        refused = conn.execute(select(deliveries.c.reason).where(deliveries.c.status == "refused")).scalars().all()
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1
    assert any("signature" in r for r in refused) and any("malformed" in r for r in refused)
    assert any("stale" in r for r in refused)


async def test_polling_records_once_and_advances_cursor(store: Store) -> None:
    _engine, intake, shop, _ = build(store)
    for i in range(5):
        shop.put("order", str(i), {"number": f"#{i}"}, f"2026-01-01T00:00:0{i}+00:00")
    first = await intake.poll("orders", shop, limit=2)
    second = await intake.poll("orders", shop, limit=2)
    assert (first.pages, first.new_events) == (3, 5)
    assert second.new_events == 0 and first.cursor == "2026-01-01T00:00:04+00:00"


async def test_an_engine_bug_is_recorded_and_not_retried_in_a_tight_loop(store: Store, monkeypatch) -> None:
    engine, _, _, erp = build(store)
    seed_customer(erp)
    record_order(store, "1", "v1")

    def broken(*args, **kwargs):
        raise RuntimeError("bug in bind")

    monkeypatch.setattr(engine.idmap, "bind", lambda conn, binding, at: broken() if binding.source_entity == "order"
                        else type(engine.idmap).bind(engine.idmap, conn, binding, at))
    assert await engine.drain(timeout=5)  # returns: the record is held back, not spun on
    pending = ev.pending_for(store, ev.record_key("orders", "shop", "order", "1"))
    assert len(pending) == 1 and pending[0].next_attempt_at > SYSTEM_CLOCK.now()
    assert any(e.action == "engine-error" and "bug in bind" in e.detail
               for e in audit.trace(store, "shop", "order", "1"))

"""Several workers on one store: record leases keep per-record order, a dead worker's records are taken over,
new Events wake the workers (LISTEN/NOTIFY on PostgreSQL), and the API budget is divided among live workers.

Each test runs two :class:`LeasedEngine` loops against one store (in one process, as two workers with
their own names, leases and group commits); the process-level kill is in ``tests/chaos``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random

import pytest
from sqlalchemy import func, select
from tests.engine import fakes

from doohickey.clock import SYSTEM_CLOCK
from doohickey.connectors.http import TokenBucketPacer
from doohickey.connectors.spec import Record, WriteRequest, WriteResult
from doohickey.engine import events as ev
from doohickey.engine import lease
from doohickey.engine.pacing import Pacers
from doohickey.engine.store import Store, events, record_leases
from doohickey.engine.workers import BudgetShare, LeasedEngine, Waker

pytestmark = pytest.mark.anyio


class SlowSystem(fakes.FakeSystem):
    """A fake ERP whose writes take a few milliseconds and which notices two writes to one record at once."""

    def __init__(self, name: str, seed: int = 1) -> None:
        super().__init__(name)
        self.rng = random.Random(seed)
        self.busy: set[str] = set()
        self.overlaps = 0

    async def write(self, request: WriteRequest) -> WriteResult:
        key = str(request.data.get("email"))
        if key in self.busy:
            self.overlaps += 1
        self.busy.add(key)
        try:
            await asyncio.sleep(self.rng.uniform(0.0, 0.004))
            return await super().write(request)
        finally:
            self.busy.discard(key)


def worker(store: Store, erp: fakes.FakeSystem, owner: str, **kw) -> LeasedEngine:
    shop = fakes.FakeSystem("shop")
    connectors = {"shop": fakes.connector("shop"), "erp": fakes.connector("erp")}
    return LeasedEngine(fakes.plan(), store, {"shop": shop, "erp": erp}, connectors, retry_scale=0.02, seed=1,
                        owner=owner, **kw)


def record_customer(store: Store, n: int, version: int) -> None:
    data = {"email": f"c{n}@example.com", "name": f"name v{version:02d}"}
    with store.begin() as conn:
        ev.record(store, conn, [ev.Incoming("customers", Record("shop", "customer", f"C{n}", data,
                                                                f"2026-01-01T00:00:{version:02d}"), "webhook")],
                  SYSTEM_CLOCK.now())


async def wait_settled(store: Store, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        with store.begin() as conn:
            left = conn.execute(select(func.count()).select_from(events)
                                .where(events.c.status.in_(("pending", "running")))).scalar_one()
        if not left:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{left} events still pending after {timeout} s")


async def test_two_workers_keep_each_records_changes_in_order(store: Store) -> None:
    erp = SlowSystem("erp")
    one, two = worker(store, erp, "host-a:1", batch=4), worker(store, erp, "host-b:2", batch=4)
    stop = asyncio.Event()
    runs = [asyncio.create_task(w.run(stop)) for w in (one, two)]
    customers, versions = 30, 6
    for version in range(1, versions + 1):  # changes keep arriving while both workers run
        for n in range(customers):
            record_customer(store, n, version)
        await asyncio.sleep(0.02)
    await wait_settled(store)
    stop.set()
    await asyncio.gather(*runs)
    assert erp.overlaps == 0, "two writes to one record were in flight at once"
    written: dict[str, list[str]] = {}
    for w in erp.writes:
        written.setdefault(w.data["email"], []).append(w.data["name"])
    assert len(written) == customers
    for email, names in written.items():
        assert names == sorted(names), f"{email} written out of order: {names}"
        final = next(r for r in erp.records["customer"].values() if r["email"] == email)
        assert final["name"] == f"name v{versions:02d}"
    assert one.tally.written and two.tally.written, "both workers took work"
    with store.begin() as conn:  # a worker stopping cleanly leaves no lease behind
        assert conn.execute(select(func.count()).select_from(record_leases)).scalar_one() == 0


async def test_a_dead_workers_records_are_taken_over_when_its_lease_expires(store: Store) -> None:
    erp = fakes.FakeSystem("erp")
    for n in range(5):
        record_customer(store, n, 1)
    now = SYSTEM_CLOCK.now()
    # A worker claims every record and starts the first event, then dies (no renewal, no release).
    held = lease.claim_keys(store, "dead-host:9", now, dt.timedelta(seconds=1.5))
    assert len(held) == 5
    with store.begin() as conn:
        first = conn.execute(select(events.c.id).where(events.c.record_key == held[0])).scalar_one()
        assert ev.claim(conn, first, "dead-host:9", now + dt.timedelta(seconds=1.5))
    alive = worker(store, erp, "host-a:1", lease_seconds=1.5)
    assert await alive.drain(timeout=0.5) is True and erp.writes == []  # the leases are live: hands off
    await asyncio.sleep(1.6)
    assert await alive.drain(timeout=10)
    assert sorted(w.data["email"] for w in erp.writes) == [f"c{n}@example.com" for n in range(5)]
    with store.begin() as conn:
        statuses = set(conn.execute(select(events.c.status)).scalars())
    assert statuses == {"done"}


async def test_claims_never_hand_one_record_to_two_workers(store: Store) -> None:
    for n in range(50):
        record_customer(store, n, 1)
        record_customer(store, n, 2)
    now = SYSTEM_CLOCK.now()
    ttl = dt.timedelta(seconds=30)
    a = lease.claim_keys(store, "a:1", now, ttl, limit=30)
    b = lease.claim_keys(store, "b:2", now, ttl, limit=30)
    c = lease.claim_keys(store, "c:3", now, ttl, limit=30)
    assert len(a) == 30 and len(b) == 20 and c == []
    assert not set(a) & set(b)
    assert lease.holders(store, now) == {"a:1": 30, "b:2": 20}


async def test_budget_is_divided_among_live_workers(store: Store) -> None:
    pacers = Pacers(SYSTEM_CLOCK)
    pacers.budgets["erp"] = TokenBucketPacer(10.0, 40.0)
    share = BudgetShare(pacers)
    now = SYSTEM_CLOCK.now()
    ttl = dt.timedelta(seconds=15)
    for owner in ("a:1", "b:2"):
        lease.renew(store, owner, now, ttl)
    share.apply(lease.live_workers(store, now, ttl))
    assert (pacers.budgets["erp"].rate, pacers.budgets["erp"].burst) == (5.0, 20.0)
    # b stops sending heartbeats: once its lease time has passed, a takes the whole budget again
    later = now + dt.timedelta(seconds=20)
    lease.renew(store, "a:1", later, ttl)
    share.apply(lease.live_workers(store, later, ttl))
    assert (pacers.budgets["erp"].rate, pacers.budgets["erp"].burst) == (10.0, 40.0)


async def test_a_concurrency_cap_is_shared_among_workers(store: Store) -> None:
    pacers = Pacers(SYSTEM_CLOCK)
    pacers.budgets["erp"] = TokenBucketPacer(1e6, 1e6, max_concurrency=6)
    share = BudgetShare(pacers)
    share.apply(3)
    await asyncio.sleep(0.01)
    assert share.cap("erp") == 2
    taken = 0
    while not pacers.budgets["erp"]._slots.locked():
        await pacers.budgets["erp"].acquire()
        taken += 1
    assert taken == 2  # three workers x 2 = the API's 6
    share.apply(4, position=1)  # 6 slots among 4 workers: the first two take 2, the others 1
    await asyncio.sleep(0.01)
    assert share.cap("erp") == 2
    share.apply(4, position=3)
    await asyncio.sleep(0.01)
    assert share.cap("erp") == 1
    share.apply(1)  # the others left: this worker may use all 6 again
    assert share.cap("erp") == 6 and not pacers.budgets["erp"]._slots.locked()


async def test_a_budget_the_api_reports_itself_is_followed_not_divided(store: Store) -> None:
    pacers = Pacers(SYSTEM_CLOCK)
    pacers.budgets["shop"] = TokenBucketPacer(50.0, 1000.0)
    share = BudgetShare(pacers)
    share.apply(4)
    assert pacers.budgets["shop"].rate == 12.5
    # Shopify answers with its throttle status: the bucket every worker shares, as it stands
    pacers.budgets["shop"].observe(available=1800.0, limit=2000.0, restore_rate=100.0)
    share.apply(4)
    assert (pacers.budgets["shop"].rate, pacers.budgets["shop"].burst) == (100.0, 2000.0)


@pytest.mark.postgresql
async def test_new_events_wake_a_listening_worker(tmp_path) -> None:
    from tests.engine.conftest import _postgres_store

    gen = _postgres_store()
    store = next(gen)
    try:
        wake = asyncio.Event()
        waker = await Waker(store, wake).start()
        await asyncio.sleep(0.5)
        wake.clear()
        record_customer(store, 1, 1)
        await asyncio.wait_for(wake.wait(), timeout=5)
        assert waker.notified >= 1
        await waker.close()
    finally:
        gen.close()

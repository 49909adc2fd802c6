"""The chaos suite: thousands of mixed events through the example plan while the engine is killed with SIGKILL.

The Shopify and ERP twins run in this process (they outlive every kill) with their faults on:
duplicate, reordered and lost webhooks from the shop; 5xx answers, a 429 storm and an outage at the
ERP. Shoppers place orders (some pending, paid later), some are cancelled, some refunded; the ERP's
stock changes throughout. The engine runs as separate processes on a fixed loopback port:

* SQLite: the single engine process is killed with SIGKILL every few seconds and restarted;
* PostgreSQL: ``doohickey run --workers 3`` (one process with the webhook server, two engine-only
  workers); one worker is killed with SIGKILL while it holds records (the others take them over when
  its leases expire), later the main process is killed too and restarted with two workers.

At the end it asserts what a merchant cares about: no acknowledged event lost; exactly one ERP sales
order per shop order and one credit memo per refund; the ERP's state equals the owner's for every
owned field (the shop's lines, cancellations and credited amounts, and the shop's sellable stock
equal to the ERP's); every dead letter explains itself in words.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from doohickey import connectors as registry
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret
from doohickey.testing import storefront
from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.faults import Fault
from doohickey.twins.server import TwinServer
from doohickey.twins.shopify.seed import seed_product, seed_stock
from doohickey.twins.shopify.webhooks import subscribe

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 700
FLOWS = ["orders-to-erp", "customers-to-erp", "refunds-to-erp", "stock-to-shop"]
TOPICS = ["orders/create", "orders/updated", "orders/cancelled", "customers/create", "customers/update",
          "refunds/create"]
UNKNOWN_SKU = "CHAOS-NOT-IN-ERP"
LEASE = 3.0

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(420)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def database(kind: str, tmp_path: Path) -> Iterator[str]:
    """A fresh store: an SQLite file, or a PostgreSQL database created for this run and dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.sqlite'}"
        return
    psycopg = pytest.importorskip("psycopg")
    name = f"doohickey_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True,
                                connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable on 127.0.0.1:5432: {exc}")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def start_engine(config: dict[str, Any], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-W", "ignore", "-m", "tests.chaos.engine_proc"], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=log.open("a"), stderr=subprocess.STDOUT)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps(config).encode())
    proc.stdin.close()
    return proc


def query(store: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(store.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params).all())
    finally:
        engine.dispose()


def shop_faults() -> list[Fault]:
    return [Fault(kind="webhook_duplicate", topics=["orders/*", "refunds/*"], rate=0.10),
            Fault(kind="webhook_reorder", topics=["orders/*"], rate=0.05),
            Fault(kind="webhook_loss", topics=["orders/create", "orders/updated"], count=8)]


def erp_faults() -> list[Fault]:
    return [Fault(kind="error_rate", rate=0.03, paths=["/api/v1/*"]),
            Fault(kind="outage", start=6.0, end=8.0, seconds=0.5, paths=["/api/v1/*"]),
            Fault(kind="rate_limit", start=11.0, end=13.0, seconds=0.3, rate=0.6, paths=["/api/v1/*"])]


class Shoppers:
    """Places, pays, cancels and refunds orders in the shop, and moves stock in the ERP, from a thread."""

    def __init__(self, shop: Any, erp: Any, skus: list[str], emails: list[str], levels: list[Any], seed: int) -> None:
        self.shop, self.erp, self.skus, self.emails, self.levels = shop, erp, skus, emails, levels
        self.rng = random.Random(seed)
        self.placed: list[str] = []
        self.lines: dict[str, Counter] = {}
        self.paid_later: set[str] = set()
        self.pending: set[str] = set()
        self.cancelled: set[str] = set()
        self.refunded: set[str] = set()
        self.deliberate: set[str] = set()
        self.stock_moves = 0
        self.errors: list[str] = []

    def run(self) -> None:
        for i in range(ORDERS):
            try:
                self.one(i)
            except Exception as exc:  # the shop refused (a real shop would too): noted, not fatal
                self.errors.append(f"{type(exc).__name__}: {exc}")
            time.sleep(0.012)

    def one(self, i: int) -> None:
        number = f"#{7001 + i}"
        odd = i in (ORDERS // 3, 2 * ORDERS // 3)
        picks = [UNKNOWN_SKU] if odd else self.rng.sample(self.skus, self.rng.choice((1, 1, 2)))
        lines = [{"sku": sku, "quantity": self.rng.choice((1, 1, 2))} for sku in picks]
        status = "pending" if i % 7 == 2 else "paid"
        storefront.place_order(self.shop, lines, email=self.rng.choice(self.emails), financial_status=status,
                               number=number)
        self.placed.append(number)
        self.lines[number] = Counter({ln["sku"]: ln["quantity"] for ln in lines})
        if odd:
            self.deliberate.add(number)
            return
        if status == "pending":
            self.pending.add(number)
        earlier = self.placed[-6] if len(self.placed) > 6 else None
        if earlier and earlier in self.pending and earlier not in self.cancelled and self.rng.random() < 0.6:
            storefront.mark_paid(self.shop, earlier)  # an update: the payment comes through
            self.pending.discard(earlier)
            self.paid_later.add(earlier)
        if i % 10 == 4:
            storefront.cancel(self.shop, number)
            self.cancelled.add(number)
            self.pending.discard(number)
        elif i % 10 == 7 and status == "paid":
            sku = next(iter(self.lines[number]))
            storefront.refund(self.shop, number, [{"sku": sku, "quantity": 1}], note="damaged in transit")
            self.refunded.add(number)
        if i % 15 == 0:
            level = self.rng.choice(self.levels)
            self.erp.adjust_stock(level.sku, level.location, delta=self.rng.randint(1, 9), reason="goods received")
            self.stock_moves += 1


async def _read_all(client: Any, entity: str) -> list[Any]:
    records, cursor = [], None
    while True:
        page = await client.read(entity, cursor=cursor, limit=250)
        records += page.records
        if not page.next_cursor:
            return records
        cursor = page.next_cursor


def stock_mismatches(settings: dict[str, ConnectionSettings]) -> list[tuple]:
    """(sku, location, erp, shop) where the shop's sellable stock differs from the ERP's (the owner's)."""
    async def read() -> list[tuple]:
        shop = registry.load("shopify").connect(settings["shop"], ConnectOptions())
        erp = registry.load("erp").connect(settings["erp"], ConnectOptions())
        try:
            theirs = {(r.data["sku"], r.data["location"]): int(r.data["available"])
                      for r in await _read_all(erp, "stock")}
            ours = {(r.data["sku"], r.data["location"]): int(r.data["available"])
                    for r in await _read_all(shop, "stock")}
        finally:
            await shop.aclose()
            await erp.aclose()
        return [(*key, n, ours.get(key)) for key, n in theirs.items() if key in ours and ours[key] != n]

    return asyncio.run(read())


def erp_picture(erp: Any) -> tuple[Counter, dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    orders = erp.all("sales_orders")
    refs = Counter(o.get("external_ref") for o in orders)
    by_ref = {o.get("external_ref"): o for o in orders}
    memos: dict[str, list[dict[str, Any]]] = {}
    ids = {o["id"]: o.get("external_ref") for o in orders}
    for memo in erp.all("credit_memos"):
        memos.setdefault(ids.get(memo["order_id"], "?"), []).append(memo)
    return refs, by_ref, memos


def acked_refunds(shop: Any, people: Shoppers) -> set[str]:
    """Order numbers whose refunds/create webhook the engine acknowledged (2xx).

    The Shopify connector cannot read refunds back, so a refund webhook the shop gave up on (it drops
    a subscription after 9 failed attempts) has no polling safety net; an acknowledged one must arrive.
    """
    numeric = {storefront.by_number(shop, n)["id"].rsplit("/", 1)[1]: n for n in people.refunded}
    found = set()
    for delivery in list(shop.webhooks.deliveries):
        if delivery.topic == "refunds/create" and any(a["status"] and 200 <= a["status"] < 300
                                                      for a in delivery.attempts):
            found.add(numeric.get(str(json.loads(delivery.body).get("order_id")), "?"))
    return found - {"?"}


def settled(store: str, erp: Any, people: Shoppers, dead: set[str], refunds: set[str]) -> bool:
    refs, by_ref, memos = erp_picture(erp)
    if any(not refs.get(n) and n not in dead for n in people.placed):
        return False
    if any(by_ref.get(n, {}).get("status") != "cancelled" for n in people.cancelled):
        return False
    if any(len(memos.get(n, [])) < 1 for n in refunds):
        return False
    return not query(store, "SELECT id FROM events WHERE status IN ('pending', 'running') LIMIT 1")


def dead_numbers(store: str) -> set[str]:
    rows = query(store, "SELECT record FROM dead_letters WHERE flow = 'orders-to-erp'")
    return {(json.loads(r[0]) if isinstance(r[0], str) else r[0]).get("number") for r in rows}


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def test_chaos_mixed_events_with_kills_end_exactly_once_and_equal(kind: str, tmp_path: Path) -> None:
    data = generate(21, products=10, customers=40, orders=0)
    shop = create_twin("shopify", seed=21, faults=shop_faults(), webhook_retry_scale=0.002,
                       maximum_available=2000.0, restore_rate=2500.0)
    erp = create_twin("erp", seed=21, faults=erp_faults())
    from doohickey import model

    odd = model.Product(id="CHAOS", title="Shop-only kit", code="CHAOS",
                        variants=[model.Variant(sku=UNKNOWN_SKU, title="Kit", price=Decimal("5.00"))])
    for product in [*data.products, odd]:
        seed_product(shop.state, product)
    erp.state.seed(products=data.products, stock=list(data.stock))
    for level in data.stock:
        seed_stock(shop.state, level)
    skus = [v.sku for p in data.products for v in p.variants]
    emails = [c.email for c in data.customers]
    port = free_port()
    log = tmp_path / "engine.log"
    kills: list[str] = []
    with database(kind, tmp_path) as store, TwinServer(shop.app) as shop_server, TwinServer(erp.app) as erp_server:
        for topic in TOPICS:
            subscribe(shop.state, topic, {"uri": f"http://127.0.0.1:{port}/webhooks/shop"})
        systems = {"shop": {"url": shop_server.url, "secrets": {"token": shop.info["token"],
                                                                "webhook_secret": shop.info["secret"]}},
                   "erp": {"url": erp_server.url, "secrets": {"api_key": erp.info["api_key"]}}}
        settings = {n: ConnectionSettings(n, s["url"], {k: Secret(v) for k, v in s["secrets"].items()})
                    for n, s in systems.items()}
        config = {"store": store, "listen": f"127.0.0.1:{port}", "flows": FLOWS, "systems": systems,
                  "workers": 3 if kind == "postgresql" else 1, "lease_seconds": LEASE}
        people = Shoppers(shop.state, erp.state, skus, emails, list(data.stock), seed=21)
        placer = threading.Thread(target=people.run)
        proc = start_engine(config, log)
        began = time.monotonic()
        placer.start()
        held_at_kill = 0
        try:
            if kind == "sqlite":
                rng = random.Random(5)
                while placer.is_alive():
                    time.sleep(rng.uniform(2.0, 4.0))
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    kills.append("engine")
                    proc = start_engine(config, log)
            else:
                time.sleep(6.0)
                held_at_kill = kill_busiest_worker(store, proc.pid, kills)
                time.sleep(5.0)
                proc.send_signal(signal.SIGKILL)  # the main process too: its remaining worker stops with it
                proc.wait()
                kills.append("main")
                proc = start_engine({**config, "workers": 2}, log)
            placer.join()
            marks = {"placed": time.monotonic() - began}
            shop.state.webhooks.wait_idle(timeout=60)  # the shop's retries reach the (restarted) engine
            marks["webhooks delivered"] = time.monotonic() - began
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not settled(store, erp.state, people, dead_numbers(store),
                                                              acked_refunds(shop.state, people)):
                time.sleep(0.5)
            marks["settled"] = time.monotonic() - began
            if time.monotonic() >= deadline:  # stuck: have every engine process say where it is, in the log
                for pid in [proc.pid, *(r[0] for r in query(store, "SELECT pid FROM workers"))]:
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGUSR1)
                time.sleep(1.0)
            stock_ok = wait_for_stock(settings, deadline)
            marks["stock equal"] = time.monotonic() - began
            print(kind, {k: round(v, 1) for k, v in marks.items()}, flush=True)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            shop.state.webhooks.stop()
        log_entries = shop.state.webhooks.log()
        refunds_acked = acked_refunds(shop.state, people)
        acked = {d["webhook_id"] for d in log_entries
                 if any(a["status"] and 200 <= a["status"] < 300 for a in d["attempts"])}
        recorded = {r[0] for r in query(store, "SELECT delivery_id FROM deliveries WHERE delivery_id IS NOT NULL")}
        unfinished = query(store, "SELECT flow, status, count(*), min(next_attempt_at), max(attempts) FROM events "
                                  "WHERE status IN ('pending', 'running') GROUP BY flow, status")
        if unfinished:  # say why: who holds what, until when
            unfinished += query(store, "SELECT owner, count(*), min(until) FROM record_leases GROUP BY owner")
            unfinished += query(store, "SELECT owner, heartbeat_at FROM workers")
            unfinished.append(("now", time.time()))
        letters = query(store, "SELECT flow, external_id, reason, record FROM dead_letters")
        refund_outcomes = Counter(f"{r[0]}: {(r[1] or '')[:60]}" for r in query(
            store, "SELECT status, outcome FROM events WHERE flow = 'refunds-to-erp'"))
        dead = dead_numbers(store)
    refs, by_ref, memos = erp_picture(erp.state)

    assert not people.errors, people.errors[:5]
    assert len(people.placed) == ORDERS
    # the engine process(es) really died mid-run
    assert len(kills) >= (3 if kind == "sqlite" else 2), kills
    if kind == "postgresql":
        assert held_at_kill > 0, "the killed worker held no records: the takeover was not exercised"
    # no acknowledged event lost: every webhook the engine answered 2xx is in the store, and all work finished
    assert acked and acked <= recorded, f"{len(acked - recorded)} acknowledged deliveries not in the store"
    assert not unfinished, f"events left unfinished: {unfinished}"
    # exactly one target record per source record
    missing = [n for n in people.placed if not refs.get(n) and n not in dead]
    doubled = {n: c for n, c in refs.items() if c > 1}
    assert not missing, f"{len(missing)} orders neither in the ERP nor dead-lettered: {missing[:10]}"
    assert not doubled, f"orders written twice: {doubled}"
    assert dead == people.deliberate, f"dead-lettered {sorted(dead)}, expected only {sorted(people.deliberate)}"
    failed = Counter(d["topic"] for d in log_entries if d["outcome"] == "failed")
    print(f"{kind}: kills {kills}; deliveries {len(log_entries)}, acknowledged {len(acked)}, given up by the "
          f"shop {dict(failed)}; refunds {len(people.refunded)}, acknowledged {len(refunds_acked)}")
    assert refunds_acked, "no refund webhook was acknowledged"
    assert all(len(memos.get(n, [])) == 1 for n in refunds_acked), \
        ({n: len(memos.get(n, [])) for n in refunds_acked if len(memos.get(n, [])) != 1}, refund_outcomes)
    assert all(len(m) == 1 for m in memos.values()), "a refund credited twice"
    # the ERP holds the owner's state for every owned field: the shop's lines, its cancellations and refunds
    wrong_status: list[tuple] = []
    for number in people.placed:
        if number in dead:
            continue
        order = by_ref[number]
        assert Counter({ln["item_code"]: ln["quantity"] for ln in order["lines"]}) == people.lines[number], number
        # order.status is the ERP's (ownership), but a cancellation in the shop is an action the ERP must take
        cancelled_in_shop = bool(storefront.by_number(shop.state, number)["cancelledAt"])
        if cancelled_in_shop != (order["status"] == "cancelled"):
            wrong_status.append((number, cancelled_in_shop, order["status"]))
    assert not wrong_status, f"cancellations differ (number, cancelled in shop, ERP status): {wrong_status[:10]}"
    assert all(by_ref[n]["status"] == "cancelled" for n in people.cancelled)
    for number in refunds_acked:
        shop_order = storefront.by_number(shop.state, number)
        refunded = Decimal(shop_order["totalRefundedSet"]["shopMoney"]["amount"])
        assert sum(Decimal(str(m["amount"])) for m in memos[number]) == refunded, number
    assert people.paid_later and people.cancelled and people.refunded and people.stock_moves
    assert stock_ok == [], f"shop stock differs from the ERP's (sku, location, erp, shop): {stock_ok[:5]}"
    # every dead letter explains itself in words: what, which record, why
    for flow, _external_id, reason, _record in letters:
        assert flow == "orders-to-erp" and "product code" in reason and UNKNOWN_SKU in reason, reason
        assert "Traceback" not in reason and len(reason) < 400


def kill_busiest_worker(store: str, main_pid: int, kills: list[str]) -> int:
    """SIGKILL the engine-only worker holding the most records right now; returns how many it held."""
    rows = query(store, "SELECT w.owner, w.pid, (SELECT count(*) FROM record_leases l WHERE l.owner = w.owner "
                        "AND l.until > now()) FROM workers w WHERE w.pid <> :main ORDER BY 3 DESC",
                 main=main_pid)
    assert rows, "no engine-only worker registered"
    _owner, pid, held = rows[0]
    os.kill(pid, signal.SIGKILL)
    kills.append(f"worker {pid}")
    return int(held)


def wait_for_stock(settings: dict[str, ConnectionSettings], deadline: float) -> list[tuple]:
    """The shop's sellable stock once it equals the ERP's (or the differences left at the deadline)."""
    while True:
        mismatches = stock_mismatches(settings)
        if not mismatches or time.monotonic() > deadline:
            return mismatches
        time.sleep(1.0)

"""Chaos: the engine process is killed with SIGKILL again and again while thousands of events flow.

The Shopify and ERP twins run in this process (they outlive every kill); the engine runs as a child
process on a fixed loopback port with its SQLite store in WAL mode. Orders are placed in the shop
throughout; the engine is killed every couple of seconds and restarted. Webhooks sent while it is
dead are retried by the shop, and polling is the safety net. At the end every shop order must be in
the ERP exactly once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from doohickey.twins import create_twin
from doohickey.twins.datagen import generate
from doohickey.twins.server import TwinServer
from doohickey.twins.shopify import orders as shop_orders
from doohickey.twins.shopify.seed import seed_customer, seed_order, seed_product
from doohickey.twins.shopify.webhooks import subscribe

ROOT = Path(__file__).resolve().parents[2]
ORDERS = 1500
KILL_EVERY = (1.5, 3.0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_engine(config: dict, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = log.open("a")
    return subprocess.Popen([sys.executable, "-W", "ignore", "-m", "tests.engine.crash_engine", json.dumps(config)],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def pending(store: str) -> int:
    engine = create_engine(store)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM events WHERE status IN ('pending','running')")).scalar()
    finally:
        engine.dispose()


@pytest.mark.chaos
@pytest.mark.timeout(300)
def test_engine_killed_repeatedly_applies_every_order_exactly_once(tmp_path) -> None:
    data = generate(11, products=8, customers=30, orders=ORDERS)
    shop = create_twin("shopify", seed=11, webhook_retry_scale=0.0002, maximum_available=2000.0,
                       restore_rate=2500.0)
    erp = create_twin("erp", seed=11)
    for product in data.products:
        seed_product(shop.state, product)
    erp.state.seed(products=data.products, stock=list(data.stock), customers=data.customers[:10])
    for customer in data.customers:
        try:
            seed_customer(shop.state, customer)
        except Exception:
            continue
    port = free_port()
    store = f"sqlite:///{tmp_path / 'state.sqlite'}"
    log = tmp_path / "engine.log"
    with TwinServer(shop.app) as shop_server, TwinServer(erp.app) as erp_server:
        for topic in ("orders/create", "orders/updated", "orders/cancelled", "customers/create", "customers/update"):
            subscribe(shop.state, topic, {"uri": f"http://127.0.0.1:{port}/webhooks/shop"})
        config = {"store": store, "listen": f"127.0.0.1:{port}", "flows": ["orders-to-erp", "customers-to-erp"],
                  "systems": {"shop": {"url": shop_server.url, "secrets": {"token": shop.info["token"],
                                                                           "webhook_secret": shop.info["secret"]}},
                              "erp": {"url": erp_server.url, "secrets": {"api_key": erp.info["api_key"]}}}}
        numbers: list[str] = []
        cancelled: set[str] = set()

        def place_all() -> None:
            for i, order in enumerate(data.orders):
                order.number = str(5001 + i)
                order.created_at = None
                placed = seed_order(shop.state, order)
                numbers.append(f"#{order.number}")
                if i % 10 == 3:  # a change after the create: the customer cancels
                    shop_orders.cancel(shop.state, placed["id"], reason="CUSTOMER", restock=True)
                    cancelled.add(f"#{order.number}")
                time.sleep(0.01)

        placer = threading.Thread(target=place_all)
        rng = random.Random(5)
        kills = 0
        proc = start_engine(config, log)
        placer.start()
        try:
            while placer.is_alive():
                time.sleep(rng.uniform(*KILL_EVERY))
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                proc = start_engine(config, log)
            placer.join()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                refs = Counter(o.get("external_ref") for o in erp.state.all("sales_orders"))
                done = {o.get("external_ref") for o in erp.state.all("sales_orders") if o["status"] == "cancelled"}
                if all(refs.get(n) for n in numbers) and cancelled <= done and pending(store) == 0:
                    break
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            shop.state.webhooks.stop()
    refs = Counter(o.get("external_ref") for o in erp.state.all("sales_orders"))
    missing = [n for n in numbers if not refs.get(n)]
    doubled = {n: c for n, c in refs.items() if c > 1}
    assert len(numbers) == ORDERS
    assert not missing, f"{len(missing)} orders never reached the ERP: {missing[:10]}"
    assert not doubled, f"orders written twice: {doubled}"
    assert kills >= 5
    # cancellations are changes too: each cancelled shop order is cancelled in the ERP
    erp_status = {o.get("external_ref"): o["status"] for o in erp.state.all("sales_orders")}
    assert cancelled and all(erp_status[n] == "cancelled" for n in cancelled)
    engine = create_engine(store)
    with engine.connect() as conn:
        events = conn.execute(text("SELECT count(*) FROM events")).scalar()
        dead = conn.execute(text("SELECT count(*) FROM dead_letters")).scalar()
    engine.dispose()
    assert events >= ORDERS and dead == 0

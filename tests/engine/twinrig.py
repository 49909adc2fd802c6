"""A rig for engine integration tests: the example plan running on the Shopify, ERP and WMS twins over loopback.

The twins are real HTTP servers on 127.0.0.1 (TwinServer); the engine's webhook endpoint is a real
uvicorn server; webhooks travel over loopback. Waits and polls are compressed (``retry_scale``,
``poll_scale``) so a test takes seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from doohickey import model
from doohickey.engine.demo import EXAMPLE
from doohickey.engine.runtime import Runtime, RuntimeOptions
from doohickey.plan.load import load_plan
from doohickey.twins.datagen import Dataset, generate
from doohickey.twins.faults import Fault


@dataclass
class Rig:
    """A running plan: the runtime, the twins' states and the generated data they were seeded with."""

    runtime: Runtime
    data: Dataset

    @property
    def shop(self) -> Any:
        return self.runtime.twins.twins["shop"].state

    @property
    def erp(self) -> Any:
        return self.runtime.twins.twins["erp"].state

    def twin(self, system: str) -> Any:
        return self.runtime.twins.twins[system]

    async def place(self, order: model.Order) -> dict[str, Any]:
        """Place an order in the shop twin as a shopper would (its webhooks go out over loopback)."""
        from doohickey.twins.shopify.seed import seed_order

        return await asyncio.to_thread(seed_order, self.shop, order)

    def erp_orders(self, number: str) -> list[dict[str, Any]]:
        """The ERP's sales orders for a shop order number (``#1001``)."""
        return [o for o in self.erp.all("sales_orders") if o.get("external_ref") == number]

    async def wait_for(self, condition: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
        """Wait until ``condition()`` is truthy; fail the test with ``what`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def order_for(data: Dataset, number: int, *, customer: int = 0, **changes: Any) -> model.Order:
    """A generated order with a chosen number and customer (and any field changed)."""
    order = data.orders[number % len(data.orders)]
    order.number = str(number)
    order.created_at = None
    order.customer = data.customers[customer]
    order.email = data.customers[customer].email
    order.cancelled_at = None
    order.status = "open"
    order.financial_status = changes.pop("financial_status", "paid")
    for key, value in changes.items():
        setattr(order, key, value)
    return order


@asynccontextmanager
async def running(tmp_path: Path, *, flows: tuple[str, ...] = ("orders-to-erp", "customers-to-erp"),
                  faults: dict[str, list[Fault]] | None = None, poll_scale: float = 0.01,
                  scheduler: bool = True, store_url: str | None = None,
                  customers_in_erp: bool = True) -> AsyncIterator[Rig]:
    """Start the example plan (only ``flows``) on twins, seeded with a catalogue and customers."""
    from doohickey.twins.shopify.seed import seed_customer, seed_product

    plan = load_plan(EXAMPLE)
    plan = plan.model_copy(update={"flows": {k: v for k, v in plan.flows.items() if k in flows}}, deep=True)
    data = generate(3, products=6, customers=8, orders=20)
    options = RuntimeOptions(
        store_url=store_url or f"sqlite:///{tmp_path / 'state.sqlite'}", listen="127.0.0.1:0", seed=1,
        retry_scale=0.02, poll_scale=poll_scale, start_scheduler=scheduler, twin_faults=faults or {},
        twin_options={"shop": {"webhook_retry_scale": 0.0005, "maximum_available": 2000.0, "restore_rate": 2500.0},
                      "wms": {"pick_seconds": 0.5, "tick_interval": 0.05}})
    runtime = await Runtime(plan, options).start()
    rig = Rig(runtime, data)
    for product in data.products:
        seed_product(rig.shop, product)
    rig.erp.seed(products=data.products, stock=list(data.stock),
                 customers=data.customers if customers_in_erp else ())
    for customer in data.customers:
        try:
            seed_customer(rig.shop, customer)
        except Exception:
            continue
    task = asyncio.create_task(runtime.run())
    try:
        yield rig
    finally:
        runtime.request_stop()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.close()

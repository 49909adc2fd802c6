"""The scenario harness: a plan running on its twins for one Scenario, and what a Scenario does with it.

:class:`Sandbox` starts the plan's :class:`~doohickey.engine.runtime.Runtime` in the sandbox
environment (every twin in-process on a free 127.0.0.1 port, the engine's webhook endpoint on
loopback, a store in a temporary folder), seeded with one generated catalogue, customers and
stock in every twin, and with the Scenario's Faults in the twins' FaultSets. Time is compressed
by ``time_scale`` (polls and retry waits shrink; a plan's "15 minutes" becomes 9 s at 1/100), so
an SLA is checked against ``within * time_scale`` of measured lag.

A Scenario acts like the people and systems around the integration (a shopper places an order,
a merchant cancels or refunds it, someone edits a record by hand) through the twins, then reads
the outcome the way a person would check it: through each System's own API (the connector's
client), plus the engine's store for lags, dead letters and the audit trail.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select

from doohickey.connectors.spec import Client, Record
from doohickey.engine import deadletter
from doohickey.engine.alerts import Alert, Alerter, Channel, Message
from doohickey.engine.store import events
from doohickey.plan.model import Flow, Plan
from doohickey.twins.faults import Fault

DEFAULT_SCALE = 0.02


@dataclass
class SandboxOptions:
    """How a Scenario's sandbox runs: compression, seed, faults and twin options by System name."""

    time_scale: float = DEFAULT_SCALE
    seed: int = 7
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    twin_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    products: int = 4
    customers: int = 12
    env: str = "sandbox"


class Sandbox:
    """One plan running for one Scenario (use ``async with``)."""

    def __init__(self, plan: Plan, options: SandboxOptions | None = None) -> None:
        self.plan = plan
        self.options = options or SandboxOptions()
        self.runtime: Any = None
        self.dataset: Any = None
        self.alerter = Alerter({})
        self.alerts: list[Message] = []
        self._folder: Path | None = None
        self._servers: list[Any] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.started_at = dt.datetime.now(dt.UTC)

    # --- start and stop -------------------------------------------------------------------------------

    async def __aenter__(self) -> Sandbox:
        from doohickey.engine.runtime import Runtime, RuntimeOptions
        from doohickey.twins.datagen import generate

        opts = self.options
        self.dataset = generate(opts.seed, products=opts.products, customers=opts.customers, orders=0)
        twin_options: dict[str, dict[str, Any]] = {}
        for name, system in self.plan.systems.items():
            if not (system.sandbox and system.sandbox.twin):
                continue
            extra = {"data": self.dataset}
            if system.sandbox.twin == "shopify":
                # Compressed time: the cost bucket refills as fast per plan-second as Shopify's does.
                extra.update(webhook_retry_scale=opts.time_scale, restore_rate=50.0 / opts.time_scale)
            if system.sandbox.twin == "wms":
                extra.update(pick_seconds=0.4, partial_share=0.0)
            twin_options[name] = {**extra, **opts.twin_options.get(name, {})}
        self._folder = Path(tempfile.mkdtemp(prefix="doohickey-scenario-"))
        from doohickey.testing import real

        try:
            settings, self._servers = await real.start_trytons(self.plan, self._folder)
        except BaseException:
            await self._close()
            raise
        self.runtime = Runtime(self.plan, RuntimeOptions(
            env=opts.env, store_url=f"sqlite:///{self._folder / 'state.sqlite'}", listen="127.0.0.1:0",
            seed=opts.seed, retry_scale=opts.time_scale, poll_scale=opts.time_scale, pace_scale=1 / opts.time_scale,
            twin_faults=opts.faults, twin_options=twin_options, settings=settings))
        try:
            await self.runtime.start()
            for name in settings:
                for location in await real.seed(self.runtime.clients[name], self.products(50)):
                    for twin in self.runtime.twins.twins.values() if self.runtime.twins else ():
                        if twin.name == "shopify":  # the shop stocks every SKU at that location too
                            for variant in self.products(50):
                                twin.state.set_stock(variant.sku, location, available=0)
        except BaseException:
            await self._close()
            raise
        self.alerter = Alerter({name: Channel(name, tuple(ch.email), ch.webhook, ch.throttle)
                                for name, ch in self.plan.alerts.items()}, senders=[self._capture])
        self.started_at = dt.datetime.now(dt.UTC)
        self._task = asyncio.create_task(self.runtime.run(self._stop))
        # The first polls copy the seeded stock and customers; scenarios start from that calm state.
        await self.settle(timeout=30)
        self.started_at = dt.datetime.now(dt.UTC)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _close(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self.runtime is not None:
            await self.runtime.close()
        from doohickey.testing import real

        real.stop_all(self._servers)
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)

    async def _capture(self, channel: Channel, message: Message) -> None:
        self.alerts.append(message)

    # --- the plan's roles -----------------------------------------------------------------------------

    def twin(self, system: str) -> Any:
        """The running Twin of ``system`` (None when the System is a real one)."""
        return self.runtime.twins.twins.get(system) if self.runtime.twins else None

    def client(self, system: str) -> Client:
        """The engine's live Client on ``system``."""
        return self.runtime.clients[system]

    @property
    def store(self) -> Any:
        """The engine's store."""
        return self.runtime.store

    def scaled(self, seconds: float) -> float:
        """Plan seconds in this run's compressed time."""
        return seconds * self.options.time_scale

    def products(self, n: int = 3) -> list[Any]:
        """``n`` ordinary variants (not gift cards, not free) every twin stocks."""
        found = [v for p in self.dataset.products if p.id not in ("GIFT", "SAMPLE") for v in p.variants
                 if v.price > 0]
        return found[:n]

    # --- waiting --------------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Awaitable[Any]], *, timeout: float = 20.0,
                       every: float = 0.1) -> Any:
        """Poll ``predicate`` until it returns something truthy (returned), or None after ``timeout`` s."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                value = await predicate()
            except Exception:  # the System may be in an injected outage; the predicate is simply not true yet
                value = None
            if value:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(every)

    async def settle(self, *, timeout: float = 20.0, quiet: float = 0.3, flow: str | None = None) -> bool:
        """Wait until no Event (of ``flow``) is pending or running for ``quiet`` seconds (retries included);
        False on timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        calm_since: float | None = None
        while loop.time() < deadline:
            if self.open_events(flow) == 0 and self._webhooks_idle():
                calm_since = calm_since or loop.time()
                if loop.time() - calm_since >= quiet:
                    return True
            else:
                calm_since = None
            await asyncio.sleep(0.05)
        return False

    def _webhooks_idle(self) -> bool:
        for twin in (self.runtime.twins.twins.values() if self.runtime.twins else ()):
            deliverer = getattr(twin.state, "webhooks", None)
            if deliverer is not None and getattr(deliverer, "_pending", 0):
                return False
        return True

    # --- the store ------------------------------------------------------------------------------------

    def open_events(self, flow: str | None = None) -> int:
        """Events still pending or running (of ``flow``, or all)."""
        cond = events.c.status.in_(("pending", "running"))
        if flow:
            cond = and_(cond, events.c.flow == flow)
        with self.store.begin() as conn:
            return int(conn.execute(select(func.count()).select_from(events).where(cond)).scalar_one())

    def event_rows(self, flow: str | None = None) -> list[dict[str, Any]]:
        """Every Event (of ``flow``) as a dict, oldest first."""
        query = select(events).order_by(events.c.id)
        if flow:
            query = query.where(events.c.flow == flow)
        with self.store.begin() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def dead_letters(self, flow: str | None = None) -> list[Any]:
        """Open dead letters (of ``flow``)."""
        return deadletter.list_open(self.store, flow=flow)

    def last_written(self, flow: str) -> dt.datetime | None:
        """When the flow last wrote to its target."""
        with self.store.begin() as conn:
            return conn.execute(select(func.max(events.c.finished_at)).where(and_(
                events.c.flow == flow, events.c.status == "done"))).scalar_one_or_none()

    def lags(self, flow: str, numbers: set[str] | None = None) -> list[float]:
        """Seconds from the source's change to written in the target, for the flow's written Events.

        With ``numbers``, only Events whose record has one of those ``number`` values (an order's name)."""
        out = []
        for row in self.event_rows(flow):
            if row["status"] != "done" or row["finished_at"] is None:
                continue
            if numbers is not None and str((row["data"] or {}).get("number")) not in numbers:
                continue
            begun = row["source_time"] or row["received_at"]
            out.append(max((row["finished_at"] - begun).total_seconds(), 0.0))
        return sorted(out)

    # --- alerts ---------------------------------------------------------------------------------------

    async def collect_alerts(self) -> list[Message]:
        """The alerts this run sent: the engine's own when it sends them, else the plan's policy applied here.

        Each open dead letter goes to its flow's ``on_failure.alert`` channel naming the flow's owner;
        each broken SLA (measured in this run's compressed time) goes to the SLA's channel.
        """
        engine_alerter = getattr(self.runtime, "alerter", None)
        if engine_alerter is not None and getattr(engine_alerter, "sent", None):
            return list(engine_alerter.sent)
        for flow_name, letters in _by_flow(self.dead_letters()).items():
            flow = self.plan.flows.get(flow_name)
            policy = flow.on_failure if flow else None
            if not policy or not policy.alert:
                continue
            await self.alerter.raise_alert(Alert(
                key=f"dead-letter:{flow_name}", kind="dead-letter", channel=policy.alert, owner=policy.owner or "",
                flow=flow_name, title=f"{flow_name}: {len(letters)} record(s) could not be synced",
                records=tuple(f"{d.entity} {d.record.get('number') or d.external_id}" for d in letters),
                detail="; ".join(sorted({d.reason for d in letters}))[:1500], action=policy.fallback or ""))
        await self._sla_alerts()
        return list(self.alerts)

    async def _sla_alerts(self) -> None:
        from doohickey.engine import sla

        for state in self.sla_states():
            alert = sla.breach_alert(self.plan, state)
            if alert is not None:
                await self.alerter.raise_alert(alert)

    def sla_states(self) -> list[Any]:
        """Every SLA of the plan measured over this run, with ``within`` compressed to this run's time."""
        from doohickey.engine import sla

        window = dt.datetime.now(dt.UTC) - self.started_at + dt.timedelta(seconds=5)
        scaled = self.plan.model_copy(update={"slas": {
            name: s.model_copy(update={"within": s.within * self.options.time_scale})
            for name, s in self.plan.slas.items()}})
        return sla.measure(scaled, self.store, window=window)


def _by_flow(letters: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for letter in letters:
        out.setdefault(letter.flow, []).append(letter)
    return out


# --- finding the plan's flows --------------------------------------------------------------------------


def flow_between(plan: Plan, entity: str, *, source_kind: str | None = None, target_kind: str | None = None,
                 name: str | None = None) -> tuple[str, Flow] | None:
    """The flow named ``name``, else the first flow of ``entity`` from a System of ``source_kind`` to one of
    ``target_kind``."""
    if name:
        return (name, plan.flows[name]) if name in plan.flows else None
    for flow_name, flow in plan.flows.items():
        if flow.entity != entity:
            continue
        if source_kind and str(plan.systems[flow.source].kind) != source_kind:
            continue
        if target_kind and str(plan.systems[flow.target].kind) != target_kind:
            continue
        return flow_name, flow
    return None


def money(value: Any) -> Decimal | None:
    """A money amount as a Decimal (None when absent), so "9.9" equals "9.90"."""
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


async def find_one(client: Client, entity: str, key: dict[str, str]) -> Record | None:
    """The one record a System holds under a natural key, or None."""
    found = await client.find(entity, key)
    return found[0] if found else None


async def read_all(client: Client, entity: str, *, limit: int = 250) -> list[Record]:
    """Every record of ``entity`` a System holds (all pages)."""
    out: list[Record] = []
    cursor = None
    while True:
        page = await client.read(entity, since=None, cursor=cursor, limit=limit)
        out.extend(page.records)
        if not page.next_cursor:
            return out
        cursor = page.next_cursor

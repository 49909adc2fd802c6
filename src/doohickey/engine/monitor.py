"""The Monitor: what `doohickey run` watches besides the Events, told to the plan's named owners.

On every tick it alerts the owner of each flow that has new dead letters (grouped per flow,
throttled by the channel, and announced as resolved once none is open), measures every SLA
(:mod:`doohickey.engine.sla`: a breach alerts its owner even when no event arrived), runs the
plan's reconciliations that are due (:func:`doohickey.reconcile.schedule.run_due`, alerting the
entry's owner on drift), and sends the digests whose throttle window has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, Connector
from doohickey.engine import deadletter, sla
from doohickey.engine.alerts import Alert, Alerter
from doohickey.engine.store import Store, metadata
from doohickey.errors import DoohickeyError
from doohickey.plan.model import Plan

log = logging.getLogger(__name__)


class Monitor:
    """Dead-letter alerts, SLA monitors and scheduled reconciliation for one running plan."""

    def __init__(self, plan: Plan, store: Store, clients: dict[str, Client], connectors: dict[str, Connector],
                 alerter: Alerter, *, clock: Clock = SYSTEM_CLOCK, interval: float = 30.0) -> None:
        self.plan = plan
        self.store = store
        self.clients = clients
        self.connectors = connectors
        self.alerter = alerter
        self.clock = clock
        self.interval = interval
        self.seen: dict[str, int] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Tick every ``interval`` seconds until ``stop``; a failing tick is logged, never fatal."""
        while not stop.is_set():
            try:
                await self.tick()
            except Exception as exc:  # watching must never stop the engine
                log.warning("monitor tick failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)

    async def tick(self) -> None:
        """One round: dead letters, SLAs, due reconciliations, throttled digests."""
        await self.dead_letters()
        await sla.monitor_once(self.plan, self.store, self.alerter, clock=self.clock)
        await self.reconcile_due()
        await self.alerter.flush()

    async def dead_letters(self) -> None:
        """Alert each flow's owner about dead letters not alerted yet; announce recovery when none is open."""
        for name, flow in self.plan.flows.items():
            policy = flow.on_failure
            if policy is None or policy.alert is None:
                continue
            letters = deadletter.list_open(self.store, flow=name)
            key = f"dead-letter:{name}"
            if not letters:
                await self.alerter.resolve(key)
                continue
            new = [d for d in letters if d.id > self.seen.get(name, 0)]
            if not new:
                continue
            self.seen[name] = max(d.id for d in letters)
            await self.alerter.raise_alert(Alert(
                key=key, kind="dead-letter", channel=policy.alert, flow=name, owner=policy.owner or "",
                title=f"{flow.use_case or name}: records could not be written to {flow.target}",
                records=tuple(d.external_id for d in new), detail="\n".join(d.reason for d in new[:5]),
                action=(policy.fallback + " " if policy.fallback else "")
                + f"Fix the cause, then run: doohickey deadletters replay --flow {name}"))

    async def reconcile_due(self) -> None:
        """Run the plan's due reconciliations and alert each entry's owner about drift beyond tolerance."""
        if not self.plan.reconcile:
            return
        from doohickey.reconcile.history import History
        from doohickey.reconcile.reconciler import ClientRepair, ReconcileSpec, Source
        from doohickey.reconcile.schedule import run_due

        async def alert(spec: ReconcileSpec, message: str) -> None:
            channel = self.plan.reconcile[spec.name].alert
            if channel:
                await self.alerter.raise_alert(Alert(
                    key=f"drift:{spec.name}", kind="drift", channel=channel, owner=spec.person or "",
                    title=f"Reconciliation {spec.name}: {spec.owner} and {spec.other} no longer match",
                    detail=message,
                    action=f"See the report: doohickey reconcile <plan> {spec.name} --report drift.html"))

        def repair_for(spec: ReconcileSpec) -> ClientRepair:
            entity = self.connectors[spec.other].entities.get(spec.entity)
            return ClientRepair(self.clients[spec.other], entity.actions if entity else ())

        usable = set(self.clients)
        if not all(set(rec.between) <= usable for rec in self.plan.reconcile.values()):
            return
        try:
            await run_due(self.plan, sources=lambda system: Source(system, self.clients[system]),
                          history=History(self.store.engine, metadata), alert=alert, repair_for=repair_for,
                          clock=self.clock)
        except DoohickeyError as exc:
            log.warning("scheduled reconciliation failed: %s", exc.message)

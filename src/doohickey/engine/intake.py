"""Intake: how changes enter the engine, by webhook and by polling, without ever losing an acknowledged one.

Webhooks (:meth:`Intake.receive`): the signature is verified with the connector's WebhookSpec
(constant-time compare), a delivery triggered outside the replay window or already seen (same
delivery id) is refused or acknowledged as a duplicate, and the Events are written in one
transaction *before* the 2xx answer. A body that cannot be verified or parsed gets a 4xx and is
recorded in ``deliveries`` with the reason, so nothing is lost silently.

Polling (:meth:`Intake.poll`): the safety net for webhooks that never come. Each flow's Cursor
is read, the source is asked for records changed since (cursor - overlap), every page is recorded
durably, and only then is the Cursor advanced. Records seen before (same external id and version)
are deduplicated by the Event's idempotency key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from doohickey.clock import SYSTEM_CLOCK, Clock
from doohickey.connectors.spec import Client, Connector, Record
from doohickey.engine import audit as audit_log
from doohickey.engine import events as ev
from doohickey.engine.store import Store, cursors, deliveries
from doohickey.model import parse_time
from doohickey.plan.model import Plan

# The warehouse calls a shipment what the storefront calls a fulfilment: the same business fact.
ENTITY_ALIASES = {"shipment": "fulfilment"}
MAX_KEPT_BODY = 64_000


@dataclass(frozen=True)
class Answer:
    """What the webhook endpoint answers: HTTP status and a small JSON body."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class PollResult:
    """One poll of one flow: pages and records read, new Events, and the Cursor after."""

    flow: str
    pages: int
    records: int
    new_events: int
    cursor: str | None


class Intake:
    """Turns webhook deliveries and polled pages into stored Events."""

    def __init__(self, plan: Plan, store: Store, connectors: Mapping[str, Connector], *,
                 secrets: Mapping[str, str] | None = None, clock: Clock = SYSTEM_CLOCK,
                 replay_window: dt.timedelta = dt.timedelta(hours=1),
                 on_recorded: Callable[[], None] | None = None, commits: Any = None) -> None:
        self.plan = plan
        self.store = store
        self.connectors = connectors
        self.secrets = dict(secrets or {})
        self.clock = clock
        self.replay_window = replay_window
        self.on_recorded = on_recorded or (lambda: None)
        self.commits = commits
        """A :class:`~doohickey.engine.commit.GroupCommit` shared with the engine loop, or None."""

    # --- webhooks -------------------------------------------------------------------------------------

    def receive(self, system: str, headers: Mapping[str, str], body: bytes) -> Answer:
        """Verify, check freshness and replay, persist, then answer (see the module docstring)."""
        checked = self._check(system, headers, body)
        if isinstance(checked, Answer):
            return checked
        with self.store.begin() as conn:
            answer = self._persist(conn, system, *checked)
        return self._answered(answer)

    async def receive_async(self, system: str, headers: Mapping[str, str], body: bytes, commits: Any) -> Answer:
        """:meth:`receive`, with the store write shared with other writers (one fsync for the group).

        The answer is returned only after the shared transaction has committed, so a 2xx still means
        "durably recorded".
        """
        checked = self._check(system, headers, body)
        if isinstance(checked, Answer):
            return checked
        answer = await commits.run(lambda conn: self._persist(conn, system, *checked))
        return self._answered(answer)

    def _answered(self, answer: Answer) -> Answer:
        if answer.body.get("events"):
            self.on_recorded()
        return answer

    def _check(self, system: str, headers: Mapping[str, str], body: bytes) -> Answer | tuple[Any, list, dt.datetime]:
        now = self.clock.now()
        connector = self.connectors.get(system)
        if system not in self.plan.systems or connector is None:
            return Answer(404, {"error": f"no system {system!r} in plan {self.plan.name}"})
        spec = connector.webhooks
        if spec is None:
            return Answer(404, {"error": f"system {system!r} ({connector.name}) does not send webhooks"})
        secret = self.secrets.get(system)
        if not secret:
            self._refuse(system, None, "", now, "no webhook secret configured for this system", body)
            return Answer(503, {"error": f"no webhook secret configured for {system}"})
        if not spec.verify(headers, body, secret):
            self._refuse(system, None, "", now, "signature does not verify", b"")
            return Answer(401, {"error": "signature does not verify"})
        try:
            delivery = spec.parse(headers, body)
        except (ValueError, KeyError, TypeError) as exc:
            self._refuse(system, None, "", now, f"malformed body: {exc}", body)
            return Answer(400, {"error": f"malformed webhook body: {exc}"})
        if delivery.triggered_at is not None and abs(now - delivery.triggered_at) > self.replay_window:
            self._refuse(system, delivery.delivery_id or None, delivery.topic, now,
                         f"stale: triggered at {delivery.triggered_at.isoformat()}, outside the "
                         f"{self.replay_window} replay window", b"")
            return Answer(400, {"error": "delivery is outside the replay window"})
        items = [ev.Incoming(flow, record, "webhook", delivery.delivery_id or None)
                 for record in (self._named(system, r) for r in delivery.records)
                 for flow in self.flows_for(system, record.entity, delivery.topic)]
        return delivery, items, now

    def _persist(self, conn: Connection, system: str, delivery: Any, items: list[ev.Incoming],
                 now: dt.datetime) -> Answer:
        fresh = self.store.insert_ignore(deliveries, [{
            "system": system, "delivery_id": delivery.delivery_id or None, "topic": delivery.topic,
            "received_at": now, "status": "accepted" if items else "ignored", "events": len(items),
            "reason": None if items else "no flow takes this topic"}], conn)
        if not fresh and delivery.delivery_id:
            audit_log.note_many(conn, [{
                "at": now, "flow": item.flow, "system": item.record.system, "entity": item.record.entity,
                "external_id": item.record.external_id, "action": "duplicate",
                "detail": f"webhook delivery {delivery.delivery_id} received again (ignored)"} for item in items])
            return Answer(200, {"status": "duplicate", "delivery_id": delivery.delivery_id})
        ids = ev.record(self.store, conn, items, now)
        return Answer(200, {"status": "accepted", "events": len(ids)})

    def _refuse(self, system: str, delivery_id: str | None, topic: str, at: dt.datetime, reason: str,
                body: bytes) -> None:
        with self.store.begin() as conn:
            self.store.insert_ignore(deliveries, [{
                "system": system, "delivery_id": None, "topic": topic, "received_at": at, "status": "refused",
                "reason": reason + (f" (delivery {delivery_id})" if delivery_id else ""),
                "body": body[:MAX_KEPT_BODY].decode("utf-8", "replace") if body else None, "events": 0}], conn)

    def flows_for(self, system: str, entity: str, topic: str | None = None) -> list[str]:
        """The flows a record from ``system`` goes through (by webhook ``topic`` when given)."""
        entity = ENTITY_ALIASES.get(entity, entity)
        return [name for name, flow in self.plan.flows.items()
                if flow.source == system and flow.entity == entity
                and (topic is None or topic in flow.trigger.webhook)]

    @staticmethod
    def _named(system: str, record: Record) -> Record:
        """The record under the plan's name for its System (connectors name themselves)."""
        entity = ENTITY_ALIASES.get(record.entity, record.entity)
        if record.system == system and record.entity == entity:
            return record
        return dataclasses.replace(record, system=system, entity=entity)

    # --- polling --------------------------------------------------------------------------------------

    async def poll(self, flow_name: str, client: Client, *, overlap: dt.timedelta = dt.timedelta(minutes=2),
                   since: dt.datetime | None = None, use_cursor: bool = True, limit: int = 100,
                   via: str = "poll", progress: Callable[[int], None] | None = None) -> PollResult:
        """Read the flow's source for changes and record them as Events; advance the Cursor after.

        ``since`` overrides the Cursor (a backfill from a date); ``use_cursor=False`` neither reads
        nor advances it (``doohickey sync --backfill`` does not disturb the poller).
        """
        flow = self.plan.flows[flow_name]
        name = f"poll:{flow_name}"
        start = since
        if use_cursor and start is None:
            saved = self.cursor(name)
            start = parse_time(saved) - overlap if saved else None
        page_cursor: str | None = None
        pages = records = new = 0
        newest: dt.datetime | None = None
        while True:
            page = await client.read(flow.entity, since=start, cursor=page_cursor, limit=limit)
            pages += 1
            named = [self._named(flow.source, r) for r in page.records]
            with self.store.begin() as conn:
                new += len(ev.record(self.store, conn, [ev.Incoming(flow_name, r, via) for r in named],
                                     self.clock.now(), audit_duplicates=False))
            records += len(named)
            for r in named:
                if r.updated_at and (newest is None or r.updated_at > newest):
                    newest = r.updated_at
            if progress:
                progress(len(named))
            if new:
                self.on_recorded()
            if not page.next_cursor:
                break
            page_cursor = page.next_cursor
        value = self.cursor(name)
        if use_cursor and newest is not None:
            value = newest.isoformat()
            self._save_cursor(name, flow.source, flow.entity, value)
        return PollResult(flow_name, pages, records, new, value)

    def cursor(self, name: str) -> str | None:
        """The saved value of a Cursor, or None."""
        with self.store.begin() as conn:
            return conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()

    def _save_cursor(self, name: str, system: str, entity: str, value: str) -> None:
        now = self.clock.now()
        with self.store.begin() as conn:
            done = conn.execute(update(cursors).where(cursors.c.name == name).values(value=value, updated_at=now))
            if not done.rowcount:
                self.store.insert_ignore(cursors, [{"name": name, "system": system, "entity": entity,
                                                    "value": value, "updated_at": now}], conn)

"""Events in the store: recording incoming Records once, finding due work in order, and closing it.

An Event is "Record X at version V must go through Flow F". Its idempotency key is a hash of
(flow, system, entity, external id, version, content fingerprint), unique in the store, so the same
change delivered twice, or read again by an overlapping poll, is recorded once (the later arrivals
are audited as ``duplicate``). ``record_key`` groups the events of one record in one flow: they apply in
version order, one at a time, while different records run in parallel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.engine import Connection

from doohickey.connectors.spec import Record
from doohickey.engine import audit as audit_log
from doohickey.engine.store import Store, events


def idempotency_key(flow: str, system: str, entity: str, external_id: str, version: str, content: str = "") -> str:
    """The unique key of one change going through one flow.

    ``content`` (the record's fingerprint) is part of it because APIs stamp versions to the second
    (Shopify's ``updated_at``): two real changes within one second share a version, and the second
    must not be taken for a duplicate. A re-delivery carries the same content, so it still is one.
    """
    raw = "\x1f".join((flow, system, entity, external_id, version, content))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def record_key(flow: str, system: str, entity: str, external_id: str) -> str:
    """The ordering key: events with the same one apply one at a time, in version order."""
    return f"{flow}|{system}|{entity}|{external_id}"


@dataclass(frozen=True)
class Incoming:
    """A Record that arrived for a Flow, and how (webhook, poll, backfill, replay)."""

    flow: str
    record: Record
    via: str
    delivery_id: str | None = None
    key_suffix: str = ""


@dataclass(frozen=True)
class Event:
    """One stored Event, as the runner sees it."""

    id: int
    flow: str
    system: str
    entity: str
    external_id: str
    version: str
    record_key: str
    idempotency_key: str
    data: dict[str, Any]
    fingerprint: str
    received_via: str
    received_at: dt.datetime
    status: str
    attempts: int
    next_attempt_at: dt.datetime

    @property
    def record(self) -> Record:
        """The Record this Event carries."""
        return Record(self.system, self.entity, self.external_id, self.data, self.version)


def _event(row: Any) -> Event:
    return Event(row["id"], row["flow"], row["system"], row["entity"], row["external_id"], row["version"],
                 row["record_key"], row["idempotency_key"], row["data"], row["fingerprint"], row["received_via"],
                 row["received_at"], row["status"], row["attempts"], row["next_attempt_at"])


def record(store: Store, conn: Connection, items: Iterable[Incoming], now: dt.datetime, *,
           audit_duplicates: bool = True) -> list[int]:
    """Record each Incoming once, inside the caller's transaction; returns the ids of the new Events.

    Duplicates (same idempotency key) are not stored again but are audited, so ``trace`` can say
    "duplicate delivery ignored".
    """
    rows, notes = [], []
    for item in items:
        rec = item.record
        key = idempotency_key(item.flow, rec.system, rec.entity, rec.external_id, rec.version,
                              rec.fingerprint) + item.key_suffix
        rows.append({
            "idempotency_key": key, "flow": item.flow, "system": rec.system, "entity": rec.entity,
            "external_id": rec.external_id, "version": rec.version or "",
            "record_key": record_key(item.flow, rec.system, rec.entity, rec.external_id), "data": rec.data,
            "fingerprint": rec.fingerprint, "received_via": item.via, "delivery_id": item.delivery_id,
            "received_at": now, "source_time": rec.updated_at, "status": "pending", "attempts": 0,
            "next_attempt_at": now})
    if not rows:
        return []
    keys = [r["idempotency_key"] for r in rows]
    seen = set(conn.execute(select(events.c.idempotency_key).where(events.c.idempotency_key.in_(keys))).scalars())
    new_rows, batch_keys = [], set()
    for row in rows:
        duplicate = row["idempotency_key"] in seen or row["idempotency_key"] in batch_keys
        if duplicate and not audit_duplicates:
            continue
        notes.append({"at": now, "flow": row["flow"], "system": row["system"], "entity": row["entity"],
                      "external_id": row["external_id"], "action": "duplicate" if duplicate else "received",
                      "detail": f"version {row['version'] or '-'} by {row['received_via']}"
                      + (" (already recorded, ignored)" if duplicate else "")})
        if not duplicate:
            new_rows.append(row)
            batch_keys.add(row["idempotency_key"])
    store.insert_ignore(events, new_rows, conn)
    ids = list(conn.execute(select(events.c.id).where(events.c.idempotency_key.in_(list(batch_keys)))).scalars()) \
        if batch_keys else []
    audit_log.note_many(conn, notes)
    return ids


def due_keys(store: Store, now: dt.datetime, *, limit: int = 500, skip: Iterable[str] = ()) -> list[str]:
    """Record keys with a pending Event due now, oldest first (at most ``limit``, skipping ``skip``)."""
    skipped = set(skip)
    query = (select(events.c.record_key).where(and_(events.c.status == "pending", events.c.next_attempt_at <= now))
             .order_by(events.c.next_attempt_at, events.c.id).limit(2 * limit + len(skipped)))
    with store.read() as conn:
        found = conn.execute(query).scalars().all()
    keys: list[str] = []
    seen: set[str] = set()
    for key in found:
        if key not in seen and key not in skipped:
            seen.add(key)
            keys.append(key)
            if len(keys) >= limit:
                break
    return keys


def pending_for(store: Store, key: str) -> list[Event]:
    """The pending Events of one record, in the order they must apply (version, then arrival)."""
    with store.read() as conn:
        rows = conn.execute(select(events).where(and_(events.c.record_key == key, events.c.status == "pending"))
                            .order_by(events.c.version, events.c.id)).mappings().all()
    return [_event(r) for r in rows]


def claim(conn: Connection, event_id: int, owner: str, until: dt.datetime) -> bool:
    """Mark an Event running under a lease; False if someone else took it first."""
    done = conn.execute(update(events).where(and_(events.c.id == event_id, events.c.status == "pending"))
                        .values(status="running", lease_owner=owner, lease_until=until))
    return bool(done.rowcount)


def finish(conn: Connection, event_id: int, status: str, outcome: str, at: dt.datetime, *,
           target_id: str | None = None, error: str | None = None) -> None:
    """Close an Event: done, skipped, dead or superseded, with the outcome in words."""
    conn.execute(update(events).where(events.c.id == event_id).values(
        status=status, outcome=outcome[:400], finished_at=at, target_id=target_id, last_error=error,
        lease_owner=None, lease_until=None))


def reschedule(conn: Connection, event_id: int, attempts: int, at: dt.datetime, error: str) -> None:
    """Put an Event back to pending, due at ``at`` (a retry that survives restarts)."""
    conn.execute(update(events).where(events.c.id == event_id).values(
        status="pending", attempts=attempts, next_attempt_at=at, last_error=error, lease_owner=None,
        lease_until=None))


def recover(store: Store, now: dt.datetime, *, sole: bool = True) -> int:
    """Return interrupted running Events to pending; returns how many.

    With ``sole`` (the embedded engine: one process) every running Event was cut short by a crash
    or a stop, so all go back; otherwise only those whose lease has expired (a dead worker's).
    """
    condition = events.c.status == "running"
    if not sole:
        condition = and_(condition, events.c.lease_until <= now)
    with store.begin() as conn:
        done = conn.execute(update(events).where(condition).values(status="pending", lease_owner=None,
                                                                    lease_until=None))
    return int(done.rowcount or 0)


def get(store: Store, event_id: int) -> Event | None:
    """One Event by id."""
    with store.begin() as conn:
        row = conn.execute(select(events).where(events.c.id == event_id)).mappings().first()
    return _event(row) if row else None


def counts(store: Store) -> dict[tuple[str, str], int]:
    """How many Events each (flow, status) holds."""
    with store.begin() as conn:
        rows = conn.execute(select(events.c.flow, events.c.status, func.count())
                            .group_by(events.c.flow, events.c.status)).all()
    return {(flow, status): n for flow, status, n in rows}

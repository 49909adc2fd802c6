"""DeadLetters: Events that failed for good, kept with the original Record, the attempts and a reason in words.

A person lists them, reads one (``show``), fixes the cause (the map, the product in the ERP) and
then ``replay``s it, which records a fresh Event for the same Record (Bindings make that safe: a
replayed create never makes a second record), or ``discard``s it with a note.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection

from doohickey.connectors.spec import Record
from doohickey.engine import audit as audit_log
from doohickey.engine import events as ev
from doohickey.engine.store import Store, attempts, dead_letters


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter, as a person reads it."""

    id: int
    event_id: int
    flow: str
    system: str
    entity: str
    external_id: str
    version: str
    record: dict[str, Any]
    reason: str
    error_kind: str | None
    detail: str | None
    attempts: int
    owner: str | None
    created_at: dt.datetime
    status: str
    resolution: str | None


def _dead_letter(row: Any) -> DeadLetter:
    return DeadLetter(row["id"], row["event_id"], row["flow"], row["system"], row["entity"], row["external_id"],
                      row["version"], row["record"], row["reason"], row["error_kind"], row["detail"],
                      row["attempts"], row["owner"], row["created_at"], row["status"], row["resolution"])


def add(conn: Connection, event: ev.Event, *, reason: str, kind: str, detail: str, tries: int,
        owner: str | None, at: dt.datetime) -> int:
    """Dead-letter ``event`` inside the caller's transaction; returns the dead letter's id."""
    result = conn.execute(insert(dead_letters).values(
        event_id=event.id, flow=event.flow, system=event.system, entity=event.entity,
        external_id=event.external_id, version=event.version, record=event.data, reason=reason,
        error_kind=kind, detail=detail, attempts=tries, owner=owner, created_at=at, status="open"))
    return int(result.inserted_primary_key[0])


def list_open(store: Store, *, flow: str | None = None, status: str | None = "open",
              limit: int = 200) -> list[DeadLetter]:
    """Dead letters, newest first (only open ones unless ``status`` says otherwise; None = all)."""
    query = select(dead_letters)
    if status:
        query = query.where(dead_letters.c.status == status)
    if flow:
        query = query.where(dead_letters.c.flow == flow)
    with store.begin() as conn:
        rows = conn.execute(query.order_by(dead_letters.c.id.desc()).limit(limit)).mappings().all()
    return [_dead_letter(r) for r in rows]


def count_open(store: Store) -> dict[str, int]:
    """Open dead letters per flow."""
    with store.begin() as conn:
        rows = conn.execute(select(dead_letters.c.flow, func.count()).where(dead_letters.c.status == "open")
                            .group_by(dead_letters.c.flow)).all()
    return {flow: n for flow, n in rows}


def get(store: Store, dead_letter_id: int) -> DeadLetter | None:
    """One dead letter by id."""
    with store.begin() as conn:
        row = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).mappings().first()
    return _dead_letter(row) if row else None


def attempts_of(store: Store, event_id: int) -> list[dict[str, Any]]:
    """The attempts of the Event behind a dead letter, oldest first."""
    with store.begin() as conn:
        rows = conn.execute(select(attempts).where(attempts.c.event_id == event_id)
                            .order_by(attempts.c.id)).mappings().all()
    return [dict(r) for r in rows]


def replay(store: Store, dead_letter_id: int, at: dt.datetime) -> int:
    """Record a fresh Event for the dead letter's Record and mark it replayed; returns the new Event id."""
    with store.begin() as conn:
        row = conn.execute(select(dead_letters).where(dead_letters.c.id == dead_letter_id)).mappings().first()
        if row is None:
            raise KeyError(f"no dead letter {dead_letter_id}")
        if row["status"] != "open":
            raise ValueError(f"dead letter {dead_letter_id} is already {row['status']}")
        letter = _dead_letter(row)
        rec = Record(letter.system, letter.entity, letter.external_id, letter.record, letter.version)
        ids = ev.record(store, conn, [ev.Incoming(letter.flow, rec, "replay",
                                                  key_suffix=f":replay:{dead_letter_id}")], at)
        conn.execute(update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(
            status="replayed", resolved_at=at, resolution=f"replayed as event {ids[0] if ids else '?'}"))
        audit_log.note(conn, at=at, flow=letter.flow, system=letter.system, entity=letter.entity,
                       external_id=letter.external_id, action="replayed",
                       detail=f"dead letter {dead_letter_id} replayed as event {ids[0] if ids else '?'}")
    return ids[0] if ids else 0


def discard(store: Store, dead_letter_id: int, at: dt.datetime, note: str = "") -> None:
    """Close a dead letter without replaying it, keeping the note of why."""
    with store.begin() as conn:
        row = conn.execute(select(dead_letters).where(and_(dead_letters.c.id == dead_letter_id,
                                                           dead_letters.c.status == "open"))).mappings().first()
        if row is None:
            raise KeyError(f"no open dead letter {dead_letter_id}")
        conn.execute(update(dead_letters).where(dead_letters.c.id == dead_letter_id).values(
            status="discarded", resolved_at=at, resolution=note or "discarded"))
        audit_log.note(conn, at=at, flow=row["flow"], system=row["system"], entity=row["entity"],
                       external_id=row["external_id"], action="discarded",
                       detail=f"dead letter {dead_letter_id} discarded" + (f": {note}" if note else ""))

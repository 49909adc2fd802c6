"""The audit trail: one row per thing that happened to a record, read back by ``doohickey trace``.

Actions: ``received`` (how: webhook, poll, backfill, replay), ``duplicate``, ``skipped`` (with the
reason: not owner, stale, echo, unchanged, filtered), ``attempt``, ``retry``, ``written``,
``bound``, ``dead-lettered``, ``replayed``, ``discarded``, ``coalesced``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, or_, select
from sqlalchemy.engine import Connection

from doohickey.engine.store import Store, audit, bindings


@dataclass(frozen=True)
class AuditEntry:
    """One line of a record's life."""

    at: dt.datetime
    flow: str | None
    system: str
    entity: str
    external_id: str
    event_id: int | None
    action: str
    detail: str


def note(conn: Connection, *, at: dt.datetime, system: str, entity: str, external_id: str, action: str,
         detail: str = "", flow: str | None = None, event_id: int | None = None) -> None:
    """Append one audit row inside the caller's transaction (so it commits with the change it explains)."""
    conn.execute(insert(audit).values(at=at, flow=flow, system=system, entity=entity, external_id=external_id,
                                      event_id=event_id, action=action, detail=detail))


def note_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Append several audit rows at once (keys as in :func:`note`)."""
    if rows:
        conn.execute(insert(audit), [{"flow": None, "event_id": None, "detail": "", **r} for r in rows])


def trace(store: Store, system: str, entity: str, external_id: str) -> list[AuditEntry]:
    """The life of one record: its own audit rows and those of every record bound to it, oldest first."""
    with store.begin() as conn:
        linked = conn.execute(select(bindings).where(or_(
            (bindings.c.source_system == system) & (bindings.c.source_entity == entity)
            & (bindings.c.source_id == external_id),
            (bindings.c.target_system == system) & (bindings.c.target_entity == entity)
            & (bindings.c.target_id == external_id)))).mappings().all()
        keys = {(system, entity, external_id)}
        for b in linked:
            keys.add((b["source_system"], b["source_entity"], b["source_id"]))
            keys.add((b["target_system"], b["target_entity"], b["target_id"]))
        clauses = [(audit.c.system == s) & (audit.c.entity == e) & (audit.c.external_id == i) for s, e, i in keys]
        rows = conn.execute(select(audit).where(or_(*clauses)).order_by(audit.c.id)).mappings().all()
    return [AuditEntry(r["at"], r["flow"], r["system"], r["entity"], r["external_id"], r["event_id"], r["action"],
                       r["detail"] or "") for r in rows]

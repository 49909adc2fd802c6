"""Record leases: how several workers share the Events table and keep each record's Events in order.

A worker may run a record's Events only while it holds that record key's lease (a row in
``record_leases``). Claiming is one short transaction:

1. ``SELECT ... FOR UPDATE SKIP LOCKED`` the oldest due pending Events whose record key has no live
   lease (two workers scanning at once skip each other's rows instead of waiting on them);
2. insert a lease per distinct record key, ``ON CONFLICT DO UPDATE ... WHERE until <= now`` (a key
   whose lease expired is taken over, a live one is not), in sorted key order so two claimers never
   deadlock; ``RETURNING`` says which keys this worker now holds;
3. Events of those keys still marked running belong to a holder whose lease expired (it was
   killed): they go back to pending, so they run first and in order.

A holder renews its leases while it works (:func:`renew`) and deletes each one when the record has
nothing left to do (:func:`release`). A worker that dies simply stops renewing: after ``lease``
seconds any other worker takes its records over. The same functions run on SQLite (one process,
where ``FOR UPDATE`` is a no-op and the write lock serialises claimers), so they are tested on both.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.engine import Connection

from doohickey.engine.store import Store, events, record_leases, workers


def worker_name() -> str:
    """This process's name in leases and heartbeats: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _upsert(store: Store) -> Any:
    if store.dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def claim_keys(store: Store, owner: str, now: dt.datetime, lease: dt.timedelta, *, limit: int = 200,
               skip: Iterable[str] = (), done: Iterable[str] = ()) -> list[str]:
    """Lease up to ``limit`` record keys with due Events for ``owner``; returns the keys now held.

    ``done`` are keys ``owner`` has finished with: released in the same transaction (one commit, not two).
    """
    skipped = set(skip)
    finished = list(done)
    live = select(record_leases.c.record_key).where(record_leases.c.until > now)
    query = (select(events.c.record_key)
             .where(and_(events.c.status == "pending", events.c.next_attempt_at <= now,
                         events.c.record_key.not_in(live)))
             .order_by(events.c.next_attempt_at, events.c.id).limit(3 * limit + len(skipped))
             .with_for_update(skip_locked=True, of=events))
    with store.begin() as conn:
        release(conn, owner, finished)
        found = conn.execute(query).scalars().all()
        keys = sorted({k for k in found if k not in skipped})[:limit]
        if not keys:
            return []
        insert = _upsert(store)
        statement = insert(record_leases).values(
            [{"record_key": k, "owner": owner, "until": now + lease, "taken_at": now} for k in keys])
        statement = statement.on_conflict_do_update(
            index_elements=[record_leases.c.record_key],
            set_={"owner": statement.excluded.owner, "until": statement.excluded.until,
                  "taken_at": statement.excluded.taken_at},
            where=record_leases.c.until <= now).returning(record_leases.c.record_key)
        held = list(conn.execute(statement).scalars())
        if held:
            # Whatever is still "running" under these keys was cut short by a holder that is gone.
            conn.execute(update(events).where(and_(events.c.record_key.in_(held), events.c.status == "running"))
                         .values(status="pending", lease_owner=None, lease_until=None))
    order = {k: i for i, k in enumerate(dict.fromkeys(found))}
    return sorted(held, key=lambda k: order.get(k, 0))  # oldest due first


def release(conn: Connection, owner: str, keys: Iterable[str]) -> None:
    """Give up the leases of ``keys`` held by ``owner`` (their records have nothing left due)."""
    keys = list(keys)
    if keys:
        conn.execute(delete(record_leases).where(and_(record_leases.c.owner == owner,
                                                      record_leases.c.record_key.in_(keys))))


def renew(store: Store, owner: str, now: dt.datetime, lease: dt.timedelta) -> int:
    """Extend every lease ``owner`` holds and its heartbeat; returns how many leases it holds."""
    with store.begin() as conn:
        held = conn.execute(update(record_leases).where(record_leases.c.owner == owner)
                            .values(until=now + lease)).rowcount
        heartbeat(conn, store, owner, now)
    return int(held or 0)


def heartbeat(conn: Connection, store: Store, owner: str, now: dt.datetime) -> None:
    """Say ``owner`` is alive (registering it on first call)."""
    host, _, pid = owner.rpartition(":")
    insert = _upsert(store)
    statement = insert(workers).values(owner=owner, host=host or owner, pid=int(pid) if pid.isdigit() else 0,
                                       started_at=now, heartbeat_at=now)
    conn.execute(statement.on_conflict_do_update(index_elements=[workers.c.owner],
                                                 set_={"heartbeat_at": statement.excluded.heartbeat_at}))


def live_workers(store: Store, now: dt.datetime, lease: dt.timedelta) -> int:
    """How many workers have sent a heartbeat within one lease (at least 1: the caller)."""
    return max(1, len(live_owners(store, now, lease)))


def live_owners(store: Store, now: dt.datetime, lease: dt.timedelta) -> list[str]:
    """The workers that have sent a heartbeat within one lease, by name (a stable order for sharing)."""
    with store.read() as conn:
        return list(conn.execute(select(workers.c.owner).where(workers.c.heartbeat_at > now - lease)
                                 .order_by(workers.c.owner)).scalars())


def leave(store: Store, owner: str) -> None:
    """A worker stopping cleanly: its leases and heartbeat go at once (no need to wait for expiry)."""
    with store.begin() as conn:
        conn.execute(delete(record_leases).where(record_leases.c.owner == owner))
        conn.execute(delete(workers).where(workers.c.owner == owner))


def sweep(store: Store, now: dt.datetime, lease: dt.timedelta) -> tuple[int, int]:
    """Forget expired leases and workers silent for ten leases; returns (leases, workers) removed."""
    with store.begin() as conn:
        leases = conn.execute(delete(record_leases).where(record_leases.c.until <= now - lease)).rowcount
        gone = conn.execute(delete(workers).where(workers.c.heartbeat_at <= now - 10 * lease)).rowcount
    return int(leases or 0), int(gone or 0)


def holders(store: Store, now: dt.datetime) -> dict[str, int]:
    """Live leases per worker (for ``doohickey status``)."""
    with store.read() as conn:
        rows = conn.execute(select(record_leases.c.owner, func.count()).where(record_leases.c.until > now)
                            .group_by(record_leases.c.owner)).all()
    return {owner: n for owner, n in rows}


def recover_orphans(store: Store, now: dt.datetime) -> int:
    """Events left running by a holder whose lease expired go back to pending; returns how many.

    :func:`claim_keys` does this for the keys it takes; this catches a record whose only Event was
    the one running when its holder died (no pending Event would ever bring a claimer to it).
    """
    live = select(record_leases.c.record_key).where(record_leases.c.until > now)
    with store.begin() as conn:
        done = conn.execute(update(events).where(and_(events.c.status == "running",
                                                      events.c.record_key.not_in(live)))
                            .values(status="pending", lease_owner=None, lease_until=None))
    return int(done.rowcount or 0)


def next_due(store: Store, now: dt.datetime) -> dt.datetime | None:
    """When the next pending Event no one holds falls due (None when there is none)."""
    live = select(record_leases.c.record_key).where(record_leases.c.until > now)
    with store.read() as conn:
        return conn.execute(select(func.min(events.c.next_attempt_at)).where(and_(
            events.c.status == "pending", events.c.record_key.not_in(live)))).scalar_one_or_none()

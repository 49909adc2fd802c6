"""The IdMap: Bindings between the same business object in two Systems, with write fingerprints.

A Binding links (source system, entity, id) to (target system, entity, id) and remembers the
source version last applied (so a stale version never overwrites a newer one), the fingerprint
of what we wrote (so an unchanged record is not written twice) and the fingerprint of what the
target then held (so the echo of our own write coming back is recognised and dropped).
Reconciliation reads bindings through :meth:`IdMap.lookup` and :meth:`IdMap.iter_entity`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from doohickey.engine.store import Store, bindings


@dataclass(frozen=True)
class Binding:
    """One link between two Systems' ids for the same business object."""

    source_system: str
    source_entity: str
    source_id: str
    target_system: str
    target_entity: str
    target_id: str
    source_version: str = ""
    source_fingerprint: str | None = None
    written_fingerprint: str | None = None
    target_fingerprint: str | None = None
    flow: str | None = None

    def other_side(self, system: str) -> tuple[str, str, str]:
        """(system, entity, id) of the side that is not ``system``."""
        if system == self.source_system:
            return self.target_system, self.target_entity, self.target_id
        return self.source_system, self.source_entity, self.source_id


def _binding(row: dict) -> Binding:
    return Binding(row["source_system"], row["source_entity"], row["source_id"], row["target_system"],
                   row["target_entity"], row["target_id"], row["source_version"] or "", row["source_fingerprint"],
                   row["written_fingerprint"], row["target_fingerprint"], row["flow"])


class IdMap:
    """Bindings in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, source_system: str, entity: str, source_id: str, target_system: str,
            conn: Connection | None = None) -> Binding | None:
        """The Binding of a source record to ``target_system``, if any."""
        query = select(bindings).where(and_(bindings.c.source_system == source_system,
                                            bindings.c.source_entity == entity, bindings.c.source_id == source_id,
                                            bindings.c.target_system == target_system))
        if conn is not None:
            row = conn.execute(query).mappings().first()
        else:
            with self.store.read() as own:
                row = own.execute(query).mappings().first()
        return _binding(dict(row)) if row else None

    def lookup(self, system: str, entity: str, external_id: str) -> list[Binding]:
        """Every Binding that names (system, entity, external id) on either side."""
        with self.store.begin() as conn:
            rows = conn.execute(select(bindings).where(or_(
                and_(bindings.c.source_system == system, bindings.c.source_entity == entity,
                     bindings.c.source_id == external_id),
                and_(bindings.c.target_system == system, bindings.c.target_entity == entity,
                     bindings.c.target_id == external_id)))).mappings().all()
        return [_binding(dict(r)) for r in rows]

    def written_into(self, system: str, entity: str, external_id: str,
                     conn: Connection | None = None) -> list[Binding]:
        """Bindings whose target is this record: what we wrote into it (for echo suppression)."""
        query = select(bindings).where(and_(bindings.c.target_system == system, bindings.c.target_entity == entity,
                                            bindings.c.target_id == external_id))
        if conn is not None:
            return [_binding(dict(r)) for r in conn.execute(query).mappings()]
        with self.store.read() as own:
            return [_binding(dict(r)) for r in own.execute(query).mappings()]

    def iter_entity(self, entity: str, *, source_system: str | None = None,
                    target_system: str | None = None, batch: int = 1000) -> Iterator[Binding]:
        """Every Binding of ``entity`` (optionally between two given systems), in batches of ``batch``."""
        last = 0
        while True:
            query = select(bindings).where(and_(bindings.c.source_entity == entity, bindings.c.id > last))
            if source_system:
                query = query.where(bindings.c.source_system == source_system)
            if target_system:
                query = query.where(bindings.c.target_system == target_system)
            with self.store.begin() as conn:
                rows = conn.execute(query.order_by(bindings.c.id).limit(batch)).mappings().all()
            if not rows:
                return
            for row in rows:
                yield _binding(dict(row))
            last = rows[-1]["id"]

    def count(self, entity: str, target_system: str | None = None) -> int:
        """How many Bindings ``entity`` has (to ``target_system`` when given)."""
        from sqlalchemy import func

        query = select(func.count()).select_from(bindings).where(bindings.c.source_entity == entity)
        if target_system:
            query = query.where(bindings.c.target_system == target_system)
        with self.store.begin() as conn:
            return int(conn.execute(query).scalar_one())

    def bind(self, conn: Connection, binding: Binding, at: dt.datetime) -> None:
        """Create or refresh a Binding inside the caller's transaction."""
        values = {"target_entity": binding.target_entity, "target_id": binding.target_id,
                  "source_version": binding.source_version, "source_fingerprint": binding.source_fingerprint,
                  "written_fingerprint": binding.written_fingerprint,
                  "target_fingerprint": binding.target_fingerprint, "flow": binding.flow, "updated_at": at}
        done = conn.execute(update(bindings).where(and_(
            bindings.c.source_system == binding.source_system, bindings.c.source_entity == binding.source_entity,
            bindings.c.source_id == binding.source_id, bindings.c.target_system == binding.target_system,
        )).values(**values))
        if not done.rowcount:
            self.store.insert_ignore(bindings, [{
                "source_system": binding.source_system, "source_entity": binding.source_entity,
                "source_id": binding.source_id, "target_system": binding.target_system, "created_at": at,
                **values}], conn)

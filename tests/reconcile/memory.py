"""An in-memory connector Client for reconciliation tests: paged reads, find by key, writes logged."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from doohickey.connectors.spec import Page, Record, WriteRequest, WriteResult
from doohickey.reconcile.reconciler import RepairRequest


class MemoryClient:
    """Holds records per entity; ``writes`` lists every write it received."""

    def __init__(self, system: str, records: Mapping[str, Mapping[str, dict[str, Any]]] | None = None) -> None:
        self.system = system
        self.data: dict[str, dict[str, dict[str, Any]]] = {e: dict(r) for e, r in (records or {}).items()}
        self.writes: list[WriteRequest] = []
        self._ids = itertools.count(1)

    async def check(self) -> None:
        return None

    async def read(self, entity: str, *, since: datetime | None = None, cursor: str | None = None,
                   limit: int = 100) -> Page:
        rows = sorted(self.data.get(entity, {}).items())
        start = int(cursor or 0)
        chunk = rows[start:start + limit]
        records = [Record(self.system, entity, rid, dict(data)) for rid, data in chunk]
        return Page(records, str(start + limit) if start + limit < len(rows) else None)

    async def get(self, entity: str, external_id: str) -> Record | None:
        data = self.data.get(entity, {}).get(external_id)
        return Record(self.system, entity, external_id, dict(data)) if data is not None else None

    async def find(self, entity: str, key: Mapping[str, str]) -> list[Record]:
        return [Record(self.system, entity, rid, dict(d)) for rid, d in self.data.get(entity, {}).items()
                if all(str(d.get(k, "")).casefold() == str(v).casefold() for k, v in key.items())]

    async def write(self, request: WriteRequest) -> WriteResult:
        self.writes.append(request)
        table = self.data.setdefault(request.entity, {})
        if request.external_id:
            table[request.external_id].update(request.data)
            rid = request.external_id
        else:
            rid = f"{self.system}-{next(self._ids)}"
            table[rid] = dict(request.data)
        return WriteResult(rid, data=dict(table[rid]))

    async def aclose(self) -> None:
        return None


class DirectRepair:
    """A Repair that writes straight through the other System's client (the engine enqueues Events instead)."""

    def __init__(self, client: Any, *, create: str = "create", update: str = "update") -> None:
        self.client = client
        self.create, self.update = create, update
        self.requests: list[RepairRequest] = []

    async def push(self, request: RepairRequest) -> None:
        self.requests.append(request)
        if request.action == "create":
            await self.client.write(WriteRequest(request.entity, self.create, dict(request.record or {}),
                                                 idempotency_key=f"reconcile:{request.owner_id}"))
        else:
            await self.client.write(WriteRequest(request.entity, self.update, dict(request.values),
                                                 external_id=request.other_id))



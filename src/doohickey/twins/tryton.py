"""The ``tryton`` sandbox: a real Tryton behind the fault proxy (Tryton itself cannot misbehave on demand).

``upstream`` is the database URL of a running trytond (``TrytonServer.url``);
``/_twin/seed`` creates canonical customers in it over JSON-RPC.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from doohickey.clock import Clock
from doohickey.connectors.spec import ConnectionSettings, ConnectOptions, Secret, WriteRequest
from doohickey.twins import Twin
from doohickey.twins.faults import Fault, FaultSet
from doohickey.twins.proxy import create_proxy


def create_twin(*, seed: int = 0, faults: list[Fault] | FaultSet | None = None, clock: Clock | None = None,
                upstream: str, login: str = "admin", password: str = "admin") -> Twin:
    """A fault proxy in front of the real Tryton at ``upstream``, able to seed customers."""
    from doohickey.connectors.tryton.client import TrytonClient

    settings = ConnectionSettings("tryton-seed", upstream, {"password": Secret(password)}, {"login": login})

    async def seeder(body: dict[str, Any]) -> dict[str, int]:
        client = TrytonClient(settings, ConnectOptions())
        try:
            for customer in body.get("customers") or []:
                await client.write(WriteRequest("customer", "create", customer))
        finally:
            await client.aclose()
        return {"customers": len(body.get("customers") or [])}

    return create_proxy("tryton", upstream, seed=seed, faults=faults, clock=clock, seeder=seeder,
                        info={"password": password, "database_path": urlsplit(upstream).path})
